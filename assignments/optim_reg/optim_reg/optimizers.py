"""Gradient-based optimizers in the textbook's form.

Every optimizer has ``update(params, grads)``: ``params`` and ``grads`` are dicts of arrays
with the same keys and shapes. ``update`` changes the arrays of ``params`` in place (a network
whose layers hold references to them sees the new values) and keeps its own state per key,
created as zeros the first time the key is seen.
"""

import numpy as np

Params = dict[str, np.ndarray]


class SGD:
    """Stochastic gradient descent: p -= lr * g."""

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("p -= lr*g, in place, for every key")


class Momentum:
    """Momentum SGD: v = momentum*v - lr*g; p += v. The velocity v starts at zeros."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = {}  # velocity per key

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("v = momentum*v - lr*g (v starts at zeros), then p += v")


class Nesterov:
    """Nesterov's accelerated gradient: v = momentum*v - lr*g; p += momentum*v - lr*g.

    The step looks ahead along the new velocity; it equals PyTorch's ``SGD(nesterov=True)``.
    (The textbook's common/optimizer.py applies momentum**2 to the already updated velocity,
    which is a different update: follow the formula above.)
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = {}  # velocity per key

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("v = momentum*v - lr*g first, then p += momentum*v - lr*g")


class AdaGrad:
    """AdaGrad: h += g*g; p -= lr*g / (sqrt(h) + eps).

    Each element's step shrinks as its sum of squared gradients h grows.
    """

    def __init__(self, lr: float = 0.01, eps: float = 1e-7):
        self.lr = lr
        self.eps = eps
        self.h = {}  # sum of squared gradients per key

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("h += g*g (h starts at zeros), then p -= lr*g/(sqrt(h)+eps)")


class RMSprop:
    """RMSprop: h = decay_rate*h + (1-decay_rate)*g*g; p -= lr*g / (sqrt(h) + eps).

    Unlike AdaGrad, h is a moving average, so old gradients are forgotten.
    """

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99, eps: float = 1e-7):
        self.lr = lr
        self.decay_rate = decay_rate
        self.eps = eps
        self.h = {}  # moving average of squared gradients per key

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("h = decay_rate*h + (1-decay_rate)*g*g; p -= lr*g/(sqrt(h)+eps)")


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction, in PyTorch's form.

    t += 1; m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
    p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m/(1-beta1**t), v_hat = v/(1-beta2**t).
    t counts calls of ``update``.
    """

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0  # number of steps taken
        self.m = {}  # moving average of gradients per key
        self.v = {}  # moving average of squared gradients per key

    def update(self, params: Params, grads: Params) -> None:
        """Take one step.

        Inputs:
        - params: dict of parameter arrays, changed in place
        - grads: dict of gradient arrays, same keys and shapes as params
        """
        raise NotImplementedError("t += 1 once per call; update m and v; divide by (1 - beta**t)")
