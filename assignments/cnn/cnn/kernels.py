"""Classic image kernels (the lecture's table) and a same-size filter for grey or colour images."""

import numpy as np

# The lecture's table of kernels, float64 arrays by name: "identity"; "edge4", the 4-neighbour
# edge detector [[0,-1,0],[-1,4,-1],[0,-1,0]]; "edge8", 8 in the centre and -1 around;
# "sharpen", [[0,-1,0],[-1,5,-1],[0,-1,0]]; "box_blur", ones / 9; "gaussian3",
# [[1,2,1],[2,4,2],[1,2,1]] / 16; "gaussian5", the outer product of the binomial row
# 1-4-6-4-1 with itself, / 256.
KERNELS: dict[str, np.ndarray] = {}  # TODO: the lecture's table


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
    raise NotImplementedError("zero-pad H, W (not channels) by kh//2, kw//2; sum kernel * shifts")
