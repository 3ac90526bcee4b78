"""Convolution: output size, 2-D cross-correlation, im2col/col2im and the Convolution layer.

Every "convolution" here is a cross-correlation, as in every CNN library: the filter is
not flipped. Padding is zeros, ``pad`` cells on each side.
"""

import numpy as np


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """Output length of a convolution along one axis (the lecture's formula).

        O = floor((I - K + 2P) / S) + 1

    Inputs:
    - input_size: I, the input's height (or width)
    - filter_size: K, the filter's height (or width)
    - stride: S, the step between two windows, >= 1
    - pad: P, zeros added on each side, >= 0

    Returns:
    - O, an int >= 1

    Raises ValueError when stride < 1, pad < 0 or the filter does not fit (O < 1).
    """
    raise NotImplementedError("check the arguments, then floor((I - K + 2P) / S) + 1")


def corr2d(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """2-D cross-correlation of one channel: no padding, stride 1 (d2l's ``corr2d``).

        Y[i, j] = sum over (p, q) of X[i + p, j + q] * K[p, q]

    Inputs:
    - X: input of shape (h, w)
    - K: kernel of shape (kh, kw)

    Returns:
    - Y: output of shape (h - kh + 1, w - kw + 1)
    """
    raise NotImplementedError("Y[i, j] is the sum of the window X[i:i+kh, j:j+kw] times K")


def conv2d(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """Batched multi-channel convolution, forward only.

        out[n, f, i, j] = b[f] + sum over (c, p, q) of xp[n, c, i*S + p, j*S + q] * W[f, c, p, q]

    where xp is x zero-padded by ``pad`` on each side of H and W.

    Inputs:
    - x: input of shape (N, C, H, W)
    - W: filters of shape (FN, C, FH, FW)
    - b: biases of shape (FN,)
    - stride: step between two windows
    - pad: zeros added on each side of H and W

    Returns:
    - out: output of shape (N, FN, OH, OW), OH = (H + 2*pad - FH) // stride + 1, same for OW
    """
    raise NotImplementedError("pad x; per offset (p, q), add strided x slices times W[:, :, p, q]")


def im2col(
    input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """Unfold every receptive field of a batch of images into one row (the textbook's layout).

    Inputs:
    - input_data: images of shape (N, C, H, W)
    - filter_h, filter_w: the filter's height FH and width FW
    - stride: step between two windows
    - pad: zeros added on each side of H and W

    Returns:
    - col: array of shape (N*OH*OW, C*FH*FW); row n*OH*OW + i*OW + j holds the window of
      output position (n, i, j), flattened in (c, kh, kw) order
    """
    raise NotImplementedError("windows[n, c, i, j, p, q] = padded x[n, c, i*S+p, j*S+q]; reorder")


def col2im(
    col: np.ndarray,
    input_shape: tuple[int, int, int, int],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> np.ndarray:
    """The adjoint of im2col: add every row back onto the window it came from.

    Overlapping windows add up; the padding is cropped. For any x and y,
    sum(im2col(x) * y) == sum(x * col2im(y)).

    Inputs:
    - col: array of shape (N*OH*OW, C*FH*FW), in im2col's layout
    - input_shape: (N, C, H, W), the shape of the images im2col received
    - filter_h, filter_w, stride, pad: as given to im2col

    Returns:
    - img: array of shape (N, C, H, W)
    """
    raise NotImplementedError("undo im2col's reorder; add each (p, q) slice to a padded image")


class Convolution:
    """Convolution layer (cross-correlation) computed with im2col.

    W: filters (FN, C, FH, FW); b: biases (FN,). The layer keeps references to W and b,
    so an update of the arrays in place is seen by the next forward pass.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        # kept by forward for backward
        self.x = None
        self.col = None
        self.col_W = None
        # set by backward
        self.dW = None
        self.db = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - x: input of shape (N, C, H, W)

        Returns:
        - out: output of shape (N, FN, OH, OW)

        Keeps x, its im2col matrix (self.col) and the filters as columns (self.col_W).
        """
        raise NotImplementedError("im2col(x) @ W as (C*FH*FW, FN) + b, then to (N, FN, OH, OW)")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - dout: upstream gradient of shape (N, FN, OH, OW)

        Returns:
        - dx: gradient with respect to x, of shape (N, C, H, W)

        Sets self.dW (FN, C, FH, FW) and self.db (FN,).
        """
        raise NotImplementedError("dout as (N*OH*OW, FN); db, dW, dcol by sums, products; col2im")
