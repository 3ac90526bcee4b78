"""Pooling: pool2d on one channel, and the Pooling layer forward and backward."""

import numpy as np
import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(rtol=1e-9, atol=1e-12)


@pytest.mark.pool2d
@pytest.mark.parametrize("mode, size", [("max", (2, 2)), ("avg", (3, 2)), ("max", 3), ("avg", 2)])
def test_pool2d(grade, mode, size):
    rng = grade.rng()
    grade.check(
        "pool2d",
        X=rng.standard_normal(rng.integers(4, 9, size=2)),
        pool_size=size,
        mode=mode,
        tol=CLOSE,
    )


@pytest.mark.pool2d
def test_pool2d_rejects_unknown_mode(grade):
    """A tuple size, so that only the mode decides (int sizes have cases of their own)."""
    got = grade.call(
        "pool2d_raises", X=grade.rng().standard_normal((4, 4)), pool_size=(2, 2), mode="median"
    )
    grade.expect(
        got == "ValueError", f'pool2d(..., mode="median") must raise ValueError; got: {got}'
    )


POOL_CASES = {  # id: N, C, H, W, pool_h, pool_w, stride, pad, mode
    "max-2x2-s2": (2, 3, 8, 8, 2, 2, 2, 0, "max"),
    "max-3x3-s1-overlap": (1, 2, 5, 6, 3, 3, 1, 0, "max"),
    "max-3x3-s2-pad1": (2, 2, 7, 7, 3, 3, 2, 1, "max"),
    "avg-2x2-s2": (2, 3, 6, 8, 2, 2, 2, 0, "avg"),
    "avg-3x2-s1-pad1": (1, 2, 5, 5, 3, 2, 1, 1, "avg"),
}


def _pooling(grade, case, x):
    n, c, h, w, ph, pw, stride, pad, mode = case
    oh, ow = (h + 2 * pad - ph) // stride + 1, (w + 2 * pad - pw) // stride + 1
    grade.check(
        "pooling",
        per_output=True,
        pool_h=ph,
        pool_w=pw,
        stride=stride,
        pad=pad,
        mode=mode,
        x=x,
        dout=grade.rng("dout").standard_normal((n, c, oh, ow)),
        tol=CLOSE,
    )


@pytest.mark.pooling
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_pooling_layer(grade, case):
    _pooling(grade, case, grade.rng().standard_normal(case[:4]))


@pytest.mark.pooling
def test_pooling_layer_defaults(grade):
    """Pooling(pool_h, pool_w) alone: the contract's stride 1, pad 0 and "max" (the
    textbook's default stride is 2)."""
    x = grade.rng().standard_normal((2, 2, 6, 7))
    grade.check("pooling_defaults", per_output=True, pool_h=2, pool_w=3, x=x, tol=CLOSE)


@pytest.mark.pooling
def test_max_pooling_negative_inputs_with_padding(grade):
    """Every value negative: a padded cell must never win (pad with -inf, not 0)."""
    case = POOL_CASES["max-3x3-s2-pad1"]
    _pooling(grade, case, -np.abs(grade.rng().standard_normal(case[:4])) - 0.1)


@pytest.mark.pooling
def test_max_pooling_ties_go_to_the_first_maximum(grade):
    """Small integers tie often: the gradient goes to the first maximum in row-major order
    (as argmax and PyTorch do), once."""
    case = POOL_CASES["max-3x3-s1-overlap"]
    _pooling(grade, case, grade.rng().integers(0, 3, case[:4]).astype(float))
