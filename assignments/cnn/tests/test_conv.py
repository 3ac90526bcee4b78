"""Public cases of conv.py: the lecture's formula, d2l's corr2d example, small batches."""

import numpy as np
import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(1e-7, 1e-9)


@pytest.mark.conv_output_size
@pytest.mark.parametrize(
    "size",
    [(32, 3, 1, 1), (28, 5, 1, 0), (7, 3, 2, 0), (8, 3, 3, 1)],
    ids=["same", "valid", "stride2", "floor"],
)
def test_output_size(grade, size):
    i, k, s, p = size
    grade.check("conv_output_size", input_size=i, filter_size=k, stride=s, pad=p)


@pytest.mark.conv_output_size
def test_output_size_rejects_a_filter_that_does_not_fit(grade):
    got = grade.call("conv_output_size_raises", input_size=3, filter_size=5, stride=1, pad=0)
    grade.expect(
        got == "ValueError", f"a 5x5 filter on a 3x3 input must raise ValueError; got {got}"
    )


@pytest.mark.corr2d
def test_corr2d_d2l_example(grade):
    """X = 0..8 as 3x3, K = [[0, 1], [2, 3]] gives [[19, 25], [37, 43]]."""
    grade.check("corr2d", X=np.arange(9.0).reshape(3, 3), K=np.arange(4.0).reshape(2, 2))


def _conv_inputs(rng, n, c, h, w, fn, k, stride, pad):
    return {
        "x": rng.random((n, c, h, w)) - 0.5,
        "W": rng.random((fn, c, k, k)) - 0.5,
        "b": rng.random(fn),
        "stride": stride,
        "pad": pad,
    }


@pytest.mark.conv2d
@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1)])
def test_conv2d(grade, stride, pad):
    grade.check("conv2d", **_conv_inputs(grade.rng(), 2, 3, 5, 5, 2, 3, stride, pad), tol=CLOSE)


@pytest.mark.im2col
def test_im2col_rows(grade):
    grade.check(
        "im2col",
        x=np.arange(2 * 2 * 4 * 4, dtype=float).reshape(2, 2, 4, 4),
        filter_h=2,
        filter_w=3,
        stride=1,
        pad=1,
        tol=CLOSE,
    )


@pytest.mark.im2col
def test_col2im_adds_overlaps(grade):
    """Rows of ones: each pixel counts the windows that cover it."""
    grade.check(
        "col2im",
        col=np.ones((1 * 3 * 3, 1 * 3 * 3)),
        input_shape=[1, 1, 5, 5],
        filter_h=3,
        filter_w=3,
        stride=1,
        pad=0,
        tol=CLOSE,
    )


@pytest.mark.convolution
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0)])
def test_convolution_layer(grade, stride, pad):
    rng = grade.rng()
    inputs = _conv_inputs(rng, 2, 2, 6, 6, 3, 3, stride, pad)
    out = (6 + 2 * pad - 3) // stride + 1
    grade.check(
        "convolution",
        per_output=True,
        W=inputs["W"],
        b=inputs["b"],
        stride=stride,
        pad=pad,
        passes=[{"x": inputs["x"], "dout": rng.random((2, 3, out, out)) - 0.5}],
        tol=CLOSE,
    )
