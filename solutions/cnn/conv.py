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
    # BEGIN SOLUTION hint: check the arguments, then floor((I - K + 2P) / S) + 1
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if pad < 0:
        raise ValueError(f"pad must be at least 0, got {pad}")
    out = (input_size - filter_size + 2 * pad) // stride + 1
    if out < 1:
        raise ValueError(f"a filter of {filter_size} does not fit in {input_size} with pad {pad}")
    return out
    # END SOLUTION


def corr2d(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """2-D cross-correlation of one channel: no padding, stride 1 (d2l's ``corr2d``).

        Y[i, j] = sum over (p, q) of X[i + p, j + q] * K[p, q]

    Inputs:
    - X: input of shape (h, w)
    - K: kernel of shape (kh, kw)

    Returns:
    - Y: output of shape (h - kh + 1, w - kw + 1)
    """
    # BEGIN SOLUTION hint: Y[i, j] is the sum of the window X[i:i+kh, j:j+kw] times K
    kh, kw = K.shape
    Y = np.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = np.sum(X[i : i + kh, j : j + kw] * K)
    return Y
    # END SOLUTION


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
    # BEGIN SOLUTION hint: pad x; per offset (p, q), add strided x slices times W[:, :, p, q]
    N, _, in_h, in_w = x.shape
    FN, _, FH, FW = W.shape
    out_h = (in_h + 2 * pad - FH) // stride + 1
    out_w = (in_w + 2 * pad - FW) // stride + 1
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out = np.zeros((N, FN, out_h, out_w))
    for p in range(FH):
        p_max = p + stride * out_h
        for q in range(FW):
            q_max = q + stride * out_w
            window = xp[:, :, p:p_max:stride, q:q_max:stride]  # (N, C, OH, OW)
            out += np.einsum("nchw,fc->nfhw", window, W[:, :, p, q])
    return out + b.reshape(1, FN, 1, 1)
    # END SOLUTION


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
    # BEGIN SOLUTION hint: windows[n, c, i, j, p, q] = padded x[n, c, i*S+p, j*S+q]; reorder
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    # windows[n, c, i, j, p, q] = img[n, c, i + p, j + q]: a view of img, nothing is copied
    windows = np.lib.stride_tricks.sliding_window_view(img, (filter_h, filter_w), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, OH, OW, FH, FW): every stride-th
    # Rows (n, i, j), columns (c, p, q); the reshape copies the windows, once. (The textbook
    # fills a (N, C, FH, FW, OH, OW) array, then transposes it: the same col, two copies.)
    windows = windows.transpose(0, 2, 3, 1, 4, 5)  # (N, OH, OW, C, FH, FW)
    return windows.reshape(N * out_h * out_w, C * filter_h * filter_w)
    # END SOLUTION


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
    # BEGIN SOLUTION hint: undo im2col's reorder; add each (p, q) slice to a padded image
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    # A view (no copy): col[:, :, p, q] is column (c, p, q) of every row, as (N, C, OH, OW).
    # It reads fast when col is stored column by column (see Convolution.backward)
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for p in range(filter_h):
        p_max = p + stride * out_h
        for q in range(filter_w):
            q_max = q + stride * out_w
            img[:, :, p:p_max:stride, q:q_max:stride] += col[:, :, p, q, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]
    # END SOLUTION


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
        # BEGIN SOLUTION hint: im2col(x) @ W as (C*FH*FW, FN) + b, then to (N, FN, OH, OW)
        FN, _, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (W + 2 * self.pad - FW) // self.stride + 1
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = col @ col_W
        out += self.b  # in place: no second (N*OH*OW, FN) array
        self.x = x
        self.col = col
        self.col_W = col_W
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)
        # END SOLUTION

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """
        Inputs:
        - dout: upstream gradient of shape (N, FN, OH, OW)

        Returns:
        - dx: gradient with respect to x, of shape (N, C, H, W)

        Sets self.dW (FN, C, FH, FW) and self.db (FN,).
        """
        # BEGIN SOLUTION hint: dout as (N*OH*OW, FN); db, dW, dcol by sums, products; col2im
        FN, C, FH, FW = self.W.shape
        self.db = np.sum(dout, axis=(0, 2, 3))  # over the batch and every position
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.dW = (self.col.T @ dout).T.reshape(FN, C, FH, FW)
        # dcol = dout @ col_W.T, computed as the transpose of col_W @ dout.T: the same
        # numbers, stored column by column, the order in which col2im reads them
        dcol = (self.col_W @ dout.T).T
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)
        # END SOLUTION
