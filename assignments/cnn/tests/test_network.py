"""Public cases of SimpleConvNet, its training on the digits, and the residual block."""

from pathlib import Path

import numpy as np
import pytest

from autograder import training
from autograder.compare import Tolerance

TRAINER = Path(__file__).resolve().parents[1] / "cnn" / "trainer.py"  # the course's, given


@pytest.mark.simple_convnet
@pytest.mark.weight(4)  # as the grader's four networks against its one initialisation case
def test_simple_convnet_small(grade):
    rng = grade.rng()
    shapes = {
        "W1": (3, 1, 3, 3),
        "b1": (3,),
        "W2": (3 * 3 * 3, 5),
        "b2": (5,),
        "W3": (5, 10),
        "b3": (10,),
    }
    grade.check(
        "simple_convnet",
        config={
            "input_dim": [1, 6, 6],
            "hidden_size": 5,
            "output_size": 10,
            "seed": 0,
            "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        },
        params={key: rng.random(shape) - 0.5 for key, shape in shapes.items()},
        x=rng.random((4, 1, 6, 6)),
        t=np.array([0, 3, 9, 3]),
        tol=Tolerance(1e-6, 1e-9),
    )


@pytest.mark.simple_convnet
def test_initialisation(grade):
    """Biases start at zero, weights with standard deviation weight_init_std; the same seed
    gives the same parameters, another seed others."""
    std = 0.02
    config = {
        "input_dim": [1, 6, 6],
        "hidden_size": 40,
        "output_size": 10,
        "weight_init_std": std,
        "conv_param": {"filter_num": 20, "filter_size": 3, "pad": 0, "stride": 1},
    }
    training.check_initialisation(grade, config, seeds=[7, 7, 8], std=std)


@pytest.mark.residual
def test_residual_block_shapes_and_values(grade):
    """Weights as the grader loads them: every parameter and batch-norm statistic given."""
    rng = grade.rng()
    shapes = {
        "conv1.weight": (4, 2, 3, 3),
        "conv1.bias": (4,),
        "conv2.weight": (4, 4, 3, 3),
        "conv2.bias": (4,),
        "conv3.weight": (4, 2, 1, 1),
        "conv3.bias": (4,),
    }
    for bn in ("bn1", "bn2"):
        shapes |= {
            f"{bn}.{name}": (4,) for name in ("weight", "bias", "running_mean", "running_var")
        }
    state = {
        key: rng.random(shape) + (0.5 if key.endswith("var") else -0.5)
        for key, shape in shapes.items()
    }
    state |= {f"{bn}.num_batches_tracked": np.array(1) for bn in ("bn1", "bn2")}
    grade.check(
        "residual",
        args={"in_channels": 2, "out_channels": 4, "use_1x1conv": True, "stride": 2},
        state=state,
        X=rng.random((2, 2, 6, 6)),
        tol=Tolerance(1e-6, 1e-9),
    )


@pytest.mark.training
def test_training_on_digits(grade):
    """The grader's own measurement, on a public split of the digits: your network trained
    by the course's loop within the time budget, its accuracy computed from your trained
    params (with the same threshold and budget as the grader)."""
    training.check(grade, training.load_trainer(TRAINER))
