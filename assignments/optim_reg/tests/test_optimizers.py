"""Public cases of the optimizers: a few updates of two parameters."""

import pytest

from autograder.compare import Tolerance

EXACT = Tolerance(1e-9, 1e-12)
CASES = [  # part, class, hyperparameters, tolerance (adaptive: 1e-3 of the first step)
    ("sgd", "SGD", {"lr": 0.1}, EXACT),
    ("momentum", "Momentum", {"lr": 0.1, "momentum": 0.9}, EXACT),
    ("nesterov", "Nesterov", {"lr": 0.1, "momentum": 0.9}, EXACT),
    ("adagrad", "AdaGrad", {"lr": 0.1}, Tolerance(0, 1e-4)),
    ("rmsprop", "RMSprop", {"lr": 0.1}, Tolerance(0, 1e-3)),  # first step lr/sqrt(1 - 0.99)
    ("adam", "Adam", {"lr": 0.1}, Tolerance(0, 1e-4)),
]
# eps large enough to matter: it must be the constructor's, outside the square root. With
# beta2 = 0, Adam's v_hat is v, so the textbook's lr_t form gives the same steps.
EPS_CASES = [
    ("adagrad", "AdaGrad", {"lr": 0.1, "eps": 0.1}, Tolerance(0, 1e-4)),
    ("rmsprop", "RMSprop", {"lr": 0.1, "eps": 0.1}, Tolerance(0, 1e-3)),
    ("adam", "Adam", {"lr": 0.1, "beta2": 0.0, "eps": 0.1}, Tolerance(0, 1e-4)),
]


def _params(cases):
    return [
        pytest.param(name, hyper, tol, marks=getattr(pytest.mark, part), id=name)
        for part, name, hyper, tol in cases
    ]


def _three_steps(grade, name, hyper, tol):
    rng = grade.rng()
    params = {"W": rng.random((2, 3)), "b": rng.random(3)}
    grads = [
        {
            key: (rng.random(value.shape) + 0.5) * rng.choice([-1.0, 1.0], value.shape)
            for key, value in params.items()
        }
        for _ in range(3)
    ]
    grade.check("optimizer", name=name, hyper=hyper, params=params, grads=grads, tol=tol)


@pytest.mark.parametrize("name, hyper, tol", _params(CASES))
def test_three_steps(grade, name, hyper, tol):
    """Parameters after each of three updates; gradients are kept away from zero."""
    _three_steps(grade, name, hyper, tol)


@pytest.mark.parametrize("name, hyper, tol", _params(EPS_CASES))
def test_eps_argument(grade, name, hyper, tol):
    """Three updates with eps = 0.1, where the eps given to the constructor decides."""
    _three_steps(grade, name, hyper, tol)
