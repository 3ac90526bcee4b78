"""The ``training`` part measures a convolutional network (issue 14, item 2), through the real
intake, sandbox and hidden grader.

The accuracy comes from the student's trained params with the reference network's forward
pass, on test images the student's process never receives: networks that predict perfectly
by looking images up (in scikit-learn's bundled digits, or by 1-nearest-neighbour over the
batches they saw; both scored 10/10 when the grader used ``predict``) earn nothing (the
reference's full marks: ``test_selfcheck.py``). Code that runs out of time is told where the
time went and the fix.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import numpy as np
import pytest

from autograder import course, intake, reference_oracle, samples, training
from autograder.hidden_grading import grade_submission
from autograder.results import Result

CNN = course.load("cnn")
TRAINER = reference_oracle.module("cnn", "trainer")

# A SimpleConvNet with the contract's params that never learns: its gradient is zero and it
# keeps the batches it was given; each variant below adds a predict that looks answers up.
LOOKUP = textwrap.dedent("""
    import numpy as np


    class SimpleConvNet:
        def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100,
                     output_size=10, weight_init_std=0.01, seed=None):
            conv = conv_param or {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
            fn, fs, pad, stride = (conv[k] for k in ("filter_num", "filter_size", "pad", "stride"))
            c, h, w = input_dim
            oh, ow = (h + 2 * pad - fs) // stride + 1, (w + 2 * pad - fs) // stride + 1
            rng = np.random.default_rng(seed)
            self.params = {
                "W1": weight_init_std * rng.standard_normal((fn, c, fs, fs)), "b1": np.zeros(fn),
                "W2": weight_init_std * rng.standard_normal((fn * (oh // 2) * (ow // 2),
                                                             hidden_size)),
                "b2": np.zeros(hidden_size),
                "W3": weight_init_std * rng.standard_normal((hidden_size, output_size)),
                "b3": np.zeros(output_size)}
            self.classes = output_size
            self.seen_x, self.seen_t = [], []

        def loss(self, x, t):
            return 0.0

        def gradient(self, x, t):
            self.seen_x.append(x.reshape(len(x), -1))
            self.seen_t.append(t)
            return {key: np.zeros_like(value) for key, value in self.params.items()}
""")
LOOKUPS = {
    "sklearn-lookup": LOOKUP
    + textwrap.indent(
        textwrap.dedent("""
        def predict(self, x):
            from sklearn.datasets import load_digits
            digits = load_digits()
            table = {(image / 16.0).tobytes(): label
                     for image, label in zip(digits.images, digits.target)}
            return np.eye(self.classes)[[table.get(image[0].tobytes(), 0) for image in x]]
    """),
        "    ",
    ),
    "nearest-neighbour": LOOKUP
    + textwrap.indent(
        textwrap.dedent("""
        def predict(self, x):
            seen_x, seen_t = np.concatenate(self.seen_x), np.concatenate(self.seen_t)
            flat = x.reshape(len(x), -1)
            distances = (seen_x ** 2).sum(axis=1)[None, :] - 2 * flat @ seen_x.T
            return np.eye(self.classes)[seen_t[distances.argmin(axis=1)]]
    """),
        "    ",
    ),
}
GRADIENT = (
    "        # BEGIN SOLUTION hint: loss forward, then backward through the layers in reverse\n"
)
NUMERICAL_GRADIENT = GRADIENT + textwrap.indent(
    textwrap.dedent("""
    grads = {}
    for key, value in self.params.items():
        grad = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            keep = value[i]
            value[i] = keep + 1e-4
            up = self.loss(x, t)
            value[i] = keep - 1e-4
            down = self.loss(x, t)
            value[i] = keep
            grad[i] = (up - down) / 2e-4
        grads[key] = grad
    return grads
"""),
    " " * 8,
)
REFERENCE = samples.graded(CNN, "reference")


def _with(module: str, text: str) -> dict[str, str]:
    return {**REFERENCE, module: text}


@pytest.fixture(scope="module")
def grade(cnn_grader, tmp_path_factory) -> Callable[[dict[str, str]], Result]:
    """``grade(files)``: the hidden grader's ``training`` part on the graded modules
    ``files``, submitted as a folder."""
    submissions = tmp_path_factory.mktemp("training")

    def run(files: dict[str, str]) -> Result:
        folder = submissions / f"{len(list(submissions.iterdir())):02d}"
        (folder / CNN.package).mkdir(parents=True)
        for name, text in files.items():
            (folder / CNN.package / name).write_text(text, encoding="utf-8")
        result = grade_submission(
            intake.read_folder(folder, CNN),
            CNN,
            cnn_grader.sandbox,
            cnn_grader.oracle,
            cnn_grader.seed,
            parts=["training"],
        )
        assert result.status == "ok" and [t.part for t in result.tests] == ["training"], result
        return result

    return run


@pytest.mark.slow
@pytest.mark.parametrize("name", LOOKUPS)
def test_networks_that_look_answers_up_earn_nothing(grade, name):
    """Each lookup network predicts the digits' test split perfectly (or nearly), yet never
    learns: its params stay the grader's initial ones."""
    namespace: dict = {}
    exec(compile(LOOKUPS[name], name, "exec"), namespace)  # our own code, in this process
    x_train, t_train, x_test, t_test = TRAINER.load_digits_split(0)
    net = namespace["SimpleConvNet"](input_dim=(1, 8, 8), conv_param=TRAINER.DIGITS_CONV_PARAM)
    net.gradient(x_train, t_train)
    assert np.mean(net.predict(x_test).argmax(axis=1) == t_test) > 0.97
    result = grade(_with("simple_convnet.py", LOOKUPS[name]))
    [test] = result.tests
    assert test.score == 0, test.output
    assert test.output.startswith("test accuracy 0.")
    assert f"(at least {TRAINER.ACCURACY_THRESHOLD:g} is needed)" in test.output
    assert "your predict is not used" in test.output
    assert "Your params did not change during training" in test.output


SLOW = {  # id: graded modules, words of the feedback's line on the hot spot and its fix
    "loop-per-pixel-convolution": (
        samples.graded(CNN, "training-loop-convolution"),
        [
            "Most of the time went to Conv1 (Convolution).forward",
            "The usual fix: vectorise the convolution: im2col",
        ],
    ),
    "numerical-gradient": (
        _with(
            "simple_convnet.py",
            REFERENCE["simple_convnet.py"].replace(GRADIENT, NUMERICAL_GRADIENT),
        ),
        [
            "Most of the time went to ",
            ").forward: ",
            " per training step. The usual fix: compute the gradient by backpropagation",
            "not by numerical differentiation",
        ],
    ),
}


@pytest.mark.parametrize("case", SLOW.values(), ids=SLOW.keys())
def test_out_of_time_says_where_the_time_went(grade, monkeypatch, case):
    """With a budget of 1 s (the real one takes 15 s to run out), the student's process
    stops itself and reports each layer's time."""
    files, words = case
    monkeypatch.setattr(TRAINER, "TIME_BUDGET_S", 1.0)
    result = grade(files)
    [test] = result.tests
    assert test.score == 0 and not result.metrics, test.output
    lines = test.output.splitlines()
    assert lines[0].startswith("training ran out of time: test accuracy ")
    assert "(the budget is 1 s)" in lines[0]
    assert any(all(word in line for word in words) for line in lines), test.output
    assert "Time per layer, as your process measured it:" in lines
    assert lines[-1].startswith("  outside the layers' forward and backward: ")


def test_a_call_that_never_returns_is_cut_at_the_grace(grade, monkeypatch):
    monkeypatch.setattr(TRAINER, "TIME_BUDGET_S", 0.5)
    monkeypatch.setattr(training, "GRACE_S", 0.5)
    files = _with(
        "conv.py",
        REFERENCE["conv.py"].replace(
            "        col = im2col(x, FH, FW, self.stride, self.pad)\n",
            "        while True:\n            pass\n",
            1,
        ),
    )
    [test] = grade(files).tests
    assert test.score == 0
    assert test.output.startswith(
        "time limit exceeded (1 s): a single call of your code ran on past the time budget (0.5 s)"
    ), test.output


@pytest.mark.parametrize(
    "conv",
    [
        {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
        {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 2},
    ],
)
def test_the_forward_pass_is_the_reference_networks(conv):
    """``training.forward`` gives the reference SimpleConvNet's scores for any params, and
    ``param_shapes`` its shapes (odd sizes: the pooling floors)."""
    config = {"input_dim": (2, 9, 7), "conv_param": conv, "hidden_size": 6, "output_size": 4}
    net = reference_oracle.module("cnn", "simple_convnet").SimpleConvNet(**config, seed=0)
    rng = np.random.default_rng(1)
    for value in net.params.values():
        value[...] = rng.standard_normal(value.shape)
    assert training.param_shapes(config) == {k: v.shape for k, v in net.params.items()}
    x = rng.standard_normal((5, 2, 9, 7))
    np.testing.assert_allclose(
        training.forward(net.params, x, conv), net.predict(x), rtol=1e-10, atol=1e-12
    )


def test_the_forward_pass_in_chunks_has_the_bits_of_one_pass():
    """``training.forward`` (``CHUNK`` images per convolution, one torch thread) gives the
    very scores of one pass over the whole test set: the grades do not depend on it."""
    import torch
    import torch.nn.functional as F

    config = {
        "input_dim": [1, 8, 8],
        "conv_param": TRAINER.DIGITS_CONV_PARAM,
        "hidden_size": TRAINER.DIGITS_HIDDEN_SIZE,
        "output_size": 10,
    }
    conv = config["conv_param"]
    x = training._digits_split(TRAINER, 0)[2]
    assert len(x) > 2 * training.CHUNK
    rng = np.random.default_rng(2)
    params = {k: 0.3 * rng.standard_normal(s) for k, s in training.param_shapes(config).items()}
    p = {key: torch.tensor(value) for key, value in params.items()}
    with torch.no_grad():
        h = F.conv2d(torch.tensor(x), p["W1"], p["b1"], stride=conv["stride"], padding=conv["pad"])
        h = F.relu(F.max_pool2d(F.relu(h), 2, stride=2).flatten(1) @ p["W2"] + p["b2"])
        whole = (h @ p["W3"] + p["b3"]).numpy()
    threads = torch.get_num_threads()
    assert training.forward(params, x, conv).tobytes() == whole.tobytes()
    assert torch.get_num_threads() == threads
