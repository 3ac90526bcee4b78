"""A fully connected network with weight decay, batch normalization and dropout.

The textbook's ``MultiLayerNetExtend``, built on this package's layers, for the notebook's
experiments comparing optimizers and regularization. Each hidden layer is
Affine - [BatchNorm] - ReLU - [Dropout]; the last is Affine - softmax with cross-entropy.
Only the ReLU activation is provided.
"""

from collections import OrderedDict

import numpy as np

from .base_layers import Affine, Relu, SoftmaxWithLoss
from .layers import BatchNormalization, Dropout


class MultiLayerNetExtend:
    """Fully connected ReLU network.

    Inputs:
    - input_size: number of input features D
    - hidden_size_list: units of each hidden layer, e.g. [100, 100]
    - output_size: number of classes K
    - activation: "relu" (the only one provided)
    - weight_init_std: "relu"/"he" for sqrt(2/fan_in), "sigmoid"/"xavier" for
      sqrt(1/fan_in), or a number used as the standard deviation of every weight
    - weight_decay_lambda: L2 penalty 0.5*lambda*sum(W**2) over the weights (not biases,
      gamma or beta)
    - use_dropout, dropout_ratio: a Dropout layer after each hidden activation
    - use_batchnorm: a BatchNormalization layer before each hidden activation
    - seed: seed of the weight initialisation (dropout draws from np.random)

    params holds W1, b1, ..., W{L}, b{L} (W{i} of shape (fan_in, fan_out)) and, with batch
    norm, gamma{i}, beta{i} for each hidden layer. The layers hold references to these
    arrays, so changing them in place (as the optimizers do) changes the network.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ratio: float = 0.5,
        use_batchnorm: bool = False,
        seed: int | None = None,
    ):
        if activation != "relu":
            raise ValueError(f'only activation="relu" is provided, got {activation!r}')
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = use_batchnorm
        sizes = [input_size, *hidden_size_list, output_size]
        rng = np.random.default_rng(seed)

        self.params = {}
        for i in range(1, len(sizes)):
            fan_in = sizes[i - 1]
            scale = _init_scale(weight_init_std, fan_in)
            self.params[f"W{i}"] = scale * rng.standard_normal((fan_in, sizes[i]))
            self.params[f"b{i}"] = np.zeros(sizes[i])

        self.layers = OrderedDict()
        for i in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if use_batchnorm:
                self.params[f"gamma{i}"] = np.ones(sizes[i])
                self.params[f"beta{i}"] = np.zeros(sizes[i])
                self.layers[f"BatchNorm{i}"] = BatchNormalization(
                    self.params[f"gamma{i}"], self.params[f"beta{i}"]
                )
            self.layers[f"Relu{i}"] = Relu()
            if use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(dropout_ratio)
        last = self.hidden_layer_num + 1
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """x: (N, D) -> class scores (N, K). train_flg switches batch norm and dropout."""
        for layer in self.layers.values():
            if isinstance(layer, BatchNormalization | Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Mean cross-entropy plus the weight decay penalty.

        Inputs:
        - x: (N, D)
        - t: integer labels (N,) or one-hot (N, K)
        """
        scores = self.predict(x, train_flg)
        decay = sum(
            0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{i}"] ** 2)
            for i in range(1, self.hidden_layer_num + 2)
        )
        return self.last_layer.forward(scores, t) + decay

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of samples whose highest score is the label (evaluation mode)."""
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.mean(y == t))

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of loss(x, t, train_flg=True) by backpropagation, same keys as params."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)

        grads = {}
        for i in range(1, self.hidden_layer_num + 2):
            affine = self.layers[f"Affine{i}"]
            grads[f"W{i}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{i}"]
            grads[f"b{i}"] = affine.db
            if self.use_batchnorm and i <= self.hidden_layer_num:
                grads[f"gamma{i}"] = self.layers[f"BatchNorm{i}"].dgamma
                grads[f"beta{i}"] = self.layers[f"BatchNorm{i}"].dbeta
        return grads


def _init_scale(weight_init_std: str | float, fan_in: int) -> float:
    """Standard deviation of the initial weights of a layer with fan_in inputs."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    return float(weight_init_std)
