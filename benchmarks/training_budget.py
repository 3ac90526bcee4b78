"""Evidence for the `training` part of the cnn assignment: accuracy and time of the reference.

Trains the reference SimpleConvNet on scikit-learn's 8x8 digits with the constants of
``solutions/cnn/trainer.py`` (``trainer.train_digits``) over many seeds, single-threaded,
and times a few training steps of networks whose convolution (or pooling) is written with
Python loops over pixels, to show what the time budget rejects. Run from the repository root:

    python -m benchmarks.training_budget [--seeds 60] [--loop-steps 3]

It prints the distributions and checks the margins the grader relies on: the threshold at
least 5 points below the worst seed's accuracy, the budget at least 10x the median time,
and the networks that loop over pixels (convolution or pooling) over the budget. (The grader,
``autograder/training.py``, draws its own initial weights from the same distribution and
measures with the reference network's forward pass: for the reference, the same figures.)
"""

import os

# One thread everywhere, before numpy is imported (the grader measures the same way).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from autograder.reference_oracle import module as reference_module  # noqa: E402

trainer = reference_module("cnn", "trainer")
simple_convnet = reference_module("cnn", "simple_convnet")
conv = reference_module("cnn", "conv")


class LoopConvolution(conv.Convolution):
    """The naive convolution: four loops (n, f, i, j), one window product each (cs231n-style)."""

    def forward(self, x):
        FN, _, FH, FW = self.W.shape
        N, _, H, W = x.shape
        s, p = self.stride, self.pad
        out_h, out_w = (H + 2 * p - FH) // s + 1, (W + 2 * p - FW) // s + 1
        self.x = x
        self.xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
        out = np.zeros((N, FN, out_h, out_w))
        for n in range(N):
            for f in range(FN):
                for i in range(out_h):
                    for j in range(out_w):
                        window = self.xp[n, :, i * s : i * s + FH, j * s : j * s + FW]
                        out[n, f, i, j] = np.sum(window * self.W[f]) + self.b[f]
        return out

    def backward(self, dout):
        FN, _, FH, FW = self.W.shape
        N, _, out_h, out_w = dout.shape
        s, p = self.stride, self.pad
        dxp = np.zeros_like(self.xp)
        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        for n in range(N):
            for f in range(FN):
                for i in range(out_h):
                    for j in range(out_w):
                        window = self.xp[n, :, i * s : i * s + FH, j * s : j * s + FW]
                        g = dout[n, f, i, j]
                        self.dW[f] += window * g
                        dxp[n, :, i * s : i * s + FH, j * s : j * s + FW] += self.W[f] * g
        H, W = self.x.shape[2:]
        return dxp[:, :, p : p + H, p : p + W]


class PositionLoopConvolution(LoopConvolution):
    """Two loops over the output positions (i, j), vectorised over the batch and the filters."""

    def forward(self, x):
        FN, _, FH, FW = self.W.shape
        N, _, H, W = x.shape
        s, p = self.stride, self.pad
        out_h, out_w = (H + 2 * p - FH) // s + 1, (W + 2 * p - FW) // s + 1
        self.x = x
        self.xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
        out = np.zeros((N, FN, out_h, out_w))
        for i in range(out_h):
            for j in range(out_w):
                window = self.xp[:, :, i * s : i * s + FH, j * s : j * s + FW]
                out[:, :, i, j] = np.tensordot(window, self.W, axes=([1, 2, 3], [1, 2, 3])) + self.b
        return out

    def backward(self, dout):
        FH, FW = self.W.shape[2:]
        s, p = self.stride, self.pad
        dxp = np.zeros_like(self.xp)
        self.dW = np.zeros_like(self.W)
        self.db = dout.sum(axis=(0, 2, 3))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.xp[:, :, i * s : i * s + FH, j * s : j * s + FW]
                self.dW += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
                dxp[:, :, i * s : i * s + FH, j * s : j * s + FW] += np.tensordot(
                    dout[:, :, i, j], self.W, axes=([1], [0])
                )
        H, W = self.x.shape[2:]
        return dxp[:, :, p : p + H, p : p + W]


class LoopPooling:
    """Max pooling with four loops (n, c, i, j); the gradient to the first maximum."""

    def __init__(self, pool_h, pool_w, stride):
        self.pool_h, self.pool_w, self.stride = pool_h, pool_w, stride

    def forward(self, x):
        N, C, H, W = x.shape
        s, ph, pw = self.stride, self.pool_h, self.pool_w
        out_h, out_w = (H - ph) // s + 1, (W - pw) // s + 1
        self.x = x
        out = np.zeros((N, C, out_h, out_w))
        for n in range(N):
            for c in range(C):
                for i in range(out_h):
                    for j in range(out_w):
                        out[n, c, i, j] = x[n, c, i * s : i * s + ph, j * s : j * s + pw].max()
        return out

    def backward(self, dout):
        s, ph, pw = self.stride, self.pool_h, self.pool_w
        dx = np.zeros_like(self.x)
        for n, c, i, j in np.ndindex(dout.shape):
            window = self.x[n, c, i * s : i * s + ph, j * s : j * s + pw]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
        return dx


def reference_runs(seeds: int) -> tuple[list[float], list[float]]:
    """Test accuracy and training seconds of trainer.train_digits for seeds 0..seeds-1."""
    accuracies, seconds = [], []
    for seed in range(seeds):
        result = trainer.train_digits(simple_convnet.SimpleConvNet, seed=seed)
        accuracies.append(result["accuracy"])
        seconds.append(result["seconds"])
        print(
            f"  seed {seed:2d}: accuracy {result['accuracy']:.4f}  {result['seconds']:.3f} s",
            flush=True,
        )
    return accuracies, seconds


def seconds_per_step(replace: dict, steps: int) -> float:
    """Median time of one training step (gradient + Adam) with some layers replaced."""
    x_train, t_train, _, _ = trainer.load_digits_split(0)
    net = simple_convnet.SimpleConvNet(
        input_dim=(1, 8, 8),
        conv_param=trainer.DIGITS_CONV_PARAM,
        hidden_size=trainer.DIGITS_HIDDEN_SIZE,
        weight_init_std=trainer.DIGITS_WEIGHT_INIT_STD,
        seed=0,
    )
    cp = trainer.DIGITS_CONV_PARAM
    makers = {
        "Conv1": lambda cls: cls(net.params["W1"], net.params["b1"], cp["stride"], cp["pad"]),
        "Pool1": lambda cls: cls(2, 2, 2),
    }
    for name, cls in replace.items():
        net.layers[name] = makers[name](cls)
    optimizer = trainer.Adam(trainer.DIGITS_LR)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(steps):
        batch = rng.choice(len(t_train), trainer.DIGITS_BATCH_SIZE, replace=False)
        start = time.perf_counter()
        optimizer.update(net.params, net.gradient(x_train[batch], t_train[batch]))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--loop-steps", type=int, default=3, help="steps timed per loop network")
    args = parser.parse_args()

    n_train = len(trainer.load_digits_split(0)[1])
    steps = trainer.DIGITS_EPOCHS * math.ceil(n_train / trainer.DIGITS_BATCH_SIZE)
    print(
        f"setup: conv {trainer.DIGITS_CONV_PARAM}, hidden {trainer.DIGITS_HIDDEN_SIZE}, "
        f"init std {trainer.DIGITS_WEIGHT_INIT_STD}, Adam lr {trainer.DIGITS_LR}, "
        f"batch {trainer.DIGITS_BATCH_SIZE}, {trainer.DIGITS_EPOCHS} epochs "
        f"= {steps} steps on {n_train} training images; one thread"
    )

    print(f"reference over {args.seeds} seeds (seed = split, init and shuffling):")
    accuracies, seconds = reference_runs(args.seeds)
    acc_min, acc_med = min(accuracies), statistics.median(accuracies)
    t_med, t_max = statistics.median(seconds), max(seconds)
    print(f"accuracy: min {acc_min:.4f}  median {acc_med:.4f}  max {max(accuracies):.4f}")
    print(f"training time: min {min(seconds):.3f} s  median {t_med:.3f} s  max {t_max:.3f} s")

    print("per training step (median), whole training extrapolated:")
    step_ref = seconds_per_step({}, steps=20)
    variants = {
        "reference (im2col conv, vectorised pool)": ({}, 20),
        "conv: 2 loops over output positions": ({"Conv1": PositionLoopConvolution}, 10),
        "conv: 4 loops (n, f, i, j)": ({"Conv1": LoopConvolution}, args.loop_steps),
        "pool: 4 loops (n, c, i, j)": ({"Pool1": LoopPooling}, args.loop_steps),
    }
    projected = {}
    for name, (replace, n) in variants.items():
        step = step_ref if not replace else seconds_per_step(replace, n)
        projected[name] = step * steps
        print(
            f"  {name:42s} {1e3 * step:9.2f} ms  x{step / step_ref:7.1f}"
            f"  -> {projected[name]:8.1f} s"
        )

    threshold, budget = trainer.ACCURACY_THRESHOLD, trainer.TIME_BUDGET_S
    print(f"chosen: ACCURACY_THRESHOLD {threshold}, TIME_BUDGET_S {budget}")
    checks = {
        "threshold <= worst seed - 5 points": threshold <= acc_min - 0.05,
        "budget >= 10 x median reference time": budget >= 10 * t_med,
        "4-loop conv over the budget": projected["conv: 4 loops (n, f, i, j)"] > budget,
        "4-loop pool over the budget": projected["pool: 4 loops (n, c, i, j)"] > budget,
        "2-loop conv within the budget": projected["conv: 2 loops over output positions"] < budget,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(
        f"margins: accuracy {100 * (acc_min - threshold):.1f} points above the threshold at "
        f"worst; budget {budget / t_med:.0f}x the median time, {budget / t_max:.0f}x the worst"
    )


if __name__ == "__main__":
    main()
