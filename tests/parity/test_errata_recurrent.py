"""Errata of the book's chapter 6 code (the GRU's two bugs, the recurrent layers' fixed sequence length),
each shown the same way as in ``test_errata.py``: the book's formula is re-implemented inline and disagrees
with the truth (torch autograd), then scratch and its torch twin agree with each other.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scratch
import torch_impl as ti
from parity_tests.converters import GRU_BEFORE, RNN

N, T, V, H, OUT = 3, 4, 5, 6, 4
TOL = 1e-12


def sig(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def gru_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {f"W_x{g}": (V, H) for g in "ruh"} | {f"W_h{g}": (H, H) for g in "ruh"}
    shapes |= {f"B_{g}": (1, H) for g in "ruh"} | {"W_v": (H, OUT), "B_v": (1, OUT)}
    return {k: 0.5 * rng.standard_normal(s) for k, s in shapes.items()}


def book_gru_forward(
    p: dict[str, np.ndarray], x: np.ndarray, *, book_update_gate: bool = True
) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """The book's GRUNode forward over a sequence from h = 0. With ``book_update_gate`` (the book) the update
    gate reads W_xr, W_hr (erratum E18); without, W_xu, W_hu (a correct GRU with the reset gate before)."""
    h = np.zeros((x.shape[0], H))
    ys, caches = [], []
    wx, wh = ("W_xr", "W_hr") if book_update_gate else ("W_xu", "W_hu")
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = sig(xt @ p["W_xr"] + h @ p["W_hr"] + p["B_r"])
        u = sig(xt @ p[wx] + h @ p[wh] + p["B_u"])
        h_bar = np.tanh(xt @ p["W_xh"] + (r * h) @ p["W_hh"] + p["B_h"])
        h_new = u * h + (1 - u) * h_bar
        caches.append({"x": xt, "h": h, "r": r, "u": u, "h_bar": h_bar})
        ys.append(h_new @ p["W_v"] + p["B_v"])
        h = h_new
    return np.stack(ys, axis=1), caches


def gru_input_grad(
    p: dict[str, np.ndarray],
    caches: list[dict[str, np.ndarray]],
    G: np.ndarray,
    *,
    use_output_grad: bool,
    direct_term: bool,
) -> np.ndarray:
    """dL/dx of the GRU layer, step by step as the book's ``GRUNode.backward`` is written, with its two defects
    as switches. The book: ``use_output_grad=False`` (it computes dh_out = dy W_vᵀ + dH_out, then uses dH_out
    alone) and ``direct_term=False`` (its dH_in lacks u ⊙ dh_out, the path h_t = u ⊙ h_{t-1} + ...)."""
    dH_out = np.zeros((G.shape[0], H))
    dx = np.zeros((G.shape[0], len(caches), V))
    for t in reversed(range(len(caches))):
        c = caches[t]
        dh_out = G[:, t] @ p["W_v"].T + dH_out
        g = dh_out if use_output_grad else dH_out
        dA_h = g * (1 - c["u"]) * (1 - c["h_bar"] ** 2)
        dA_u = g * (c["h"] - c["h_bar"]) * c["u"] * (1 - c["u"])
        dh_reset = dA_h @ p["W_hh"].T
        dA_r = dh_reset * c["h"] * c["r"] * (1 - c["r"])
        dx[:, t] = dA_h @ p["W_xh"].T + dA_u @ p["W_xu"].T + dA_r @ p["W_xr"].T
        dH_out = dh_reset * c["r"] + dA_u @ p["W_hu"].T + dA_r @ p["W_hr"].T
        if direct_term:
            dH_out = dH_out + g * c["u"]
    return dx


def _grad(t: torch.Tensor) -> np.ndarray:
    if t.grad is None:
        raise AssertionError("no gradient reached this tensor")
    return t.grad.numpy()


def torch_reset_before(p: dict[str, np.ndarray]) -> ti.GRULayer:
    layer = ti.GRULayer(None, V, H, OUT, reset="before", hidden_state="zeros", dtype=torch.float64)
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in GRU_BEFORE.to_torch(p).items()})
    return layer


def test_erratum_gru_update_gate_uses_its_own_weights() -> None:
    rng = np.random.default_rng(18)
    p = gru_params(rng)
    x = rng.standard_normal((N, T, V))
    bumped = {**p, "W_xu": p["W_xu"] + 1.0, "W_hu": p["W_hu"] - 1.0}
    book, _ = book_gru_forward(p, x)
    book_bumped, _ = book_gru_forward(bumped, x)
    assert np.array_equal(book, book_bumped)  # the book's output ignores W_xu and W_hu entirely
    with torch.no_grad():
        truth = torch_reset_before(p)(torch.from_numpy(x)).numpy()
        truth_bumped = torch_reset_before(bumped)(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(truth_bumped - truth)) > 0.1  # the true GRU depends on them
    assert np.max(np.abs(book - truth)) > 1e-2  # so the book's forward is not a GRU's
    for params, want in ((p, truth), (bumped, truth_bumped)):
        layer = scratch.GRULayer(H, OUT, reset="before", hidden_state="zeros")
        layer.load_params(params)
        got = layer.forward(x)
        assert np.max(np.abs(got - want)) <= TOL * np.max(np.abs(want))


def test_erratum_gru_backward_uses_the_output_gradient() -> None:
    rng = np.random.default_rng(19)
    p = gru_params(rng)
    x = rng.standard_normal((N, T, V))
    G = rng.standard_normal((N, T, OUT))
    _, caches = book_gru_forward(p, x)
    # The book's layer backward: each node computes dh_out = dy W_vᵀ + dH_out and then uses dH_out alone. The
    # layer starts dH_out at 0 for the last step, and the node's dH_in (which also lacks u ⊙ dh_out) is built
    # from that 0: every gradient the nodes send back, the input gradient included, is exactly 0.
    dx_book = gru_input_grad(p, caches, G, use_output_grad=False, direct_term=False)
    assert not dx_book.any()

    xt = torch.from_numpy(x).requires_grad_(True)
    twin = torch_reset_before(p)
    twin(xt).backward(torch.from_numpy(G))
    named = dict(twin.named_parameters())
    truth = GRU_BEFORE.grads_to_book({k: _grad(named[k]) for k in GRU_BEFORE.torch_names})
    assert xt.grad is not None
    dx_truth = xt.grad.numpy()
    assert np.max(np.abs(truth["W_xh"])) > 0.1
    assert np.max(np.abs(dx_truth)) > 0.1

    layer = scratch.GRULayer(H, OUT, reset="before", hidden_state="zeros")
    layer.load_params(p)
    layer.forward(x)
    dx = layer.backward(G)
    assert np.max(np.abs(dx - dx_truth)) <= TOL * np.max(np.abs(dx_truth))
    for name, want in truth.items():
        got = layer.params[name]["deriv"]
        assert np.max(np.abs(got - want)) <= TOL * np.max(np.abs(want)), name


@pytest.mark.parametrize("lengths", [(3, 7), (6, 2)])
def test_erratum_recurrent_layers_accept_a_new_sequence_length(lengths: tuple[int, int]) -> None:
    """The book builds its list of nodes on the first call, so a longer sequence later raises IndexError;
    scratch (and torch) take any length on every call."""
    first, second = lengths
    book_nodes = [object() for _ in range(first)]  # the book's RNNLayer.cells, made once
    if second > first:
        with pytest.raises(IndexError):
            [book_nodes[t] for t in range(second)]  # the book's loop over time
    rng = np.random.default_rng(20)
    p = {"W_f": rng.standard_normal((V + H, H)) * 0.5, "B_f": rng.standard_normal((1, H)) * 0.5}
    p |= {"W_v": rng.standard_normal((H, OUT)), "B_v": rng.standard_normal((1, OUT))}
    layer = scratch.RNNLayer(H, OUT, hidden_state="book")
    layer.load_params(p)
    twin = ti.RNNLayer(None, V, H, OUT, hidden_state="book", dtype=torch.float64)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in RNN.to_torch(p).items()})
    for length in (first, second):
        x = rng.standard_normal((N, length, V))
        got = layer.forward(x)
        with torch.no_grad():
            want = twin(torch.from_numpy(x)).numpy()
        assert got.shape == (N, length, OUT)
        assert np.max(np.abs(got - want)) <= TOL * np.max(np.abs(want))


@pytest.mark.parametrize("single_bias", [True, False])
def test_difference_two_torch_biases_double_the_bias_step(single_bias: bool) -> None:
    """torch adds bias_ih + bias_hh and gives both the same gradient, so one SGD step moves their sum by
    2·lr·g where the book's single bias moves by lr·g; ``single_bias=True`` keeps bias_hh at 0."""
    rng = np.random.default_rng(21)
    p = {"W_f": rng.standard_normal((V + H, H)) * 0.5, "B_f": rng.standard_normal((1, H)) * 0.5}
    p |= {"W_v": rng.standard_normal((H, OUT)), "B_v": rng.standard_normal((1, OUT))}
    x, G = rng.standard_normal((N, T, V)), rng.standard_normal((N, T, OUT))
    lr = 0.1
    layer = scratch.RNNLayer(H, OUT, hidden_state="zeros")
    layer.load_params(p)
    layer.forward(x)
    layer.backward(G)
    book_step = -lr * layer.params["B_f"]["deriv"][0]
    twin = ti.RNNLayer(None, V, H, OUT, hidden_state="zeros", dtype=torch.float64, single_bias=single_bias)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in RNN.to_torch(p).items()})
    optim = torch.optim.SGD(twin.parameters(), lr=lr)
    twin(torch.from_numpy(x)).backward(torch.from_numpy(G))
    optim.step()
    named = dict(twin.named_parameters())
    bias_ih, bias_hh = named["rnn.bias_ih_l0"], named["rnn.bias_hh_l0"]
    new_sum = (bias_ih + bias_hh).detach().numpy()
    torch_step = new_sum - p["B_f"][0]
    assert np.max(np.abs(book_step)) > 1e-2
    factor = 1.0 if single_bias else 2.0
    np.testing.assert_allclose(torch_step, factor * book_step, rtol=1e-12, atol=1e-14)
    if single_bias:
        assert not bias_hh.detach().numpy().any()


def test_erratum_gru_backward_also_lacks_the_direct_path_to_the_previous_state() -> None:
    # With the update gate fixed (E18) and the output gradient used, the book's dH_in still lacks u ⊙ dh_out:
    # h_t = u ⊙ h_{t-1} + (1 - u) ⊙ h̄ passes h_{t-1} straight through, and that path's gradient is missing.
    rng = np.random.default_rng(1919)
    p = gru_params(rng)
    x = rng.standard_normal((N, T, V))
    G = rng.standard_normal((N, T, OUT))
    _, caches = book_gru_forward(p, x, book_update_gate=False)
    xt = torch.from_numpy(x).requires_grad_(True)
    torch_reset_before(p)(xt).backward(torch.from_numpy(G))
    assert xt.grad is not None
    truth = xt.grad.numpy()
    scale = np.max(np.abs(truth))
    one_fix = gru_input_grad(p, caches, G, use_output_grad=True, direct_term=False)
    both_fixes = gru_input_grad(p, caches, G, use_output_grad=True, direct_term=True)
    assert np.max(np.abs(one_fix - truth)) / scale > 0.2  # the stated fix alone leaves the gradient far off
    assert np.max(np.abs(both_fixes - truth)) <= TOL * scale  # with the direct term it is the true gradient
    layer = scratch.GRULayer(H, OUT, reset="before", hidden_state="zeros")
    layer.load_params(p)
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(G), truth, rtol=0, atol=TOL * scale)
