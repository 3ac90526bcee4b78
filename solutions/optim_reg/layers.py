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
      zeros (mean) and ones (variance). The attributes of these names hold the current
      values; training replaces them with new arrays, so arrays passed in are not modified.
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
        # kept by forward for backward; 4-D input is handled as (N*H*W, C)
        self.std = None  # sqrt(var + eps), (D,)
        self.xn = None  # normalised x, (N, D)
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
        # BEGIN SOLUTION hint: 4-D as (N*H*W, C); batch mean and biased var; update running
        if x.ndim == 4:  # one column per channel: normalise (N*H*W, C), restore the layout
            n, c, h, w = x.shape
            out = self.forward(x.transpose(0, 2, 3, 1).reshape(-1, c), train_flg)
            return out.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        if train_flg:
            mu = x.mean(axis=0)
            var = x.var(axis=0)  # biased: divides by the number of rows
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xn = (x - mu) / self.std
        return self.gamma * self.xn + self.beta
        # END SOLUTION

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Backpropagate through a training-mode forward (the batch statistics depend on x).

        Inputs:
        - dout: upstream gradient, shape of forward's x

        Returns:
        - dx: gradient with respect to x, shape of dout
        Also sets self.dgamma and self.dbeta, shape of gamma.
        """
        # BEGIN SOLUTION hint: 4-D as (N*H*W, C); sums over rows; dx via mean and var too
        if dout.ndim == 4:
            n, c, h, w = dout.shape
            dx = self.backward(dout.transpose(0, 2, 3, 1).reshape(-1, c))
            return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(dout * self.xn, axis=0)
        dxn = self.gamma * dout
        # xn = (x - mean) / std where mean and std depend on every row: two more paths to x
        return (dxn - np.mean(dxn, axis=0) - self.xn * np.mean(dxn * self.xn, axis=0)) / self.std
        # END SOLUTION


class Dropout:
    """Inverted dropout (Srivastava et al., 2014).

    Training: each unit is dropped (set to 0) with probability dropout_ratio, and the kept
    units are scaled by 1 / (1 - dropout_ratio), so the expected output equals x.
    Evaluation: identity. The mask comes from NumPy's global generator (np.random).

    Inputs:
    - dropout_ratio: probability of dropping a unit, 0 <= dropout_ratio < 1 (else ValueError)
    """

    def __init__(self, dropout_ratio: float = 0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None  # True where a unit is kept, shape of x
        # BEGIN SOLUTION hint: ValueError unless 0 <= dropout_ratio < 1
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        # END SOLUTION

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """Drop units at random (training) or pass x through (evaluation).

        Inputs:
        - x: array of any shape
        - train_flg: True to drop units, False for the identity

        Returns:
        - out: same shape as x
        """
        # BEGIN SOLUTION hint: eval: x; train: mask = rand >= ratio, out = x*mask/(1-ratio)
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
