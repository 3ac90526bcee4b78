"""Classic image kernels (the lecture's table) and a same-size filter for grey or colour images."""

import numpy as np

# The lecture's table of kernels, float64 arrays by name: "identity"; "edge4", the 4-neighbour
# edge detector [[0,-1,0],[-1,4,-1],[0,-1,0]]; "edge8", 8 in the centre and -1 around;
# "sharpen", [[0,-1,0],[-1,5,-1],[0,-1,0]]; "box_blur", ones / 9; "gaussian3",
# [[1,2,1],[2,4,2],[1,2,1]] / 16; "gaussian5", the outer product of the binomial row
# 1-4-6-4-1 with itself, / 256.
# BEGIN SOLUTION stub: KERNELS: dict[str, np.ndarray] = {}  # TODO: the lecture's table
_BINOMIAL5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    "edge4": np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]),
    "edge8": np.array([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "box_blur": np.ones((3, 3)) / 9,
    "gaussian3": np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16,
    "gaussian5": np.outer(_BINOMIAL5, _BINOMIAL5) / 256,
}
# END SOLUTION


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter an image with a kernel: cross-correlation, zero padding, same-size output.

        out[i, j] = sum over (p, q) of padded[i + p, j + q] * kernel[p, q]

    where padded is the image with kh // 2 rows of zeros above and below and kw // 2
    columns left and right (kh, kw odd). A colour image is filtered channel by channel.
    Values are not clipped (an edge kernel gives negative values).

    Inputs:
    - image: grey image of shape (H, W), or colour image of shape (H, W, 3)
    - kernel: array of shape (kh, kw), e.g. KERNELS["sharpen"]

    Returns:
    - out: float array of the image's shape
    """
    # BEGIN SOLUTION hint: zero-pad H, W (not channels) by kh//2, kw//2; sum kernel * shifts
    kh, kw = kernel.shape
    H, W = image.shape[:2]
    channels = [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, [(kh // 2, kh // 2), (kw // 2, kw // 2), *channels])
    out = np.zeros(image.shape)
    for p in range(kh):
        for q in range(kw):
            out += kernel[p, q] * padded[p : p + H, q : q + W]
    return out
    # END SOLUTION
