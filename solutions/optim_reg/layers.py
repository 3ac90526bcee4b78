"""Regularization layers: batch normalization and (inverted) dropout.

Each layer keeps what its backward pass needs on ``self``; ``backward`` follows a
training-mode ``forward`` on the same batch.
"""

import numpy as np


class BatchNormalization:
    """Batch normalization (Ioffe and Szegedy, 2015).

    out = gamma * (x - mean) / sqrt(var + eps) + beta, per feature for x of shape (N, D) and
    per channel for x of shape (N, C, H, W) ("spatial" batch norm: statistics over N, H, W).
    Training mode uses the batch mean and the biased batch variance (divide by the number of
    values averaged) and updates the running statistics:
        running = momentum * running + (1 - momentum) * batch_stat
    Evaluation mode normalises with the running statistics instead.

    Inputs:
    - gamma: scale, shape (D,) or (C,); kept by reference, so an optimizer updating it in
      place is seen here
    - beta: shift, same shape as gamma
    - momentum: weight of the old running statistic (0.9 keeps 90% of it)
    - running_mean, running_var: initial running statistics, shape of gamma; None means
      zeros (mean) and ones (variance)
    - eps: added to the variance before the square root
    """

    def __init__(
        self,
        gamma: np.ndarray,
        beta: np.ndarray,
        momentum: float = 0.9,
        running_mean: np.ndarray | None = None,
        running_var: np.ndarray | None = None,
        eps: float = 1e-5,
    ):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        shape = np.shape(gamma)
        self.running_mean = np.zeros(shape) if running_mean is None else running_mean
        self.running_var = np.ones(shape) if running_var is None else running_var
        self.eps = eps
        # kept by forward for backward
        self.xc = None  # x - mean, (M, D) with M values per feature
        self.std = None  # sqrt(var + eps), (D,)
        self.xn = None  # normalised x, (M, D)
        # set by backward
        self.dgamma = None
        self.dbeta = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """Normalise a batch.

        Inputs:
        - x: (N, D) or (N, C, H, W)
        - train_flg: True to use and update the batch statistics, False to use the
          running statistics

        Returns:
        - out: same shape as x
        """
        # BEGIN SOLUTION hint: 4-D -> (N*H*W, C); train: batch mean, biased var, update running
        shape = x.shape
        if x.ndim == 4:  # (N, C, H, W) -> (N*H*W, C): one column per channel
            x = x.transpose(0, 2, 3, 1).reshape(-1, shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            var = x.var(axis=0)  # biased: divides by N (N*H*W)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.xc = x - mu
        self.std = np.sqrt(var + self.eps)
        self.xn = self.xc / self.std
        out = self.gamma * self.xn + self.beta
        if len(shape) == 4:  # back to (N, C, H, W)
            out = out.reshape(shape[0], shape[2], shape[3], shape[1]).transpose(0, 3, 1, 2)
        # END SOLUTION
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Backpropagate through a training-mode forward (the batch statistics depend on x).

        Inputs:
        - dout: upstream gradient, shape of forward's x

        Returns:
        - dx: gradient with respect to x, shape of dout
        Also sets self.dgamma and self.dbeta, shape of gamma.
        """
        # BEGIN SOLUTION hint: 4-D -> (N*H*W, C); dbeta, dgamma sums; dx also through mean and var
        shape = dout.shape
        if dout.ndim == 4:
            dout = dout.transpose(0, 2, 3, 1).reshape(-1, shape[1])
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * self.xn, axis=0)
        dxn = self.gamma * dout
        # xn = (x - mean) / std, with mean and std functions of the whole batch:
        dx = (dxn - dxn.mean(axis=0) - self.xn * np.mean(dxn * self.xn, axis=0)) / self.std
        if len(shape) == 4:
            dx = dx.reshape(shape[0], shape[2], shape[3], shape[1]).transpose(0, 3, 1, 2)
        # END SOLUTION
        return dx


class Dropout:
    """Inverted dropout (Srivastava et al., 2014).

    Training: each unit is dropped (set to 0) with probability dropout_ratio, and the kept
    units are scaled by 1 / (1 - dropout_ratio), so the expected output equals x.
    Evaluation: identity. The mask comes from NumPy's global generator (np.random).

    Inputs:
    - dropout_ratio: probability of dropping a unit, 0 <= dropout_ratio < 1 (else ValueError)
    """

    def __init__(self, dropout_ratio: float = 0.5):
        # BEGIN SOLUTION hint: raise ValueError unless 0 <= dropout_ratio < 1
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        # END SOLUTION
        self.dropout_ratio = dropout_ratio
        self.mask = None  # True where a unit is kept, shape of x

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """Drop units at random (training) or pass x through (evaluation).

        Inputs:
        - x: array of any shape
        - train_flg: True to drop units, False for the identity

        Returns:
        - out: same shape as x
        """
        # BEGIN SOLUTION hint: mask = np.random.rand(*x.shape) >= ratio; out = x*mask/(1-ratio)
        if not train_flg:
            return x.copy()
        self.mask = np.random.rand(*x.shape) >= self.dropout_ratio  # ratio 0 keeps every unit
        return x * self.mask / (1.0 - self.dropout_ratio)
        # END SOLUTION

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Backpropagate through the last training-mode forward.

        Inputs:
        - dout: upstream gradient, shape of forward's x

        Returns:
        - dx: same shape; zero where the unit was dropped, dout/(1 - dropout_ratio) elsewhere
        """
        # BEGIN SOLUTION hint: the same mask and scale as forward
        return dout * self.mask / (1.0 - self.dropout_ratio)
        # END SOLUTION
