"""The reference's convolution and pooling layers against PyTorch on the CPU, as ratios.

    python -m benchmarks.kernels [--rounds 7] [--json F]

One thread for both libraries (set before they load). Each case runs NumPy and torch in
alternation for several rounds; the figure is the median per-call time and the median of
the per-round ratios (same round, same process). Both compute float64 forward and
backward (dx, dW, db); torch's backward is autograd's.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from autograder.reference_oracle import module  # noqa: E402

torch.set_num_threads(1)
CASES = {  # name: (N, C, H, W, FN, K, stride, pad)
    "SimpleConvNet layer (100, 1x28x28, 30 of 5x5)": (100, 1, 28, 28, 30, 5, 1, 0),
    "CIFAR-sized layer (128, 16x32x32, 32 of 3x3, pad 1)": (128, 16, 32, 32, 32, 3, 1, 1),
}


def _timed(call, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - started) / repeat


def conv_case(shape, rounds: int) -> tuple[float, float, float]:
    n, c, h, w, fn, k, stride, pad = shape
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((n, c, h, w)), 0.1 * rng.standard_normal((fn, c, k, k))
    b = np.zeros(fn)
    layer = module("cnn", "conv").Convolution(W, b, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    tdout = torch.tensor(dout)

    def ours():
        layer.forward(x)
        layer.backward(dout)

    def theirs():
        y = F.conv2d(tx, tW, tb, stride=stride, padding=pad)
        torch.autograd.grad(y, (tx, tW, tb), tdout)

    return _rounds(ours, theirs, rounds)


def pool_case(shape, rounds: int) -> tuple[float, float, float]:
    n, _, h, _, fn, k, stride, pad = shape
    oh = (h + 2 * pad - k) // stride + 1  # the convolution's output: square inputs
    x = np.random.default_rng(1).standard_normal((n, fn, oh, oh))
    layer = module("cnn", "pooling").Pooling(2, 2, stride=2)
    dout = np.random.default_rng(2).standard_normal(layer.forward(x).shape)
    tx, tdout = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def ours():
        layer.forward(x)
        layer.backward(dout)

    def theirs():
        y = F.max_pool2d(tx, 2, stride=2)
        torch.autograd.grad(y, (tx,), tdout)

    return _rounds(ours, theirs, rounds)


def _rounds(ours, theirs, rounds: int) -> tuple[float, float, float]:
    ours(), theirs()  # warm up
    repeat = max(1, int(0.2 / max(_timed(ours, 1), 1e-6)))
    pairs = [(_timed(ours, repeat), _timed(theirs, repeat)) for _ in range(rounds)]
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        statistics.median(p[0] / p[1] for p in pairs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print("float64, 1 thread; forward + backward per call")
    figures = {}
    for name, shape in CASES.items():
        for what, case in (("convolution", conv_case), ("max-pool 2x2", pool_case)):
            ours, theirs, ratio = case(shape, args.rounds)
            figures[f"{name}, {what}"] = {"reference_s": ours, "torch_s": theirs, "ratio": ratio}
            print(
                f"{name}, {what}: reference {ours * 1e3:.2f} ms, torch {theirs * 1e3:.2f} ms,"
                f" ratio {ratio:.2f}"
            )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
