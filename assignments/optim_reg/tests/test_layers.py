"""Public cases of BatchNormalization and Dropout."""

import numpy as np
import pytest

from autograder.compare import Tolerance

# Every batch has a variance of at least 1 per feature, so at the default eps any eps from
# 1e-8 to 1e-5 passes (the textbook's 1e-6, PyTorch's 1e-5); eps decides where it is passed.
FAIR = Tolerance(1e-4, 1e-4)


def _spread(rng, shape):
    """Inputs whose batch variance per feature (or channel) is spread**2, spread in [1, 3]."""
    axes = (0, *range(2, len(shape)))
    z = rng.standard_normal(shape)
    z = (z - z.mean(axis=axes, keepdims=True)) / z.std(axis=axes, keepdims=True)
    return z * rng.uniform(1, 3, (1, shape[1]) + (1,) * (len(shape) - 2)) + 1


def _batchnorm_case(rng, shape, **extra):
    channels = shape[1]
    init = {
        "gamma": rng.random(channels) + 0.5,
        "beta": rng.random(channels),
        "running_mean": np.zeros(channels),
        "running_var": np.ones(channels),
        **extra,
    }
    step = {"x": _spread(rng, shape), "train": True, "dout": rng.random(shape) - 0.5}
    return init, [step, {"x": rng.random(shape), "train": False}]


@pytest.mark.batchnorm
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)], ids=["2d", "4d-per-channel"])
def test_batchnorm(grade, shape):
    """A training step with backward, then an evaluation step with the running statistics."""
    init, steps = _batchnorm_case(grade.rng(), shape)
    grade.check("batchnorm", per_output=True, init=init, steps=steps, tol=FAIR)


@pytest.mark.batchnorm
def test_batchnorm_eps(grade):
    """The same with eps=0.1 given to the constructor: added to the variance, under the
    square root."""
    init, steps = _batchnorm_case(grade.rng(), (4, 3), eps=0.1)
    grade.check("batchnorm", per_output=True, init=init, steps=steps, tol=FAIR)


@pytest.mark.dropout
def test_dropout_properties(grade):
    ratio = 0.3
    x = np.linspace(1, 2, 10000).reshape(100, 100)
    result = grade.call("dropout", ratio=ratio, x=x, dout=np.ones_like(x), seed=0)
    kept = result["out"] != 0
    grade.expect(
        abs(1 - kept.mean() - ratio) < 0.03,
        f"dropped {1 - kept.mean():.3f} of the units; expected about {ratio}",
    )
    grade.expect(
        np.allclose(result["out"][kept], x[kept] / (1 - ratio)),
        "kept units must be scaled by 1 / (1 - dropout_ratio) (inverted dropout)",
    )
    grade.expect(np.array_equal(result["dx"] != 0, kept), "backward must reuse the mask")
    grade.expect(np.array_equal(result["eval"], x), "evaluation must return x unchanged")


@pytest.mark.dropout
def test_dropout_rejects_ratio_one(grade):
    got = grade.call("dropout_raises", ratio=1.0)
    grade.expect(got == "ValueError", f"Dropout(1.0) must raise ValueError; got {got}")
