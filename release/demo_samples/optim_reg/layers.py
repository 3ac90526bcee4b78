import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = np.zeros(np.shape(gamma)) if running_mean is None else running_mean
        self.running_var = np.ones(np.shape(gamma)) if running_var is None else running_var
        self.eps = eps
        self.std = None
        self.xn = None
        self.dgamma = None
        self.dbeta = None

    @staticmethod
    def _rows(a):
        # (N, C, H, W) -> (N*H*W, C): each channel is one feature
        return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]) if a.ndim == 4 else a

    @staticmethod
    def _back(rows, like):
        if like.ndim != 4:
            return rows
        n, c, h, w = like.shape
        return np.moveaxis(rows.reshape(n, h, w, c), -1, 1)

    def forward(self, x, train_flg=True):
        rows = self._rows(x)
        if train_flg:
            centre = rows.sum(axis=0) / len(rows)
            spread = np.square(rows - centre).sum(axis=0) / len(rows)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * centre
            self.running_var = m * self.running_var + (1 - m) * spread
        else:
            centre, spread = self.running_mean, self.running_var
        self.std = np.sqrt(spread + self.eps)
        self.xn = (rows - centre) / self.std
        return self._back(self.xn * self.gamma + self.beta, x)

    def backward(self, dout):
        g = self._rows(dout)
        count = len(g)
        self.dbeta = g.sum(axis=0)
        self.dgamma = (g * self.xn).sum(axis=0)
        dx = count * g * self.gamma - self.dbeta * self.gamma - self.xn * self.dgamma * self.gamma
        return self._back(dx / (count * self.std), dout)


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        if dropout_ratio < 0 or dropout_ratio >= 1:
            raise ValueError("dropout_ratio must be at least 0 and below 1")
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return np.array(x, copy=True)
        self.mask = np.random.random_sample(x.shape) >= self.dropout_ratio
        return np.where(self.mask, x / (1 - self.dropout_ratio), 0.0)

    def backward(self, dout):
        return np.where(self.mask, dout / (1 - self.dropout_ratio), 0.0)
