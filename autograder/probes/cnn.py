"""Probes of the ``cnn`` assignment (see :mod:`autograder.probes`).

Each returns plain data: numbers, strings, dicts and NumPy arrays (tensors converted).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from . import Package, probe, raised


@probe
def conv_output_size(pkg: Package, **args) -> int:
    return pkg.conv.conv_output_size(**args)


@probe
def conv_output_size_raises(pkg: Package, **args) -> str:
    return raised(lambda: pkg.conv.conv_output_size(**args))


@probe
def corr2d(pkg: Package, X, K):
    return pkg.conv.corr2d(X, K)


@probe
def conv2d(pkg: Package, x, W, b, stride, pad):
    return pkg.conv.conv2d(x, W, b, stride=stride, pad=pad)


@probe
def im2col(pkg: Package, x, filter_h, filter_w, stride, pad):
    return pkg.conv.im2col(x, filter_h, filter_w, stride=stride, pad=pad)


@probe
def col2im(pkg: Package, col, input_shape, filter_h, filter_w, stride, pad):
    return pkg.conv.col2im(col, tuple(input_shape), filter_h, filter_w, stride=stride, pad=pad)


@probe
def convolution(pkg: Package, W, b, stride, pad, passes):
    """Forward and backward over ``passes`` (a list of ``{"x", "dout"}``) with one layer."""
    layer = pkg.conv.Convolution(W, b, stride=stride, pad=pad)
    results = []
    for step in passes:
        out = layer.forward(step["x"])
        dx = layer.backward(step["dout"])
        results.append({"out": out, "dx": dx, "dW": layer.dW, "db": layer.db})
    return results


@probe
def pool2d(pkg: Package, X, pool_size, mode):
    return pkg.pooling.pool2d(
        X, pool_size if isinstance(pool_size, int) else tuple(pool_size), mode
    )


@probe
def pool2d_raises(pkg: Package, X, pool_size, mode) -> str:
    return raised(lambda: pkg.pooling.pool2d(X, pool_size, mode))


@probe
def pooling(pkg: Package, pool_h, pool_w, stride, pad, mode, x, dout):
    layer = pkg.pooling.Pooling(pool_h, pool_w, stride=stride, pad=pad, mode=mode)
    out = layer.forward(x)
    return {"out": out, "dx": layer.backward(dout)}


@probe
def pooling_defaults(pkg: Package, pool_h, pool_w, x):
    """``Pooling(pool_h, pool_w)`` with every other argument left to its default: forward,
    then backward of ones shaped like the output (whatever its shape, so a wrong default
    still gives an answer to compare)."""
    layer = pkg.pooling.Pooling(pool_h, pool_w)
    out = layer.forward(x)
    return {"out": out, "dx": layer.backward(np.ones(np.shape(out)))}


@probe
def kernels(pkg: Package, names):
    return {name: np.asarray(pkg.kernels.KERNELS[name], dtype=np.float64) for name in names}


@probe
def filter_image(pkg: Package, image, kernel):
    return pkg.kernels.filter_image(image, kernel)


@probe
def dense_params(pkg: Package, **args) -> int:
    return pkg.params.dense_params(**args)


@probe
def conv2d_params(pkg: Package, kernel_size, **args) -> int:
    size = kernel_size if isinstance(kernel_size, int) else tuple(kernel_size)
    return pkg.params.conv2d_params(kernel_size=size, **args)


def _network(pkg: Package, config: dict, params: dict):
    config = dict(config, input_dim=tuple(config["input_dim"]))
    net = pkg.simple_convnet.SimpleConvNet(**config)
    for key, value in params.items():
        net.params[key][...] = value  # in place, as the contract says graders do
    return net


@probe
def simple_convnet(pkg: Package, config, params, x, t):
    """Loss, gradient, scores and accuracy of a network with the given parameters."""
    net = _network(pkg, config, params)
    grads = dict(net.gradient(x, t))  # first: gradient must run its own forward pass
    return {
        "shapes": {key: list(np.shape(value)) for key, value in net.params.items()},
        "grads": grads,
        "scores": net.predict(x),
        "loss": float(net.loss(x, t)),
        "accuracy": float(net.accuracy(x, t, batch_size=7)),
    }


@probe
def simple_convnet_init(pkg: Package, config, seeds):
    """The initial parameters of one network per seed."""
    config = dict(config, input_dim=tuple(config["input_dim"]))
    return [dict(pkg.simple_convnet.SimpleConvNet(**config, seed=seed).params) for seed in seeds]


class _OverBudget(BaseException):
    """Raised into the training loop once its time budget is spent (not an ``Exception``,
    so that a student's ``except Exception`` does not swallow it)."""


class _Clock:
    """Seconds and calls of each layer's ``forward`` and ``backward``, measured around the
    network's own layer objects (the attributes of the network, and the values of its dicts
    and lists, that have a ``forward``); after each timed call, ``_OverBudget`` once the
    deadline has passed."""

    def __init__(self, pkg: Package, net, deadline: float):
        self.deadline = deadline
        self.rows: list[list] = []  # [name, kind, method, seconds, calls]
        kinds = _layer_kinds(pkg)
        for name, layer in _layers(net):
            kind = next((k for k, cls in kinds.items() if isinstance(layer, cls)), "layer")
            for method in ("forward", "backward"):
                function = getattr(layer, method, None)
                if callable(function):
                    row = [f"{name} ({type(layer).__name__})", kind, method, 0.0, 0]
                    try:
                        setattr(layer, method, self._timed(function, row))
                    except (AttributeError, TypeError):  # slots, a read-only attribute
                        continue
                    self.rows.append(row)

    def _timed(self, function, row: list):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            out = function(*args, **kwargs)
            now = time.perf_counter()
            row[3] += now - started
            row[4] += 1
            self.check(now)
            return out

        return timed

    def check(self, now: float | None = None) -> None:
        if (time.perf_counter() if now is None else now) > self.deadline:
            raise _OverBudget


def _layer_kinds(pkg: Package) -> dict[str, type]:
    """ "convolution" and "pooling": the student's ``Convolution`` and ``Pooling`` classes
    (those that import and are classes)."""
    kinds = {}
    for kind, module, name in (
        ("convolution", "conv", "Convolution"),
        ("pooling", "pooling", "Pooling"),
    ):
        try:
            cls = getattr(getattr(pkg, module), name)
        except Exception:  # a module that does not import: its layers are just "layer"
            continue
        if isinstance(cls, type):
            kinds[kind] = cls
    return kinds


def _layers(net) -> list[tuple[str, object]]:
    """(name, layer) for each distinct object with a ``forward`` among the network's
    attributes and the items of its dict, list and tuple attributes."""
    found, seen = [], set()
    for attribute, value in list(getattr(net, "__dict__", {}).items()):
        if isinstance(value, dict):
            items = [(str(key), item) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            items = [(f"{attribute}[{i}]", item) for i, item in enumerate(value)]
        else:
            items = [(attribute, value)]
        for name, layer in items:
            if callable(getattr(layer, "forward", None)) and id(layer) not in seen:
                seen.add(id(layer))
                found.append((name, layer))
    return found


def _check_grads(grads, params: dict) -> None:
    """``ValueError`` unless ``grads`` has the keys of ``params`` and each its shape (what the
    optimizer needs: it updates ``params[key]`` with ``grads[key]``)."""
    if not isinstance(grads, dict) or set(grads) != set(params):
        keys = sorted(map(str, grads)) if isinstance(grads, dict) else type(grads).__name__
        raise ValueError(
            f"gradient must return a dict with the keys of params {sorted(params)}, not {keys}"
        )
    for key, value in params.items():
        if np.shape(grads[key]) != np.shape(value):
            raise ValueError(
                f"gradient returned {key} of shape {np.shape(grads[key])} for "
                f"params[{key!r}] of shape {np.shape(value)}"
            )


@probe
def training(pkg: Package, config, params, x_train, t_train, train_args, budget):
    """Train a fresh network, its parameters set to ``params`` first, with the course's loop
    for at most ``budget`` seconds (construction included). Returns the trained ``params``,
    the seconds, the training steps done (``net.gradient`` calls), whether the budget
    stopped it, and each layer's forward and backward time (rows of ``[name, kind, method,
    seconds, calls]``); never a prediction: the grader computes the accuracy itself."""
    started = time.perf_counter()
    net = _network(pkg, config, params)
    clock = _Clock(pkg, net, started + budget)
    steps = 0
    gradient = net.gradient

    def step(x, t):
        nonlocal steps
        grads = gradient(x, t)
        _check_grads(grads, net.params)
        steps += 1
        clock.check()
        return grads

    with contextlib.suppress(AttributeError, TypeError):  # else the layers' clock alone
        net.gradient = step  # the course's loop calls net.gradient
    stopped = False
    try:
        pkg.trainer.train(net, x_train, t_train, **train_args)
    except _OverBudget:
        stopped = True
    return {
        "params": dict(net.params),
        "seconds": time.perf_counter() - started,
        "steps": steps,
        "stopped": stopped,
        "layers": clock.rows,
    }


@probe
def residual(pkg: Package, args, state, X):
    """The block's output with the given weights, in evaluation and in training mode."""
    import torch  # only this part needs torch

    block = pkg.resnet.Residual(**args).double()
    block.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    names = sorted(block.state_dict())
    inputs = torch.from_numpy(X)
    with torch.no_grad():
        block.eval()
        evaluation = block(inputs)
        block.train()
        training_ = block(inputs)
    return {
        "names": names,
        "eval": evaluation.numpy(),
        "train": training_.numpy(),
        "has_conv3": block.conv3 is not None,
    }
