"""The fast kernels equal the readable code they replace by default, to round-off.

NumPy only (this file must not import torch). Each component with two ``impl`` paths is run both ways on
the same random inputs (non-zero weights and biases, batch > 1, random upstream gradients) and every result
is compared with the project's one tolerance table (``parity_tests.tolerances``, the round-off tier of the
dtype: 1e-12 in float64, 1e-5 in float32):

* ``Conv2D_Op(impl="fast")`` (``scratch._fast_conv``) against ``Conv2D_Op(impl="readable")`` (im2col and
  col2im written out) on a grid of kernel sizes, paddings, strides, batch sizes, channels and non-square
  images, in float64 and float32, repeated calls with changing shapes included (the fast kernels keep
  workspaces); the readable path also against the loop oracle ``Conv2D_OpLoop``; the ``Conv2D`` layer both
  ways;
* ``RNNLayer``/``LSTMLayer``/``GRULayer`` (both reset variants) with ``impl="fast"`` (``scratch._fast_rnn``)
  against ``impl="readable"`` (one node per time step, stepped forward then backward): outputs, input
  gradients, every parameter gradient, initial-state gradients and the carried state, over two consecutive
  calls, in every hidden-state mode, with and without a given initial state, dense and one-hot inputs
  (the fast path's row gather), float64 and float32.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from parity_tests.port import relative_error
from parity_tests.tolerances import TOLERANCES
from scratch import Conv2D, Conv2D_Op, Conv2D_OpLoop, GRULayer, LSTMLayer, RNNLayer, Tanh, _fast_conv
from scratch.rnn import GRUNode, LSTMNode, RNNNode

DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """``got`` equals ``want`` (same shape and dtype) within the round-off tier of the dtype; exactly, where
    ``want`` is all zero."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if not np.any(want):  # e.g. one step from a zero state: the recurrent weights get exactly no gradient
        assert not np.any(got), f"{what}: the readable result is exactly zero, the fast one is not"
        return
    tol = TOLERANCES[np.dtype(got.dtype).name]["gradient" if what.startswith("d") else "forward"]
    err = relative_error(got, want)
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol:g}"


# ---------------------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------------------
CONV_GRID = [
    pytest.param(k, padding, stride, id=f"k{k}-pad{padding}-s{stride}")
    for k in (1, 2, 3, 5)
    for padding in (None, 0, 1, 2, "same")
    for stride in (1, 2, 3)
    if not (padding == "same" and stride > 1)
]


def assert_fast_equals_readable(W: np.ndarray, x: np.ndarray, rng: np.random.Generator, case: str, **kw: Any) -> None:
    """Forward and backward of the fast and the readable op on x, with one random upstream gradient G drawn
    from ``rng``: the fast op's output, dL/dx and dL/dW equal the readable op's."""
    results: dict[str, tuple[np.ndarray, ...]] = {}
    G: np.ndarray | None = None
    for impl in ("fast", "readable"):
        op = Conv2D_Op(W.copy(), impl=impl, **kw)
        out = op.forward(x)
        if G is None:
            G = rng.standard_normal(out.shape).astype(x.dtype)
        results[impl] = (out, op.backward(G), op.param_grad)
    for name, fast, readable in zip(("out", "dx", "dW"), results["fast"], results["readable"], strict=True):
        assert_close(fast, readable, f"{name} {case}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("k", "padding", "stride"), CONV_GRID)
def test_fast_conv_equals_readable_im2col(k: int, padding: Any, stride: int, dtype: np.dtype[Any]) -> None:
    rng = np.random.default_rng(100 * k + 10 * stride + (padding if isinstance(padding, int) else 7))
    for n, c_in, c_out, (h, w) in itertools.product((1, 3), (1, 2), (1, 3), ((k + 4, k + 2), (k + 2, k + 5))):
        W = rng.standard_normal((c_in, c_out, k, k)).astype(dtype)  # asymmetric: a missing flip would show
        x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
        case = f"N={n} C_in={c_in} C_out={c_out} {h}x{w}"
        assert_fast_equals_readable(W, x, rng, case, padding=padding, stride=stride)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("k", "padding", "stride"), CONV_GRID)
def test_fast_conv_paths_by_channel_count_equal_readable(
    k: int, padding: Any, stride: int, dtype: np.dtype[Any]
) -> None:
    """The fast kernels pick their algorithm by channel counts (``scratch._fast_conv``): im2col of the input
    for fewer than 4 input channels, patches by output row for 4 <= C <= O (with dx as a forward of G at k >= 5),
    the unfolded output gradient for O < C; every one equals the readable im2col."""
    rng = np.random.default_rng(1000 + 100 * k + 10 * stride + (padding if isinstance(padding, int) else 7))
    for n, (c_in, c_out) in itertools.product((1, 3), ((5, 7), (4, 4), (6, 2))):
        W = rng.standard_normal((c_in, c_out, k, k)).astype(dtype)
        x = rng.standard_normal((n, c_in, k + 4, k + 3)).astype(dtype)
        assert_fast_equals_readable(W, x, rng, f"N={n} C_in={c_in} C_out={c_out}", padding=padding, stride=stride)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("k", "padding", "stride"), CONV_GRID)
def test_fast_col2im_in_chunks_of_samples_equals_readable(
    k: int, padding: Any, stride: int, dtype: np.dtype[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The im2col path's ``input_grad`` scatters its dcols in chunks of samples (to stay in cache); with a
    chunk budget of two images, five samples run as chunks of 2, 2 and 1, and every chunk boundary must add
    exactly what the whole batch at once adds (including what a shifted image spills into the next one)."""
    rng = np.random.default_rng(2000 + 100 * k + 10 * stride + (padding if isinstance(padding, int) else 7))
    for c_in, c_out in ((2, 3), (5, 7)):  # im2col path, and by rows (its dx runs col2im except k >= 5, stride 1)
        W = rng.standard_normal((c_in, c_out, k, k)).astype(dtype)
        x = rng.standard_normal((5, c_in, k + 4, k + 3)).astype(dtype)
        probe = Conv2D_Op(W.copy(), padding=padding, stride=stride)
        before, after = probe.pads
        image = c_in * (x.shape[2] + before + after) * (x.shape[3] + before + after)
        monkeypatch.setattr(_fast_conv, "_COL2IM_CHUNK_VALUES", 2 * image)
        assert _fast_conv._col2im_chunk(5, image) == 2
        assert_fast_equals_readable(W, x, rng, f"C_in={c_in} C_out={c_out}", padding=padding, stride=stride)


@pytest.mark.parametrize(("k", "padding", "stride"), [(3, None, 1), (2, "same", 1), (5, 2, 2), (3, 0, 3), (1, 1, 2)])
def test_readable_conv_equals_the_loops(k: int, padding: Any, stride: int) -> None:
    rng = np.random.default_rng(7 * k + stride)
    W = rng.standard_normal((2, 3, k, k))
    x = rng.standard_normal((2, 2, k + 3, k + 2))
    readable = Conv2D_Op(W.copy(), padding=padding, stride=stride, impl="readable")
    loops = Conv2D_OpLoop(W.copy(), padding=padding, stride=stride)
    out = readable.forward(x)
    assert_close(out, loops.forward(x), "out")
    G = rng.standard_normal(out.shape)
    assert_close(readable.backward(G), loops.backward(G), "dx")
    assert_close(readable.param_grad, loops.param_grad, "dW")


def test_fast_conv_workspaces_follow_shape_and_dtype_changes() -> None:
    # the fast op keeps workspaces between calls; the readable op keeps nothing: both must agree on every call
    rng = np.random.default_rng(3)
    W = rng.standard_normal((2, 3, 3, 3))
    fast, readable = Conv2D_Op(W.copy(), stride=2), Conv2D_Op(W.copy(), stride=2, impl="readable")
    for shape in [(3, 2, 7, 6), (1, 2, 7, 6), (2, 2, 5, 8), (3, 2, 7, 6)]:
        x = rng.standard_normal(shape)
        fast.forward(rng.standard_normal(shape))  # an earlier forward that backward must not use
        out = fast.forward(x)
        G = rng.standard_normal(out.shape)
        assert_close(out, readable.forward(x), f"out {shape}")
        assert_close(fast.backward(G), readable.backward(G), f"dx {shape}")
        assert_close(fast.param_grad, readable.param_grad, f"dW {shape}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_conv_layer_fast_equals_readable(dtype: np.dtype[Any]) -> None:
    rng = np.random.default_rng(11)
    W = rng.standard_normal((2, 4, 3, 3)).astype(dtype)
    B = rng.standard_normal((1, 4, 1, 1)).astype(dtype)
    x = rng.standard_normal((3, 2, 7, 8)).astype(dtype)
    results = {}
    for impl in ("fast", "readable"):
        layer = Conv2D(4, 3, activation=Tanh(), flatten=True, bias=True, stride=2, impl=impl)
        layer.load_params([W.copy(), B.copy()])
        op = layer.operations[0]
        assert isinstance(op, Conv2D_Op)
        assert op.impl == impl
        out = layer.forward(x)
        G = np.random.default_rng(12).standard_normal(out.shape).astype(dtype)
        results[impl] = (out, layer.backward(G), *layer.param_grads)
    for name, fast, readable in zip(("out", "dx", "dW", "dB"), results["fast"], results["readable"], strict=True):
        assert_close(fast, readable, name)


def test_conv_impl_is_checked_and_fixed() -> None:
    W = np.ones((1, 1, 3, 3))
    assert Conv2D_Op(W).impl == "fast"
    with pytest.raises(ValueError, match=r"impl must be one of \('fast', 'readable'\); received 'loops'"):
        Conv2D_Op(W, impl="loops")
    with pytest.raises(ValueError, match=r"impl must be one of"):
        Conv2D(2, 3, impl="slow")
    with pytest.raises(AttributeError):
        Conv2D_Op(W).impl = "readable"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------
# Recurrent layers
# ---------------------------------------------------------------------------------------------------------
KINDS = ("rnn", "lstm", "gru_before", "gru_after")
NODES = {"rnn": RNNNode, "lstm": LSTMNode, "gru_before": GRUNode, "gru_after": GRUNode}
V, H, OUT = 5, 6, 4


def make_layer(kind: str, impl: str, hidden_state: str) -> Any:
    kw: dict[str, Any] = {"hidden_state": hidden_state, "impl": impl}
    if kind == "rnn":
        return RNNLayer(H, OUT, **kw)
    if kind == "lstm":
        return LSTMLayer(H, OUT, **kw)
    return GRULayer(H, OUT, reset=kind.removeprefix("gru_"), **kw)


def random_params(kind: str, rng: np.random.Generator, dtype: np.dtype[Any]) -> dict[str, np.ndarray]:
    shapes = make_layer(kind, "fast", "zeros")._param_shapes(V)
    return {name: rng.normal(0.0, 0.5, size=shape).astype(dtype) for name, shape in shapes.items()}


def run_calls(layer: Any, calls: list[dict[str, Any]]) -> list[dict[str, np.ndarray]]:
    """Forward and backward for every call; everything a caller can read afterwards, by name."""
    results = []
    for call in calls:
        state = call["state"]
        out = layer.forward(call["x"].copy(), initial_state=state)
        got = {"out": out, "dx": layer.backward(call["G"].copy())}
        got.update({f"d{name}": p["deriv"].copy() for name, p in layer.params.items()})
        if state is not None:
            got["dh0"] = layer.initial_state_grad
            if isinstance(layer, LSTMLayer):
                got["dc0"] = layer.initial_cell_grad
        else:
            assert layer.initial_state_grad is None
            assert layer.initial_cell_grad is None
        got.update({f"carry {name}": value for name, value in layer.state().items() if name.startswith("start_")})
        results.append(got)
    return results


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("given", [False, True], ids=["no-initial-state", "initial-state"])
@pytest.mark.parametrize("one_hot", [False, True], ids=["dense", "one-hot"])
@pytest.mark.parametrize("hidden_state", ["book", "zeros"])
@pytest.mark.parametrize("kind", KINDS)
def test_fast_recurrent_layer_equals_stepped_nodes(
    kind: str, hidden_state: str, one_hot: bool, given: bool, dtype: np.dtype[Any]
) -> None:
    rng = np.random.default_rng(KINDS.index(kind) * 100 + 10 * one_hot + given)
    params = random_params(kind, rng, dtype)
    calls: list[dict[str, Any]] = []
    for n, t in ((3, 5), (2, 1), (3, 4)):  # the batch and the length may change between calls
        if one_hot:
            x = np.eye(V, dtype=dtype)[rng.integers(0, V, (n, t))]  # [n, t] -> [n, t, V]
        else:
            x = rng.standard_normal((n, t, V)).astype(dtype)
        state = None
        if given and len(calls) != 1:  # the middle call starts from the carry (book) or zeros
            states = [(0.7 * rng.standard_normal((n, H))).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
            state = tuple(states) if kind == "lstm" else states[0]
        calls.append({"x": x, "G": rng.standard_normal((n, t, OUT)).astype(dtype), "state": state})
    runs = {}
    for impl in ("fast", "readable"):
        layer = make_layer(kind, impl, hidden_state)
        layer.load_params({k: v.copy() for k, v in params.items()})
        runs[impl] = run_calls(layer, calls)
        if impl == "readable":  # the readable path really stepped one node per time step
            assert len(layer.nodes) == calls[-1]["x"].shape[1]
            assert all(type(node) is NODES[kind] for node in layer.nodes)
    for i, (fast, readable) in enumerate(zip(runs["fast"], runs["readable"], strict=True)):
        assert set(fast) == set(readable)
        assert np.any(readable["out"])
        assert np.any(readable["dx"])  # the gradient went through the cells
        assert any(name.startswith("carry") for name in fast) == (hidden_state == "book")
        for name in fast:
            assert_close(fast[name], readable[name], f"{name} (call {i + 1})")


def test_recurrent_impl_is_checked_and_fixed() -> None:
    for make in (
        lambda **kw: RNNLayer(3, 2, **kw),
        lambda **kw: LSTMLayer(3, 2, **kw),
        lambda **kw: GRULayer(3, 2, **kw),
    ):
        assert make().impl == "fast"
        assert make(impl="readable").impl == "readable"
        with pytest.raises(ValueError, match=r"impl must be one of \('fast', 'readable'\); received 'fused'"):
            make(impl="fused")
    with pytest.raises(AttributeError):
        RNNLayer(3, 2).impl = "readable"  # type: ignore[misc]


def test_readable_backward_before_forward_is_refused() -> None:
    with pytest.raises(RuntimeError, match="backward called before forward"):
        LSTMLayer(3, 2, impl="readable").backward(np.zeros((1, 1, 2)))
