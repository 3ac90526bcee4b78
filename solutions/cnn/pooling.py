"""Pooling: the plain one-channel version and the Pooling layer (max or average)."""

import numpy as np


def pool2d(X: np.ndarray, pool_size: int | tuple[int, int], mode: str = "max") -> np.ndarray:
    """Max or average pooling of one channel: stride 1, no padding (d2l's ``pool2d``).

    Inputs:
    - X: input of shape (h, w)
    - pool_size: (ph, pw), or an int p meaning (p, p)
    - mode: "max" or "avg"

    Returns:
    - Y: output of shape (h - ph + 1, w - pw + 1); Y[i, j] is the max (or the mean) of
      the window X[i:i+ph, j:j+pw]

    Raises ValueError for any other mode.
    """
    # BEGIN SOLUTION hint: check mode; Y[i, j] = max or mean of the window X[i:i+ph, j:j+pw]
    if mode not in ("max", "avg"):
        raise ValueError(f'mode must be "max" or "avg", got {mode!r}')
    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int | np.integer) else pool_size
    Y = np.zeros((X.shape[0] - ph + 1, X.shape[1] - pw + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i : i + ph, j : j + pw]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y
    # END SOLUTION


class Pooling:
    """Max or average pooling layer, each channel on its own.

    Windows of pool_h x pool_w every ``stride`` cells, over the input padded by ``pad`` on
    each side of H and W; OH = (H + 2*pad - pool_h) // stride + 1, same for OW.
    - "max": padded cells never win (they count as -inf); backward sends each window's
      gradient to its maximum, the first one in row-major order when several cells tie
      (as PyTorch does).
    - "avg": padded cells count as zeros and every window is divided by pool_h*pool_w
      (PyTorch's default ``count_include_pad=True``).
    Any other mode is a ValueError.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0, mode: str = "max"):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        if mode not in ("max", "avg"):
            raise ValueError(f'mode must be "max" or "avg", got {mode!r}')
        self.mode = mode
        # kept by forward for backward
        self.x_shape = None
        self.arg_max = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - x: input of shape (N, C, H, W)

        Returns:
        - out: output of shape (N, C, OH, OW)

        Keeps the input's shape (self.x_shape) and, for "max", the index of each window's
        maximum in row-major order within the window (self.arg_max, shape (N, C, OH, OW)).
        """
        # BEGIN SOLUTION hint: pad (-inf or 0); reduce over the window cells (strided views)
        H, W = x.shape[2:]
        s = self.stride
        out_h = (H + 2 * self.pad - self.pool_h) // s + 1
        out_w = (W + 2 * self.pad - self.pool_w) // s + 1
        fill = -np.inf if self.mode == "max" else 0.0
        xp = np.pad(
            x, [(0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)], constant_values=fill
        )
        # cells[k]: cell k = (p, q) of every window, numbered row by row within the window:
        # a strided view of xp (no copy) of shape (N, C, OH, OW)
        cells = [
            xp[:, :, p : p + s * out_h : s, q : q + s * out_w : s]
            for p in range(self.pool_h)
            for q in range(self.pool_w)
        ]
        self.x_shape = x.shape
        if self.mode == "avg":
            return np.mean(cells, axis=0)
        # A running maximum over the cells in order. It moves only to a strictly larger
        # value, so when cells tie, arg_max keeps the first of them (as PyTorch does)
        out = cells[0].copy()
        self.arg_max = np.zeros(out.shape, dtype=int)
        for k in range(1, len(cells)):
            better = cells[k] > out
            self.arg_max[better] = k
            np.maximum(out, cells[k], out=out)
        return out
        # END SOLUTION

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - dout: upstream gradient of shape (N, C, OH, OW)

        Returns:
        - dx: gradient with respect to x, of shape (N, C, H, W)
        """
        # BEGIN SOLUTION hint: each window cell gets its share of dout; add to a padded dx
        N, C, H, W = self.x_shape
        s = self.stride
        out_h, out_w = dout.shape[2:]
        size = self.pool_h * self.pool_w
        dxp = np.zeros((N, C, H + 2 * self.pad, W + 2 * self.pad))
        for k in range(size):
            p, q = divmod(k, self.pool_w)
            # max: dout goes to the window's maximum alone; avg: an equal share to every cell
            dcell = (self.arg_max == k) * dout if self.mode == "max" else dout / size
            dxp[:, :, p : p + s * out_h : s, q : q + s * out_w : s] += dcell
        return dxp[:, :, self.pad : H + self.pad, self.pad : W + self.pad]
        # END SOLUTION
