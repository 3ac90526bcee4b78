import numpy as np


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for name, grad in grads.items():
            np.subtract(params[name], self.lr * grad, out=params[name])


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = {}

    def update(self, params, grads):
        for name, grad in grads.items():
            velocity = self.v.setdefault(name, np.zeros_like(params[name]))
            velocity *= self.momentum
            velocity -= self.lr * grad
            params[name] += velocity


class Nesterov:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = {}

    def update(self, params, grads):
        for name, grad in grads.items():
            velocity = self.v.setdefault(name, np.zeros_like(params[name]))
            velocity *= self.momentum
            velocity -= self.lr * grad
            # look ahead: one more momentum step from the new velocity
            params[name] += self.momentum * velocity - self.lr * grad


class AdaGrad:
    def __init__(self, lr=0.01, eps=1e-7):
        self.lr = lr
        self.eps = eps
        self.h = {}

    def update(self, params, grads):
        for name, grad in grads.items():
            squares = self.h.setdefault(name, np.zeros_like(params[name]))
            squares += np.square(grad)
            params[name] -= self.lr * grad / (np.sqrt(squares) + self.eps)


class RMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-7):
        self.lr = lr
        self.decay_rate = decay_rate
        self.eps = eps
        self.h = {}

    def update(self, params, grads):
        keep = self.decay_rate
        for name, grad in grads.items():
            average = self.h.setdefault(name, np.zeros_like(params[name]))
            average *= keep
            average += (1 - keep) * np.square(grad)
            params[name] -= self.lr * grad / (np.sqrt(average) + self.eps)


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0
        self.m = {}
        self.v = {}

    def update(self, params, grads):
        self.t += 1
        first = 1 - self.beta1**self.t
        second = 1 - self.beta2**self.t
        for name, grad in grads.items():
            mean = self.m.setdefault(name, np.zeros_like(params[name]))
            power = self.v.setdefault(name, np.zeros_like(params[name]))
            mean += (1 - self.beta1) * (grad - mean)
            power += (1 - self.beta2) * (np.square(grad) - power)
            step = (mean / first) / (np.sqrt(power / second) + self.eps)
            params[name] -= self.lr * step
