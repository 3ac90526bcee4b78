"""BatchNormalization: training and evaluation forward, backward, running statistics."""

import numpy as np
import pytest

from autograder.compare import Tolerance

pytestmark = pytest.mark.batchnorm
CLOSE = Tolerance(rtol=1e-7, atol=1e-9)


def _data(rng, shape):
    """Inputs with a clear mean and spread per feature or channel; the first feature's
    variance is small (1e-4), where sqrt(var) + eps and sqrt(var + eps) differ."""
    axis_shape = (1, shape[1]) + (1,) * (len(shape) - 2)
    spread = rng.uniform(0.5, 3, axis_shape)
    spread.flat[0] = 0.01
    return rng.standard_normal(shape) * spread + rng.normal(0, 2, axis_shape)


def _init(rng, channels, **extra):
    return {"gamma": rng.uniform(0.5, 2, channels), "beta": rng.normal(0, 1, channels), **extra}


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 5)], ids=["2d", "4d-per-channel"])
def test_train_forward(grade, shape):
    rng = grade.rng()
    init = _init(rng, shape[1], running_mean=np.zeros(shape[1]), running_var=np.ones(shape[1]))
    grade.check("batchnorm", init=init, steps=[{"x": _data(rng, shape), "train": True}],
                tol=CLOSE)


@pytest.mark.parametrize("shape", [(10, 4), (3, 2, 4, 3)], ids=["2d", "4d-per-channel"])
def test_backward(grade, shape):
    rng = grade.rng()
    init = _init(rng, shape[1], running_mean=np.zeros(shape[1]), running_var=np.ones(shape[1]))
    step = {"x": _data(rng, shape), "train": True, "dout": rng.standard_normal(shape)}
    grade.check("batchnorm", init=init, steps=[step], tol=CLOSE)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 4)], ids=["2d", "4d-per-channel"])
def test_running_statistics_and_eval(grade, shape):
    """Three training steps with momentum 0.8, then evaluation on new data."""
    rng = grade.rng()
    init = _init(rng, shape[1], momentum=0.8, running_mean=rng.normal(0, 1, shape[1]),
                 running_var=rng.uniform(0.5, 2, shape[1]), eps=1e-4)
    steps = [{"x": _data(rng, shape), "train": True} for _ in range(3)]
    steps.append({"x": _data(rng, shape), "train": False})
    grade.check("batchnorm", init=init, steps=steps, tol=CLOSE)


def test_default_running_statistics(grade):
    """Without running statistics given, they start as zeros (mean) and ones (variance)."""
    rng = grade.rng()
    steps = [{"x": _data(rng, (5, 4)), "train": False},
             {"x": _data(rng, (5, 4)), "train": True},
             {"x": _data(rng, (5, 4)), "train": False}]
    grade.check("batchnorm", init=_init(rng, 4), steps=steps, tol=CLOSE)
