"""Chapter 6 in scratch: RNN, LSTM and GRU nodes and layers, against independent oracles.

NumPy only (this file must not import torch). Everything in float64. The oracles:

* central differences (eps 1e-6) of J = Σ y ⊙ G for a random upstream G, for every parameter, the input
  and a given initial state, relative tolerance 1e-6 (max |analytic - numeric| / max |numeric|);
* a slow forward written here from the equations (per step, per gate, separate matmuls), against both
  paths of every layer (the fused default and ``impl="readable"``, which steps the module's ``*Node``
  objects) to 1e-12 (``test_readable_vs_fast.py`` compares the two paths result by result);
* the book's hidden-state carry: the second call equals a stateless call from the first call's batch mean,
  and nothing of the first call receives gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from parity_tests.port import relative_error
from scratch.gradcheck import central_difference
from scratch.rnn import GRULayer, GRUNode, LSTMLayer, LSTMNode, RNNLayer, RNNNode

EPS = 1e-6
FD_RTOL = 1e-6
REF_RTOL = 1e-12
N, V, H, OUT = 3, 3, 4, 2
KINDS = ("rnn", "lstm", "gru_before", "gru_after")

Layer = RNNLayer | LSTMLayer | GRULayer


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (``port.relative_error``: infinite when b is all zero and a is not)."""
    return relative_error(a, b)


def make_layer(kind: str, hidden_state: str = "zeros", hidden: int = H, out: int = OUT, impl: str = "fast") -> Layer:
    if kind == "rnn":
        return RNNLayer(hidden, out, hidden_state=hidden_state, rng=0, impl=impl)
    if kind == "lstm":
        return LSTMLayer(hidden, out, hidden_state=hidden_state, rng=0, impl=impl)
    return GRULayer(hidden, out, reset=kind.removeprefix("gru_"), hidden_state=hidden_state, rng=0, impl=impl)


def expected_shapes(kind: str, v: int = V, h: int = H, o: int = OUT) -> dict[str, tuple[int, int]]:
    if kind == "rnn":
        shapes = {"W_f": (v + h, h), "B_f": (1, h)}
    elif kind == "lstm":
        shapes = {f"W_{g}": (v + h, h) for g in "fico"} | {f"B_{g}": (1, h) for g in "fico"}
    else:
        shapes = {f"W_x{g}": (v, h) for g in "ruh"} | {f"W_h{g}": (h, h) for g in "ruh"}
        shapes |= {f"B_{g}": (1, h) for g in "ruh"}
        if kind == "gru_after":
            shapes["B_hn"] = (1, h)
    return shapes | {"W_v": (h, o), "B_v": (1, o)}


def random_params(kind: str, rng: np.random.Generator, v: int = V, scale: float = 0.6) -> dict[str, np.ndarray]:
    """Random weights and clearly non-zero biases (so bias gradients and cross terms are exercised)."""
    return {name: rng.normal(0.0, scale, size=shape) for name, shape in expected_shapes(kind, v).items()}


def random_state(kind: str, rng: np.random.Generator, n: int = N) -> Any:
    h0 = rng.standard_normal((n, H)) * 0.7
    return (h0, rng.standard_normal((n, H)) * 0.7) if kind == "lstm" else h0


def numeric_grad(objective: Callable[[], float], array: np.ndarray) -> np.ndarray:
    """Central differences of ``objective`` w.r.t. every entry of ``array`` (perturbed in place)."""
    return central_difference(objective, array, EPS)


def assert_close_grad(name: str, analytic: np.ndarray, numeric: np.ndarray, errors: dict[str, float]) -> None:
    if np.max(np.abs(numeric)) == 0.0:  # a gradient that is truly zero (e.g. W_hr when h_0 = 0 and T = 1)
        err = float(np.max(np.abs(analytic)))
        assert err < 1e-12, f"{name}: numeric gradient is 0, analytic max {err}"
    else:
        err = rel_err(analytic, numeric)
    errors[name] = err


# ---------------------------------------------------------------------------------------------------------
# Names, shapes, init
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_param_names_and_shapes(kind: str) -> None:
    layer = make_layer(kind)
    y = layer.forward(np.random.default_rng(0).standard_normal((N, 5, V)))
    assert y.shape == (N, 5, OUT)
    assert {k: v["value"].shape for k, v in layer.params.items()} == expected_shapes(kind)
    assert all(set(p) == {"value", "deriv"} for p in layer.params.values())
    assert all(p["deriv"].shape == p["value"].shape for p in layer.params.values())


def test_book_default_init_scales() -> None:
    x = np.zeros((1, 1, 60))
    rnn = RNNLayer(60, 40, rng=1)  # weight_scale=None: the book's std 2 / (V + O) = 0.02
    rnn.forward(x)
    assert rnn.params["W_f"]["value"].std() == pytest.approx(2 / (60 + 40), rel=0.05)
    lstm = LSTMLayer(60, 40, rng=1)
    lstm.forward(x)
    assert lstm.params["W_c"]["value"].std() == pytest.approx(0.01, rel=0.05)
    gru = GRULayer(60, 40, rng=1)
    gru.forward(x)
    assert gru.params["W_hu"]["value"].std() == pytest.approx(0.01, rel=0.05)
    assert gru.params["W_v"]["value"].std() == pytest.approx(1.0, rel=0.05)  # the book: std 1 for W_v
    same = GRULayer(60, 40, rng=1)
    same.forward(x)
    assert np.array_equal(same.params["W_xr"]["value"], gru.params["W_xr"]["value"])  # seeded: reproducible


def test_float32_input_keeps_float32() -> None:
    layer = LSTMLayer(H, OUT, rng=0)
    x = np.random.default_rng(0).standard_normal((N, 3, V)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


# ---------------------------------------------------------------------------------------------------------
# Central differences
# ---------------------------------------------------------------------------------------------------------


def fd_check(kind: str, T: int, given_state: bool, seed: int, impl: str = "fast") -> dict[str, float]:
    rng = np.random.default_rng(seed)
    layer = make_layer(kind, hidden_state="zeros", impl=impl)
    layer.load_params(random_params(kind, rng))
    x = rng.standard_normal((N, T, V))
    G = rng.standard_normal((N, T, OUT))
    state: Any = random_state(kind, rng) if given_state else None

    layer.forward(x, initial_state=state)
    errors: dict[str, float] = {}
    dx = layer.backward(G).copy()
    analytic = {k: p["deriv"].copy() for k, p in layer.params.items()}
    h0_grad, c0_grad = layer.initial_state_grad, layer.initial_cell_grad

    def objective() -> float:
        return float(np.sum(layer.forward(x, initial_state=state) * G))

    assert_close_grad("x", dx, numeric_grad(objective, x), errors)
    for name, p in layer.params.items():
        assert_close_grad(name, analytic[name], numeric_grad(objective, p["value"]), errors)
    if given_state:
        h0 = state[0] if kind == "lstm" else state
        assert h0_grad is not None
        assert_close_grad("h0", h0_grad, numeric_grad(objective, h0), errors)
        if kind == "lstm":
            assert c0_grad is not None
            assert_close_grad("c0", c0_grad, numeric_grad(objective, state[1]), errors)
        else:
            assert c0_grad is None
    else:
        assert h0_grad is None
        assert c0_grad is None
    return errors


@pytest.mark.parametrize("impl", ["fast", "readable"])
@pytest.mark.parametrize("given_state", [False, True], ids=["zeros", "initial_state"])
@pytest.mark.parametrize("T", [1, 3, 5])
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_central_differences(kind: str, T: int, given_state: bool, impl: str) -> None:
    errors = fd_check(kind, T, given_state, seed=T + 10 * given_state, impl=impl)
    assert set(errors) >= {"x", *expected_shapes(kind)}
    assert max(errors.values()) <= FD_RTOL, errors


# ---------------------------------------------------------------------------------------------------------
# Independent slow references
# ---------------------------------------------------------------------------------------------------------


def sig(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def slow_forward(kind: str, p: dict[str, np.ndarray], x: np.ndarray, state: Any) -> np.ndarray:
    """Per step, per gate, separate matmuls, written directly from the equations."""
    _, T, v = x.shape
    if kind == "lstm":
        h, c = state
    else:
        h = state
    ys = []
    for t in range(T):
        xt = x[:, t, :]
        if kind == "rnn":
            h = np.tanh(xt @ p["W_f"][:v] + h @ p["W_f"][v:] + p["B_f"])
        elif kind == "lstm":
            f = sig(xt @ p["W_f"][:v] + h @ p["W_f"][v:] + p["B_f"])
            i = sig(xt @ p["W_i"][:v] + h @ p["W_i"][v:] + p["B_i"])
            cb = np.tanh(xt @ p["W_c"][:v] + h @ p["W_c"][v:] + p["B_c"])
            o = sig(xt @ p["W_o"][:v] + h @ p["W_o"][v:] + p["B_o"])
            c = f * c + i * cb
            h = o * np.tanh(c)
        else:
            r = sig(xt @ p["W_xr"] + h @ p["W_hr"] + p["B_r"])
            u = sig(xt @ p["W_xu"] + h @ p["W_hu"] + p["B_u"])
            if kind == "gru_before":
                hb = np.tanh(xt @ p["W_xh"] + (r * h) @ p["W_hh"] + p["B_h"])
            else:
                hb = np.tanh(xt @ p["W_xh"] + p["B_h"] + r * (h @ p["W_hh"] + p["B_hn"]))
            h = u * h + (1 - u) * hb
        ys.append(h @ p["W_v"] + p["B_v"])
    return np.stack(ys, axis=1)


@pytest.mark.parametrize("impl", ["fast", "readable"])
@pytest.mark.parametrize("T", [1, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_matches_the_slow_forward(kind: str, T: int, impl: str) -> None:
    rng = np.random.default_rng(100 + T)
    p = random_params(kind, rng)
    x = rng.standard_normal((N, T, V))
    state = random_state(kind, rng)
    layer = make_layer(kind, impl=impl)
    layer.load_params(p)
    assert rel_err(layer.forward(x, initial_state=state), slow_forward(kind, p, x, state)) <= REF_RTOL


def test_gru_reset_placements_differ() -> None:
    rng = np.random.default_rng(5)
    p = random_params("gru_after", rng)
    x = rng.standard_normal((N, 4, V))
    before, after = make_layer("gru_before"), make_layer("gru_after")
    before.load_params({k: v for k, v in p.items() if k != "B_hn"})
    p["B_hn"][:] = 0.0
    after.load_params(p)
    assert np.max(np.abs(before.forward(x) - after.forward(x))) > 1e-3


# ---------------------------------------------------------------------------------------------------------
# The book's GRU bugs are fixed
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gru_before", "gru_after"])
def test_gru_update_gate_weights_are_used(kind: str) -> None:
    rng = np.random.default_rng(7)
    p = random_params(kind, rng)
    x = rng.standard_normal((N, 4, V))
    layer = make_layer(kind)
    layer.load_params(p)
    y0 = layer.forward(x).copy()
    dx = layer.backward(np.ones_like(y0))
    assert np.max(np.abs(dx)) > 1e-3  # the book's backward gave exactly 0
    for name in ("W_xu", "W_hu", "B_u"):
        assert np.max(np.abs(layer.params[name]["deriv"])) > 1e-3, name
    for name in ("W_xu", "W_hu", "B_u"):
        q = dict(p)
        q[name] = p[name] + 0.5
        layer.load_params(q)
        assert np.max(np.abs(layer.forward(x) - y0)) > 1e-3, name  # the book's update gate ignored W_xu/W_hu


# ---------------------------------------------------------------------------------------------------------
# Hidden-state modes
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_book_carry_is_the_batch_mean_without_gradient(kind: str) -> None:
    rng = np.random.default_rng(11)
    p = random_params(kind, rng)
    x1 = rng.standard_normal((N, 4, V))
    x2 = rng.standard_normal((2, 3, V))  # another batch size and length
    G2 = rng.standard_normal((2, 3, OUT))
    book, plain = make_layer(kind, "book"), make_layer(kind, "zeros")
    book.load_params(p)
    plain.load_params(p)

    # first call: from zeros
    assert rel_err(book.forward(x1), plain.forward(x1)) <= REF_RTOL
    # the batch mean of the last state(s), repeated for every sample of the next call
    last = slow_last_states(kind, p, x1)
    carry = tuple(np.repeat(s.mean(axis=0, keepdims=True), 2, axis=0) for s in last)  # (1, H) -> (2, H)
    state2 = carry if kind == "lstm" else carry[0]

    y2 = book.forward(x2)
    assert rel_err(y2, plain.forward(x2, initial_state=state2)) <= REF_RTOL
    assert rel_err(y2, slow_forward(kind, p, x2, state2)) <= REF_RTOL
    # no gradient into the carry: the backward of call 2 equals that of a call from a constant state ...
    dx2 = book.backward(G2)
    plain.backward(G2)
    assert rel_err(dx2, plain.input_grad) <= REF_RTOL
    for name in p:
        assert rel_err(book.params[name]["deriv"], plain.params[name]["deriv"]) <= REF_RTOL, name
    assert book.initial_state_grad is None
    assert book.initial_cell_grad is None
    # ... and the parameter gradient of call 2 is the central difference with the carry held constant
    W = next(iter(book.params.values()))["value"]

    def objective() -> float:
        book._carry = [c[:1].copy() for c in carry]  # restore the carry before every evaluation
        return float(np.sum(book.forward(x2) * G2))

    assert rel_err(book.params[next(iter(book.params))]["deriv"], numeric_grad(objective, W)) <= FD_RTOL

    # "zeros" mode never carries; reset_state() forgets the book carry
    assert rel_err(plain.forward(x2), slow_forward(kind, p, x2, zero_state(kind, 2))) <= REF_RTOL
    book.reset_state()
    assert rel_err(book.forward(x2), plain.forward(x2)) <= REF_RTOL


def zero_state(kind: str, n: int) -> Any:
    z = np.zeros((n, H))
    return (z, z.copy()) if kind == "lstm" else z


def slow_last_states(kind: str, p: dict[str, np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The last hidden (and cell) state of a sequence from zeros, via the Node chain."""
    h = np.zeros((x.shape[0], H))
    c = np.zeros_like(h)
    params = {k: {"value": v, "deriv": np.zeros_like(v)} for k, v in p.items()}
    for t in range(x.shape[1]):
        if kind == "lstm":
            _, h, c = LSTMNode().forward(x[:, t], h, c, params)
        elif kind == "rnn":
            _, h = RNNNode().forward(x[:, t], h, params)
        else:
            _, h = GRUNode(reset=kind.removeprefix("gru_")).forward(x[:, t], h, params)
    return [h, c] if kind == "lstm" else [h]


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state_overrides_book_carry(kind: str) -> None:
    rng = np.random.default_rng(12)
    p = random_params(kind, rng)
    layer = make_layer(kind, "book")
    layer.load_params(p)
    layer.forward(rng.standard_normal((N, 2, V)))  # sets a non-zero carry
    x = rng.standard_normal((N, 3, V))
    state = random_state(kind, rng)
    assert rel_err(layer.forward(x, initial_state=state), slow_forward(kind, p, x, state)) <= REF_RTOL


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_length_may_change_between_calls(kind: str) -> None:
    rng = np.random.default_rng(13)
    p = random_params(kind, rng)
    layer = make_layer(kind, "zeros")
    layer.load_params(p)
    for T in (5, 2, 7, 1):
        x = rng.standard_normal((N, T, V))
        y = layer.forward(x)
        assert y.shape == (N, T, OUT)
        assert rel_err(y, slow_forward(kind, p, x, zero_state(kind, N))) <= REF_RTOL
        assert layer.backward(np.ones_like(y)).shape == x.shape
    # central differences on a layer that has already run other lengths
    G = rng.standard_normal((N, 2, OUT))
    x = rng.standard_normal((N, 2, V))
    layer.forward(x)
    dx = layer.backward(G)
    assert rel_err(dx, numeric_grad(lambda: float(np.sum(layer.forward(x) * G)), x)) <= FD_RTOL


# ---------------------------------------------------------------------------------------------------------
# Stacked layers
# ---------------------------------------------------------------------------------------------------------


def test_stacked_rnn_then_lstm_backprop() -> None:
    rng = np.random.default_rng(21)
    mid = 3  # RNN output size = LSTM input size
    rnn = RNNLayer(H, mid, hidden_state="zeros", rng=0)
    lstm = LSTMLayer(5, OUT, hidden_state="zeros", rng=0)
    rnn.load_params(
        random_params("rnn", rng) | {"W_v": rng.normal(0, 0.6, (H, mid)), "B_v": rng.normal(0, 0.6, (1, mid))}
    )
    lstm.load_params({k: rng.normal(0.0, 0.6, size=s) for k, s in expected_shapes("lstm", v=mid, h=5).items()})
    x = rng.standard_normal((N, 4, V))
    G = rng.standard_normal((N, 4, OUT))

    def objective() -> float:
        return float(np.sum(lstm.forward(rnn.forward(x)) * G))

    objective()
    dx = rnn.backward(lstm.backward(G))
    errors: dict[str, float] = {}
    assert_close_grad("x", dx, numeric_grad(objective, x), errors)
    for tag, layer in (("rnn", rnn), ("lstm", lstm)):
        derivs = {k: p["deriv"].copy() for k, p in layer.params.items()}
        for name, p in layer.params.items():
            assert_close_grad(f"{tag}.{name}", derivs[name], numeric_grad(objective, p["value"]), errors)
    assert max(errors.values()) <= FD_RTOL, errors


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_messages(kind: str) -> None:
    layer = make_layer(kind)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((N, 2, OUT)))
    with pytest.raises(ValueError, match=r"3-D array \[batch, time, features\]; received shape \(3, 4\)"):
        layer.forward(np.zeros((N, 4)))
    with pytest.raises(TypeError, match="floating-point dtype"):
        layer.forward(np.zeros((N, 2, V), dtype=np.int64))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        layer.forward([[[1.0]]])  # type: ignore[arg-type]
    y = layer.forward(np.zeros((N, 2, V)))
    with pytest.raises(ValueError, match=r"must have 3 features .* received shape \(3, 2, 5\) with 5 features"):
        layer.forward(np.zeros((N, 2, V + 2)))
    with pytest.raises(ValueError, match=r"output's shape \(3, 2, 2\); received shape \(3, 3, 2\)"):
        layer.backward(np.zeros((N, 3, OUT)))
    assert layer.backward(np.zeros_like(y)).shape == (N, 2, V)
    bad_h = np.zeros((N, H + 1))
    if kind == "lstm":
        with pytest.raises(TypeError, match=r"tuple \(h0, c0\)"):
            layer.forward(np.zeros((N, 2, V)), initial_state=np.zeros((N, H)))
        with pytest.raises(ValueError, match=r"c0 must have shape \(batch, hidden_size\) = \(3, 4\); received shape"):
            layer.forward(np.zeros((N, 2, V)), initial_state=(np.zeros((N, H)), bad_h))
    else:
        with pytest.raises(ValueError, match=r"= \(3, 4\); received shape \(3, 5\)"):
            layer.forward(np.zeros((N, 2, V)), initial_state=bad_h)
        with pytest.raises(ValueError, match=r"2-D array \[batch, hidden_size\]"):
            layer.forward(np.zeros((N, 2, V)), initial_state=np.zeros(H))


def test_bad_constructor_and_load_params() -> None:
    with pytest.raises(ValueError, match="hidden_state must be one of"):
        RNNLayer(H, OUT, hidden_state="carry")
    with pytest.raises(ValueError, match="reset must be one of"):
        GRULayer(H, OUT, reset="middle")
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1; received 0"):
        LSTMLayer(0, OUT)
    with pytest.raises(TypeError, match="output_size must be an integer"):
        RNNLayer(H, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight_scale must be > 0"):
        LSTMLayer(H, OUT, weight_scale=-1.0)
    rng = np.random.default_rng(0)
    layer = make_layer("gru_before")
    p = random_params("gru_after", rng)  # has B_hn, which reset="before" does not
    with pytest.raises(ValueError, match=r"unexpected \['B_hn'\]"):
        layer.load_params(p)
    del p["B_hn"], p["W_v"]
    with pytest.raises(ValueError, match=r"missing \['W_v'\]"):
        layer.load_params(p)
    p["W_v"] = np.zeros((H, OUT + 1))
    with pytest.raises(ValueError, match=r"load_params\['W_v'\] must have shape \(4, 2\); received shape \(4, 3\)"):
        layer.load_params(p)
    with pytest.raises(TypeError, match="mapping"):
        layer.load_params([1, 2])  # type: ignore[arg-type]
    rnn = make_layer("rnn")
    with pytest.raises(ValueError, match="rows"):
        rnn.load_params(
            {"W_f": np.zeros((H, H)), "B_f": np.zeros((1, H)), "W_v": np.zeros((H, OUT)), "B_v": np.zeros((1, OUT))}
        )
