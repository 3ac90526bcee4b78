"""The ``training`` part of the ``cnn`` assignment, judged alike by the hidden grader and the
public self-check (each passes its copy of the course's ``trainer`` module).

The student's ``SimpleConvNet`` is trained in the sandbox by the course's loop
(``trainer.train``: the student's ``gradient``, the course's Adam, one thread), from initial
parameters the grader draws, for at most ``trainer.TIME_BUDGET_S`` seconds. The grader then
measures the test accuracy itself: the reference architecture's forward pass
(:func:`forward`) with the student's trained ``params``, on test images that never reach the
student's process; the student's ``predict`` is not used. A network that predicts by lookup
or memorisation without learning through its own layers earns nothing. When the budget runs
out, the feedback says where the time went (each layer's forward and backward, as the
student's process measured them) and the usual fix.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from .compare import Tolerance, mismatch
from .graders_plugin import Grade, TimedOut

ANY_VALUE = Tolerance(np.inf, np.inf)  # any finite value: structure and finiteness only
SHOWN = 5  # layer methods listed by name when the time runs out
GRACE_S = 5.0  # past the budget, for the student's process to stop and report its timings
PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
CHUNK = 64  # test images per convolution in ``forward``
FIXES = {
    "convolution": "vectorise the convolution: im2col and one matrix product in forward, "
    "matrix products and col2im in backward (the textbook's Convolution); or "
    "at least loop over the FH x FW filter offsets with slices of the whole "
    "batch, never over every output pixel.",
    "pooling": "vectorise the pooling: im2col of each channel, then a max (and its argmax) "
    "over each row in forward and dout sent to the argmax in backward (the "
    "textbook's Pooling); or loop over the pool_h x pool_w window offsets with "
    "slices, never over every output pixel.",
    "layer": "make it whole-array NumPy operations instead of Python loops over samples or pixels.",
    "outside": "keep gradient's own code to one forward and one backward pass through "
    "the layers (backpropagation), with whole-array NumPy operations instead of "
    "Python loops over samples or pixels.",
    "numerical": "compute the gradient by backpropagation (one forward and one backward "
    "pass per step), not by numerical differentiation.",
}
# What the training case's feedback says was reached (written in `check`, read by `reached`)
_REACHED = re.compile(
    r"^(?:training ran out of time: )?test accuracy (\d+(?:\.\d+)?) \(at least [^)]* is "
    r"needed\) after \d+ of \d+ training steps in (\d+(?:\.\d+)?) s \(the budget is"
)


def forward(params: dict[str, np.ndarray], x: np.ndarray, conv_param: dict) -> np.ndarray:
    """Scores of the contract's SimpleConvNet (conv - relu - max pool 2x2 stride 2 - affine -
    relu - affine) with ``params`` (W1 (FN, C, FS, FS), b1 (FN,), W2 (FN*PH*PW, hidden),
    b2, W3 (hidden, classes), b3). x: (N, C, H, W) -> (N, classes). PyTorch, float64."""
    import torch  # slow import: only the training part needs it
    import torch.nn.functional as F

    p = {key: torch.tensor(value, dtype=torch.float64) for key, value in params.items()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # several times faster at this size, the same bits
    try:
        with torch.no_grad():
            pooled = []  # a chunk of images at a time: the buffers stay in the cache
            for chunk in torch.tensor(x, dtype=torch.float64).split(CHUNK):
                h = F.conv2d(
                    chunk, p["W1"], p["b1"], stride=conv_param["stride"], padding=conv_param["pad"]
                )
                pooled.append(F.max_pool2d(F.relu_(h), 2, stride=2))
            h = F.relu(torch.cat(pooled).flatten(1) @ p["W2"] + p["b2"])
            return (h @ p["W3"] + p["b3"]).numpy()
    finally:
        torch.set_num_threads(threads)


def param_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The contract's shapes of ``params`` for a network ``config`` (SimpleConvNet's
    keyword arguments)."""
    channels, height, width = config["input_dim"]
    conv = config["conv_param"]
    size, pad, stride, filters = (
        conv["filter_size"],
        conv["pad"],
        conv["stride"],
        conv["filter_num"],
    )
    out_h = (height + 2 * pad - size) // stride + 1
    out_w = (width + 2 * pad - size) // stride + 1
    hidden, classes = config["hidden_size"], config["output_size"]
    return {
        "W1": (filters, channels, size, size),
        "b1": (filters,),
        "W2": (filters * (out_h // 2) * (out_w // 2), hidden),
        "b2": (hidden,),
        "W3": (hidden, classes),
        "b3": (classes,),
    }


@functools.cache
def load_trainer(path: Path) -> ModuleType:
    """The course's ``trainer.py`` at ``path`` (given code, as the student archive ships it),
    loaded as a module of its own: it imports nothing of its package."""
    spec = importlib.util.spec_from_file_location("_course_trainer", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no trainer module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _digits_split(trainer: ModuleType, seed: int) -> tuple[np.ndarray, ...]:
    """The digits split of ``seed``, read once per process (every submission gets it)."""
    arrays = trainer.load_digits_split(seed)
    for array in arrays:
        array.setflags(write=False)
    return arrays


def check(grade: Grade, trainer: ModuleType) -> None:
    """The training case: train in the sandbox, judge here (see the module docstring)."""
    __tracebackhide__ = True
    rng = grade.rng()
    seed = int(rng.integers(1000))  # the reference clears the bar on every seed
    x_train, t_train, x_test, t_test = _digits_split(trainer, seed)
    config = {
        "input_dim": [1, 8, 8],
        "conv_param": trainer.DIGITS_CONV_PARAM,
        "hidden_size": trainer.DIGITS_HIDDEN_SIZE,
        "output_size": 10,
        "weight_init_std": trainer.DIGITS_WEIGHT_INIT_STD,
        "seed": seed,
    }
    initial = {
        key: (
            trainer.DIGITS_WEIGHT_INIT_STD * rng.standard_normal(shape)
            if key.startswith("W")
            else np.zeros(shape)
        )
        for key, shape in param_shapes(config).items()
    }
    budget, threshold = trainer.TIME_BUDGET_S, trainer.ACCURACY_THRESHOLD
    steps = trainer.DIGITS_EPOCHS * math.ceil(len(t_train) / trainer.DIGITS_BATCH_SIZE)
    started = time.perf_counter()
    try:
        result = grade.call(
            "training",
            config=config,
            params=initial,
            x_train=x_train,
            t_train=t_train,
            budget=budget,
            timeout=budget + GRACE_S,
            train_args={"epochs": trainer.DIGITS_EPOCHS, "seed": seed, "record_loss": False},
        )
    except TimedOut as error:
        head, *rest = str(error).splitlines()
        raise TimedOut(
            "\n".join(
                [
                    f"{head}: a single call of your code ran on past the time budget "
                    f"({budget:g} s), "
                    f"so your process could not say where the time went. The usual fix: "
                    f"{FIXES['convolution']}",
                    *rest,
                ]
            )
        ) from None
    wall = time.perf_counter() - started
    grade.expect(
        isinstance(result, dict)
        and {"params", "seconds", "steps", "stopped", "layers"} <= set(result),
        "the training probe's answer is malformed (did your code change it?)",
    )
    params = _trained(grade, result["params"], initial)
    accuracy = float(
        np.mean(forward(params, x_test, config["conv_param"]).argmax(axis=1) == t_test)
    )
    reached = (
        f"test accuracy {accuracy:.3f} (at least {threshold:g} is needed) after "
        f"{_count(result['steps'])} of {steps} training steps in {wall:.1f} s (the "
        f"budget is {budget:g} s)"
    )
    over = result["stopped"] is not False or wall > budget
    if not over:
        grade.record("training seconds", round(wall, 2))
        grade.record("test accuracy", round(accuracy, 4))
    grade.expect(
        not over,
        "\n".join([f"training ran out of time: {reached}", *_where_the_time_went(result, steps)]),
    )
    grade.expect(
        accuracy >= threshold,
        "\n".join(
            [
                reached,
                "The grader computes the accuracy from your trained params with the course's "
                "forward pass, on test images your code never sees (your predict is not used).",
                "Your params did not change during training: gradient must return the gradients of "
                "the loss for params, by backpropagation through the layers, and the layers must "
                "use the arrays of params (references, not copies)."
                if all(np.array_equal(params[key], initial[key]) for key in PARAMS)
                else "The simple_convnet part's feedback shows where your network differs from the "
                "contract's (its layers, loss or gradient).",
            ]
        ),
    )


def reached(output: str) -> tuple[float, float] | None:
    """(test accuracy, seconds) that the training case's feedback ``output`` reports (the
    case failed on accuracy or ran out of the budget), or None (no training step ended
    with a result: a timeout, a crash, the stubs)."""
    match = _REACHED.match(output)
    return (float(match[1]), float(match[2])) if match else None


def check_initialisation(grade: Grade, config: dict, seeds: list[int], std: float) -> None:
    """The initialisation case: biases start at zero, weights with standard deviation
    ``std`` (``config["weight_init_std"]``); ``seeds`` = [a, a, b]: the same seed gives the
    same parameters, another seed others."""
    got = grade.call("simple_convnet_init", config=config, seeds=seeds)
    grade.expect(
        isinstance(got, list)
        and len(got) == 3
        and all(
            isinstance(p, dict) and set(p) == {"W1", "b1", "W2", "b2", "W3", "b3"} for p in got
        ),
        "params must hold W1, b1, W2, b2, W3, b3",
    )
    first, again, other = got
    for key in ("b1", "b2", "b3"):
        grade.expect(not np.any(first[key]), f"{key} must start at zero")
    for key in ("W1", "W2", "W3"):
        spread = float(np.std(first[key]))
        grade.expect(
            abs(spread / std - 1) < 0.2,
            f"{key} starts with standard deviation {spread:.4g}; expected "
            f"weight_init_std = {std} (weight_init_std * standard normal)",
        )
        grade.expect(
            np.array_equal(first[key], again[key]),
            f"the same seed must give the same {key} (np.random.default_rng(seed))",
        )
        grade.expect(
            not np.array_equal(first[key], other[key]), f"another seed must give another {key}"
        )


def _trained(grade: Grade, params, initial: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The student's trained ``params``: the contract's keys, shapes and dtype, finite."""
    __tracebackhide__ = True
    reason = mismatch(params, initial, ANY_VALUE, show_values=False, where="params")
    grade.expect(
        reason is None,
        f"your trained {reason} (the contract's params, which the "
        "optimizer updates in place; NaN or inf: the training diverged)",
    )
    return params


def _where_the_time_went(result: dict, steps: int) -> list[str]:
    """Lines on the hot spot, its usual fix and each layer's time (as the student's
    process measured them: untrusted, shown to the student only)."""
    reported = result["layers"] if isinstance(result["layers"], list) else []
    rows = [
        row
        for row in reported
        if isinstance(row, list)
        and len(row) == 5
        and all(isinstance(v, str) for v in row[:3])
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in row[3:])
    ]
    total = result["seconds"] if isinstance(result["seconds"], int | float) else 0.0
    done = _count(result["steps"])
    if done:
        lines = [f"At this pace the {steps} steps would take about {total * steps / done:.0f} s."]
    else:
        lines = ["Not one training step ended within the budget."]
    outside = max(total - sum(row[3] for row in rows), 0.0)
    hot = max(rows, key=lambda row: row[3], default=None)
    if hot is None or hot[3] < outside:
        lines.append(
            f"Most of the time ({outside:.1f} s of {total:.1f} s) went outside the "
            f"layers' forward and backward. The usual fix: {FIXES['outside']}"
        )
    else:
        name, kind, method, seconds, calls = hot
        per_step = calls / (done + 1)  # the step under way included
        numerical = method == "forward" and per_step > 3
        fix = FIXES["numerical" if numerical else kind if kind in FIXES else "layer"]
        lines.append(
            f"Most of the time went to {name}.{method}: {seconds:.1f} s of "
            f"{total:.1f} s in {calls} calls"
            + (f", about {per_step:.0f} per training step" if numerical else "")
            + f". The usual fix: {fix}"
        )
    rows.sort(key=lambda row: -row[3])
    shown = [row for row in rows[:SHOWN] if row[3] >= 0.01 * total]
    lines.append("Time per layer, as your process measured it:")
    lines += [
        f"  {name}.{method}: {seconds:.2f} s in {calls} calls"
        for name, _, method, seconds, calls in shown
    ]
    if len(rows) > len(shown):
        rest = sum(row[3] for row in rows[len(shown) :])
        lines.append(
            f"  the other {len(rows) - len(shown)} forward and backward methods: {rest:.2f} s"
        )
    lines.append(f"  outside the layers' forward and backward: {outside:.2f} s")
    return lines


def _count(value) -> int:
    """A count reported by the student's process (0 unless it is one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
