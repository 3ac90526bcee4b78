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
    raise NotImplementedError("check mode; Y[i, j] = max or mean of the window X[i:i+ph, j:j+pw]")


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
        raise NotImplementedError("pad (-inf or 0); reduce over the window cells (strided views)")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - dout: upstream gradient of shape (N, C, OH, OW)

        Returns:
        - dx: gradient with respect to x, of shape (N, C, H, W)
        """
        raise NotImplementedError("each window cell gets its share of dout; add to a padded dx")
