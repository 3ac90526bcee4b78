"""Convolution: output size, corr2d, conv2d, im2col/col2im and the Convolution layer."""

import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(rtol=1e-7, atol=1e-9)

SIZES = [  # input, filter, stride, pad: divisible, floor (rounding down from .5 and more),
    # and a filter larger than the input that fits thanks to the padding
    (7, 3, 1, 0),
    (28, 5, 1, 0),
    (32, 3, 1, 1),
    (8, 3, 3, 1),
    (9, 2, 2, 0),
    (11, 3, 3, 0),
    (3, 5, 1, 1),
    (5, 5, 2, 2),
]


@pytest.mark.conv_output_size
@pytest.mark.parametrize("size", SIZES, ids=[f"I{i}-K{k}-S{s}-P{p}" for i, k, s, p in SIZES])
def test_output_size(grade, size):
    i, k, s, p = size
    grade.check("conv_output_size", input_size=i, filter_size=k, stride=s, pad=p)


BAD_SIZES = [(7, 3, 0, 0), (7, 3, 1, -1), (4, 7, 1, 1), (2, 5, 2, 1)]


@pytest.mark.conv_output_size
@pytest.mark.parametrize(
    "size", BAD_SIZES, ids=["stride0", "negative-pad", "filter-too-big", "filter-too-big-stride2"]
)
def test_output_size_rejects(grade, size):
    i, k, s, p = size
    got = grade.call("conv_output_size_raises", input_size=i, filter_size=k, stride=s, pad=p)
    grade.expect(
        got == "ValueError",
        f"conv_output_size({i}, {k}, stride={s}, pad={p}) must raise ValueError; got: {got}",
    )


@pytest.mark.corr2d
@pytest.mark.parametrize("case", range(3))
def test_corr2d(grade, case):
    rng = grade.rng(case)
    h, w = rng.integers(4, 10, size=2)
    kh = int(rng.integers(1, 4))
    kw = kh + case % 2  # square and non-square kernels
    grade.check("corr2d", X=rng.standard_normal((h, w)), K=rng.standard_normal((kh, kw)), tol=CLOSE)


CONV_CASES = {  # id: N, C, H, W, FN, FH, FW, stride, pad
    "basic": (2, 3, 7, 7, 4, 3, 3, 1, 0),
    "pad1": (2, 2, 6, 5, 3, 3, 3, 1, 1),
    "stride2-floor": (1, 3, 8, 9, 2, 3, 3, 2, 0),
    "stride2-pad2-rect-filter": (3, 2, 7, 6, 5, 2, 4, 2, 2),
    "one-channel-5x5": (4, 1, 10, 10, 6, 5, 5, 1, 0),
}


def _conv_inputs(rng, case):
    n, c, h, w, fn, fh, fw, stride, pad = case
    return {
        "x": rng.standard_normal((n, c, h, w)),
        "W": rng.standard_normal((fn, c, fh, fw)),
        "b": rng.standard_normal(fn),
        "stride": stride,
        "pad": pad,
    }


@pytest.mark.conv2d
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d(grade, case):
    grade.check("conv2d", **_conv_inputs(grade.rng(), case), tol=CLOSE)


IM2COL_CASES = ["basic", "stride2-floor", "stride2-pad2-rect-filter"]


@pytest.mark.im2col
@pytest.mark.parametrize("case", [CONV_CASES[k] for k in IM2COL_CASES], ids=IM2COL_CASES)
def test_im2col(grade, case):
    n, c, h, w, _, fh, fw, stride, pad = case
    x = grade.rng().standard_normal((n, c, h, w))
    grade.check("im2col", x=x, filter_h=fh, filter_w=fw, stride=stride, pad=pad, tol=CLOSE)


@pytest.mark.im2col
@pytest.mark.parametrize("case", list(CONV_CASES.values())[1:4], ids=list(CONV_CASES)[1:4])
def test_col2im(grade, case):
    """Overlapping windows must add up; padding is cropped."""
    n, c, h, w, _, fh, fw, stride, pad = case
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = grade.rng().standard_normal((n * oh * ow, c * fh * fw))
    grade.check(
        "col2im",
        col=col,
        input_shape=[n, c, h, w],
        filter_h=fh,
        filter_w=fw,
        stride=stride,
        pad=pad,
        tol=CLOSE,
    )


@pytest.mark.convolution
@pytest.mark.parametrize("case", list(CONV_CASES.values())[:4], ids=list(CONV_CASES)[:4])
def test_convolution_layer(grade, case):
    """Forward and backward twice with one layer (nothing may leak between passes)."""
    rng = grade.rng()
    first, second = _conv_inputs(rng, case), _conv_inputs(rng, case)
    n, _, h, w, fn, fh, fw, stride, pad = case
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    passes = [
        {"x": inputs["x"], "dout": rng.standard_normal((n, fn, oh, ow))}
        for inputs in (first, second)
    ]
    grade.check(
        "convolution",
        per_output=True,
        W=first["W"],
        b=first["b"],
        stride=stride,
        pad=pad,
        passes=passes,
        tol=CLOSE,
    )
