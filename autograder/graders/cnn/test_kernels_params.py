"""The lecture's image kernels, filter_image, and parameter counts."""

import numpy as np
import pytest

from autograder.compare import EXACT, Tolerance

NAMES = ["identity", "edge4", "edge8", "sharpen", "box_blur", "gaussian3", "gaussian5"]


@pytest.mark.kernels
@pytest.mark.weight(2)
def test_kernel_table(grade):
    grade.check("kernels", names=NAMES, tol=Tolerance(rtol=1e-12, atol=1e-15))


@pytest.mark.kernels
@pytest.mark.parametrize("shape", [(9, 7), (6, 8, 3)], ids=["grey", "colour"])
def test_filter_image(grade, shape):
    """An asymmetric kernel, so that a flipped kernel (true convolution) shows."""
    rng = grade.rng()
    grade.check(
        "filter_image",
        image=rng.uniform(0, 255, shape),
        kernel=rng.standard_normal((3, 3)),
        tol=Tolerance(rtol=1e-9, atol=1e-9),
    )


@pytest.mark.kernels
def test_filter_image_uint8_photo(grade):
    """Photos come as uint8 (load_sample_image): the output is float64, not truncated."""
    rng = grade.rng()
    grade.check(
        "filter_image",
        image=rng.integers(0, 256, (7, 6, 3)).astype(np.uint8),
        kernel=rng.standard_normal((3, 3)),
        tol=Tolerance(rtol=1e-9, atol=1e-9),
    )


@pytest.mark.kernels
def test_filter_image_rectangular_kernel(grade):
    """3 rows by 5 columns: padding is kh // 2 rows and kw // 2 columns."""
    rng = grade.rng()
    grade.check(
        "filter_image",
        image=rng.uniform(0, 1, (6, 9)),
        kernel=rng.standard_normal((3, 5)),
        tol=Tolerance(rtol=1e-9, atol=1e-12),
    )


@pytest.mark.kernels
def test_filter_image_5x5(grade):
    rng = grade.rng()
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256 + rng.normal(0, 0.01, (5, 5))
    grade.check(
        "filter_image",
        image=rng.uniform(0, 1, (7, 8)),
        kernel=kernel,
        tol=Tolerance(rtol=1e-9, atol=1e-12),
    )


@pytest.mark.params
@pytest.mark.parametrize("args", [(3072, 128, True), (784, 10, False)], ids=["bias", "no-bias"])
def test_dense_params(grade, args):
    grade.check("dense_params", in_features=args[0], out_features=args[1], bias=args[2], tol=EXACT)


@pytest.mark.params
@pytest.mark.parametrize(
    "args",
    [(3, 32, 3, True), (16, 8, (3, 5), False), (1, 6, 5, True)],
    ids=["square", "rect-no-bias", "lenet"],
)
def test_conv2d_params(grade, args):
    grade.check(
        "conv2d_params",
        in_channels=args[0],
        out_channels=args[1],
        kernel_size=args[2],
        bias=args[3],
        tol=EXACT,
    )
