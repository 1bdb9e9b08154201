"""The fused kernels behind ``scratch.RNNLayer``/``LSTMLayer``/``GRULayer(impl="fast")``, the default (internal).

They compute what the readable path computes (the layer stepping one ``*Node`` per time step, forward then
backward, see ``scratch.rnn``), over the whole sequence at once. Notation as in ``scratch.rnn``: N batch,
T steps, V input features, H hidden size, G the number of stacked gates (1 RNN, 4 LSTM, 3 GRU).

How they are laid out for speed (each choice measured against the alternatives at one thread):

* Gate weights are stacked once per ``forward`` (cheap, so in-place parameter updates are always seen) into
  an input part W_x ``(G, V, H)`` and a recurrent part W_h ``(G', H, H)``, and the biases into B
  ``(G, 1, H)``. The LSTM's W_g ``(V+H, H)`` split into rows ``:V`` (input) and ``V:`` (recurrent).
* Time-major and gate-major: the sequence is transposed once to ``[T, N, V]``; pre-activations and gate
  values live in one array A ``[G, T, N, H]``, so every gate's ``[N, H]`` block of a step is contiguous
  (NumPy's element-wise loops are several times faster on contiguous blocks than on column slices).
* The input part of all steps is ONE batched matmul ``[T·N, V] @ [G, V, H]`` before the loop (for a one-hot
  x, as for characters, the exact row gather it amounts to); the loop does one ``[N, H] @ [G', H, H]``
  per step (the reset-before GRU a second ``[N, H] @ [H, H]`` for (r ⊙ h) W_hh, which depends on r); the
  output projection is one ``[T·N, H] @ [H, O]`` after it (in ``scratch.rnn``).
* Every step works in place in preallocated buffers (``out=``): no allocation inside the loops.
* Backward first computes, for all steps at once, the factors of the gate derivatives that do not depend
  on the incoming gradient (the "P" arrays below), then loops over time only for the recurrence
  (dh_{t-1} = Σ_g dA_{t,g} W_{h,g}ᵀ plus element-wise terms), and finally gets dW_x, dW_h, dB and dx with
  one (batched) matmul or sum each over all steps, split back into the book's named parameters.
* The LSTM works in the internal gate order o, f, i, c (the book's is f, i, c, o): the three σ gates are
  then one contiguous block ``A[:3]`` (one in-place sigmoid) and, in backward, the three gates driven by
  dC (f, i, c) are one block ``dA[1:]`` (one multiply), after the one driven by dh (o).

Results equal the per-step node formulas up to floating-point rounding; float32 stays float32 throughout.
``tests/scratch/test_readable_vs_fast.py`` proves it for outputs, input gradients, parameter gradients,
initial-state gradients and the carried state, in every hidden-state mode and both GRU reset variants.

The forward functions take ``value`` (parameter name -> array, the layer's ``_v``), the time-major input
x ``[T, N, V]``, the starting states (each ``[N, H]``) and the layer's cache dictionary (holding ``x_tm``
and ``given``, whether the initial state needs a gradient), which they fill with what backward needs;
they return ``(h_1 .. h_T [T, N, H], last states)``. The backward functions take dH ``[T, N, H]`` (the
gradient reaching each h_t from its own output, G_t W_vᵀ), the cache and the ``derivs`` dictionary, which
they fill with the book's names; they return ``(dx [T, N, V], initial-state gradients)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from .fundamentals import _sigmoid_unguarded  # the one sigmoid, under the loops' errstate

Value = Callable[[str], np.ndarray]
Cache = dict[str, Any]

LSTM_ORDER = ("o", "f", "i", "c")  # the fused LSTM's gate order (module docstring)


class Kernels(NamedTuple):
    """The fused forward and backward of one cell kind (signatures: module docstring)."""

    forward: Callable[[Value, np.ndarray, list[np.ndarray], Cache], tuple[np.ndarray, list[np.ndarray]]]
    backward: Callable[[np.ndarray, Cache, dict[str, np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]


def _one_minus_square(a: np.ndarray) -> np.ndarray:
    """1 - a² as a new array (the tanh derivative from the tanh value)."""
    out: np.ndarray = np.multiply(a, a)
    np.subtract(1.0, out, out=out)
    return out


def _one_hot_columns(x2: np.ndarray) -> np.ndarray | None:
    """The column of each row's 1 when every row of x2 [R, V] is one-hot (one entry exactly 1, the rest 0), else None.

    R non-zeros in all, and each row's largest entry equal to 1, means exactly one non-zero per row, equal to 1.
    """
    R = x2.shape[0]
    if np.count_nonzero(x2) != R:
        return None
    cols = x2.argmax(axis=1)
    return cols if bool(np.all(x2[np.arange(R), cols] == 1)) else None


def _input_projection(x: np.ndarray, W_x: np.ndarray, B: np.ndarray, W_h: np.ndarray) -> np.ndarray:
    """x_t W_x,g + B_g for every step and gate, gate-major: [T·N, V] @ [G, V, H] -> [G, T, N, H] (a new array).

    W_x [G, V, H] and B [G, 1, H] are stacked per gate. A one-hot x (each row a single exact 1, as for
    characters) selects rows of W_x: the gather gives the matmul's exact result without its cost. The dtype
    is that of all operands promoted together (W_h included), so the per-step ``out=`` buffers of that dtype
    never down-cast. The caller completes the array in place.
    """
    T, N, V = x.shape
    G, _, H = W_x.shape
    x2 = x.reshape(T * N, V)  # [T, N, V] -> [T·N, V] (contiguous, no copy)
    cols = _one_hot_columns(x2)
    A: np.ndarray = np.matmul(x2, W_x) if cols is None else np.take(W_x, cols, axis=1)  # [G, T·N, H]
    A = A.astype(np.result_type(x, W_x, B, W_h), copy=False)
    A += B  # [G, 1, H] broadcast over steps and samples
    return A.reshape(G, T, N, H)


def _input_backward(x: np.ndarray, dA: np.ndarray, W_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From dA [G, T, N, H] (gate-major): dW_x = xᵀ dA_g [G, V, H], dB = Σ dA_g [G, H], dx = Σ_g dA_g W_x,gᵀ."""
    T, N, V = x.shape
    G, H = dA.shape[0], dA.shape[3]
    dA3 = dA.reshape(G, T * N, H)  # [G, T, N, H] -> [G, T·N, H]
    dW_x = np.matmul(x.reshape(T * N, V).T, dA3)  # [V, T·N] @ [G, T·N, H] -> [G, V, H]
    dB = dA3.sum(axis=1)  # [G, H]
    dx = np.matmul(dA3, W_x.transpose(0, 2, 1)).sum(axis=0)  # [G, T·N, H] @ [G, H, V] -> [G, T·N, V] -> Σ_g
    return dW_x, dB, dx.reshape(T, N, V)


# --------------------------------------------------------------------------------------------------------
# RNN: W_f = [W_x; W_h] with W_x = W_f[:V] (V, H), W_h = W_f[V:] (H, H)
#   forward   A_t = x_t W_x + B_f + h_{t-1} W_h,  h_t = tanh(A_t)
#   backward  dh_t = G_t W_vᵀ + dA_{t+1} W_hᵀ,  dA_t = dh_t ⊙ (1 - h_t²)
#             dW_f = [Σ_t x_tᵀ dA_t; Σ_t h_{t-1}ᵀ dA_t],  dB_f = Σ dA_t,  dx_t = dA_t W_xᵀ,  dh_0 = dA_1 W_hᵀ
# --------------------------------------------------------------------------------------------------------


def rnn_forward(
    value: Value, x: np.ndarray, states: list[np.ndarray], cache: Cache
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The vanilla RNN over the whole sequence (equations above)."""
    T, N, V = x.shape
    W_f = value("W_f")
    W_x, W_h = W_f[None, :V], W_f[V:]  # (V+H, H) -> (1, V, H) (one gate), (H, H)
    A = _input_projection(x, W_x, value("B_f")[None], W_h)[0]  # [1, T, N, H] -> [T, N, H]
    H_all = np.empty((T + 1, N, W_h.shape[0]), dtype=A.dtype)  # h_0 .. h_T
    H_all[0] = states[0]
    for t in range(T):
        h = H_all[t + 1]  # [N, H], written in place
        np.matmul(H_all[t], W_h, out=h)
        h += A[t]
        np.tanh(h, out=h)
    cache.update(H_all=H_all, W_x=W_x, W_h=W_h)
    return H_all[1:], [H_all[T]]


def rnn_backward(dH: np.ndarray, cache: Cache, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Backpropagation through time for ``rnn_forward`` (equations above)."""
    x, H_all, W_x, W_h = cache["x_tm"], cache["H_all"], cache["W_x"], cache["W_h"]
    T, N, _ = x.shape
    H = W_h.shape[0]
    dtype = np.result_type(dH, H_all)
    P = _one_minus_square(H_all[1:])  # [T, N, H]: tanh' = 1 - h_t², all steps at once
    dA = np.empty((T, N, H), dtype=dtype)
    W_hT = np.ascontiguousarray(W_h.T)  # (H, H), contiguous for the per-step matmul
    dh = np.empty((N, H), dtype=dtype)
    carry = np.zeros((N, H), dtype=dtype)  # dA_{t+1} W_hᵀ: the gradient reaching h_t from step t+1
    for t in range(T - 1, -1, -1):
        np.add(dH[t], carry, out=dh)  # dh_t
        np.multiply(dh, P[t], out=dA[t])  # dA_t = dh_t ⊙ (1 - h_t²)
        if t > 0 or cache["given"]:
            np.matmul(dA[t], W_hT, out=carry)  # [N, H] @ [H, H]
    dW_x, dB, dx = _input_backward(x, dA[None], W_x)  # one gate: [1, T, N, H]
    dW_h = H_all[:T].reshape(T * N, H).T @ dA.reshape(T * N, H)  # h_0 .. h_{T-1}; [T, N, H] -> [T·N, H]
    derivs["W_f"] = np.concatenate([dW_x[0], dW_h], axis=0)  # (V, H) ++ (H, H) -> (V+H, H)
    derivs["B_f"] = dB  # (1, H)
    return dx, [carry]


# --------------------------------------------------------------------------------------------------------
# LSTM, gate order o, f, i, c: W_x (4, V, H) from the W_g[:V], W_h (4, H, H) from the W_g[V:], B (4, 1, H)
#   forward   A_t = x_t W_x + B + h_{t-1} W_h [4, N, H] -> o, f, i = σ(A_·), c̄ = tanh(A_c);
#             C_t = f ⊙ C_{t-1} + i ⊙ c̄,  h_t = o ⊙ tanh(C_t)
#   backward  factors of all steps up front:
#             P_o = tanh(C_t) ⊙ o(1-o), P_f = C_{t-1} ⊙ f(1-f), P_i = c̄ ⊙ i(1-i), P_c = i ⊙ (1-c̄²),
#             K = o ⊙ (1 - tanh²C_t);  then per step
#             dh_t = G_t W_vᵀ + Σ_g dA_{t+1,g} W_{h,g}ᵀ;  dC_t = dh_t ⊙ K_t + dC_{t+1} ⊙ f_{t+1};
#             dA_t = [dh_t ⊙ P_o, dC_t ⊙ P_f, dC_t ⊙ P_i, dC_t ⊙ P_c]  (= ``LSTMNode``'s dA);
#             then dW_x = Σ x_tᵀ dA_t, dW_h = Σ h_{t-1}ᵀ dA_t, dB = Σ dA_t, dx_t = dA_t W_xᵀ.
# --------------------------------------------------------------------------------------------------------


def lstm_forward(
    value: Value, x: np.ndarray, states: list[np.ndarray], cache: Cache
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The LSTM over the whole sequence (equations above)."""
    T, N, V = x.shape
    H = states[0].shape[1]
    Ws = [value(f"W_{g}") for g in LSTM_ORDER]  # 4 × (V+H, H)
    W_x = np.stack([w[:V] for w in Ws])  # 4 × (V, H) -> (4, V, H)
    W_h = np.stack([w[V:] for w in Ws])  # 4 × (H, H) -> (4, H, H)
    B = np.stack([value(f"B_{g}") for g in LSTM_ORDER])  # 4 × (1, H) -> (4, 1, H)
    # A [4, T, N, H]: x_t W_x + B; each step adds h_{t-1} W_h and applies the activations in place, so
    # afterwards A holds the gate values o, f, i, c̄ of every step.
    A = _input_projection(x, W_x, B, W_h)
    dtype = A.dtype
    H_all = np.empty((T + 1, N, H), dtype=dtype)  # h_0 .. h_T
    C_all = np.empty((T + 1, N, H), dtype=dtype)  # C_0 .. C_T
    tanh_C = np.empty((T, N, H), dtype=dtype)  # tanh(C_1) .. tanh(C_T)
    hW = np.empty((4, N, H), dtype=dtype)  # h_{t-1} W_h, per gate
    ic = np.empty((N, H), dtype=dtype)  # i ⊙ c̄
    H_all[0], C_all[0] = states
    with np.errstate(over="ignore"):  # exp(-a) overflows to inf for very negative a: σ = 0 exactly
        for t in range(T):
            a = A[:, t]  # [4, N, H]: o, f, i, c̄ (each gate's block contiguous)
            np.matmul(H_all[t], W_h, out=hW)  # [N, H] @ [4, H, H] -> [4, N, H]
            a += hW  # A_t
            ofi = a[:3]  # [3, N, H]: the σ gates o, f, i, one contiguous block
            _sigmoid_unguarded(ofi, ofi)  # in place
            np.tanh(a[3], out=a[3])  # c̄
            C = C_all[t + 1]
            np.multiply(a[1], C_all[t], out=C)  # f ⊙ C_{t-1}
            np.multiply(a[2], a[3], out=ic)
            C += ic  # C_t = f ⊙ C_{t-1} + i ⊙ c̄
            np.tanh(C, out=tanh_C[t])
            np.multiply(a[0], tanh_C[t], out=H_all[t + 1])  # h_t = o ⊙ tanh(C_t)
    cache.update(H_all=H_all, C_all=C_all, gates=A, tanh_C=tanh_C, W_x=W_x, W_h=W_h)
    return H_all[1:], [H_all[T], C_all[T]]


def lstm_backward(dH: np.ndarray, cache: Cache, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Backpropagation through time for ``lstm_forward`` (equations above)."""
    x, H_all, C_all, A, tanh_C, W_x, W_h = (
        cache[k] for k in ("x_tm", "H_all", "C_all", "gates", "tanh_C", "W_x", "W_h")
    )
    T, N, _ = x.shape
    H = W_h.shape[1]
    dtype = np.result_type(dH, A)
    o, f, i, c_bar = A  # each [T, N, H]
    # Step-independent factors of all steps at once: dA_t = [dh_t ⊙ P_o, dC_t ⊙ (P_f, P_i, P_c)].
    P = np.empty((4, T, N, H), dtype=dtype)  # P_o, P_f, P_i, P_c
    np.subtract(1.0, A[:3], out=P[:3])
    P[:3] *= A[:3]  # o(1-o), f(1-f), i(1-i)
    P[0] *= tanh_C
    P[1] *= C_all[:T]  # C_{t-1}
    P[2] *= c_bar
    np.multiply(_one_minus_square(c_bar), i, out=P[3])
    K = _one_minus_square(tanh_C)  # [T, N, H]
    K *= o  # o ⊙ (1 - tanh²C_t)
    dA = np.empty((4, T, N, H), dtype=dtype)
    W_hT = np.ascontiguousarray(W_h.transpose(0, 2, 1))  # (4, H, H): W_{h,g}ᵀ per gate
    back = np.empty((4, N, H), dtype=dtype)  # dA_{t,g} W_{h,g}ᵀ per gate
    dh = np.empty((N, H), dtype=dtype)
    dC = np.empty((N, H), dtype=dtype)
    carry = np.zeros((N, H), dtype=dtype)  # Σ_g dA_{t+1,g} W_{h,g}ᵀ: the gradient reaching h_t from step t+1
    dCf = np.zeros((N, H), dtype=dtype)  # dC_{t+1} ⊙ f_{t+1}: the gradient reaching C_t from step t+1
    for t in range(T - 1, -1, -1):
        d = dA[:, t]  # [4, N, H], written in place
        np.add(dH[t], carry, out=dh)  # dh_t
        np.multiply(dh, K[t], out=dC)
        dC += dCf  # dC_t
        np.multiply(dh, P[0, t], out=d[0])  # dA_o
        np.multiply(P[1:, t], dC, out=d[1:])  # dA_f, dA_i, dA_c: [3, N, H] ⊙ [N, H]
        np.multiply(dC, f[t], out=dCf)
        if t > 0 or cache["given"]:
            np.matmul(d, W_hT, out=back)  # [4, N, H] @ [4, H, H] -> [4, N, H]
            np.sum(back, axis=0, out=carry)
    dW_x, dB, dx = _input_backward(x, dA, W_x)  # (4, V, H), (4, H), [T, N, V]
    Hprev = H_all[:T].reshape(T * N, H)  # h_0 .. h_{T-1}: [T, N, H] -> [T·N, H]
    dW_h = np.matmul(Hprev.T, dA.reshape(4, T * N, H))  # [H, T·N] @ [4, T·N, H] -> (4, H, H)
    dW = np.concatenate([dW_x, dW_h], axis=1)  # (4, V, H) ++ (4, H, H) -> (4, V+H, H)
    for k, g in enumerate(LSTM_ORDER):
        derivs[f"W_{g}"] = dW[k]
        derivs[f"B_{g}"] = dB[k : k + 1]  # (1, H)
    return dx, [carry, dCf]


# --------------------------------------------------------------------------------------------------------
# GRU: W_x = (W_xr, W_xu, W_xh) (3, V, H), B = (B_r, B_u, B_h) (3, 1, H), A = x W_x + B for all steps,
# kept gate-major [3, T, N, H] (r, u, h̃); the recurrent weights stacked per gate:
#   "before": per step h W_h with W_h = (W_hr, W_hu) (2, H, H), then (r ⊙ h) W_hh (H, H);
#   "after":  per step h W_h with W_h = (W_hh, W_hr, W_hu) (3, H, H), n = h W_hh + B_hn.
#   h' = h̃ + u ⊙ (h - h̃)  (= u ⊙ h + (1 - u) ⊙ h̃).
# Backward as ``GRUNode`` with dh'_t = G_t W_vᵀ + (gradient from step t+1), the factors of all steps up
# front, so that each step only multiplies them by dh'_t (and, "before", by d(r⊙h)_t):
#   P_h = (1-u) ⊙ (1-h̃²) (dA_h = dh' ⊙ P_h),  P_u = (h - h̃) ⊙ u(1-u) (dA_u = dh' ⊙ P_u);
#   "before": P_r = h ⊙ r(1-r) (dA_r = d(r⊙h) ⊙ P_r);
#   "after":  P_r = P_h ⊙ n ⊙ r(1-r) (dA_r = dh' ⊙ P_r), P_n = P_h ⊙ r (dn = dh' ⊙ P_n).
# --------------------------------------------------------------------------------------------------------


def gru_forward(
    value: Value, x: np.ndarray, states: list[np.ndarray], cache: Cache, after: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The GRU over the whole sequence, reset "after" (``after=True``) or "before" (equations above)."""
    T, N, _ = x.shape
    H = states[0].shape[1]
    W_x = np.stack([value(f"W_x{g}") for g in "ruh"])  # 3 × (V, H) -> (3, V, H)
    B = np.stack([value(f"B_{g}") for g in "ruh"])  # 3 × (1, H) -> (3, 1, H)
    # Recurrent weights stacked per gate: "after" (3, H, H) for n, r, u; "before" (2, H, H) for r, u.
    W_h = np.stack([value(f"W_h{g}") for g in ("hru" if after else "ru")])
    W_hh = value("W_hh")
    B_hn = value("B_hn") if after else np.zeros((1, H), dtype=W_hh.dtype)  # (1, H); zeros: unused "before"
    # A [3, T, N, H]: x_t W_x + B; each step completes and activates it in place into r, u, h̃.
    A = _input_projection(x, W_x, B, W_h)
    dtype = A.dtype
    H_all = np.empty((T + 1, N, H), dtype=dtype)  # h_0 .. h_T
    extra = np.empty((T, N, H), dtype=dtype)  # "before": r ⊙ h_{t-1}; "after": n = h_{t-1} W_hh + B_hn
    hW = np.empty((W_h.shape[0], N, H), dtype=dtype)  # h_{t-1} W_h per gate: [2 or 3, N, H]
    tmp = np.empty((N, H), dtype=dtype)
    H_all[0] = states[0]
    with np.errstate(over="ignore"):  # exp(-a) overflows to inf for very negative a: σ = 0 exactly
        for t in range(T):
            a, h, e = A[:, t], H_all[t], extra[t]  # [3, N, H] (each gate contiguous), [N, H], [N, H]
            r, u, hb = a[0], a[1], a[2]
            np.matmul(h, W_h, out=hW)  # [N, H] @ [G, H, H] -> [G, N, H]
            ru = a[:2]
            if after:
                ru += hW[1:]
                _sigmoid_unguarded(ru, ru)  # r, u (in place)
                np.add(hW[0], B_hn, out=e)  # n
                np.multiply(r, e, out=tmp)  # r ⊙ n
            else:
                ru += hW
                _sigmoid_unguarded(ru, ru)  # r, u (in place)
                np.multiply(r, h, out=e)  # r ⊙ h_{t-1}
                np.matmul(e, W_hh, out=tmp)  # (r ⊙ h_{t-1}) W_hh
            hb += tmp
            np.tanh(hb, out=hb)  # h̃
            np.subtract(h, hb, out=tmp)
            tmp *= u
            np.add(hb, tmp, out=H_all[t + 1])  # h_t = h̃ + u ⊙ (h_{t-1} - h̃)
    cache.update(H_all=H_all, gates=A, extra=extra, W_x=W_x, W_h=W_h, W_hh=W_hh)
    return H_all[1:], [H_all[T]]


def gru_backward(
    dH: np.ndarray, cache: Cache, derivs: dict[str, np.ndarray], after: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Backpropagation through time for ``gru_forward`` (equations above)."""
    x, H_all, A, extra, W_x, W_h = (cache[k] for k in ("x_tm", "H_all", "gates", "extra", "W_x", "W_h"))
    T, N, _ = x.shape
    H = W_h.shape[1]
    dtype = np.result_type(dH, A)
    r, u, hb = A  # each [T, N, H]
    h_prev = H_all[:T]  # h_0 .. h_{T-1}
    dS = np.subtract(1.0, A[:2])
    dS *= A[:2]  # [2, T, N, H]: r(1-r), u(1-u)
    # Step-independent factors of all steps, in the layout of the per-step gradient block D:
    # "after" D_t = [dn, dA_r, dA_u, dA_h] = dh'_t ⊙ [P_n, P_r, P_u, P_h];  "before" D_t = [dA_r, dA_u, dA_h].
    first = 1 if after else 0  # index of dA_r in D
    P = np.empty((first + 3, T, N, H), dtype=dtype)
    P_r, P_u, P_h = P[first], P[first + 1], P[first + 2]  # each [T, N, H]
    np.subtract(1.0, u, out=P_h)
    P_h *= _one_minus_square(hb)  # (1 - u) ⊙ (1 - h̃²)
    np.subtract(h_prev, hb, out=P_u)
    P_u *= dS[1]  # (h - h̃) ⊙ u(1-u)
    if after:
        np.multiply(P_h, extra, out=P_r)
        P_r *= dS[0]  # P_h ⊙ n ⊙ r(1-r)
        np.multiply(P_h, r, out=P[0])  # P_n = P_h ⊙ r
    else:
        np.multiply(h_prev, dS[0], out=P_r)  # h ⊙ r(1-r)
    D = np.empty_like(P)
    W_hT = np.ascontiguousarray(W_h.transpose(0, 2, 1))  # per-gate W_{h,g}ᵀ, contiguous for the matmuls
    back = np.empty((W_h.shape[0], N, H), dtype=dtype)  # per-gate gradient into h_{t-1}
    dh = np.empty((N, H), dtype=dtype)
    tmp = np.empty((N, H), dtype=dtype)
    carry = np.zeros((N, H), dtype=dtype)  # the gradient reaching h_t from step t+1
    if after:
        for t in range(T - 1, -1, -1):
            np.add(dH[t], carry, out=dh)  # dh'_t
            np.multiply(P[:, t], dh, out=D[:, t])  # [dn, dA_r, dA_u, dA_h]: [4, N, H] ⊙ [N, H]
            if t > 0 or cache["given"]:
                np.matmul(D[:3, t], W_hT, out=back)  # [dn, dA_r, dA_u] @ [W_hhᵀ, W_hrᵀ, W_huᵀ]
                np.sum(back, axis=0, out=carry)
                np.multiply(dh, u[t], out=tmp)
                carry += tmp
    else:
        W_hhT = np.ascontiguousarray(cache["W_hh"].T)  # (H, H)
        d_rh = np.empty((N, H), dtype=dtype)
        for t in range(T - 1, -1, -1):
            np.add(dH[t], carry, out=dh)  # dh'_t
            np.multiply(P[1:, t], dh, out=D[1:, t])  # dA_u, dA_h: [2, N, H] ⊙ [N, H]
            np.matmul(D[2, t], W_hhT, out=d_rh)  # d(r⊙h) = dA_h W_hhᵀ
            np.multiply(d_rh, P_r[t], out=D[0, t])  # dA_r
            if t > 0 or cache["given"]:
                np.matmul(D[:2, t], W_hT, out=back)  # [dA_r, dA_u] @ [W_hrᵀ, W_huᵀ]
                np.sum(back, axis=0, out=carry)
                np.multiply(d_rh, r[t], out=tmp)
                carry += tmp
                np.multiply(dh, u[t], out=tmp)
                carry += tmp
    Hprev = h_prev.reshape(T * N, H)  # [T, N, H] -> [T·N, H]
    D3 = D.reshape(D.shape[0], T * N, H)  # [G, T, N, H] -> [G, T·N, H]
    dW_x, dB, dx = _input_backward(x, D[first:], W_x)  # from dA_r, dA_u, dA_h: (3, V, H), (3, H)
    if after:
        dW_h = np.matmul(Hprev.T, D3[:3])  # [H, T·N] @ [3, T·N, H] -> (3, H, H): W_hh, W_hr, W_hu
        derivs.update(W_hh=dW_h[0], W_hr=dW_h[1], W_hu=dW_h[2], B_hn=D3[0].sum(axis=0, keepdims=True))
    else:
        dW_h = np.matmul(Hprev.T, D3[:2])  # (2, H, H): W_hr, W_hu
        derivs.update(W_hr=dW_h[0], W_hu=dW_h[1], W_hh=extra.reshape(T * N, H).T @ D3[2])  # (r⊙h)ᵀ dA_h
    for k, g in enumerate("ruh"):
        derivs[f"W_x{g}"] = dW_x[k]
        derivs[f"B_{g}"] = dB[k : k + 1]  # (1, H)
    return dx, [carry]


RNN = Kernels(rnn_forward, rnn_backward)
LSTM = Kernels(lstm_forward, lstm_backward)
GRU_BEFORE = Kernels(partial(gru_forward, after=False), partial(gru_backward, after=False))  # the book's reset
GRU_AFTER = Kernels(partial(gru_forward, after=True), partial(gru_backward, after=True))  # torch's reset
