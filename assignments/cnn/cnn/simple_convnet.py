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
        raise NotImplementedError("params (W from the rng, b zeros), then layers built on them")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class scores before the softmax. x: (N, C, H, W) -> scores (N, output_size)."""
        raise NotImplementedError("pass x through every layer in order (not the last layer)")

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean cross-entropy loss. x: (N, C, H, W); t: labels (N,) or one-hot (N, output_size)."""
        raise NotImplementedError("the last layer (softmax with loss) on the scores")

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        """Fraction of the N samples whose highest score is the right class.

        Predicts batch_size samples at a time; every sample counts, the last, smaller batch
        included. t: labels (N,) or one-hot (N, output_size).
        """
        raise NotImplementedError("count hits batch by batch, the last partial batch too")

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss by backpropagation.

        Inputs:
        - x: input of shape (N, C, H, W)
        - t: labels (N,) or one-hot (N, output_size)

        Returns:
        - grads: dict with the keys of self.params, each gradient of its parameter's shape
        """
        raise NotImplementedError("loss forward, then backward through the layers in reverse")
