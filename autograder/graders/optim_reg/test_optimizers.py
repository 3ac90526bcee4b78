"""Optimizers: several updates on several parameters, against the reference.

The tolerance accepts the textbook's Adam (bias correction folded into the step size, eps
outside the corrected square root): on gradients of ordinary size the two forms differ by
far less than ``ADAM``, while a missing bias correction changes the first steps by ~10x.
"""

import pytest

from autograder.compare import Tolerance

CLOSE = Tolerance(rtol=1e-9, atol=1e-12)
ADAM = Tolerance(rtol=1e-5, atol=1e-9)

CASES = [  # part, class, hyperparameters ({} tests the contract's defaults), steps
    ("sgd", "SGD", {}, 3),
    ("sgd", "SGD", {"lr": 0.3}, 4),
    ("momentum", "Momentum", {}, 6),
    ("momentum", "Momentum", {"lr": 0.05, "momentum": 0.7}, 6),
    ("nesterov", "Nesterov", {}, 6),
    ("nesterov", "Nesterov", {"lr": 0.05, "momentum": 0.8}, 6),
    ("adagrad", "AdaGrad", {}, 6),
    ("adagrad", "AdaGrad", {"lr": 0.2, "eps": 1e-6}, 6),
    ("rmsprop", "RMSprop", {}, 6),
    ("rmsprop", "RMSprop", {"lr": 0.05, "decay_rate": 0.9}, 6),
    ("adam", "Adam", {}, 8),
    ("adam", "Adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99}, 8),
]


def _case_id(name: str, hyper: dict) -> str:
    settings = [f"{key}={value}" for key, value in hyper.items()] or ["defaults"]
    return "-".join([name, *settings])


@pytest.mark.parametrize(
    "name, hyper, steps",
    [pytest.param(name, hyper, steps, marks=getattr(pytest.mark, part), id=_case_id(name, hyper))
     for part, name, hyper, steps in CASES],
)
def test_updates(grade, name, hyper, steps):
    """The parameters after each of ``steps`` updates, three parameters of different shapes
    (state must be kept per key)."""
    rng = grade.rng()
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3),
              "W2": rng.standard_normal((2, 3, 2))}
    grads = [{key: rng.normal(scale=rng.uniform(0.2, 2.0), size=value.shape)
              for key, value in params.items()} for _ in range(steps)]
    tol = ADAM if name == "Adam" else CLOSE
    grade.check("optimizer", name=name, hyper=hyper, params=params, grads=grads, tol=tol)
