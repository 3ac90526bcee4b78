"""Public cases of SimpleConvNet, its training on the digits, and the residual block."""

import numpy as np
import pytest

from autograder.compare import Tolerance


@pytest.mark.simple_convnet
def test_simple_convnet_small(grade):
    rng = grade.rng()
    shapes = {"W1": (3, 1, 3, 3), "b1": (3,), "W2": (3 * 3 * 3, 5), "b2": (5,), "W3": (5, 10),
              "b3": (10,)}
    grade.check("simple_convnet",
                config={"input_dim": [1, 6, 6], "hidden_size": 5, "output_size": 10, "seed": 0,
                        "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 1,
                                       "stride": 1}},
                params={key: rng.random(shape) - 0.5 for key, shape in shapes.items()},
                x=rng.random((4, 1, 6, 6)), t=np.array([0, 3, 9, 3]),
                tol=Tolerance(1e-6, 1e-9))


@pytest.mark.residual
def test_residual_block_shapes_and_values(grade):
    """Weights as the grader loads them: every parameter and batch-norm statistic given."""
    rng = grade.rng()
    shapes = {"conv1.weight": (4, 2, 3, 3), "conv1.bias": (4,), "conv2.weight": (4, 4, 3, 3),
              "conv2.bias": (4,), "conv3.weight": (4, 2, 1, 1), "conv3.bias": (4,)}
    for bn in ("bn1", "bn2"):
        shapes |= {f"{bn}.{name}": (4,) for name in ("weight", "bias", "running_mean",
                                                       "running_var")}
    state = {key: rng.random(shape) + (0.5 if key.endswith("var") else -0.5)
             for key, shape in shapes.items()}
    state |= {f"{bn}.num_batches_tracked": np.array(1) for bn in ("bn1", "bn2")}
    grade.check("residual", args={"in_channels": 2, "out_channels": 4, "use_1x1conv": True,
                                  "stride": 2},
                state=state, X=rng.random((2, 2, 6, 6)), tol=Tolerance(1e-6, 1e-9))
