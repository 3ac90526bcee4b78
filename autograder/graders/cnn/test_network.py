"""SimpleConvNet (loss, gradient, accuracy), its training on digits, and the residual block."""

import numpy as np
import pytest

from autograder import reference_oracle, training
from autograder.compare import Tolerance

CLOSE = Tolerance(rtol=1e-6, atol=1e-9)

NETS = {  # id: input_dim, filter_num, filter_size, pad, hidden, labels
    "digits-3x3-pad1": ((1, 8, 8), 6, 3, 1, 10, "labels"),
    "rgb-5x5": ((3, 12, 12), 4, 5, 0, 7, "one-hot"),
    "pad2-3x3": ((2, 6, 6), 3, 3, 2, 5, "labels"),
    "odd-conv-output": ((1, 7, 7), 4, 3, 0, 6, "labels"),
}


def _network_case(rng, case):
    input_dim, filter_num, filter_size, pad, hidden, labels = case
    config = {
        "input_dim": list(input_dim),
        "hidden_size": hidden,
        "output_size": 10,
        "seed": 0,
        "conv_param": {
            "filter_num": filter_num,
            "filter_size": filter_size,
            "pad": pad,
            "stride": 1,
        },
    }
    channels, size = input_dim[0], input_dim[1]
    pooled = (size + 2 * pad - filter_size + 1) // 2
    shapes = {
        "W1": (filter_num, channels, filter_size, filter_size),
        "b1": (filter_num,),
        "W2": (filter_num * pooled * pooled, hidden),
        "b2": (hidden,),
        "W3": (hidden, 10),
        "b3": (10,),
    }
    params = {key: rng.normal(0, 0.3, shape) for key, shape in shapes.items()}
    n = 9  # batch_size 7 in the probe: the last partial batch counts
    t = rng.integers(0, 10, n)
    return {
        "config": config,
        "params": params,
        "x": rng.standard_normal((n, *input_dim)),
        "t": np.eye(10)[t] if labels == "one-hot" else t,
    }


@pytest.mark.simple_convnet
@pytest.mark.parametrize("case", NETS.values(), ids=NETS.keys())
def test_simple_convnet(grade, case):
    grade.check("simple_convnet", **_network_case(grade.rng(), case), tol=CLOSE)


@pytest.mark.simple_convnet
def test_initialisation(grade):
    """Biases start at zero, weights with standard deviation weight_init_std; the same seed
    gives the same parameters, another seed others."""
    std = 0.05
    config = {
        "input_dim": [1, 8, 8],
        "hidden_size": 60,
        "output_size": 10,
        "weight_init_std": std,
        "conv_param": {"filter_num": 20, "filter_size": 3, "pad": 1, "stride": 1},
    }
    training.check_initialisation(grade, config, seeds=[3, 3, 4], std=std)


@pytest.mark.training
def test_training_on_digits(grade):
    """The course's loop trains the student's network on the digits within the time budget;
    the accuracy is computed here, from the trained params (autograder.training)."""
    training.check(grade, reference_oracle.module("cnn", "trainer"))


RESIDUAL_CASES = {  # id: in_channels, out_channels, use_1x1conv, stride, input (N, H, W)
    "identity-shortcut": (3, 3, False, 1, (2, 6, 6)),
    "1x1-stride2": (3, 6, True, 2, (2, 8, 8)),
    "1x1-same-size": (4, 5, True, 1, (3, 5, 5)),
}


def _residual_inputs(rng, case):
    """The block's arguments, a state of the reference block's layout and an input."""
    in_channels, out_channels, use_1x1conv, stride, (n, h, w) = case
    args = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "use_1x1conv": use_1x1conv,
        "stride": stride,
    }
    block = reference_oracle.module("cnn", "resnet").Residual(**args).double()
    state = {}
    for key, value in block.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(int(rng.integers(1, 9)))
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2, value.shape)
        else:
            state[key] = rng.normal(0, 0.5, tuple(value.shape))
    return {"args": args, "state": state, "X": rng.standard_normal((n, in_channels, h, w))}


@pytest.mark.residual
@pytest.mark.parametrize("case", RESIDUAL_CASES.values(), ids=RESIDUAL_CASES.keys())
def test_residual(grade, case):
    """The reference weights (and batch-norm statistics) are loaded into the student's block."""
    grade.check("residual", **grade.inputs(_residual_inputs, case), tol=CLOSE)
