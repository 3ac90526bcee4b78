"""Probes of the ``optim_reg`` assignment (see :mod:`autograder.probes`)."""

from __future__ import annotations

import numpy as np

from . import Package, probe, raised


@probe
def optimizer(pkg: Package, name, hyper, params, grads):
    """Apply ``len(grads)`` updates of optimizer ``name``; the parameters after each step,
    read from the caller's original arrays (``update`` must change them in place)."""
    opt = getattr(pkg.optimizers, name)(**hyper)
    originals = dict(params)
    trajectory = []
    for step in grads:
        opt.update(params, step)
        trajectory.append({key: np.array(value) for key, value in originals.items()})
    return trajectory


@probe
def batchnorm(pkg: Package, init, steps):
    """Run a BatchNormalization layer through ``steps`` (each ``{"x", "train", "dout"?}``):
    every output, gradient and the running statistics after each step."""
    layer = pkg.layers.BatchNormalization(**init)
    results = []
    for step in steps:
        record = {"out": layer.forward(step["x"], train_flg=step["train"])}
        if "dout" in step:
            record.update(dx=layer.backward(step["dout"]), dgamma=layer.dgamma, dbeta=layer.dbeta)
        record.update(
            running_mean=np.array(layer.running_mean, dtype=np.float64),
            running_var=np.array(layer.running_var, dtype=np.float64),
        )
        results.append(record)
    return results


@probe
def dropout(pkg: Package, ratio, x, dout, seed):
    """Training forward and backward, then an evaluation forward, of one Dropout layer."""
    np.random.seed(seed)
    layer = pkg.layers.Dropout(ratio)
    out = layer.forward(x, train_flg=True)
    dx = layer.backward(dout)
    return {"out": out, "dx": dx, "eval": layer.forward(x, train_flg=False)}


@probe
def dropout_raises(pkg: Package, ratio) -> str:
    return raised(lambda: pkg.layers.Dropout(ratio))
