"""Public cases of BatchNormalization and Dropout."""

import numpy as np
import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(1e-7, 1e-9)


def _batchnorm_case(rng, shape):
    channels = shape[1]
    init = {"gamma": rng.random(channels) + 0.5, "beta": rng.random(channels),
            "running_mean": np.zeros(channels), "running_var": np.ones(channels)}
    step = {"x": 3 * rng.random(shape) + 1, "train": True, "dout": rng.random(shape) - 0.5}
    return init, [step, {"x": rng.random(shape), "train": False}]


@pytest.mark.batchnorm
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)], ids=["2d", "4d-per-channel"])
def test_batchnorm(grade, shape):
    """A training step with backward, then an evaluation step with the running statistics."""
    init, steps = _batchnorm_case(grade.rng(), shape)
    grade.check("batchnorm", init=init, steps=steps, tol=CLOSE)


@pytest.mark.dropout
def test_dropout_properties(grade):
    ratio = 0.3
    x = np.linspace(1, 2, 10000).reshape(100, 100)
    result = grade.call("dropout", ratio=ratio, x=x, dout=np.ones_like(x), seed=0)
    kept = result["out"] != 0
    grade.expect(abs(1 - kept.mean() - ratio) < 0.03,
                 f"dropped {1 - kept.mean():.3f} of the units; expected about {ratio}")
    grade.expect(np.allclose(result["out"][kept], x[kept] / (1 - ratio)),
                 "kept units must be scaled by 1 / (1 - dropout_ratio) (inverted dropout)")
    grade.expect(np.array_equal(result["dx"] != 0, kept), "backward must reuse the mask")
    grade.expect(np.array_equal(result["eval"], x), "evaluation must return x unchanged")


@pytest.mark.dropout
def test_dropout_rejects_ratio_one(grade):
    got = grade.call("dropout_raises", ratio=1.0)
    grade.expect(got == "ValueError", f"Dropout(1.0) must raise ValueError; got {got}")
