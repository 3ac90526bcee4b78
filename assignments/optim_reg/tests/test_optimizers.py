"""Public cases of the optimizers: a few updates of two parameters."""

import pytest

from autograder.compare import Tolerance

CASES = [  # part, class, hyperparameters, tolerance
    ("sgd", "SGD", {"lr": 0.1}, Tolerance(1e-9, 1e-12)),
    ("momentum", "Momentum", {"lr": 0.1, "momentum": 0.9}, Tolerance(1e-9, 1e-12)),
    ("nesterov", "Nesterov", {"lr": 0.1, "momentum": 0.9}, Tolerance(1e-9, 1e-12)),
    ("adagrad", "AdaGrad", {"lr": 0.1}, Tolerance(0, 1e-4)),
    ("rmsprop", "RMSprop", {"lr": 0.1}, Tolerance(0, 1e-4)),
    ("adam", "Adam", {"lr": 0.1}, Tolerance(0, 1e-4)),
]


@pytest.mark.parametrize("name, hyper, tol", [
    pytest.param(name, hyper, tol, marks=getattr(pytest.mark, part), id=name)
    for part, name, hyper, tol in CASES])
def test_three_steps(grade, name, hyper, tol):
    """Parameters after each of three updates; gradients are kept away from zero."""
    rng = grade.rng()
    params = {"W": rng.random((2, 3)), "b": rng.random(3)}
    grads = [{key: (rng.random(value.shape) + 0.5) * rng.choice([-1.0, 1.0], value.shape)
              for key, value in params.items()} for _ in range(3)]
    grade.check("optimizer", name=name, hyper=hyper, params=params, grads=grads, tol=tol)
