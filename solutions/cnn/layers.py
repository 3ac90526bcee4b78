"""Given layers (not graded): ReLU, Affine and softmax with cross-entropy, in the textbook's form.

Each layer keeps what its backward pass needs on ``self`` and exposes its gradients
(``dW``, ``db``) after ``backward``.
"""

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax. x: (N, K) or (K,) -> same shape, rows summing to 1."""
    x = x - np.max(x, axis=-1, keepdims=True)  # shift for numerical stability
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
    """Mean cross-entropy of probabilities y (N, K) against labels t, (N,) or one-hot (N, K)."""
    if y.ndim == 1:
        y, t = y.reshape(1, -1), np.reshape(t, (1, -1))
    if t.size == y.size:  # one-hot -> label indices
        t = t.argmax(axis=1)
    n = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n)


class Relu:
    """max(0, x), elementwise; the gradient is 0 where x <= 0."""

    def __init__(self):
        self.mask = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self.mask, 0.0, dout)


class Affine:
    """x @ W + b. W: (D, M), b: (M,); x: (N, D) or (N, C, H, W), flattened to (N, D)."""

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, M) -> dx in the shape forward received; sets dW (D, M) and db (M,)."""
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        return (dout @ self.W.T).reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss."""

    def __init__(self):
        self.y = None
        self.t = None
        self.loss = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        """x: scores (N, K); t: labels (N,) or one-hot (N, K) -> mean loss."""
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, t)
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        """-> d loss / d x, (N, K)."""
        n = self.y.shape[0]
        dx = self.y.copy()
        if self.t.size == self.y.size:
            dx -= self.t
        else:
            dx[np.arange(n), self.t] -= 1
        return dx * dout / n
