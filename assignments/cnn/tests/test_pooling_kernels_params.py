"""Public cases of pooling.py, kernels.py and params.py, with the lecture's own examples."""

import numpy as np
import pytest

from autograder.compare import EXACT, Tolerance

LECTURE_X = np.arange(9.0).reshape(3, 3)


@pytest.mark.pool2d
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_lecture_example(grade, mode):
    """[[0,1,2],[3,4,5],[6,7,8]] pooled 2x2: max [[4,5],[7,8]], avg [[2,3],[5,6]]."""
    grade.check("pool2d", X=LECTURE_X, pool_size=[2, 2], mode=mode)


@pytest.mark.pooling
@pytest.mark.parametrize("mode, stride, pad", [("max", 2, 0), ("max", 1, 1), ("avg", 2, 1)])
def test_pooling_layer(grade, mode, stride, pad):
    rng = grade.rng()
    out = (6 + 2 * pad - 2) // stride + 1
    grade.check(
        "pooling",
        per_output=True,
        pool_h=2,
        pool_w=2,
        stride=stride,
        pad=pad,
        mode=mode,
        x=rng.random((2, 2, 6, 6)) - 0.5,
        dout=rng.random((2, 2, out, out)),
        tol=Tolerance(1e-9, 1e-12),
    )


@pytest.mark.pooling
def test_pooling_layer_defaults(grade):
    """Pooling(2, 2) alone: stride 1, pad 0 and "max" by default (the textbook's stride is 2)."""
    grade.check(
        "pooling_defaults",
        per_output=True,
        pool_h=2,
        pool_w=2,
        x=grade.rng().random((1, 2, 4, 5)) - 0.5,
        tol=Tolerance(1e-9, 1e-12),
    )


@pytest.mark.kernels
def test_kernel_table(grade):
    grade.check(
        "kernels",
        names=["identity", "edge4", "edge8", "sharpen", "box_blur", "gaussian3", "gaussian5"],
        tol=Tolerance(1e-12, 1e-15),
    )


@pytest.mark.kernels
def test_filter_image(grade):
    rng = grade.rng()
    grade.check(
        "filter_image",
        image=rng.random((5, 6, 3)),
        kernel=rng.random((3, 3)) - 0.5,
        tol=Tolerance(1e-9, 1e-12),
    )


@pytest.mark.params
def test_lecture_parameter_counts(grade):
    """A 32x32 RGB image into 128 units: 393,344 weights; 32 filters of 3x3: 896."""
    grade.check("dense_params", in_features=32 * 32 * 3, out_features=128, bias=True, tol=EXACT)
    grade.check(
        "conv2d_params", in_channels=3, out_channels=32, kernel_size=3, bias=True, tol=EXACT
    )
