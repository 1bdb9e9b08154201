"""Chapter 5 in scratch: convolution, pooling, reshaping and the Conv2D layer, against independent oracles.

NumPy only (this file must not import torch). The oracles:

* ``Conv2D_OpLoop``, the chapter's nested loops, for the vectorised ``Conv2D_Op`` (forward, input gradient,
  weight gradient) on a grid of batch sizes, channels, odd and even kernels, paddings, strides and
  non-square inputs, in float64 to 1e-12 relative (``test_readable_vs_fast.py`` compares its two ``impl``
  paths with each other);
* float64 central differences (``scratch.gradcheck``) for every component's backward;
* hand-made examples and a brute-force window loop for max pooling's tie rule (first maximum in row-major
  window order) and for overlapping windows.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pytest

from parity_tests.port import relative_error
from scratch import (
    AvgPool2D,
    ChannelBiasAdd,
    Conv2D,
    Conv2D_Op,
    Conv2D_OpLoop,
    Dense,
    Dropout,
    Flatten,
    Linear,
    MaxPool2D,
    Operation,
    ReLU,
    Reshape,
    Tanh,
    check_gradients,
    conv_output_size,
)

FD_RTOL = 1e-7  # central differences (eps 1e-6, float64) against the analytic gradients
LOOP_RTOL = 1e-12  # vectorised against loop version, float64


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (0 when both are all zero, ``port.relative_error``)."""
    return relative_error(a, b)


def assert_fd(component: Any, x: np.ndarray, rtol: float = FD_RTOL) -> None:
    result = check_gradients(component, x)
    errors = result.max_rel_error()
    for name, numeric in result.numeric.items():
        assert np.max(np.abs(numeric)) > 1e-6, f"{name}: numerical gradient is near zero"
    assert all(e <= rtol for e in errors.values()), errors


# ---------------------------------------------------------------------------------------------------------
# Conv2D_Op (vectorised) against Conv2D_OpLoop (the chapter's loops)
# ---------------------------------------------------------------------------------------------------------
PADDINGS: list[Any] = [None, 0, 1, 2, "same"]
GRID = [
    pytest.param(k, padding, stride, id=f"k{k}-pad{padding}-s{stride}")
    for k in (1, 2, 3, 5)
    for padding in PADDINGS
    for stride in (1, 2)
    if not (padding == "same" and stride > 1)
]


@pytest.mark.parametrize(("k", "padding", "stride"), GRID)
def test_vectorised_conv_matches_loop_version(k: int, padding: Any, stride: int) -> None:
    rng = np.random.default_rng(1000 * k + 10 * stride + PADDINGS.index(padding))
    height, width = k + 2, k + 1  # non-square, and never smaller than the kernel
    for n, c_in, c_out in itertools.product((1, 3), (1, 2), (1, 2)):
        W = rng.standard_normal((c_in, c_out, k, k))  # asymmetric kernels: a missing flip would show
        x = rng.standard_normal((n, c_in, height, width))
        fast = Conv2D_Op(W.copy(), padding=padding, stride=stride)
        slow = Conv2D_OpLoop(W.copy(), padding=padding, stride=stride)
        out_fast, out_slow = fast.forward(x), slow.forward(x)
        assert out_fast.shape == out_slow.shape
        expected_hw = (
            conv_output_size(height, k, padding, stride),
            conv_output_size(width, k, padding, stride),
        )
        assert out_fast.shape == (n, c_out, *expected_hw)
        G = rng.standard_normal(out_fast.shape)  # random upstream gradient: ones would hide a missing flip
        dx_fast, dx_slow = fast.backward(G), slow.backward(G)
        case = f"N={n} C_in={c_in} C_out={c_out}"
        assert rel_err(out_fast, out_slow) <= LOOP_RTOL, case
        assert rel_err(dx_fast, dx_slow) <= LOOP_RTOL, case
        assert rel_err(fast.param_grad, slow.param_grad) <= LOOP_RTOL, case
        assert dx_fast.shape == x.shape
        assert fast.param_grad.shape == W.shape


def test_conv_output_sizes() -> None:
    assert conv_output_size(28, 5) == 28  # the book's padding k // 2, odd k
    assert conv_output_size(28, 4) == 29  # k // 2 for even k: one more than the input
    assert conv_output_size(28, 4, "same") == 28  # torch's "same": (k - 1) // 2 before, k // 2 after
    assert conv_output_size(28, 3, 0) == 26
    assert conv_output_size(28, 3, 1, 2) == 14
    assert conv_output_size(7, 2, 0, 2) == 3  # floor((7 - 2) / 2) + 1


def test_same_padding_keeps_size_for_even_kernel() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 6, 9))
    op = Conv2D_Op(rng.standard_normal((2, 3, 4, 4)), padding="same")
    assert op.pads == (1, 2)
    assert op.forward(x).shape == (2, 3, 6, 9)


def test_conv_forward_by_hand() -> None:
    # a 1-channel 3x3 image, a 2x2 kernel, no padding: out[y, x] = Σ_ij x[y + i, x + j] W[i, j]
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    W = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    expected = np.array([[0 + 2 + 9 + 16, 1 + 4 + 12 + 20], [3 + 8 + 18 + 28, 4 + 10 + 21 + 32]], dtype=float)
    np.testing.assert_array_equal(Conv2D_Op(W, padding=0).forward(x)[0, 0], expected)
    np.testing.assert_array_equal(Conv2D_OpLoop(W, padding=0).forward(x)[0, 0], expected)


def test_conv_input_gradient_is_the_flipped_kernel_correlation() -> None:
    # stride 1, padding 0: dx = full correlation of G with the kernel rotated by 180°
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 1, 5, 5))
    W = rng.standard_normal((1, 1, 3, 3))
    op = Conv2D_Op(W, padding=0)
    G = rng.standard_normal(op.forward(x).shape)
    dx = op.backward(G)
    G_pad = np.pad(G[0, 0], 2)
    flipped = W[0, 0, ::-1, ::-1]
    expected = np.array([[np.sum(G_pad[u : u + 3, v : v + 3] * flipped) for v in range(5)] for u in range(5)])
    np.testing.assert_allclose(dx[0, 0], expected, rtol=1e-12, atol=1e-12)


def test_conv_weight_gradient_sums_over_the_batch() -> None:
    # the book's vectorised version paired rows of different samples when N > 1
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 2, 6, 5))
    W = rng.standard_normal((2, 3, 3, 3))
    G = rng.standard_normal((4, 3, 6, 5))
    whole = Conv2D_Op(W)
    whole.forward(x)
    whole.backward(G)
    total = np.zeros_like(W)
    for n in range(4):
        single = Conv2D_Op(W)
        single.forward(x[n : n + 1])
        single.backward(G[n : n + 1])
        total += single.param_grad
    np.testing.assert_allclose(whole.param_grad, total, rtol=1e-12, atol=1e-12)


def test_conv_workspaces_follow_shape_changes() -> None:
    # the vectorised op keeps its workspaces between calls: changing batch size, image size and dtype
    # must still give the loop version's answers, and backward must use the latest forward
    rng = np.random.default_rng(6)
    W = rng.standard_normal((2, 3, 3, 3))
    fast, slow = Conv2D_Op(W.copy(), stride=2), Conv2D_OpLoop(W.copy(), stride=2)
    for shape in [(3, 2, 7, 6), (1, 2, 7, 6), (2, 2, 5, 8), (3, 2, 7, 6)]:
        x = rng.standard_normal(shape)
        fast.forward(rng.standard_normal(shape))  # an earlier forward that backward must not use
        out = fast.forward(x)
        G = rng.standard_normal(out.shape)
        assert rel_err(out, slow.forward(x)) <= LOOP_RTOL
        assert rel_err(fast.backward(G), slow.backward(G)) <= LOOP_RTOL
        assert rel_err(fast.param_grad, slow.param_grad) <= LOOP_RTOL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_keeps_the_input_dtype(dtype: type) -> None:
    rng = np.random.default_rng(7)
    x64 = rng.standard_normal((2, 3, 6, 7))
    W64 = rng.standard_normal((3, 4, 3, 3))
    G64 = rng.standard_normal((2, 4, 6, 7))
    ref = Conv2D_Op(W64.copy())
    ref.forward(x64)
    ref.backward(G64)
    op = Conv2D_Op(W64.astype(dtype))
    out = op.forward(x64.astype(dtype))
    dx = op.backward(G64.astype(dtype))
    assert out.dtype == dtype
    assert dx.dtype == dtype
    assert op.param_grad.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert rel_err(out, ref.output) <= tol
    assert rel_err(dx, ref.input_grad) <= tol
    assert rel_err(op.param_grad, ref.param_grad) <= tol


# ---------------------------------------------------------------------------------------------------------
# Central differences (float64)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "padding", "stride", "shape"),
    [(3, None, 1, (2, 2, 5, 4)), (2, 1, 2, (2, 1, 5, 6)), (4, "same", 1, (1, 2, 5, 4)), (5, 2, 1, (1, 1, 4, 5))],
)
@pytest.mark.parametrize("impl", ["fast", "readable"])
def test_conv_op_central_differences(k: int, padding: Any, stride: int, shape: tuple[int, ...], impl: str) -> None:
    rng = np.random.default_rng(10 + k)
    op = Conv2D_Op(rng.standard_normal((shape[1], 2, k, k)), padding=padding, stride=stride, impl=impl)
    assert_fd(op, rng.standard_normal(shape))


def test_channel_bias_add_central_differences_and_values() -> None:
    rng = np.random.default_rng(11)
    B = rng.standard_normal((1, 3, 1, 1))
    op = ChannelBiasAdd(B)
    x = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_array_equal(op.forward(x), x + B)
    G = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(op.backward(G), G)
    np.testing.assert_allclose(op.param_grad, G.sum(axis=(0, 2, 3)).reshape(1, 3, 1, 1), rtol=1e-14)
    assert_fd(ChannelBiasAdd(B.copy()), x)


@pytest.mark.parametrize(("k", "stride"), [(2, None), (3, 2), (2, 1), (3, 1)])
def test_max_pool_central_differences(k: int, stride: int | None) -> None:
    rng = np.random.default_rng(12 + k)
    # distinct values spaced far more than the FD step apart: no tie and no winner change under ±1e-6
    x = rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7) * 0.01
    assert_fd(MaxPool2D(k, stride), x)


@pytest.mark.parametrize(("k", "stride"), [(2, None), (3, 2), (3, 1)])
def test_avg_pool_central_differences(k: int, stride: int | None) -> None:
    rng = np.random.default_rng(13 + k)
    assert_fd(AvgPool2D(k, stride), rng.standard_normal((2, 2, 6, 7)))


def test_flatten_and_reshape_central_differences() -> None:
    rng = np.random.default_rng(14)
    assert_fd(Flatten(), rng.standard_normal((2, 3, 2, 2)))
    assert_fd(Reshape((3, 2, 2)), rng.standard_normal((2, 12)))


def test_conv_layer_with_bias_and_dropout_central_differences() -> None:
    rng = np.random.default_rng(15)
    layer = Conv2D(3, 3, dropout=0.7, activation=Tanh(), flatten=True, bias=True, rng=1)
    x = rng.standard_normal((2, 2, 5, 4))
    layer.forward(x)  # builds W, B and draws the dropout mask that check_gradients then freezes
    assert_fd(layer, x)
    assert [type(op) for op in layer.operations] == [Conv2D_Op, ChannelBiasAdd, Tanh, Flatten, Dropout]


# ---------------------------------------------------------------------------------------------------------
# Pooling: values, tie rule, overlapping windows
# ---------------------------------------------------------------------------------------------------------
def brute_force_max_pool(x: np.ndarray, G: np.ndarray, k: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Window by window: ``np.argmax`` of the flattened window is its first maximum in row-major order."""
    out = np.zeros(G.shape)
    dx = np.zeros(x.shape)
    for n, c, y, xx in itertools.product(*(range(d) for d in G.shape)):
        window = x[n, c, y * s : y * s + k, xx * s : xx * s + k]
        t = int(np.argmax(window))
        out[n, c, y, xx] = window.flat[t]
        dx[n, c, y * s + t // k, xx * s + t % k] += G[n, c, y, xx]
    return out, dx


def test_max_pool_hand_made_ties_go_to_the_first_maximum() -> None:
    # four 2x2 windows; three hold tied maxima
    A = np.array(
        [
            [1.0, 5.0, 6.0, 4.0],
            [5.0, 3.0, 2.0, 5.0],
            [9.0, 1.0, 7.0, 7.0],
            [1.0, 9.0, 7.0, 7.0],
        ]
    ).reshape(1, 1, 4, 4)
    pool = MaxPool2D(2)
    np.testing.assert_array_equal(pool.forward(A)[0, 0], [[5.0, 6.0], [9.0, 7.0]])
    dx = pool.backward(np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2))
    expected = np.array(
        [
            [0.0, 10.0, 20.0, 0.0],  # top-left: 5 at (0, 1) comes before 5 at (1, 0)
            [0.0, 0.0, 0.0, 0.0],
            [30.0, 0.0, 40.0, 0.0],  # bottom-left: 9 at (0, 0) before (1, 1); bottom-right: all four tie
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_array_equal(dx[0, 0], expected)
    np.testing.assert_array_equal(pool.argmax[0, 0], [[1, 0], [0, 0]])


def test_avg_pool_by_hand() -> None:
    A = np.arange(16.0).reshape(1, 1, 4, 4)
    pool = AvgPool2D(2)
    np.testing.assert_array_equal(pool.forward(A)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(pool.backward(np.full((1, 1, 2, 2), 4.0)), np.ones((1, 1, 4, 4)))


@pytest.mark.parametrize(("k", "stride"), [(2, None), (2, 1), (3, 1), (3, 2), (2, 3)])
def test_max_pool_with_many_ties_matches_brute_force(k: int, stride: int | None) -> None:
    rng = np.random.default_rng(16 + k)
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(np.float64)  # values in {0, 1, 2}: ties everywhere
    pool = MaxPool2D(k, stride)
    out = pool.forward(x)
    G = rng.standard_normal(out.shape)
    expected_out, expected_dx = brute_force_max_pool(x, G, k, pool.stride)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(pool.backward(G), expected_dx, rtol=1e-14, atol=1e-14)


def test_overlapping_windows_accumulate() -> None:
    # a single large entry wins every 2x2 window containing it (stride 1): it collects all four gradients
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    pool = MaxPool2D(2, stride=1)
    np.testing.assert_array_equal(pool.forward(x), np.ones((1, 1, 2, 2)))
    dx = pool.backward(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2))
    assert dx[0, 0, 1, 1] == 10.0
    assert np.count_nonzero(dx) == 1
    avg = AvgPool2D(2, stride=1)
    avg.forward(x)
    np.testing.assert_array_equal(
        avg.backward(np.ones((1, 1, 2, 2)))[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
    )


@pytest.mark.parametrize("pool_cls", [MaxPool2D, AvgPool2D])
def test_pool_output_size_drops_the_remainder_and_keeps_dtype(pool_cls: type) -> None:
    x = np.random.default_rng(17).standard_normal((2, 3, 7, 9)).astype(np.float32)
    pool = pool_cls(3, 2)
    out = pool.forward(x)
    assert out.shape == (2, 3, 3, 4)
    assert out.dtype == np.float32
    dx = pool.backward(np.ones_like(out))
    assert dx.shape == x.shape
    assert dx.dtype == np.float32
    assert pool.output_size(7) == 3
    assert pool_cls(2).stride == 2


def test_flatten_and_reshape_round_trip() -> None:
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    flat = Flatten().forward(x)
    assert flat.shape == (2, 12)
    np.testing.assert_array_equal(flat[1], np.arange(12.0, 24.0))  # C order
    back = Reshape((3, 2, 2)).forward(flat)
    np.testing.assert_array_equal(back, x)
    assert Reshape(12).forward(flat).shape == (2, 12)


# ---------------------------------------------------------------------------------------------------------
# The Conv2D layer
# ---------------------------------------------------------------------------------------------------------
def test_conv_layer_builds_lazily_with_book_defaults() -> None:
    layer = Conv2D(4, 3, rng=0)
    x = np.random.default_rng(20).standard_normal((2, 3, 6, 5))
    out = layer.forward(x)
    assert out.shape == (2, 4, 6, 5)
    assert len(layer.params) == 1
    assert layer.params[0].shape == (3, 4, 3, 3)
    assert [type(op) for op in layer.operations] == [Conv2D_Op, Linear]
    assert layer.dropout_op is None
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape
    assert layer.param_grads[0].shape == (3, 4, 3, 3)
    conv_op = layer.operations[0]
    assert isinstance(conv_op, Conv2D_Op)
    assert layer.params[0] is conv_op.param  # optimizers update the op's array in place


def test_conv_layer_matches_its_operations() -> None:
    rng = np.random.default_rng(21)
    W, B = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((1, 3, 1, 1))
    layer = Conv2D(3, 3, activation=ReLU(), flatten=True, bias=True, padding=1, stride=2)
    layer.load_params([W, B])
    x = rng.standard_normal((2, 2, 7, 6))
    expected = np.maximum(Conv2D_OpLoop(W, padding=1, stride=2).forward(x) + B, 0).reshape(2, -1)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert [p.shape for p in layer.params] == [(2, 3, 3, 3), (1, 3, 1, 1)]


def test_conv_layer_load_params_after_setup_copies_in_place() -> None:
    rng = np.random.default_rng(22)
    layer = Conv2D(3, 3, bias=True, rng=0)
    layer.forward(rng.standard_normal((1, 2, 4, 4)))
    W_array = layer.params[0]
    new = [rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((1, 3, 1, 1))]
    layer.load_params(new)
    assert layer.params[0] is W_array
    np.testing.assert_array_equal(layer.params[0], new[0])
    np.testing.assert_array_equal(layer.params[1], new[1])


def test_conv_layer_glorot_std_counts_the_receptive_field() -> None:
    c_in, c_out, k = 16, 32, 3
    layer = Conv2D(c_out, k, weight_init="glorot", bias=True, rng=0)
    layer.forward(np.zeros((1, c_in, 8, 8)))
    expected = math.sqrt(2.0 / ((c_in + c_out) * k * k))  # torch.nn.init.xavier_normal_'s std
    assert layer.init_scale(c_in) == pytest.approx(expected)
    W = layer.params[0]
    assert W.size == 4608  # the sample std is within 1% of sigma (one standard error) typically
    assert abs(W.std() / expected - 1) < 0.05
    assert abs(W.mean()) < 4 * expected / math.sqrt(W.size)
    assert abs(2.0 / (c_in + c_out) / expected - 1) > 0.3  # the book's formula is a different scale
    normal = Conv2D(c_out, k, rng=0)
    normal.forward(np.zeros((1, c_in, 8, 8)))
    assert abs(normal.params[0].std() - 1.0) < 0.05


def test_conv_layers_do_not_share_the_default_activation() -> None:
    first, second = Conv2D(4, 3, rng=0), Conv2D(2, 3, rng=1)
    assert first.activation is not second.activation
    relu = ReLU()
    assert Conv2D(4, 3, activation=relu).activation is not relu
    # two layers in a row: a shared activation object would hold the second layer's input in backward
    x = np.random.default_rng(23).standard_normal((2, 1, 5, 5))
    h = first.forward(x)
    out = second.forward(h)
    dh = second.backward(np.ones_like(out))
    assert dh.shape == h.shape
    assert first.backward(dh).shape == x.shape


def test_conv_layer_float32() -> None:
    layer = Conv2D(2, 3, weight_init="glorot", flatten=True, rng=0)
    x = np.random.default_rng(24).standard_normal((2, 1, 5, 5)).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.params[0].dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert Dense(3).forward(out).shape == (2, 3)  # flatten=True feeds a Dense layer


# ---------------------------------------------------------------------------------------------------------
# Bad input: the exception and a message naming the argument, expected and received
# ---------------------------------------------------------------------------------------------------------
def _W(c_in: int = 2, c_out: int = 3, k: int = 3) -> np.ndarray:
    return np.ones((c_in, c_out, k, k))


def _x(*shape: int) -> np.ndarray:
    return np.ones(shape or (2, 2, 5, 5))


def _any(value: Any) -> Any:
    """A deliberately wrong argument, typed ``Any`` for mypy."""
    return value


ERRORS = [
    # Conv2D_Op / Conv2D_OpLoop
    pytest.param(
        lambda: Conv2D_Op(_W()).forward(_x(2, 5, 5)),
        ValueError,
        r"4-D array .*received shape \(2, 5, 5\)",
        id="conv input 3-D",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W()).forward(_x(2, 3, 5, 5)),
        ValueError,
        r"must have 2 channels.*\(2, 3, 5, 5\)",
        id="conv channels",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(k=5), padding=0).forward(_x(1, 2, 4, 6)),
        ValueError,
        r"at least 5x5 once padded.*4x6",
        id="conv kernel too large",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W()).forward(np.ones((2, 2, 5, 5), dtype=int)),
        TypeError,
        r"floating-point dtype.*int",
        id="conv int input",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W()).forward(_any([[1.0]])), TypeError, r"numpy.ndarray.*list", id="conv list input"
    ),
    pytest.param(lambda: Conv2D_Op(_W()).forward(_x() * np.nan), ValueError, r"finite", id="conv NaN input"),
    pytest.param(
        lambda: Conv2D_Op(_W(), stride=0), ValueError, r"stride must be an integer >= 1; received 0", id="conv stride 0"
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), stride=_any(1.5)),
        TypeError,
        r"stride must be an integer >= 1; received float",
        id="conv stride float",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), stride=_any(True)), TypeError, r"stride must be an integer", id="conv stride bool"
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), padding=-1), ValueError, r"padding must be .*received -1", id="conv padding -1"
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), padding="valid"), ValueError, r"padding must be .*'valid'", id="conv padding 'valid'"
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), padding=_any(1.0)), TypeError, r"padding must be .*float", id="conv padding float"
    ),
    pytest.param(
        lambda: Conv2D_Op(_W(), padding="same", stride=2),
        ValueError,
        r"padding='same' requires stride=1.*stride=2",
        id="conv same stride 2",
    ),
    pytest.param(lambda: Conv2D_Op(np.ones((2, 3, 3))), ValueError, r"W must be a 4-D array", id="conv W 3-D"),
    pytest.param(
        lambda: Conv2D_Op(np.ones((2, 3, 3, 2))), ValueError, r"square kernels.*\(2, 3, 3, 2\)", id="conv W non-square"
    ),
    pytest.param(
        lambda: Conv2D_Op(np.ones((2, 3, 3, 3), dtype=int)),
        TypeError,
        r"W must have a floating-point dtype",
        id="conv W int",
    ),
    pytest.param(
        lambda: Conv2D_OpLoop(_W(), padding="same", stride=2),
        ValueError,
        r"padding='same' requires stride=1",
        id="loop same stride 2",
    ),
    pytest.param(
        lambda: Conv2D_OpLoop(_W()).forward(_x(2, 1, 5, 5)), ValueError, r"must have 2 channels", id="loop channels"
    ),
    pytest.param(
        lambda: _forwarded(Conv2D_Op(_W())).backward(np.ones((2, 3, 4, 4))),
        ValueError,
        r"output_grad must have the output's shape \(2, 3, 5, 5\)",
        id="conv output_grad shape",
    ),
    pytest.param(
        lambda: Conv2D_Op(_W()).backward(np.ones((2, 3, 5, 5))),
        RuntimeError,
        r"backward called before forward",
        id="conv backward first",
    ),
    # ChannelBiasAdd
    pytest.param(
        lambda: ChannelBiasAdd(np.ones((1, 3))),
        ValueError,
        r"B must be a 4-D array \[1, channels, 1, 1\]",
        id="bias B shape",
    ),
    pytest.param(
        lambda: ChannelBiasAdd(np.ones((2, 3, 1, 1))),
        ValueError,
        r"\[1, channels, 1, 1\]; received shape \(2, 3, 1, 1\)",
        id="bias B not [1,C,1,1]",
    ),
    pytest.param(
        lambda: ChannelBiasAdd(np.ones((1, 3, 1, 1))).forward(_x()),
        ValueError,
        r"must have 3 channels.*\(2, 2, 5, 5\)",
        id="bias channels",
    ),
    pytest.param(
        lambda: ChannelBiasAdd(np.ones((1, 3, 1, 1))).forward(np.ones((2, 3))),
        ValueError,
        r"4-D array",
        id="bias input 2-D",
    ),
    # pooling
    pytest.param(
        lambda: MaxPool2D().forward(_x(2, 4, 4)), ValueError, r"MaxPool2D input_ must be a 4-D array", id="max pool 3-D"
    ),
    pytest.param(
        lambda: AvgPool2D(3).forward(_x(1, 1, 2, 5)),
        ValueError,
        r"at least 3x3 .*window is larger.*\(1, 1, 2, 5\)",
        id="avg pool window too large",
    ),
    pytest.param(
        lambda: MaxPool2D(6).forward(_x(1, 1, 8, 5)), ValueError, r"at least 6x6", id="max pool window too large"
    ),
    pytest.param(
        lambda: MaxPool2D(0), ValueError, r"kernel_size must be an integer >= 1; received 0", id="pool kernel 0"
    ),
    pytest.param(
        lambda: AvgPool2D(_any(2.0)),
        TypeError,
        r"kernel_size must be an integer >= 1; received float",
        id="pool kernel float",
    ),
    pytest.param(
        lambda: MaxPool2D(2, stride=0), ValueError, r"stride must be an integer >= 1; received 0", id="pool stride 0"
    ),
    pytest.param(lambda: AvgPool2D(2, stride=_any("2")), TypeError, r"stride must be an integer", id="pool stride str"),
    pytest.param(
        lambda: MaxPool2D().forward(np.ones((1, 1, 4, 4), dtype=np.int32)),
        TypeError,
        r"floating-point",
        id="pool int input",
    ),
    # Flatten / Reshape
    pytest.param(lambda: Flatten().forward(np.ones(4)), ValueError, r"at least 2 dimensions.*\(4,\)", id="flatten 1-D"),
    pytest.param(
        lambda: Reshape((2, 3)).forward(np.ones((2, 5))),
        ValueError,
        r"must have 6 values per sample.*\(2, 5\)",
        id="reshape size",
    ),
    pytest.param(
        lambda: Reshape((2, 3)).forward(np.ones(6)), ValueError, r"values per sample.*\(6,\)", id="reshape 1-D input"
    ),
    pytest.param(lambda: Reshape((2, 0)), ValueError, r"integers >= 1; received \(2, 0\)", id="reshape shape 0"),
    pytest.param(lambda: Reshape(_any((2, 1.5))), TypeError, r"only integers", id="reshape shape float"),
    pytest.param(
        lambda: Reshape(_any("12")), TypeError, r"positive integer or a non-empty sequence", id="reshape shape str"
    ),
    # Conv2D layer
    pytest.param(
        lambda: _forwarded(Conv2D(3, 3)).forward(_x(2, 1, 5, 5)),
        ValueError,
        r"must have 2 channels \(the layer was set up for them\).*\(2, 1, 5, 5\)",
        id="layer channels change",
    ),
    pytest.param(
        lambda: Conv2D(3, 3).forward(np.ones((2, 4))),
        ValueError,
        r"Conv2D input_ must be a 4-D array",
        id="layer input 2-D",
    ),
    pytest.param(
        lambda: Conv2D(3, 5, padding=0).forward(_x(1, 1, 4, 4)),
        ValueError,
        r"at least 5x5 once padded",
        id="layer kernel too large",
    ),
    pytest.param(
        lambda: Conv2D(3, 3, weight_init="standard"),
        ValueError,
        r"weight_init must be one of \('normal', 'glorot'\); received 'standard'",
        id="layer weight_init",
    ),
    pytest.param(
        lambda: Conv2D(3, 3, activation=_any(ReLU)),
        TypeError,
        r"activation must be a scratch Operation",
        id="layer activation class",
    ),
    pytest.param(
        lambda: Conv2D(3, 0), ValueError, r"param_size must be an integer >= 1; received 0", id="layer param_size 0"
    ),
    pytest.param(lambda: Conv2D(_any(3.0), 3), TypeError, r"neurons must be an integer", id="layer out_channels float"),
    pytest.param(
        lambda: Conv2D(3, 3, dropout=0.0), ValueError, r"dropout must be a keep probability", id="layer dropout 0"
    ),
    pytest.param(
        lambda: Conv2D(3, 3, flatten=_any("yes")), TypeError, r"flatten must be True or False", id="layer flatten str"
    ),
    pytest.param(lambda: Conv2D(3, 3, padding="valid"), ValueError, r"padding must be", id="layer padding"),
    pytest.param(
        lambda: Conv2D(3, 3, padding="same", stride=2), ValueError, r"requires stride=1", id="layer same stride"
    ),
    pytest.param(
        lambda: Conv2D(3, 3).load_params([np.ones((2, 4, 3, 3))]),
        ValueError,
        r"W must have shape \[in_channels, 3, 3, 3\]; received shape \(2, 4, 3, 3\)",
        id="layer load W shape",
    ),
    pytest.param(
        lambda: Conv2D(3, 3, bias=True).load_params([np.ones((2, 3, 3, 3))]),
        ValueError,
        r"parameters are \[W, B\] \(bias=True\); received 1 arrays",
        id="layer load count",
    ),
    pytest.param(
        lambda: Conv2D(3, 3, bias=True).load_params([np.ones((2, 3, 3, 3)), np.ones((1, 3))]),
        ValueError,
        r"B must have shape \(1, 3, 1, 1\); received shape \(1, 3\)",
        id="layer load B shape",
    ),
    pytest.param(
        lambda: Conv2D(3, 3).backward(np.ones((1, 3, 4, 4))),
        RuntimeError,
        r"backward called before forward",
        id="layer backward first",
    ),
]


def _forwarded(component: Operation | Conv2D) -> Any:
    component.forward(_x())
    return component


@pytest.mark.parametrize(("make", "exc", "match"), ERRORS)
def test_bad_input_raises_with_a_message(make: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        make()


def test_conv_layer_is_a_dense_companion() -> None:
    # Dense is untouched by this chapter: its defaults and operations are the chapter 4 ones
    dense = Dense(3)
    assert dense.weight_init == "standard"
    out = dense.forward(np.ones((2, 4)))
    assert out.shape == (2, 3)


def test_conv_op_survives_deepcopy_between_forward_and_backward() -> None:
    rng = np.random.default_rng(25)
    op = Conv2D_Op(rng.standard_normal((2, 3, 3, 3)))
    x = rng.standard_normal((2, 2, 5, 4))
    G = rng.standard_normal(op.forward(x).shape)
    twin = copy.deepcopy(op)
    assert twin._work == {}  # scratch workspaces are not copied
    np.testing.assert_array_equal(twin.backward(G), op.backward(G))
    np.testing.assert_array_equal(twin.param_grad, op.param_grad)
