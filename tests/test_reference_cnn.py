"""Oracle tests of the `cnn` reference solution (solutions/cnn), against PyTorch, finite
differences and the lecture's examples. Everything in float64.

Run one part with -k: `pytest tests/test_reference_cnn.py -k pooling`.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import mistakes
from autograder.course import load
from autograder.reference_oracle import module as reference_module

conv = reference_module("cnn", "conv")
pooling = reference_module("cnn", "pooling")
kernels = reference_module("cnn", "kernels")
params = reference_module("cnn", "params")
simple_convnet = reference_module("cnn", "simple_convnet")
resnet = reference_module("cnn", "resnet")

torch.set_num_threads(1)
FAST = settings(deadline=None, max_examples=30)
TOL = {"rtol": 1e-10, "atol": 1e-12}


def tt(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """A float64 tensor copy of a numpy array."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar f() with respect to x, which f reads (changed in place)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f()
        x[idx] = old - h
        f_minus = f()
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the largest entry of either."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


# ---------------------------------------------------------------- strategies


@st.composite
def conv_cases(draw):
    """A random convolution: arrays x, W, b, dout and its stride and pad (output >= 1x1)."""
    n, c, fn = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, fh - 2 * pad), 7))
    w = draw(st.integers(max(1, fw - 2 * pad), 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    return {
        "x": rng.standard_normal((n, c, h, w)),
        "W": rng.standard_normal((fn, c, fh, fw)),
        "b": rng.standard_normal(fn),
        "dout": rng.standard_normal((n, fn, oh, ow)),
        "stride": stride,
        "pad": pad,
    }


@st.composite
def pool_cases(draw, ties: bool = False):
    """A random pooling: x, dout, window, stride, pad (pad <= half the window, as torch needs)."""
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, min(ph, pw) // 2))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, ph - 2 * pad), 7))
    w = draw(st.integers(max(1, pw - 2 * pad), 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (
        rng.integers(-2, 3, (n, c, h, w)).astype(np.float64)
        if ties
        else rng.standard_normal((n, c, h, w))
    )
    oh, ow = (h + 2 * pad - ph) // stride + 1, (w + 2 * pad - pw) // stride + 1
    return {
        "x": x,
        "dout": rng.standard_normal((n, c, oh, ow)),
        "ph": ph,
        "pw": pw,
        "stride": stride,
        "pad": pad,
    }


# ---------------------------------------------------------------- conv_output_size


@pytest.mark.slow
@FAST
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 5), st.integers(0, 4))
def test_conv_output_size_counts_the_windows(i, k, s, p):
    starts = range(0, i + 2 * p - k + 1, s)  # every window's first row in the padded input
    if len(starts) == 0:
        with pytest.raises(ValueError):
            conv.conv_output_size(i, k, s, p)
    else:
        assert conv.conv_output_size(i, k, s, p) == len(starts) == (i - k + 2 * p) // s + 1


def test_conv_output_size_examples():
    assert conv.conv_output_size(28, 5) == 24  # the textbook's MNIST conv
    assert conv.conv_output_size(32, 3, 1, 1) == 32  # "same" padding
    assert conv.conv_output_size(7, 3, 2) == 3
    assert conv.conv_output_size(8, 3, 2) == 3  # floor
    assert conv.conv_output_size(4, 6, 1, 1) == 1
    assert type(conv.conv_output_size(5, 3)) is int


@pytest.mark.parametrize(
    "args", [(5, 3, 0, 0), (5, 3, -1, 0), (5, 3, 1, -1), (3, 5, 1, 0), (2, 5, 2, 1), (3, 6, 2, 1)]
)
def test_conv_output_size_errors(args):
    with pytest.raises(ValueError):
        conv.conv_output_size(*args)


# ---------------------------------------------------------------- corr2d


def test_corr2d_d2l_example():
    X = np.arange(9.0).reshape(3, 3)
    K = np.array([[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(conv.corr2d(X, K), [[19.0, 25.0], [37.0, 43.0]])


@FAST
@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 4),
    st.integers(0, 4),
    st.integers(0, 2**32 - 1),
)
def test_corr2d_matches_torch(kh, kw, extra_h, extra_w, seed):
    rng = np.random.default_rng(seed)
    X, K = rng.standard_normal((kh + extra_h, kw + extra_w)), rng.standard_normal((kh, kw))
    expected = F.conv2d(tt(X)[None, None], tt(K)[None, None])[0, 0].numpy()
    Y = conv.corr2d(X, K)
    assert Y.shape == (extra_h + 1, extra_w + 1) and Y.dtype == np.float64
    np.testing.assert_allclose(Y, expected, **TOL)


def test_corr2d_is_not_flipped():
    X = np.zeros((3, 3))
    X[0, 0] = 1.0
    K = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert conv.corr2d(X, K)[0, 0] == 1.0  # a convolution (flipped kernel) would give 4


# ---------------------------------------------------------------- conv2d


@FAST
@given(conv_cases())
def test_conv2d_matches_torch(case):
    x, W, b, s, p = case["x"], case["W"], case["b"], case["stride"], case["pad"]
    expected = F.conv2d(tt(x), tt(W), tt(b), stride=s, padding=p).numpy()
    out = conv.conv2d(x, W, b, stride=s, pad=p)
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, **TOL)


def test_conv2d_defaults_and_input_untouched():
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    x0 = x.copy()
    np.testing.assert_allclose(conv.conv2d(x, W, b), F.conv2d(tt(x), tt(W), tt(b)).numpy(), **TOL)
    np.testing.assert_array_equal(x, x0)


# ---------------------------------------------------------------- im2col / col2im


def torch_unfold(x: np.ndarray, fh: int, fw: int, s: int, p: int) -> np.ndarray:
    u = F.unfold(tt(x), (fh, fw), padding=p, stride=s)  # (N, C*FH*FW, L)
    return u.permute(0, 2, 1).reshape(-1, u.shape[1]).numpy()


@FAST
@given(conv_cases())
def test_im2col_matches_unfold(case):
    x, s, p = case["x"], case["stride"], case["pad"]
    fh, fw = case["W"].shape[2:]
    col = conv.im2col(x, fh, fw, s, p)
    assert col.dtype == np.float64
    np.testing.assert_array_equal(col, torch_unfold(x, fh, fw, s, p))


def test_im2col_row_order_example():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float64).reshape(2, 2, 3, 3)
    col = conv.im2col(x, 2, 2)
    assert col.shape == (2 * 2 * 2, 2 * 2 * 2)
    # row n*OH*OW + i*OW + j = output position (n, i, j); columns in (c, kh, kw) order
    np.testing.assert_array_equal(col[0], [0, 1, 3, 4, 9, 10, 12, 13])
    np.testing.assert_array_equal(col[5], x[1, :, 0:2, 1:3].ravel())


@FAST
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    x, s, p = case["x"], case["stride"], case["pad"]
    fh, fw = case["W"].shape[2:]
    col = conv.im2col(x, fh, fw, s, p)
    y = np.random.default_rng(seed).standard_normal(col.shape)
    back = conv.col2im(y, x.shape, fh, fw, s, p)
    assert back.shape == x.shape and back.dtype == np.float64
    np.testing.assert_allclose(np.sum(col * y), np.sum(x * back), rtol=1e-11, atol=1e-11)
    folded = F.fold(
        tt(y).reshape(x.shape[0], -1, y.shape[1]).permute(0, 2, 1),
        output_size=x.shape[2:],
        kernel_size=(fh, fw),
        padding=p,
        stride=s,
    )
    np.testing.assert_allclose(back, folded.numpy(), **TOL)


def test_col2im_adds_overlaps():
    x_shape = (1, 1, 3, 3)
    back = conv.col2im(np.ones((4, 4)), x_shape, 2, 2)  # 2x2 windows, stride 1
    np.testing.assert_array_equal(back[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


# ---------------------------------------------------------------- Convolution layer


@pytest.mark.slow
@FAST
@given(conv_cases())
def test_convolution_matches_torch_autograd(case):
    x, W, b, dout, s, p = (case[k] for k in ("x", "W", "b", "dout", "stride", "pad"))
    layer = conv.Convolution(W, b, stride=s, pad=p)
    out = layer.forward(x)
    dx = layer.backward(dout)
    xt, Wt, bt = tt(x, True), tt(W, True), tt(b, True)
    yt = F.conv2d(xt, Wt, bt, stride=s, padding=p)
    gx, gW, gb = torch.autograd.grad(yt, (xt, Wt, bt), tt(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), **TOL)
    for mine, theirs in ((dx, gx), (layer.dW, gW), (layer.db, gb)):
        assert mine.shape == theirs.shape and mine.dtype == np.float64
        np.testing.assert_allclose(mine, theirs.numpy(), **TOL)


@pytest.mark.parametrize(
    "shape, fshape, stride, pad",
    [
        ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
        ((1, 2, 6, 5), (3, 2, 2, 3), 2, 0),
        ((2, 1, 4, 4), (2, 1, 3, 3), 2, 2),
    ],
)
def test_convolution_backward_vs_finite_differences(shape, fshape, stride, pad):
    rng = np.random.default_rng(3)
    x, W = rng.standard_normal(shape), rng.standard_normal(fshape)
    b = rng.standard_normal(fshape[0])
    layer = conv.Convolution(W, b, stride, pad)
    dout = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)

    def f():
        return float(np.sum(layer.forward(x) * dout))

    # the layer holds references to W and b: changing them in place is seen by forward
    for analytic, wrt in ((dx, x), (layer.dW, W), (layer.db, b)):
        assert rel_error(analytic, numerical_gradient(f, wrt)) < 1e-9


# ---------------------------------------------------------------- pool2d


def test_pool2d_lecture_example():
    X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    np.testing.assert_array_equal(pooling.pool2d(X, (2, 2)), [[4.0, 5.0], [7.0, 8.0]])
    np.testing.assert_array_equal(pooling.pool2d(X, (2, 2), "avg"), [[2.0, 3.0], [5.0, 6.0]])
    np.testing.assert_array_equal(pooling.pool2d(X, 2), [[4.0, 5.0], [7.0, 8.0]])


@FAST
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 4),
    st.integers(0, 4),
    st.sampled_from(["max", "avg"]),
    st.integers(0, 2**32 - 1),
)
def test_pool2d_matches_torch(ph, pw, extra_h, extra_w, mode, seed):
    X = np.random.default_rng(seed).standard_normal((ph + extra_h, pw + extra_w))
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    expected = pool(tt(X)[None, None], (ph, pw), stride=1)[0, 0].numpy()
    np.testing.assert_allclose(pooling.pool2d(X, (ph, pw), mode), expected, **TOL)
    if ph == pw:
        np.testing.assert_allclose(pooling.pool2d(X, ph, mode), expected, **TOL)


@pytest.mark.parametrize("mode", ["min", "mean", "average", "", None])
def test_pool2d_rejects_other_modes(mode):
    with pytest.raises(ValueError):
        pooling.pool2d(np.zeros((3, 3)), 2, mode)


# ---------------------------------------------------------------- Pooling layer


def torch_pool(case, mode, x=None):
    """torch's forward and input gradient for a pool case."""
    xt = tt(case["x"] if x is None else x, True)
    kw = {"kernel_size": (case["ph"], case["pw"]), "stride": case["stride"], "padding": case["pad"]}
    yt = F.max_pool2d(xt, **kw) if mode == "max" else F.avg_pool2d(xt, count_include_pad=True, **kw)
    (gx,) = torch.autograd.grad(yt, xt, tt(case["dout"]))
    return yt.detach().numpy(), gx.numpy()


def check_pooling_vs_torch(case, mode):
    layer = pooling.Pooling(
        case["ph"], case["pw"], stride=case["stride"], pad=case["pad"], mode=mode
    )
    out = layer.forward(case["x"])
    dx = layer.backward(case["dout"])
    expected_out, expected_dx = torch_pool(case, mode)
    assert out.shape == expected_out.shape and dx.shape == case["x"].shape
    np.testing.assert_allclose(out, expected_out, **TOL)
    np.testing.assert_allclose(dx, expected_dx, **TOL)


@FAST
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pooling_matches_torch(case, mode):
    check_pooling_vs_torch(case, mode)


@FAST
@given(pool_cases(ties=True))
def test_max_pooling_ties_go_to_the_first_maximum(case):
    check_pooling_vs_torch(case, "max")  # small integers: many ties, torch picks the first


def test_max_pooling_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))  # every real value below the zero padding
    layer = pooling.Pooling(2, 2, stride=1, pad=1)
    np.testing.assert_array_equal(layer.forward(x), -np.ones((1, 1, 3, 3)))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 3, 3)))[0, 0], [[4, 2], [2, 1]])


def test_avg_pooling_counts_padding():
    layer = pooling.Pooling(2, 2, stride=2, pad=1, mode="avg")
    out = layer.forward(np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(out[0, 0], [[0.25, 0.25], [0.25, 0.25]], **TOL)


def test_pooling_defaults_are_stride_1_max():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out = pooling.Pooling(2, 2).forward(x)
    np.testing.assert_array_equal(out, F.max_pool2d(tt(x), 2, stride=1).numpy())


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(
    "shape, ph, pw, stride, pad",
    [
        ((2, 2, 4, 4), 2, 2, 2, 0),
        ((1, 2, 5, 6), 3, 2, 1, 1),
        ((2, 1, 5, 5), 3, 3, 2, 1),
    ],
)
def test_pooling_backward_vs_finite_differences(mode, shape, ph, pw, stride, pad):
    rng = np.random.default_rng(5)
    # distinct values 0.1 apart: a step of 1e-5 never changes which cell is the maximum
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 - 1.0
    layer = pooling.Pooling(ph, pw, stride, pad, mode)
    dout = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    num = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), x)
    assert rel_error(dx, num) < 1e-9


def test_pooling_rejects_other_modes():
    with pytest.raises(ValueError):
        pooling.Pooling(2, 2, mode="min")


# ---------------------------------------------------------------- kernels


def test_kernels_table():
    K = kernels.KERNELS
    expected = {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "edge4": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
        "edge8": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "box_blur": np.ones((3, 3)) / 9,
        "gaussian3": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
        "gaussian5": np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256,
    }
    assert set(K) == set(expected)
    for name, value in expected.items():
        assert K[name].dtype == np.float64, name
        np.testing.assert_allclose(K[name], value, rtol=1e-15, atol=0, err_msg=name)
    assert K["gaussian5"][2, 2] == 36 / 256 and K["gaussian5"][0, 1] == 4 / 256
    for name in ("identity", "sharpen", "box_blur", "gaussian3", "gaussian5"):
        assert np.isclose(K[name].sum(), 1.0), name  # keep the brightness
    for name in ("edge4", "edge8"):
        assert K[name].sum() == 0.0, name  # flat regions go to 0


def torch_filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Same-size zero-padded cross-correlation, each channel on its own, by torch."""
    kh, kw = kernel.shape
    chw = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    c = chw.shape[0]
    weight = tt(np.repeat(kernel[None, None], c, axis=0))  # (C, 1, kh, kw): one filter a channel
    out = F.conv2d(tt(chw)[None], weight, padding=(kh // 2, kw // 2), groups=c)[0].numpy()
    return out[0] if image.ndim == 2 else out.transpose(1, 2, 0)


@FAST
@given(
    st.sampled_from(sorted(kernels.KERNELS)),
    st.booleans(),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(0, 2**32 - 1),
)
def test_filter_image_matches_torch(name, colour, h, w, seed):
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3) if colour else (h, w))
    kernel = kernels.KERNELS[name]
    out = kernels.filter_image(image, kernel)
    assert out.shape == image.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, torch_filter(image, kernel), **TOL)


def test_filter_image_channels_are_independent_and_not_clipped():
    rng = np.random.default_rng(7)
    image = rng.random((6, 7, 3))
    out = kernels.filter_image(image, kernels.KERNELS["sharpen"])
    for ch in range(3):
        np.testing.assert_allclose(
            out[..., ch], kernels.filter_image(image[..., ch], kernels.KERNELS["sharpen"]), **TOL
        )
    assert out.max() > 1.0 and out.min() < 0.0  # sharpening overshoots; nothing is clipped
    np.testing.assert_array_equal(kernels.filter_image(image, kernels.KERNELS["identity"]), image)


def test_filter_image_non_square_kernel_and_integer_image():
    rng = np.random.default_rng(8)
    image = rng.integers(0, 256, (5, 6)).astype(np.uint8)
    kernel = rng.standard_normal((3, 5))
    np.testing.assert_allclose(
        kernels.filter_image(image, kernel), torch_filter(image.astype(np.float64), kernel), **TOL
    )


# ---------------------------------------------------------------- params


def test_params_lecture_numbers():
    assert params.dense_params(32 * 32 * 3, 128) == 393_344
    assert params.conv2d_params(3, 32, 3) == 896
    assert params.conv2d_params(3, 32, (3, 3)) == 896


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@FAST
@given(st.integers(1, 300), st.integers(1, 300), st.booleans())
def test_dense_params_match_torch(d_in, d_out, bias):
    expected = count(torch.nn.Linear(d_in, d_out, bias=bias, device="meta"))
    assert params.dense_params(d_in, d_out, bias=bias) == expected
    assert params.dense_params(d_in, d_out, bias) == expected


@FAST
@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 7), st.integers(1, 7), st.booleans())
def test_conv2d_params_match_torch(c_in, c_out, kh, kw, bias):
    expected = count(torch.nn.Conv2d(c_in, c_out, (kh, kw), bias=bias, device="meta"))
    assert params.conv2d_params(c_in, c_out, (kh, kw), bias=bias) == expected
    square = count(torch.nn.Conv2d(c_in, c_out, kh, bias=bias, device="meta"))
    assert params.conv2d_params(c_in, c_out, kh, bias) == square


# ---------------------------------------------------------------- SimpleConvNet

TINY = {
    "input_dim": (2, 6, 5),
    "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
    "hidden_size": 5,
    "output_size": 4,
    "weight_init_std": 0.5,
}


def tiny_net(seed: int = 0):
    return simple_convnet.SimpleConvNet(**TINY, seed=seed)


def tiny_data(n: int = 3, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2, 6, 5)), rng.integers(0, 4, n)


def torch_net_loss(p: dict, x: np.ndarray, t: np.ndarray, stride: int = 1, pad: int = 1):
    """SimpleConvNet in torch: exact cross-entropy (no 1e-7 in the log). -> loss, grads."""
    pt = {k: tt(v, True) for k, v in p.items()}
    h = F.max_pool2d(
        F.relu(F.conv2d(tt(x), pt["W1"], pt["b1"], stride=stride, padding=pad)), 2, stride=2
    )
    h = F.relu(F.linear(h.flatten(1), pt["W2"].T, pt["b2"]))
    loss = F.cross_entropy(F.linear(h, pt["W3"].T, pt["b3"]), torch.tensor(t))
    grads = torch.autograd.grad(loss, list(pt.values()))
    return loss.item(), {k: g.numpy() for k, g in zip(pt, grads, strict=True)}


def test_simple_convnet_param_shapes_and_seed():
    net = simple_convnet.SimpleConvNet(seed=3)  # the textbook's MNIST setup
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {
        "W1": (30, 1, 5, 5),
        "b1": (30,),
        "W2": (30 * 12 * 12, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(v.dtype == np.float64 for v in net.params.values())
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(net.params["W1"], 0.01 * rng.standard_normal((30, 1, 5, 5)))
    np.testing.assert_array_equal(net.params["W2"], 0.01 * rng.standard_normal((4320, 100)))
    assert not net.params["b1"].any() and not net.params["b3"].any()
    same, other = simple_convnet.SimpleConvNet(seed=3), simple_convnet.SimpleConvNet(seed=4)
    np.testing.assert_array_equal(same.params["W3"], net.params["W3"])
    assert not np.array_equal(other.params["W3"], net.params["W3"])


def test_simple_convnet_odd_sizes():
    # conv 5x7 -> pool 2x3 (floor): W2 has 4*2*3 rows
    net = simple_convnet.SimpleConvNet(
        input_dim=(2, 7, 9),
        conv_param={"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1},
        hidden_size=6,
        seed=0,
    )
    assert net.params["W2"].shape == (24, 6)
    assert net.predict(np.zeros((3, 2, 7, 9))).shape == (3, 10)
    net = simple_convnet.SimpleConvNet(
        input_dim=(1, 9, 9),
        conv_param={"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 2},
        hidden_size=6,
        seed=0,
    )
    assert net.params["W2"].shape == (2 * 2 * 2, 6)  # conv 5x5 -> pool 2x2


def test_simple_convnet_gradient_vs_finite_differences():
    net = tiny_net()
    x, t = tiny_data()
    grads = net.gradient(x, t)
    assert set(grads) == set(net.params)

    def exact_loss():  # the cross-entropy itself; the given layer adds 1e-7 inside the log
        scores = net.predict(x)
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return float(-np.mean(log_p[np.arange(len(t)), t]))

    for key, value in net.params.items():
        assert grads[key].shape == value.shape, key
        assert rel_error(grads[key], numerical_gradient(exact_loss, value)) < 1e-6, key


def test_simple_convnet_matches_torch():
    net = tiny_net(seed=2)
    x, t = tiny_data(n=5, seed=3)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    expected_loss, expected = torch_net_loss(net.params, x, t)
    assert loss == pytest.approx(expected_loss, rel=1e-5)  # 1e-7 in the given log
    for key in net.params:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_simple_convnet_one_hot_labels():
    net = tiny_net()
    x, t = tiny_data(n=4)
    one_hot = np.eye(4)[t]
    assert net.loss(x, one_hot) == net.loss(x, t)
    g_int, g_hot = net.gradient(x, t), net.gradient(x, one_hot)
    for key in net.params:
        np.testing.assert_allclose(g_hot[key], g_int[key], rtol=1e-13, atol=1e-15)


def test_simple_convnet_sees_params_set_in_place():
    net = tiny_net()
    x, t = tiny_data(n=4)
    rng = np.random.default_rng(9)
    for value in net.params.values():
        value[...] = 0.3 * rng.standard_normal(value.shape)  # what the graders do
    expected_loss, expected = torch_net_loss(net.params, x, t)
    assert net.loss(x, t) == pytest.approx(expected_loss, rel=1e-5)
    grads = net.gradient(x, t)
    for key in net.params:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_simple_convnet_accuracy_counts_the_last_partial_batch():
    net = tiny_net()
    x, _ = tiny_data(n=7)
    predicted = np.argmax(net.predict(x), axis=1)
    assert net.accuracy(x, predicted, batch_size=3) == 1.0  # the textbook's gives 6/7
    wrong = predicted.copy()
    wrong[-1] = (wrong[-1] + 1) % 4
    assert net.accuracy(x, wrong, batch_size=3) == pytest.approx(6 / 7)
    assert net.accuracy(x, np.eye(4)[wrong], batch_size=100) == pytest.approx(6 / 7)


# ---------------------------------------------------------------- Residual


def randomised(block: torch.nn.Module) -> torch.nn.Module:
    """The block in float64 with random batch-norm parameters and running statistics."""
    block = block.double()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            for tensor in (bn.weight, bn.bias, bn.running_mean):
                tensor.copy_(torch.randn(tensor.shape, generator=g, dtype=torch.float64))
            bn.running_var.copy_(
                torch.rand(bn.running_var.shape, generator=g, dtype=torch.float64) + 0.5
            )
    return block


def manual_residual(block, X: torch.Tensor, stride: int, training: bool) -> torch.Tensor:
    """He et al.'s Figure 2 written out with torch.nn.functional and the block's tensors."""

    def bn(y, m):
        return F.batch_norm(
            y,
            m.running_mean.clone(),
            m.running_var.clone(),
            m.weight,
            m.bias,
            training=training,
            eps=m.eps,
        )

    c1, c2, c3 = block.conv1, block.conv2, block.conv3
    y = F.relu(bn(F.conv2d(X, c1.weight, c1.bias, stride=stride, padding=1), block.bn1))
    y = bn(F.conv2d(y, c2.weight, c2.bias, padding=1), block.bn2)
    shortcut = X if c3 is None else F.conv2d(X, c3.weight, c3.bias, stride=stride)
    return F.relu(y + shortcut)


@pytest.mark.parametrize(
    "c_in, c_out, use_1x1conv, stride, size, out_size",
    [
        (3, 3, False, 1, 6, 6),
        (3, 6, True, 1, 6, 6),
        (3, 6, True, 2, 6, 3),
        (4, 8, True, 2, 7, 4),
    ],
)
@pytest.mark.parametrize("training", [True, False])
def test_residual_matches_manual_composition(
    c_in, c_out, use_1x1conv, stride, size, out_size, training
):
    torch.manual_seed(0)
    block = randomised(resnet.Residual(c_in, c_out, use_1x1conv=use_1x1conv, stride=stride))
    block.train(training)
    X = torch.randn(2, c_in, size, size, dtype=torch.float64)
    expected = manual_residual(block, X, stride, training)
    Y = block(X)
    assert Y.shape == (2, c_out, out_size, out_size)
    torch.testing.assert_close(Y, expected, rtol=1e-12, atol=1e-12)


def test_residual_layers():
    block = resnet.Residual(3, 6, use_1x1conv=True, stride=2)
    assert (block.conv1.kernel_size, block.conv1.padding, block.conv1.stride) == (
        (3, 3),
        (1, 1),
        (2, 2),
    )
    assert (block.conv2.kernel_size, block.conv2.padding, block.conv2.stride) == (
        (3, 3),
        (1, 1),
        (1, 1),
    )
    assert (block.conv3.kernel_size, block.conv3.stride) == ((1, 1), (2, 2))
    assert block.conv1.in_channels == 3 and block.conv2.in_channels == 6
    assert block.bn1.num_features == block.bn2.num_features == 6
    assert resnet.Residual(3, 3).conv3 is None


@pytest.mark.parametrize("c_in, c_out, use_1x1conv", [(3, 3, False), (3, 5, True)])
def test_residual_state_dict_layout(c_in, c_out, use_1x1conv):
    # graders load the reference's weights into the student's block: names and shapes must match
    def conv_keys(name, k, c):
        return {f"{name}.weight": (c_out, c, k, k), f"{name}.bias": (c_out,)}

    def bn_keys(name):
        stats = ("weight", "bias", "running_mean", "running_var")
        return {f"{name}.{s}": (c_out,) for s in stats} | {f"{name}.num_batches_tracked": ()}

    expected = (
        conv_keys("conv1", 3, c_in) | bn_keys("bn1") | conv_keys("conv2", 3, c_out) | bn_keys("bn2")
    )
    if use_1x1conv:
        expected |= conv_keys("conv3", 1, c_in)
    block = resnet.Residual(c_in, c_out, use_1x1conv=use_1x1conv, stride=2)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == expected
    n_params = sum(
        int(np.prod(shape)) for key, shape in expected.items() if key.endswith(("weight", "bias"))
    )
    assert sum(p.numel() for p in block.parameters()) == n_params  # no shared layer
    resnet.Residual(c_in, c_out, use_1x1conv=use_1x1conv).load_state_dict(block.state_dict())


# ---------------------------------------------------------------- MISTAKES.md

SOLUTION_DIR = load("cnn").solution_dir
MISTAKES = mistakes.load(SOLUTION_DIR / "MISTAKES.md")


def test_mistakes_file_is_well_formed():
    text = (SOLUTION_DIR / "MISTAKES.md").read_text(encoding="utf-8")
    assert len(MISTAKES) == text.count("\n## ")  # every entry parsed
    assert len({m.name for m in MISTAKES}) == len(MISTAKES)
    parts = load("cnn").parts
    assert {m.part for m in MISTAKES} <= set(parts)
    for part in parts:
        assert sum(m.part == part and m.is_mistake for m in MISTAKES) >= 1, part
    files = {p.name: p.read_text(encoding="utf-8") for p in SOLUTION_DIR.glob("*.py")}
    for mistake in MISTAKES:
        assert len(mistake.edits) == 1, mistake.name  # one contiguous edit each
        mistake.apply(files)  # NotApplicable unless once in its scope's regions, compiling
