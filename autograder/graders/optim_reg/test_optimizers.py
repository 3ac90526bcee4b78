"""Optimizers: several updates on several parameters, against the reference.

Gradients are kept away from zero (``scale * sign * U(0.5, 1.5)``), where eps hardly matters
at its default: the textbook's Adam (bias correction folded into the step size, eps on the
raw square root), a fixed eps anywhere in 1e-10..1e-7 (PyTorch's, CS231n's, the textbook's)
and eps inside the square root stay within 0.1 of the tolerance below (measured over 200
seeds), while every real mistake (a missing bias correction, no square root, no accumulated
history) moves the parameters by a good share of a step. So the adaptive optimizers are
compared with an absolute tolerance of 1e-3 of their first step (``lr``, and
``lr / sqrt(1 - decay_rate)`` for RMSprop), the others exactly.

Each adaptive optimizer also has a case with ``eps=0.1``, where the contract's eps decides:
ignoring it, or putting it inside the square root, moves the parameters by over 100 times
that tolerance. Adam's runs with ``beta2=0``, where v_hat = v: the textbook's form is
exactly the contract's there too.
"""

import numpy as np
import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(rtol=1e-9, atol=1e-12)
DEFAULT_LR = {
    "SGD": 0.01,
    "Momentum": 0.01,
    "Nesterov": 0.01,
    "AdaGrad": 0.01,
    "RMSprop": 0.01,
    "Adam": 0.001,
}
ADAPTIVE = {"AdaGrad", "RMSprop", "Adam"}

CASES = [  # part, class, hyperparameters ({} tests the contract's defaults), steps
    ("sgd", "SGD", {}, 3),
    ("sgd", "SGD", {"lr": 0.3}, 4),
    ("momentum", "Momentum", {}, 8),
    ("momentum", "Momentum", {"lr": 0.05, "momentum": 0.7}, 8),
    ("nesterov", "Nesterov", {}, 8),
    ("nesterov", "Nesterov", {"lr": 0.05, "momentum": 0.8}, 8),
    ("adagrad", "AdaGrad", {}, 8),
    ("adagrad", "AdaGrad", {"lr": 0.2}, 8),
    ("adagrad", "AdaGrad", {"eps": 0.1}, 8),
    ("rmsprop", "RMSprop", {}, 8),
    ("rmsprop", "RMSprop", {"lr": 0.05, "decay_rate": 0.9}, 8),
    ("rmsprop", "RMSprop", {"eps": 0.1}, 8),
    ("adam", "Adam", {}, 10),
    ("adam", "Adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99}, 10),
    ("adam", "Adam", {"beta2": 0.0, "eps": 0.1}, 10),
]


def _case_id(name: str, hyper: dict) -> str:
    settings = [f"{key}={value}" for key, value in hyper.items()] or ["defaults"]
    return "-".join([name, *settings])


def _first_step(name: str, hyper: dict) -> float:
    """The size of an adaptive optimizer's first step: lr, or lr / sqrt(1 - decay_rate)
    for RMSprop (h starts at (1 - decay_rate) * g * g)."""
    lr = hyper.get("lr", DEFAULT_LR[name])
    return lr / np.sqrt(1 - hyper.get("decay_rate", 0.99)) if name == "RMSprop" else lr


def _gradient(rng, shape, scale):
    return scale * rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)


def _updates(rng, steps):
    """Three parameters of different shapes, and their gradients (two sizes) of ``steps``
    updates."""
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal(3),
        "W2": rng.standard_normal((2, 3, 2)),
    }
    scales = [1.0 if step % 3 else 0.5 for step in range(steps)]
    grads = [
        {key: _gradient(rng, value.shape, scale) for key, value in params.items()}
        for scale in scales
    ]
    return params, grads


@pytest.mark.parametrize(
    "name, hyper, steps",
    [
        pytest.param(name, hyper, steps, marks=getattr(pytest.mark, part), id=_case_id(name, hyper))
        for part, name, hyper, steps in CASES
    ],
)
def test_updates(grade, name, hyper, steps):
    """The parameters after each of ``steps`` updates of three parameters of different
    shapes (state is kept per key), with gradients of two sizes."""
    params, grads = grade.inputs(_updates, steps)
    tol = Tolerance(rtol=0.0, atol=1e-3 * _first_step(name, hyper)) if name in ADAPTIVE else CLOSE
    grade.check("optimizer", name=name, hyper=hyper, params=params, grads=grads, tol=tol)


@pytest.mark.adam
def test_adam_tiny_first_steps(grade):
    """Two steps on one parameter: the bias correction decides the size of the first steps."""
    rng = grade.rng()
    params = {"w": rng.standard_normal(6)}
    grads = [{"w": _gradient(rng, (6,), 1.0)} for _ in range(2)]
    grade.check(
        "optimizer",
        name="Adam",
        hyper={"lr": 0.1},
        params=params,
        grads=grads,
        tol=Tolerance(rtol=0.0, atol=1e-4),
    )
