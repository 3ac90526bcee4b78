"""Probes of the ``cnn`` assignment (see :mod:`autograder.probes`).

Each returns plain data: numbers, strings, dicts and NumPy arrays (tensors converted).
"""

from __future__ import annotations

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
    return pkg.pooling.pool2d(X, pool_size if isinstance(pool_size, int) else tuple(pool_size),
                              mode)


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


@probe
def training(pkg: Package, config, x_train, t_train, x_test, train_args):
    """Train a fresh network with the course's loop; its scores on ``x_test`` and the time."""
    config = dict(config, input_dim=tuple(config["input_dim"]))
    net = pkg.simple_convnet.SimpleConvNet(**config)
    start = time.perf_counter()
    pkg.trainer.train(net, x_train, t_train, **train_args)
    seconds = time.perf_counter() - start
    return {"scores": net.predict(x_test), "seconds": seconds}


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
    return {"names": names, "eval": evaluation.numpy(), "train": training_.numpy(),
            "has_conv3": block.conv3 is not None}
