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
        # BEGIN SOLUTION hint: p -= lr*g, in place, for every key
        for key in params:
            params[key] -= self.lr * grads[key]
        # END SOLUTION


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
        # BEGIN SOLUTION hint: v = momentum*v - lr*g (v starts at zeros), then p += v
        for key in params:
            if key not in self.v:
                self.v[key] = np.zeros_like(params[key])
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]
        # END SOLUTION


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
        # BEGIN SOLUTION hint: v = momentum*v - lr*g first, then p += momentum*v - lr*g
        for key in params:
            if key not in self.v:
                self.v[key] = np.zeros_like(params[key])
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.momentum * self.v[key] - self.lr * grads[key]
        # END SOLUTION


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
        # BEGIN SOLUTION hint: h += g*g (h starts at zeros), then p -= lr*g/(sqrt(h)+eps)
        for key in params:
            if key not in self.h:
                self.h[key] = np.zeros_like(params[key])
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)
        # END SOLUTION


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
        # BEGIN SOLUTION hint: h = decay_rate*h + (1-decay_rate)*g*g; p -= lr*g/(sqrt(h)+eps)
        for key in params:
            if key not in self.h:
                self.h[key] = np.zeros_like(params[key])
            g = grads[key]
            self.h[key] = self.decay_rate * self.h[key] + (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)
        # END SOLUTION


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
        # BEGIN SOLUTION hint: t += 1 once per call; update m and v; divide by (1 - beta**t)
        self.t += 1
        for key in params:
            if key not in self.m:
                self.m[key] = np.zeros_like(params[key])
                self.v[key] = np.zeros_like(params[key])
            g = grads[key]
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * g
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * g * g
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        # END SOLUTION
