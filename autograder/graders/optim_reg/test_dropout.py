"""Dropout, graded by properties (never one particular random stream)."""

import numpy as np
import pytest

pytestmark = pytest.mark.dropout
SHAPE = (100, 200)  # 20 000 units: 5-sigma bounds of about 0.02 on the rates


def _draws(rng):
    x = rng.uniform(0.5, 2.0, SHAPE) * rng.choice([-1, 1], SHAPE)  # no zeros: drops are visible
    return x, rng.uniform(0.5, 2.0, SHAPE)


def _train(grade, ratio, seed=0):
    x, dout = grade.inputs(_draws, key=(seed,))
    return x, dout, grade.call("dropout", ratio=ratio, x=x, dout=dout, seed=seed)


def _shape_ok(grade, result):
    for key in ("out", "dx", "eval"):
        value = result.get(key) if isinstance(result, dict) else None
        grade.expect(
            isinstance(value, np.ndarray) and value.shape == SHAPE,
            f"{key}: expected an array of shape {SHAPE}",
        )


@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.8])
def test_drop_rate(grade, ratio):
    """The share of dropped units is ``ratio`` within five standard deviations."""
    _, _, result = _train(grade, ratio)
    _shape_ok(grade, result)
    dropped = float(np.mean(result["out"] == 0))
    bound = 5 * np.sqrt(ratio * (1 - ratio) / np.prod(SHAPE))
    if abs(dropped - (1 - ratio)) <= bound < abs(dropped - ratio):
        grade.expect(
            False,
            f"dropped {dropped:.3f} of the units with dropout_ratio={ratio}. "
            + grade.known_mistake("dropout-keep-prob-confused"),
        )
    grade.expect(
        abs(dropped - ratio) <= bound,
        f"dropped {dropped:.3f} of the units; expected {ratio} ± {bound:.4f}",
    )
    # independent draws: neighbours (disjoint pairs) are both dropped with probability ratio²
    pairs = (result["out"][:, 0::2] == 0) & (result["out"][:, 1::2] == 0)
    both_bound = 5 * np.sqrt(ratio**2 * (1 - ratio**2) / pairs.size)
    grade.expect(
        abs(float(pairs.mean()) - ratio**2) <= both_bound,
        "the dropped units follow a pattern: draw each unit's mask independently "
        "(np.random.rand(*x.shape) >= dropout_ratio)",
    )


@pytest.mark.parametrize("ratio", [0.3, 0.6])
def test_inverted_scaling(grade, ratio):
    """Kept units are scaled by 1/(1-ratio) in training, so evaluation needs no rescaling."""
    x, _, result = _train(grade, ratio)
    _shape_ok(grade, result)
    kept = result["out"] != 0
    grade.expect(kept.any(), "every unit was dropped")
    if np.allclose(result["out"][kept], x[kept], rtol=1e-12):
        grade.expect(
            False,
            "kept units are not rescaled. " + grade.known_mistake("dropout-not-inverted"),
        )
    grade.expect(
        np.allclose(result["out"][kept], x[kept] / (1 - ratio), rtol=1e-10),
        "kept units must equal x / (1 - dropout_ratio)",
    )


@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_backward_reuses_mask(grade, ratio):
    _, dout, result = _train(grade, ratio)
    _shape_ok(grade, result)
    kept = result["out"] != 0
    grade.expect(
        np.array_equal(result["dx"] != 0, kept),
        "dx is not zero exactly where the forward pass dropped units: backward must "
        "reuse the forward pass's mask (do not draw a new one)",
    )
    grade.expect(
        np.allclose(result["dx"][kept], dout[kept] / (1 - ratio), rtol=1e-10),
        "dx must equal dout / (1 - dropout_ratio) where units were kept",
    )


def test_evaluation_is_identity(grade):
    x, _, result = _train(grade, 0.5)
    _shape_ok(grade, result)
    if np.allclose(result["eval"], x * 0.5, rtol=1e-12):
        grade.expect(
            False,
            "evaluation scaled x by (1 - dropout_ratio). "
            + grade.known_mistake("dropout-eval-scaled"),
        )
    grade.expect(np.array_equal(result["eval"], x), "evaluation must return x unchanged")


def test_ratio_zero_keeps_everything(grade):
    x, dout, result = _train(grade, 0.0)
    _shape_ok(grade, result)
    grade.expect(
        np.array_equal(result["out"], x) and np.array_equal(result["dx"], dout),
        "with dropout_ratio=0 nothing is dropped and nothing rescaled",
    )


def test_uses_numpy_global_generator(grade):
    """The same ``np.random.seed`` gives the same mask; another seed another mask."""
    masks = [_train(grade, 0.5, seed)[2]["out"] != 0 for seed in (1, 1, 2)]
    grade.expect(
        np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[0], masks[2]),
        "the mask must come from NumPy's global generator (np.random.rand), so that "
        "np.random.seed makes it reproducible",
    )


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_invalid_ratio(grade, ratio):
    got = grade.call("dropout_raises", ratio=ratio)
    grade.expect(
        got == "ValueError",
        f"Dropout({ratio}) must raise ValueError (0 <= dropout_ratio < 1), got: {got}",
    )
