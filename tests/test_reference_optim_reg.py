"""Oracle tests of the `optim_reg` reference solution (solutions/optim_reg).

The reference is checked against PyTorch (after the conversions of
shared/notes/conventions.md), against plain NumPy versions of the contract's formulas, against
central finite differences and against statistical properties. The last section checks
solutions/optim_reg/MISTAKES.md: every entry applies cleanly inside a solution region, and
the probes below (the checks a hidden grader makes) fail each mistake and pass each
equivalent form.

Tolerances: float64 throughout; 1e-10 against torch and NumPy. ADAPTIVE_RTOL, the tolerance
proposed for the graders of AdaGrad, RMSprop and Adam, comes from these measurements (largest
parameter error divided by the largest displacement, 20 steps unless said, gradients
scale*sign*U(0.5, 1.5), Adam defaults, 30 random cases each):
- textbook Adam (lr_t form, eps on the raw sqrt(v)) vs the contract: <= 6.1e-7/scale
  (t = 1 is the worst step); verbatim with eps = 1e-7: <= 6.3e-6/scale;
- with gradients ~1e-6 the two forms differ by 0.13-0.37 (textbook eps) and 0.58-0.85
  (1e-7), as much as a missing correction: graders must not use tiny gradients;
- missing bias correction: >= 2.16 (one step), >= 4.5 (20 steps); only v corrected:
  0.90 (one step), >= 0.37 (20 steps), 0.087 (100 steps);
- eps inside the square root (AdaGrad, RMSprop, Adam) changes a step by about
  eps/(2*(1-decay)*g**2): <= 5e-4 for |g| >= 0.1 with RMSprop's decay 0.99.
"""

import importlib
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.course import import_package, load
from autograder.reference_oracle import module as reference_module

opt = reference_module("optim_reg", "optimizers")
lay = reference_module("optim_reg", "layers")
net_mod = reference_module("optim_reg", "multi_layer_net")

# Torch ops on one thread: a process that has run a multi-threaded torch op and then forks
# deadlocks in the child's first torch op (shared/notes/security.md), and other tests fork.
torch.set_num_threads(1)

HYP = settings(deadline=None, max_examples=25, derandomize=True, database=None)
ADAPTIVE_RTOL = 1e-2  # AdaGrad, RMSprop, Adam: relative to the largest displacement
EXACT_RTOL = 1e-8  # SGD, Momentum, Nesterov
STEPS = 20
SHAPES = {"W1": (3, 4), "b1": (4,), "k": (2, 2, 3)}


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max|b|, 0 when both are zero."""
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale else float(np.max(np.abs(a)))


def grad_sequence(seed: int, scale: float, steps: int = STEPS) -> list[dict[str, np.ndarray]]:
    """Gradients scale * sign * U(0.5, 1.5): realistic sizes, never close to zero."""
    rng = np.random.default_rng(seed)
    return [
        {
            k: scale * rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 1.5, s)
            for k, s in SHAPES.items()
        }
        for _ in range(steps)
    ]


def initial_params(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


# ---------------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------------

# (class name, non-default hyperparameters); every optimizer is also run with its defaults.
OPTIMIZERS = [
    ("SGD", {"lr": 0.05}),
    ("Momentum", {"lr": 0.05, "momentum": 0.8}),
    ("Nesterov", {"lr": 0.05, "momentum": 0.8}),
    ("AdaGrad", {"lr": 0.05, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.02, "decay_rate": 0.9, "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7}),
]
DEFAULTS = {
    "SGD": {"lr": 0.01},
    "Momentum": {"lr": 0.01, "momentum": 0.9},
    "Nesterov": {"lr": 0.01, "momentum": 0.9},
    "AdaGrad": {"lr": 0.01, "eps": 1e-7},
    "RMSprop": {"lr": 0.01, "decay_rate": 0.99, "eps": 1e-7},
    "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}
CASES = [(name, {}) for name in DEFAULTS] + OPTIMIZERS


def numpy_contract(name: str, hp: dict, params: dict, grads_seq: list) -> dict:
    """The contract's formulas, written out independently of the reference."""
    p = {k: v.copy() for k, v in params.items()}
    s1 = {k: np.zeros_like(v) for k, v in p.items()}
    s2 = {k: np.zeros_like(v) for k, v in p.items()}
    for t, grads in enumerate(grads_seq, start=1):
        for k, g in grads.items():
            if name == "SGD":
                p[k] = p[k] - hp["lr"] * g
            elif name == "Momentum":
                s1[k] = hp["momentum"] * s1[k] - hp["lr"] * g
                p[k] = p[k] + s1[k]
            elif name == "Nesterov":
                s1[k] = hp["momentum"] * s1[k] - hp["lr"] * g
                p[k] = p[k] + hp["momentum"] * s1[k] - hp["lr"] * g
            elif name == "AdaGrad":
                s1[k] = s1[k] + g * g
                p[k] = p[k] - hp["lr"] * g / (np.sqrt(s1[k]) + hp["eps"])
            elif name == "RMSprop":
                d = hp["decay_rate"]
                s1[k] = d * s1[k] + (1 - d) * g * g
                p[k] = p[k] - hp["lr"] * g / (np.sqrt(s1[k]) + hp["eps"])
            elif name == "Adam":
                b1, b2 = hp["beta1"], hp["beta2"]
                s1[k] = b1 * s1[k] + (1 - b1) * g
                s2[k] = b2 * s2[k] + (1 - b2) * g * g
                m_hat, v_hat = s1[k] / (1 - b1**t), s2[k] / (1 - b2**t)
                p[k] = p[k] - hp["lr"] * m_hat / (np.sqrt(v_hat) + hp["eps"])
    return p


def torch_optimizer(name: str, hp: dict, tensors: list) -> torch.optim.Optimizer:
    """PyTorch's optimizer with the course's hyperparameters converted (conventions.md)."""
    lr = hp["lr"]
    if name == "SGD":
        return torch.optim.SGD(tensors, lr=lr)
    if name in ("Momentum", "Nesterov"):
        return torch.optim.SGD(tensors, lr=lr, momentum=hp["momentum"], nesterov=name == "Nesterov")
    if name == "AdaGrad":  # torch's default eps is 1e-10; same placement, outside the sqrt
        return torch.optim.Adagrad(tensors, lr=lr, eps=hp["eps"])
    if name == "RMSprop":  # alpha is the decay rate; eps outside the sqrt as in the contract
        return torch.optim.RMSprop(tensors, lr=lr, alpha=hp["decay_rate"], eps=hp["eps"])
    return torch.optim.Adam(tensors, lr=lr, betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])


def run_reference(name: str, hp: dict, params: dict, grad_fn, steps: int = STEPS) -> dict:
    """Run the reference for `steps` calls; grad_fn(step, params) gives the gradients."""
    p = {k: v.copy() for k, v in params.items()}
    optimizer = getattr(opt, name)(**hp)
    for i in range(steps):
        optimizer.update(p, grad_fn(i, p))
    return p


@pytest.mark.parametrize(("name", "hp"), CASES, ids=[f"{n}-{hp or 'default'}" for n, hp in CASES])
def test_optimizer_matches_numpy_and_torch_on_a_quadratic(name, hp):
    """20 steps on f(p) = sum(a * (p - c)**2 / 2) plus fixed noise; the gradient depends on p."""
    rng = np.random.default_rng(1)
    a = {k: rng.uniform(0.5, 2.0, s) for k, s in SHAPES.items()}
    c = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    noise = grad_sequence(2, 0.3)
    p0 = initial_params(3)
    full = {**DEFAULTS[name], **hp}

    replay = []  # the gradients the reference saw, for the NumPy run below

    def grad_np(i, p):
        replay.append({k: a[k] * (p[k] - c[k]) + noise[i][k] for k in p})
        return replay[-1]

    ours = run_reference(name, hp, p0, grad_np)

    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
    optimizer = torch_optimizer(name, full, list(tensors.values()))
    for i in range(STEPS):
        with torch.no_grad():
            for k, t in tensors.items():
                t.grad = torch.tensor(a[k]) * (t - torch.tensor(c[k])) + torch.tensor(noise[i][k])
        optimizer.step()
    for k in p0:
        assert ours[k].dtype == np.float64
        assert max_rel(ours[k] - p0[k], tensors[k].detach().numpy() - p0[k]) < 1e-10, k

    expected = numpy_contract(name, full, p0, replay)
    for k in p0:
        assert max_rel(ours[k] - p0[k], expected[k] - p0[k]) < 1e-12, k


@HYP
@given(
    name=st.sampled_from(list(DEFAULTS)),
    lr=st.floats(1e-3, 0.5),
    beta=st.floats(0.0, 0.99),
    scale=st.sampled_from([1.0, 0.2, 5.0]),
    seed=st.integers(0, 2**16),
)
def test_optimizer_matches_numpy_contract(name, lr, beta, scale, seed):
    """Random hyperparameters: the reference against the NumPy formulas on fixed gradients."""
    hp = dict(DEFAULTS[name], lr=lr)
    for key in ("momentum", "decay_rate", "beta1"):
        if key in hp:
            hp[key] = beta
    gs = grad_sequence(seed, scale, steps=8)
    p0 = initial_params(seed + 1)
    ours = run_reference(name, hp, p0, lambda i, p: gs[i], steps=8)
    expected = numpy_contract(name, hp, p0, gs)
    for k in p0:
        assert max_rel(ours[k] - p0[k], expected[k] - p0[k]) < 1e-12, k


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_optimizer_updates_in_place_with_lazy_state_per_key(name):
    """The caller's arrays change; a key first seen later gets fresh (zero) state."""
    gs = grad_sequence(5, 1.0, steps=6)
    p0 = initial_params(6)
    params = {k: v.copy() for k, v in p0.items()}
    originals = dict(params)
    optimizer = getattr(opt, name)()
    for i, g in enumerate(gs):
        keys = ["W1"] if i < 3 else list(SHAPES)  # b1 and k join at the 4th step
        optimizer.update({k: params[k] for k in keys}, {k: g[k] for k in keys})
    for k in SHAPES:
        assert params[k] is originals[k]
    late = run_reference(name, {}, {"b1": p0["b1"]}, lambda i, p: {"b1": gs[3 + i]["b1"]}, 3)
    if name == "Adam":  # t counts calls of update, so a late key starts at t = 4
        assert not np.allclose(params["b1"], late["b1"], rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(params["b1"], late["b1"], rtol=1e-14, atol=1e-15)


def test_sgd_first_step_matches_the_hand_computation():
    params = {"w": np.array([1.0, -2.0]), "b": np.array([0.5])}
    opt.SGD(lr=0.1).update(params, {"w": np.array([10.0, -4.0]), "b": np.array([1.0])})
    np.testing.assert_allclose(params["w"], [0.0, -1.6], atol=1e-15)
    np.testing.assert_allclose(params["b"], [0.4], atol=1e-15)


def test_nesterov_first_step_is_one_plus_momentum_times_sgd():
    """v = -lr*g, then p += momentum*v - lr*g: a first step of (1 + momentum)*lr*g."""
    params = {"w": np.zeros(3)}
    g = np.array([1.0, -2.0, 0.5])
    opt.Nesterov(lr=0.1, momentum=0.9).update(params, {"w": g})
    np.testing.assert_allclose(params["w"], -0.19 * g, rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    """After bias correction, m_hat = g and v_hat = g*g at t = 1: the step is lr*g/(|g|+eps)."""
    params = {"w": np.zeros(4)}
    g = np.array([3.0, -0.5, 1e-3, -40.0])
    opt.Adam(lr=0.01).update(params, {"w": g})
    np.testing.assert_allclose(params["w"], -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------------------------


def torch_bn(x, gamma, beta, running_mean, running_var, momentum, eps, train):
    """F.batch_norm with the course's momentum converted; returns out and the torch tensors."""
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    rm, rv = torch.tensor(running_mean), torch.tensor(running_var)
    out = F.batch_norm(xt, rm, rv, gt, bt, training=train, momentum=1 - momentum, eps=eps)
    return out, xt, gt, bt, rm


def bn_case(rng, shape):
    c = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3.0) + rng.uniform(-2, 2)
    gamma = rng.uniform(0.5, 2.0, c) * rng.choice([-1.0, 1.0], c)
    beta = rng.standard_normal(c)
    return x, gamma, beta, rng.standard_normal(c), rng.uniform(0.5, 2.0, c)


def bn_axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


shapes_2d = st.tuples(st.integers(2, 8), st.integers(1, 5))
shapes_4d = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(2, 3))


@HYP
@given(
    shape=st.one_of(shapes_2d, shapes_4d),
    momentum=st.sampled_from([0.9, 0.5, 0.0]),
    eps=st.sampled_from([1e-5, 1e-3]),
    seed=st.integers(0, 2**16),
)
def test_batchnorm_matches_torch(shape, momentum, eps, seed):
    """Training forward, running mean, eval forward, and backward against torch autograd."""
    rng = np.random.default_rng(seed)
    x, gamma, beta, rm0, rv0 = bn_case(rng, shape)
    bn = lay.BatchNormalization(gamma, beta, momentum, rm0.copy(), rv0.copy(), eps)
    out = bn.forward(x, train_flg=True)
    out_t, xt, gt, bt, rm_t = torch_bn(x, gamma, beta, rm0, rv0, momentum, eps, train=True)
    assert out.shape == x.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, rm_t.numpy(), rtol=0, atol=1e-12)
    # torch keeps the unbiased variance: the course's running_var is checked against NumPy
    batch_var = x.var(axis=bn_axes(x))
    np.testing.assert_allclose(
        bn.running_var, momentum * rv0 + (1 - momentum) * batch_var, rtol=1e-13, atol=1e-15
    )

    dout = rng.standard_normal(shape)
    dx = bn.backward(dout)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(bn.dgamma, gt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(bn.dbeta, bt.grad.numpy(), rtol=0, atol=1e-10)

    y = bn.forward(x, train_flg=False)
    y_t, *_ = torch_bn(x, gamma, beta, bn.running_mean, bn.running_var, momentum, eps, False)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)])
def test_batchnorm_backward_matches_finite_differences(shape):
    rng = np.random.default_rng(11)
    x, gamma, beta, _, _ = bn_case(rng, shape)
    dout = rng.standard_normal(shape)
    bn = lay.BatchNormalization(gamma, beta)
    bn.forward(x)
    dx = bn.backward(dout)
    h = 1e-5

    def f():
        return np.sum(lay.BatchNormalization(gamma, beta).forward(x) * dout)

    for array, analytic in ((x, dx), (gamma, bn.dgamma), (beta, bn.dbeta)):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + h
            plus = f()
            array[i] = keep - h
            minus = f()
            array[i] = keep
            numeric[i] = (plus - minus) / (2 * h)
        err = np.max(np.abs(numeric - analytic)) / max(np.max(np.abs(analytic)), 1e-12)
        assert err < 1e-7


def test_batchnorm_running_statistics_over_several_steps():
    rng = np.random.default_rng(12)
    c, momentum = 3, 0.7
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    bn = lay.BatchNormalization(gamma, beta, momentum=momentum)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(c))  # defaults: zeros and ones
    np.testing.assert_array_equal(bn.running_var, np.ones(c))
    rm_t, rv = torch.zeros(c, dtype=torch.float64), np.ones(c)
    for step in range(6):
        x = rng.standard_normal((4, c, 2, 3)) * (step + 1) + step
        bn.forward(x, train_flg=True)
        F.batch_norm(
            torch.tensor(x),
            rm_t,
            torch.ones(c, dtype=torch.float64),
            training=True,
            momentum=1 - momentum,
        )
        rv = momentum * rv + (1 - momentum) * x.var(axis=(0, 2, 3))
        np.testing.assert_allclose(bn.running_mean, rm_t.numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-13)
    x = rng.standard_normal((4, c, 2, 3))
    before = (bn.running_mean.copy(), bn.running_var.copy())
    out = bn.forward(x, train_flg=False)
    np.testing.assert_array_equal(bn.running_mean, before[0])  # eval leaves them alone
    np.testing.assert_array_equal(bn.running_var, before[1])
    shape = (1, c, 1, 1)
    expected = (x - before[0].reshape(shape)) / np.sqrt(before[1].reshape(shape) + 1e-5)
    np.testing.assert_allclose(
        out, gamma.reshape(shape) * expected + beta.reshape(shape), atol=1e-12
    )


def test_batchnorm_is_per_channel_on_4d_input():
    """Each channel of the output has mean beta and std |gamma| (up to eps), whatever H, W."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 3, 5, 2)) * np.array([1.0, 10.0, 0.1]).reshape(1, 3, 1, 1)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 5.0])
    out = lay.BatchNormalization(gamma, beta, eps=1e-12).forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-9)


def test_batchnorm_sees_gamma_changed_in_place():
    gamma, beta = np.ones(2), np.zeros(2)
    bn = lay.BatchNormalization(gamma, beta)
    x = np.array([[0.0, 1.0], [2.0, 5.0]])
    first = bn.forward(x)
    gamma *= 3.0
    np.testing.assert_allclose(bn.forward(x), 3.0 * first, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# Dropout (properties only: no particular random stream is part of the contract)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def np_seed():
    """Seed NumPy's global generator for the test and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(2025)
    yield
    np.random.set_state(state)


def check_dropout(module, ratio: float, shape=(200, 250)) -> None:
    """The property checks of the dropout part; AssertionError when one fails."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # no zeros
    layer = module.Dropout(ratio)
    out = layer.forward(x, train_flg=True)
    assert out.shape == x.shape
    dropped = out == 0
    n = x.size
    bound = 5 * np.sqrt(ratio * (1 - ratio) / n) + 1 / n  # 5 sigma of a binomial proportion
    assert abs(dropped.mean() - ratio) <= bound, f"drop rate {dropped.mean()} for ratio {ratio}"
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - ratio), rtol=1e-14)
    dout = rng.standard_normal(shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[dropped], 0.0)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / (1 - ratio), rtol=1e-14)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x)


@pytest.mark.parametrize("ratio", [0.0, 0.2, 0.5, 0.7, 0.95])
def test_dropout_properties(np_seed, ratio):
    check_dropout(lay, ratio)


def test_dropout_ratio_zero_is_the_identity(np_seed):
    x = np.random.standard_normal((50, 40))
    layer = lay.Dropout(0.0)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rejects_ratios_outside_zero_one(ratio):
    with pytest.raises(ValueError):
        lay.Dropout(ratio)


def test_dropout_draws_from_numpys_global_generator(np_seed):
    x = np.ones((30, 30))
    np.random.seed(3)
    a = lay.Dropout(0.4).forward(x)
    np.random.seed(3)
    b = lay.Dropout(0.4).forward(x)
    np.testing.assert_array_equal(a, b)


@HYP
@given(
    ratio=st.floats(0.0, 0.9),
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_dropout_each_unit_is_zero_or_scaled_and_backward_reuses_the_mask(ratio, shape, seed):
    x = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    layer = lay.Dropout(ratio)
    out = layer.forward(x)  # whatever state np.random is in
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - ratio), rtol=1e-14)
    dx = layer.backward(np.ones(shape))
    np.testing.assert_array_equal(dx != 0, kept)


# ---------------------------------------------------------------------------------------------
# MultiLayerNetExtend (given module)
# ---------------------------------------------------------------------------------------------


def exact_loss(net, x, t) -> float:
    """Training-mode loss without the 1e-7 that cross_entropy_error adds inside the log."""
    s = net.predict(x, train_flg=True)
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    decay = sum(
        0.5 * net.weight_decay_lambda * np.sum(w**2) for k, w in net.params.items() if k[0] == "W"
    )
    return float(-logp[np.arange(len(t)), t].mean() + decay)


@pytest.mark.parametrize("use_batchnorm", [True, False])
def test_network_gradient_matches_finite_differences(use_batchnorm):
    rng = np.random.default_rng(21)
    net = net_mod.MultiLayerNetExtend(
        5, [4, 3], 3, weight_decay_lambda=0.1, use_batchnorm=use_batchnorm, seed=0
    )
    for k in net.params:  # move biases, gamma and beta away from 0 and 1
        if k[0] != "W":
            net.params[k] += rng.uniform(-0.5, 0.5, net.params[k].shape)
    x, t = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    grads = net.gradient(x, t)
    expected_keys = {f"{p}{i}" for i in (1, 2, 3) for p in "Wb"}
    if use_batchnorm:
        expected_keys |= {f"{p}{i}" for i in (1, 2) for p in ("gamma", "beta")}
    assert set(grads) == set(net.params) == expected_keys
    h = 1e-5
    for key, param in net.params.items():
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            keep = param[i]
            param[i] = keep + h
            plus = exact_loss(net, x, t)
            param[i] = keep - h
            minus = exact_loss(net, x, t)
            param[i] = keep
            numeric[i] = (plus - minus) / (2 * h)
        # b1 with batch norm: the true gradient is 0 (the mean is subtracted), hence atol
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-6, atol=1e-9, err_msg=key)


def test_network_rejects_other_activations():
    with pytest.raises(ValueError):
        net_mod.MultiLayerNetExtend(4, [3], 2, activation="sigmoid")


def test_network_initialisation_is_seeded_and_scaled():
    a = net_mod.MultiLayerNetExtend(64, [100], 10, seed=1)
    b = net_mod.MultiLayerNetExtend(64, [100], 10, seed=1)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert abs(a.params["W1"].std() - np.sqrt(2 / 64)) < 0.01  # He initialisation
    c = net_mod.MultiLayerNetExtend(64, [100], 10, weight_init_std=0.01, seed=1)
    assert abs(c.params["W1"].std() - 0.01) < 0.001


@pytest.mark.parametrize(
    ("options", "threshold"),
    [({"use_batchnorm": True, "weight_decay_lambda": 1e-4}, 0.93), ({"use_dropout": True}, 0.9)],
)
@pytest.mark.slow
def test_network_learns_the_digits(np_seed, options, threshold):
    """Adam on sklearn's 8x8 digits, 600 iterations of 100: test accuracy well above chance."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, t = digits.data / 16.0, digits.target
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1300], order[1300:]
    net = net_mod.MultiLayerNetExtend(64, [50, 50], 10, dropout_ratio=0.2, seed=0, **options)
    optimizer = opt.Adam(lr=0.01)
    rng = np.random.default_rng(1)
    for _ in range(600):
        batch = rng.choice(train, 100)
        optimizer.update(net.params, net.gradient(x[batch], t[batch]))
    assert net.accuracy(x[test], t[test]) >= threshold
    one_hot = np.eye(10)[t[test]]
    assert net.accuracy(x[test], one_hot) == net.accuracy(x[test], t[test])


# ---------------------------------------------------------------------------------------------
# MISTAKES.md: realistic mistakes as mutants, and the probes a hidden grader makes
# ---------------------------------------------------------------------------------------------

SOLUTION_DIR = load("optim_reg").solution_dir
MISTAKES = mistakes.load(SOLUTION_DIR / "MISTAKES.md")


def build_variant(tmp_path: Path, mistake: mistakes.Mistake) -> ModuleType:
    """The reference with the mistake's edits made (each inside a solution region), imported."""
    folder = tmp_path / "optim_reg"
    shutil.copytree(SOLUTION_DIR, folder)  # follows the base_layers.py symlink
    files = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.py")}
    for name, text in mistake.apply(files).items():  # each edit inside a solution region
        (folder / name).write_text(text, encoding="utf-8")
    package = import_package(folder, f"_variant_test_optim_reg_{mistake.name.replace('-', '_')}")
    for name in ("optimizers", "layers"):
        importlib.import_module(f"{package.__name__}.{name}")
    return package


def optimizer_error(module, name: str, hp: dict, scale: float, seed: int) -> float:
    """Largest error against the reference relative to the reference's displacement.

    Read from the caller's original arrays, so an update that rebinds the dict's entries
    instead of changing them in place shows as no movement at all.
    """
    gs = grad_sequence(seed, scale)
    p0 = initial_params(seed + 1)
    expected = run_reference(name, hp, p0, lambda i, p: gs[i])
    params = {k: v.copy() for k, v in p0.items()}
    originals = dict(params)
    optimizer = getattr(module.optimizers, name)(**hp)
    for g in gs:
        optimizer.update(params, {k: v.copy() for k, v in g.items()})
    errors = [max_rel(originals[k] - p0[k], expected[k] - p0[k]) for k in p0]
    return float(np.nan_to_num(np.max(errors), nan=np.inf))


# eps large enough to decide, as in the graders' eps cases; Adam's beta2 = 0 makes v_hat = v,
# where the textbook's lr_t form (eps on the raw sqrt(v)) is exactly the contract's
EPS_CASES = {"AdaGrad": {"eps": 0.1}, "RMSprop": {"eps": 0.1}, "Adam": {"beta2": 0.0, "eps": 0.1}}


def probe_optimizer(module, name: str) -> bool:
    """True when the optimizer passes: defaults and non-default values, two gradient scales,
    and a large eps for the adaptive ones."""
    rtol = EXACT_RTOL if name in ("SGD", "Momentum", "Nesterov") else ADAPTIVE_RTOL
    cases = [({}, 1.0), (dict(OPTIMIZERS)[name], 1.0), (dict(OPTIMIZERS)[name], 0.2)]
    cases += [(EPS_CASES[name], 1.0)] if name in EPS_CASES else []
    return all(
        optimizer_error(module, name, hp, s, 31 + i) <= rtol for i, (hp, s) in enumerate(cases)
    )


def probe_batchnorm(module) -> bool:
    """True when forward (train and eval), running statistics and backward match the reference."""
    rng = np.random.default_rng(41)
    for shape in ((6, 4), (3, 2, 3, 2)):
        x, gamma, beta, rm, rv = bn_case(rng, shape)
        x[:, 0] = 1.0 + 0.01 * x[:, 0]  # one feature with a small variance
        results = []
        for mod in (lay, module.layers):
            bn = mod.BatchNormalization(gamma.copy(), beta.copy(), 0.8, rm.copy(), rv.copy())
            outs = [bn.forward(x * (i + 1), train_flg=True) for i in range(2)]
            outs += [bn.running_mean, bn.running_var, bn.forward(x, train_flg=False)]
            bn.forward(x, train_flg=True)
            outs += [bn.backward(np.cos(x)), bn.dgamma, bn.dbeta]
            results.append(outs)
        for ref, got in zip(*results, strict=True):
            got = np.asarray(got)
            if got.shape != ref.shape or not max_rel(got, ref) <= 1e-7:
                return False
    return True


def probe_dropout(module) -> bool:
    """True when every property check passes, including the ValueError cases."""
    state = np.random.get_state()
    np.random.seed(99)
    try:
        for ratio in (-0.1, 1.0):
            with pytest.raises(ValueError):
                module.layers.Dropout(ratio)
        for ratio in (0.0, 0.3, 0.8):
            check_dropout(module.layers, ratio, shape=(100, 200))
    except (AssertionError, pytest.fail.Exception):
        return False
    finally:
        np.random.set_state(state)
    return True


PART_PROBES = {
    "sgd": lambda m: probe_optimizer(m, "SGD"),
    "momentum": lambda m: probe_optimizer(m, "Momentum"),
    "nesterov": lambda m: probe_optimizer(m, "Nesterov"),
    "adagrad": lambda m: probe_optimizer(m, "AdaGrad"),
    "rmsprop": lambda m: probe_optimizer(m, "RMSprop"),
    "adam": lambda m: probe_optimizer(m, "Adam"),
    "batchnorm": probe_batchnorm,
    "dropout": probe_dropout,
}


def test_mistakes_cover_every_part_twice():
    parts = load("optim_reg").parts
    assert set(PART_PROBES) == set(parts)
    text = (SOLUTION_DIR / "MISTAKES.md").read_text(encoding="utf-8")
    assert len(MISTAKES) == text.count("\n## ")  # every entry parsed
    assert len({m.name for m in MISTAKES}) == len(MISTAKES)
    for part in parts:
        assert sum(m.part == part and m.is_mistake for m in MISTAKES) >= 2, part
    assert all(len(m.edits) == 1 for m in MISTAKES)  # one contiguous edit each


def test_graders_name_known_mistakes_of_this_assignment():
    """A grader that recognises a mistake by a property (``grade.known_mistake(name)``)
    shows the entry's why: every name it gives is a mistake of MISTAKES.md."""
    graders = Path(mistakes.__file__).parent / "graders" / "optim_reg"
    named = {
        name
        for path in graders.glob("test_*.py")
        for name in re.findall(r"known_mistake\(\s*\"([^\"]+)\"", path.read_text("utf-8"))
    }
    assert named, "the dropout graders name mistakes"
    assert named <= {m.name for m in MISTAKES if m.is_mistake}


def test_reference_passes_every_probe():
    package = sys.modules["_reference_optim_reg"]
    for part, probe in PART_PROBES.items():
        assert probe(package), part


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_mistake_is_caught_or_accepted_as_declared(tmp_path, mistake):
    package = build_variant(tmp_path, mistake)
    try:
        with np.errstate(all="ignore"):
            passed = PART_PROBES[mistake.part](package)
    except Exception:  # a variant that raises fails its part
        passed = False
    finally:
        for name in [n for n in sys.modules if n.startswith(package.__name__)]:
            del sys.modules[name]
    assert passed != mistake.is_mistake
