"""SimpleConvNet: conv - relu - pool - affine - relu - affine - softmax (the textbook's ch07)."""

import numpy as np

from .conv import Convolution
from .layers import Affine, Relu, SoftmaxWithLoss
from .pooling import Pooling


class SimpleConvNet:
    """A small convolutional network for classification.

    conv - relu - max pool 2x2 stride 2 - affine - relu - affine - softmax with loss

    Inputs:
    - input_dim: (C, H, W) of one input image
    - conv_param: "filter_num" FN, "filter_size" FS (square filters), "pad", "stride"
      (read, never changed)
    - hidden_size: units of the hidden affine layer
    - output_size: number of classes
    - weight_init_std: standard deviation of the Gaussian initial weights (biases are 0)
    - seed: seed of np.random.default_rng, which draws W1, W2, W3 in that order

    self.params holds, with OH, OW the convolution's output size:
    - W1 (FN, C, FS, FS), b1 (FN,): convolution
    - W2 (FN * (OH//2) * (OW//2), hidden_size), b2 (hidden_size,): first affine
    - W3 (hidden_size, output_size), b3 (output_size,): second affine
    The layers hold references to these arrays, so changing them in place changes the network.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param: dict = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},  # noqa: B006
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = 0.01,
        seed: int | None = None,
    ):
        # BEGIN SOLUTION hint: params (W from the rng, b zeros), then layers built on them
        filter_num = conv_param["filter_num"]
        filter_size = conv_param["filter_size"]
        pad = conv_param["pad"]
        stride = conv_param["stride"]
        C, H, W = input_dim
        conv_h = (H + 2 * pad - filter_size) // stride + 1
        conv_w = (W + 2 * pad - filter_size) // stride + 1
        pool_output_size = filter_num * (conv_h // 2) * (conv_w // 2)

        rng = np.random.default_rng(seed)
        self.params = {
            "W1": weight_init_std * rng.standard_normal((filter_num, C, filter_size, filter_size)),
            "b1": np.zeros(filter_num),
            "W2": weight_init_std * rng.standard_normal((pool_output_size, hidden_size)),
            "b2": np.zeros(hidden_size),
            "W3": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b3": np.zeros(output_size),
        }

        self.layers = {
            "Conv1": Convolution(self.params["W1"], self.params["b1"], stride, pad),
            "Relu1": Relu(),
            "Pool1": Pooling(pool_h=2, pool_w=2, stride=2),
            "Affine1": Affine(self.params["W2"], self.params["b2"]),
            "Relu2": Relu(),
            "Affine2": Affine(self.params["W3"], self.params["b3"]),
        }
        self.last_layer = SoftmaxWithLoss()
        # END SOLUTION

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class scores before the softmax. x: (N, C, H, W) -> scores (N, output_size)."""
        # BEGIN SOLUTION hint: pass x through every layer in order (not the last layer)
        for layer in self.layers.values():
            x = layer.forward(x)
        return x
        # END SOLUTION

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean cross-entropy loss. x: (N, C, H, W); t: labels (N,) or one-hot (N, output_size)."""
        # BEGIN SOLUTION hint: the last layer (softmax with loss) on the scores
        return self.last_layer.forward(self.predict(x), t)
        # END SOLUTION

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        """Fraction of the N samples whose highest score is the right class.

        Predicts batch_size samples at a time; every sample counts, the last, smaller batch
        included. t: labels (N,) or one-hot (N, output_size).
        """
        # BEGIN SOLUTION hint: count hits batch by batch, the last partial batch too
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        hits = 0
        for i in range(0, x.shape[0], batch_size):
            y = np.argmax(self.predict(x[i : i + batch_size]), axis=1)
            hits += np.sum(y == t[i : i + batch_size])
        return float(hits / x.shape[0])
        # END SOLUTION

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss by backpropagation.

        Inputs:
        - x: input of shape (N, C, H, W)
        - t: labels (N,) or one-hot (N, output_size)

        Returns:
        - grads: dict with the keys of self.params, each gradient of its parameter's shape
        """
        # BEGIN SOLUTION hint: loss forward, then backward through the layers in reverse
        self.loss(x, t)
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return {
            "W1": self.layers["Conv1"].dW,
            "b1": self.layers["Conv1"].db,
            "W2": self.layers["Affine1"].dW,
            "b2": self.layers["Affine1"].db,
            "W3": self.layers["Affine2"].dW,
            "b3": self.layers["Affine2"].db,
        }
        # END SOLUTION
