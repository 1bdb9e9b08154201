"""Recurrent layers (chapter 6): ``RNNNode``/``RNNLayer``, ``LSTMNode``/``LSTMLayer``, ``GRUNode``/``GRULayer``.

Notation: N batch, T time steps, V input features, H hidden size, O output size, σ the logistic sigmoid,
⊙ the element-wise product, ``[a, b]`` concatenation along the feature axis. Inputs are batch-first
``x_seq [N, T, V]``; outputs ``y [N, T, O]``. Every layer ends each step with its own output projection

    y_t = h_t W_v + B_v          W_v (H, O), B_v (1, O)

so a stack of book layers feeds ``y`` (size O), not ``h``, to the next layer.

Cells (one step, h = h_{t-1}, x = x_t):

    RNN   h' = tanh([x, h] W_f + B_f)                                   W_f (V+H, H), B_f (1, H)
    LSTM  Z = [x, h];  f = σ(Z W_f + B_f), i = σ(Z W_i + B_i), c̄ = tanh(Z W_c + B_c), o = σ(Z W_o + B_o)
          C' = f ⊙ C + i ⊙ c̄,   h' = o ⊙ tanh(C')                       W_* (V+H, H), B_* (1, H)
    GRU   r = σ(x W_xr + h W_hr + B_r),   u = σ(x W_xu + h W_hu + B_u)   W_x* (V, H), W_h* (H, H), B_* (1, H)
          reset="before" (the book, Cho et al. v3, Keras reset_after=False):
              h̃ = tanh(x W_xh + (r ⊙ h) W_hh + B_h)
          reset="after" (torch nn.GRU, cuDNN, Keras reset_after=True), with an extra bias B_hn (1, H):
              h̃ = tanh(x W_xh + B_h + r ⊙ (h W_hh + B_hn))
          h' = u ⊙ h + (1 - u) ⊙ h̃

The book's published GRU had two bugs, both fixed here: its update gate used the reset weights (so
``W_xu``/``W_hu`` had no effect), and its backward ignored the output gradient (every core gradient was 0).

Backward (backpropagation through time): with G_t = dL/dy_t, the gradient reaching h_t is
``dh_t = G_t W_vᵀ + (gradient from step t+1)``; each step turns dh_t (and dC_t for the LSTM) into the
gate pre-activation gradients dA_t and the gradient for h_{t-1} (and C_{t-1}); parameter gradients are
summed over all steps and samples. Each ``backward`` overwrites every ``params[name]["deriv"]``.

Hidden state at the start of a ``forward`` (``hidden_state=``):

* ``"book"`` (default): the book's carry. The first call starts from zeros; after every ``forward`` the
  layer stores the batch mean of the last hidden state (and cell state, LSTM), shape (1, H), and the next
  call repeats it for each of its samples. It is a constant: no gradient flows into it, and a backward
  through call k does not reach call k-1. ``reset_state()`` sets it back to zeros.
* ``"zeros"``: every call starts from zeros (torch's default h0 = 0); again a constant.
* ``forward(x_seq, initial_state=h0)`` (``(h0, c0)`` for the LSTM, each [N, H]) overrides both modes for
  that call; after ``backward`` ``.initial_state_grad`` (and ``.initial_cell_grad``) hold dL/dh0 (dL/dc0),
  [N, H]. Without an ``initial_state`` they are ``None``. In "book" mode the carry is still updated after
  such a call.

Fast path: the gate weights are concatenated once per ``forward`` into an input part W_x (V, G·H) and a
recurrent part W_h (H, G·H) (G = 1, 4, 3 gates for RNN, LSTM, GRU; LSTM order f, i, c, o; GRU r, u, h).
The input part of every step is one matmul ``[N·T, V] @ [V, G·H]`` before the loop, the loop does one
``[N, H] @ [H, G·H]`` per step (the reset-before GRU a second ``[N, H] @ [H, H]`` for (r ⊙ h) W_hh, which
depends on r), and the output projection is one ``[N·T, H] @ [H, O]`` after it. Backward loops over
time only for the recurrence dh_{t-1} = dA_t W_hᵀ (+ element-wise terms); dW_x, dW_h, dB, dx, dW_v, dB_v
are one matmul or sum each over all steps, and are split back into the named parameters.

The ``*Node`` classes compute one step of the book's API with separate per-gate matmuls (readable, slow);
the layers do not use them, so they also serve as an independent reference for the fused path.

Default initialisation (the book's, kept for compatibility): every parameter ~ N(0, weight_scale²), i.e.
``weight_scale`` is the standard deviation. ``RNNLayer(weight_scale=None)`` uses the book's
``2 / (V + O)`` — a variance-style Glorot value used as a std, and with O where Glorot has H.
``LSTMLayer`` and ``GRULayer`` default to 0.01; the book's GRU draws ``B_h``, ``W_v`` and ``B_v`` with std 1.0
whatever ``weight_scale`` is, and so does this one. ``B_hn`` (not in the book) uses ``weight_scale``.
Parameters take the first input's dtype. ``load_params`` sets them explicitly (e.g. shared with torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._validation import _describe, check_choice, check_float_array, check_int, check_positive

__all__ = ["GRULayer", "GRUNode", "LSTMLayer", "LSTMNode", "RNNLayer", "RNNNode"]

ParamDict = dict[str, dict[str, np.ndarray]]

_SEQ_LAYOUT = "[batch, time, features]"
_HIDDEN_MODES = ("book", "zeros")
_RESET_MODES = ("before", "after")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + exp(-a)) as a new array; exp overflow for very negative a gives exactly 0."""
    with np.errstate(over="ignore"):
        out = np.negative(a)
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _acc(params: ParamDict, name: str, grad: np.ndarray) -> None:
    """params[name]["deriv"] += grad (the nodes accumulate over time steps, as in the book)."""
    params[name]["deriv"] += grad


# --------------------------------------------------------------------------------------------------------
# Nodes: one time step, the book's API, separate per-gate matmuls.
# --------------------------------------------------------------------------------------------------------


class RNNNode:
    """One vanilla-RNN step with its output projection.

    forward:   Z = [x, h_in]  [N, V+H];  h_out = tanh(Z W_f + B_f)  [N, H];  x_out = h_out W_v + B_v  [N, O]
    backward:  dh = dx_out W_vᵀ + dh_out;  dA = dh ⊙ (1 - h_out²);  dZ = dA W_fᵀ = [dx_in, dh_in]
               dW_f += Zᵀ dA, dB_f += Σ_n dA, dW_v += h_outᵀ dx_out, dB_v += Σ_n dx_out (accumulated in params)
    """

    def forward(self, x_in: np.ndarray, H_in: np.ndarray, params: ParamDict) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x_out [N, O], H_out [N, H])``."""
        self.Z = np.concatenate([x_in, H_in], axis=1)  # [N, V] ++ [N, H] -> [N, V+H]
        self.H_out = np.tanh(self.Z @ params["W_f"]["value"] + params["B_f"]["value"])
        self.x_out = self.H_out @ params["W_v"]["value"] + params["B_v"]["value"]
        self.V = x_in.shape[1]
        return self.x_out, self.H_out

    def backward(
        self, x_out_grad: np.ndarray, H_out_grad: np.ndarray, params: ParamDict
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x_in_grad [N, V], H_in_grad [N, H])``; accumulate the parameter derivatives."""
        _acc(params, "W_v", self.H_out.T @ x_out_grad)
        _acc(params, "B_v", x_out_grad.sum(axis=0, keepdims=True))
        dh = x_out_grad @ params["W_v"]["value"].T + H_out_grad
        dA = dh * (1.0 - self.H_out**2)
        _acc(params, "W_f", self.Z.T @ dA)
        _acc(params, "B_f", dA.sum(axis=0, keepdims=True))
        dZ = dA @ params["W_f"]["value"].T  # [N, V+H] -> split into x and h parts
        return dZ[:, : self.V], dZ[:, self.V :]


class LSTMNode:
    """One LSTM step with its output projection (gate order f, i, c, o; no peepholes).

    forward:   Z = [x, h_in]  [N, V+H];  f = σ(Z W_f + B_f), i = σ(Z W_i + B_i), c̄ = tanh(Z W_c + B_c),
               o = σ(Z W_o + B_o);  C_out = f ⊙ C_in + i ⊙ c̄;  h_out = o ⊙ tanh(C_out);  x_out = h_out W_v + B_v
    backward:  dh = dx_out W_vᵀ + dh_out;  dC = dC_out + dh ⊙ o ⊙ (1 - tanh²(C_out))
               dA_f = dC ⊙ C_in ⊙ f(1-f), dA_i = dC ⊙ c̄ ⊙ i(1-i), dA_c = dC ⊙ i ⊙ (1-c̄²),
               dA_o = dh ⊙ tanh(C_out) ⊙ o(1-o);  dC_in = dC ⊙ f;  dZ = Σ_g dA_g W_gᵀ = [dx_in, dh_in]
               dW_g += Zᵀ dA_g, dB_g += Σ_n dA_g (accumulated in params)
    """

    def forward(
        self, x_in: np.ndarray, H_in: np.ndarray, C_in: np.ndarray, params: ParamDict
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(x_out [N, O], H_out [N, H], C_out [N, H])``."""
        self.V = x_in.shape[1]
        self.Z = np.concatenate([x_in, H_in], axis=1)  # [N, V] ++ [N, H] -> [N, V+H]
        self.C_in = C_in
        self.f = _sigmoid(self.Z @ params["W_f"]["value"] + params["B_f"]["value"])
        self.i = _sigmoid(self.Z @ params["W_i"]["value"] + params["B_i"]["value"])
        self.c_bar = np.tanh(self.Z @ params["W_c"]["value"] + params["B_c"]["value"])
        self.o = _sigmoid(self.Z @ params["W_o"]["value"] + params["B_o"]["value"])
        self.C_out = self.f * C_in + self.i * self.c_bar
        self.tanh_C = np.tanh(self.C_out)
        self.H_out = self.o * self.tanh_C
        self.x_out = self.H_out @ params["W_v"]["value"] + params["B_v"]["value"]
        return self.x_out, self.H_out, self.C_out

    def backward(
        self, x_out_grad: np.ndarray, H_out_grad: np.ndarray, C_out_grad: np.ndarray, params: ParamDict
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(x_in_grad [N, V], H_in_grad [N, H], C_in_grad [N, H])``; accumulate the derivatives."""
        _acc(params, "W_v", self.H_out.T @ x_out_grad)
        _acc(params, "B_v", x_out_grad.sum(axis=0, keepdims=True))
        dh = x_out_grad @ params["W_v"]["value"].T + H_out_grad
        dC = C_out_grad + dh * self.o * (1.0 - self.tanh_C**2)
        dA = {
            "f": dC * self.C_in * self.f * (1.0 - self.f),
            "i": dC * self.c_bar * self.i * (1.0 - self.i),
            "c": dC * self.i * (1.0 - self.c_bar**2),
            "o": dh * self.tanh_C * self.o * (1.0 - self.o),
        }
        dZ = np.zeros_like(self.Z)
        for g, dA_g in dA.items():
            _acc(params, f"W_{g}", self.Z.T @ dA_g)
            _acc(params, f"B_{g}", dA_g.sum(axis=0, keepdims=True))
            dZ += dA_g @ params[f"W_{g}"]["value"].T
        return dZ[:, : self.V], dZ[:, self.V :], dC * self.f  # dZ [N, V+H] split into x and h parts


class GRUNode:
    """One GRU step with its output projection (correct update gate; reset "before" or "after").

    forward:   r = σ(x W_xr + h W_hr + B_r),  u = σ(x W_xu + h W_hu + B_u)
               "before": h̃ = tanh(x W_xh + (r ⊙ h) W_hh + B_h)
               "after":  h̃ = tanh(x W_xh + B_h + r ⊙ n),  n = h W_hh + B_hn
               h_out = u ⊙ h + (1 - u) ⊙ h̃;  x_out = h_out W_v + B_v
    backward:  dh' = dx_out W_vᵀ + dh_out  (the full gradient; the book's code dropped the first term)
               du = dh' ⊙ (h - h̃),  dh̃ = dh' ⊙ (1 - u),  dA_h = dh̃ ⊙ (1 - h̃²)
               "before": d(r⊙h) = dA_h W_hhᵀ, dr = d(r⊙h) ⊙ h;  dW_hh += (r⊙h)ᵀ dA_h
               "after":  dr = dA_h ⊙ n, dn = dA_h ⊙ r;  dW_hh += hᵀ dn, dB_hn += Σ_n dn
               dA_r = dr ⊙ r(1-r), dA_u = du ⊙ u(1-u)
               dh_in = dh' ⊙ u + dA_r W_hrᵀ + dA_u W_huᵀ + ("before": d(r⊙h) ⊙ r, "after": dn W_hhᵀ)
               dx_in = dA_r W_xrᵀ + dA_u W_xuᵀ + dA_h W_xhᵀ
               dW_xg += xᵀ dA_g, dW_hr += hᵀ dA_r, dW_hu += hᵀ dA_u, dB_g += Σ_n dA_g
    """

    def __init__(self, reset: str = "before") -> None:
        self.reset = check_choice(reset, "reset", _RESET_MODES)

    def forward(self, x_in: np.ndarray, H_in: np.ndarray, params: ParamDict) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x_out [N, O], H_out [N, H])``."""
        p = {k: v["value"] for k, v in params.items()}
        self.x_in, self.H_in = x_in, H_in
        self.r = _sigmoid(x_in @ p["W_xr"] + H_in @ p["W_hr"] + p["B_r"])
        self.u = _sigmoid(x_in @ p["W_xu"] + H_in @ p["W_hu"] + p["B_u"])
        if self.reset == "before":
            self.rh = self.r * H_in
            self.h_bar = np.tanh(x_in @ p["W_xh"] + self.rh @ p["W_hh"] + p["B_h"])
        else:
            self.n = H_in @ p["W_hh"] + p["B_hn"]
            self.h_bar = np.tanh(x_in @ p["W_xh"] + p["B_h"] + self.r * self.n)
        self.H_out = self.u * H_in + (1.0 - self.u) * self.h_bar
        self.x_out = self.H_out @ p["W_v"] + p["B_v"]
        return self.x_out, self.H_out

    def backward(
        self, x_out_grad: np.ndarray, H_out_grad: np.ndarray, params: ParamDict
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x_in_grad [N, V], H_in_grad [N, H])``; accumulate the parameter derivatives."""
        p = {k: v["value"] for k, v in params.items()}
        _acc(params, "W_v", self.H_out.T @ x_out_grad)
        _acc(params, "B_v", x_out_grad.sum(axis=0, keepdims=True))
        dh_out = x_out_grad @ p["W_v"].T + H_out_grad
        du = dh_out * (self.H_in - self.h_bar)
        dA_h = dh_out * (1.0 - self.u) * (1.0 - self.h_bar**2)
        dh_in = dh_out * self.u
        if self.reset == "before":
            d_rh = dA_h @ p["W_hh"].T
            dr = d_rh * self.H_in
            dh_in += d_rh * self.r
            _acc(params, "W_hh", self.rh.T @ dA_h)
        else:
            dr = dA_h * self.n
            dn = dA_h * self.r
            dh_in += dn @ p["W_hh"].T
            _acc(params, "W_hh", self.H_in.T @ dn)
            _acc(params, "B_hn", dn.sum(axis=0, keepdims=True))
        dA_r = dr * self.r * (1.0 - self.r)
        dA_u = du * self.u * (1.0 - self.u)
        dh_in += dA_r @ p["W_hr"].T + dA_u @ p["W_hu"].T
        dx_in = dA_r @ p["W_xr"].T + dA_u @ p["W_xu"].T + dA_h @ p["W_xh"].T
        for g, dA_g in (("r", dA_r), ("u", dA_u), ("h", dA_h)):
            _acc(params, f"W_x{g}", self.x_in.T @ dA_g)
            _acc(params, f"B_{g}", dA_g.sum(axis=0, keepdims=True))
        _acc(params, "W_hr", self.H_in.T @ dA_r)
        _acc(params, "W_hu", self.H_in.T @ dA_u)
        return dx_in, dh_in


# --------------------------------------------------------------------------------------------------------
# Layers: fused fast path over the whole sequence.
# --------------------------------------------------------------------------------------------------------


class _RecurrentLayer:
    """Shared machinery: lazy parameters, state modes, validation, output projection, derivative split."""

    n_states = 1  # 1: h only; 2: (h, C) for the LSTM

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float | None,
        *,
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.hidden_size = check_int(hidden_size, "hidden_size", 1)
        self.output_size = check_int(output_size, "output_size", 1)
        self.weight_scale = None if weight_scale is None else check_positive(weight_scale, "weight_scale")
        self.hidden_state = check_choice(hidden_state, "hidden_state", _HIDDEN_MODES)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.params: ParamDict = {}
        self.input_size: int | None = None
        self.first = True
        self.initial_state_grad: np.ndarray | None = None
        self.initial_cell_grad: np.ndarray | None = None
        self._carry: list[np.ndarray] | None = None  # book mode: [start_H (1, H)] (+ [start_C (1, H)])
        self._cache: dict[str, Any] = {}

    # ---- parameters -----------------------------------------------------------------------------------

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        raise NotImplementedError

    def _param_scale(self, name: str, V: int) -> float:
        """Std of the initial normal draw of parameter ``name`` (the book's choices)."""
        if self.weight_scale is None:
            raise NotImplementedError
        return self.weight_scale

    def _setup_layer(self, V: int, dtype: np.dtype[Any]) -> None:
        self.input_size = V
        self.params = {}
        for name, shape in self._param_shapes(V).items():
            value = self.rng.normal(0.0, self._param_scale(name, V), size=shape).astype(dtype)
            self.params[name] = {"value": value, "deriv": np.zeros_like(value)}
        self.first = False

    def load_params(self, values: Mapping[str, np.ndarray]) -> None:
        """Set every parameter from ``values`` (name -> array, copied), building the layer if needed.

        The names must be exactly the layer's; V is read from the input-weight shape when not yet built.
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"load_params needs a mapping name -> ndarray; received {_describe(values)}")
        first_name = next(iter(self._param_shapes(1)))  # the input weight: its rows give V (or V+H)
        if first_name not in values:
            raise ValueError(f"load_params is missing {first_name!r}; expected names {sorted(self._param_shapes(1))}")
        w = check_float_array(values[first_name], f"load_params[{first_name!r}]", ndim=2, layout="[in, hidden]")
        V = self.input_size if self.input_size is not None else w.shape[0] - self._recurrent_rows()
        if V < 1:
            raise ValueError(
                f"load_params[{first_name!r}] has {w.shape[0]} rows; expected input_size + "
                f"{self._recurrent_rows()} rows with input_size >= 1"
            )
        shapes = self._param_shapes(V)
        if set(values) != set(shapes):
            raise ValueError(
                f"load_params needs exactly the names {sorted(shapes)}; received {sorted(values)} "
                f"(missing {sorted(set(shapes) - set(values))}, unexpected {sorted(set(values) - set(shapes))})"
            )
        new: ParamDict = {}
        for name, shape in shapes.items():
            arr = check_float_array(values[name], f"load_params[{name!r}]", ndim=2)
            if arr.shape != shape:
                raise ValueError(f"load_params[{name!r}] must have shape {shape}; received shape {arr.shape}")
            value = np.array(arr, copy=True)
            new[name] = {"value": value, "deriv": np.zeros_like(value)}
        self.params = new
        self.input_size = V
        self.first = False

    def _recurrent_rows(self) -> int:
        """Rows of the first weight beyond V (H for [x, h] weights, 0 for the GRU's W_xr)."""
        return self.hidden_size

    def _v(self, name: str) -> np.ndarray:
        return self.params[name]["value"]

    # ---- state ------------------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """Forget the book-mode carry: the next call starts from zeros."""
        self._carry = None

    def _initial_states(self, initial_state: Any, N: int, dtype: np.dtype[Any]) -> tuple[list[np.ndarray], bool]:
        """Return the starting states (each [N, H]) and whether they were given (and need gradients)."""
        H = self.hidden_size
        if initial_state is None:
            if self.hidden_state == "book" and self._carry is not None:
                return [np.repeat(s, N, axis=0).astype(dtype, copy=False) for s in self._carry], False  # (1,H)->(N,H)
            return [np.zeros((N, H), dtype=dtype) for _ in range(self.n_states)], False
        if self.n_states == 1:
            states = [initial_state]
            labels = ["initial_state"]
        else:
            if not isinstance(initial_state, tuple | list) or len(initial_state) != 2:
                raise TypeError(
                    f"{type(self).__name__} initial_state must be a tuple (h0, c0) of [batch, hidden_size] arrays; "
                    f"received {_describe(initial_state)}"
                )
            states = list(initial_state)
            labels = ["initial_state h0", "initial_state c0"]
        out = []
        for s, label in zip(states, labels, strict=True):
            s = check_float_array(s, f"{type(self).__name__} {label}", ndim=2, layout="[batch, hidden_size]")
            if s.shape != (N, H):
                raise ValueError(
                    f"{type(self).__name__} {label} must have shape (batch, hidden_size) = {(N, H)}; "
                    f"received shape {s.shape}"
                )
            out.append(s)
        return out, True

    # ---- forward / backward --------------------------------------------------------------------------------

    def _check_seq(self, x_seq: Any) -> np.ndarray:
        name = f"{type(self).__name__} x_seq"
        x = check_float_array(x_seq, name, ndim=3, layout=_SEQ_LAYOUT)
        if self.input_size is not None and x.shape[2] != self.input_size:
            raise ValueError(
                f"{name} must have {self.input_size} features (the layer was built for them; the sequence length "
                f"may change, the feature count may not); received shape {x.shape} with {x.shape[2]} features"
            )
        return x

    def forward(self, x_seq: np.ndarray, initial_state: Any = None) -> np.ndarray:
        """Run the sequence ``x_seq [N, T, V]`` and return the per-step outputs ``[N, T, O]``."""
        x = self._check_seq(x_seq)
        N, T, V = x.shape
        if self.first:
            self._setup_layer(V, x.dtype)
        states, given = self._initial_states(initial_state, N, x.dtype)
        self._cache = {"x": x, "given": given}
        H_seq, last = self._forward_core(x, states)  # H_seq [N, T, H]: h_1 .. h_T
        self._cache["H_seq"] = H_seq
        # Output projection of every step in one matmul: [N·T, H] @ [H, O] -> [N·T, O] -> [N, T, O].
        y = (H_seq.reshape(N * T, self.hidden_size) @ self._v("W_v") + self._v("B_v")).reshape(N, T, -1)
        if self.hidden_state == "book":
            self._carry = [s.mean(axis=0, keepdims=True) for s in last]  # [N, H] -> (1, H), a constant
        self.output = y
        return y

    def backward(self, output_grad: np.ndarray) -> np.ndarray:
        """Backpropagate ``output_grad [N, T, O]`` through time; return dL/dx_seq ``[N, T, V]``."""
        if not self._cache:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        G = check_float_array(output_grad, f"{type(self).__name__} output_grad", ndim=3, finite=False)
        if G.shape != self.output.shape:
            raise ValueError(
                f"{type(self).__name__} output_grad must have the output's shape {self.output.shape}; "
                f"received shape {G.shape}"
            )
        N, T, n_out = G.shape
        H = self.hidden_size
        G2 = G.reshape(N * T, n_out)  # [N, T, O] -> [N·T, O]
        H2 = self._cache["H_seq"].reshape(N * T, H)  # [N, T, H] -> [N·T, H]
        derivs = {"W_v": H2.T @ G2, "B_v": G2.sum(axis=0, keepdims=True)}
        dH_seq = (G2 @ self._v("W_v").T).reshape(N, T, H)  # gradient reaching each h_t from its own output
        dx, state_grads = self._backward_core(dH_seq, derivs)
        for name, d in derivs.items():
            self.params[name]["deriv"] = d
        if self._cache["given"]:
            self.initial_state_grad = state_grads[0]
            self.initial_cell_grad = state_grads[1] if self.n_states == 2 else None
        else:
            self.initial_state_grad = self.initial_cell_grad = None
        self.input_grad = dx
        return dx

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def _backward_core(self, dH_seq: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    @staticmethod
    def _input_projection(x: np.ndarray, W_x: np.ndarray, B: np.ndarray) -> np.ndarray:
        """x W_x + B for every step in one matmul: [N·T, V] @ [V, G·H] -> [N, T, G·H]."""
        N, T, V = x.shape
        return (x.reshape(N * T, V) @ W_x + B).reshape(N, T, -1)

    @staticmethod
    def _input_backward(x: np.ndarray, dA: np.ndarray, W_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From dA [N, T, G·H]: dW_x = xᵀ dA [V, G·H], dB = Σ dA [1, G·H], dx = dA W_xᵀ [N, T, V]."""
        N, T, V = x.shape
        dA2 = dA.reshape(N * T, -1)  # [N, T, G·H] -> [N·T, G·H]
        dW_x = x.reshape(N * T, V).T @ dA2  # [V, N·T] @ [N·T, G·H]
        dB = dA2.sum(axis=0, keepdims=True)
        dx = (dA2 @ W_x.T).reshape(N, T, V)  # [N·T, G·H] @ [G·H, V] -> [N, T, V]
        return dW_x, dB, dx


class RNNLayer(_RecurrentLayer):
    """The book's vanilla RNN layer: h_t = tanh([x_t, h_{t-1}] W_f + B_f), y_t = h_t W_v + B_v.

    Parameters: ``W_f (V+H, H)``, ``B_f (1, H)``, ``W_v (H, O)``, ``B_v (1, O)``.
    ``weight_scale=None`` is the book's std ``2 / (V + O)``. Shapes: ``forward([N, T, V]) -> [N, T, O]``,
    ``backward([N, T, O]) -> [N, T, V]``.

    Fused: W_f = [W_x; W_h] with W_x = W_f[:V] (V, H), W_h = W_f[V:] (H, H);
    forward  A_t = x_t W_x + B_f + h_{t-1} W_h,  h_t = tanh(A_t)
    backward dh_t = G_t W_vᵀ + dA_{t+1} W_hᵀ,  dA_t = dh_t ⊙ (1 - h_t²)
             dW_f = [Σ_t x_tᵀ dA_t; Σ_t h_{t-1}ᵀ dA_t],  dB_f = Σ dA_t,  dx_t = dA_t W_xᵀ,  dh_0 = dA_1 W_hᵀ
    """

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float | None = None,
        *,
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(hidden_size, output_size, weight_scale, hidden_state=hidden_state, rng=rng)

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H, n_out = self.hidden_size, self.output_size
        return {"W_f": (V + H, H), "B_f": (1, H), "W_v": (H, n_out), "B_v": (1, n_out)}

    def _param_scale(self, name: str, V: int) -> float:
        return 2.0 / (V + self.output_size) if self.weight_scale is None else self.weight_scale

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        N, T, V = x.shape
        W_f = self._v("W_f")
        W_x, W_h = W_f[:V], W_f[V:]  # (V+H, H) -> (V, H), (H, H)
        A_x = self._input_projection(x, W_x, self._v("B_f"))  # [N, T, H]
        H_all = np.empty((N, T + 1, self.hidden_size), dtype=A_x.dtype)  # h_0 .. h_T
        H_all[:, 0] = h = states[0]
        for t in range(T):
            h = np.tanh(A_x[:, t] + h @ W_h)
            H_all[:, t + 1] = h
        self._cache.update(H_all=H_all, W_x=W_x, W_h=W_h)
        return H_all[:, 1:], [h]

    def _backward_core(self, dH_seq: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, W_x, W_h = c["x"], c["H_all"], c["W_x"], c["W_h"]
        N, T, _ = x.shape
        dA = np.empty_like(dH_seq)  # [N, T, H]
        dh_next = np.zeros_like(dH_seq[:, 0])
        for t in range(T - 1, -1, -1):
            h = H_all[:, t + 1]
            dA_t = (dH_seq[:, t] + dh_next) * (1.0 - h * h)
            dA[:, t] = dA_t
            if t > 0 or c["given"]:
                dh_next = dA_t @ W_h.T
        dW_x, dB, dx = self._input_backward(x, dA, W_x)
        Hprev = H_all[:, :T].reshape(N * T, -1)  # [N, T, H] (h_0 .. h_{T-1}) -> [N·T, H]
        dW_h = Hprev.T @ dA.reshape(N * T, -1)
        derivs["W_f"] = np.concatenate([dW_x, dW_h], axis=0)  # (V, H) ++ (H, H) -> (V+H, H)
        derivs["B_f"] = dB
        return dx, [dh_next]


class LSTMLayer(_RecurrentLayer):
    """The book's LSTM layer (gates f, i, c, o on Z = [x, h]; C' = f⊙C + i⊙c̄; h' = o⊙tanh(C'); y = h' W_v + B_v).

    Parameters: ``W_f, W_i, W_c, W_o (V+H, H)``, ``B_f, B_i, B_c, B_o (1, H)``, ``W_v (H, O)``, ``B_v (1, O)``;
    all drawn with std ``weight_scale`` (book default 0.01). State: (h, C), both carried in "book" mode.

    Fused: W = [W_f | W_i | W_c | W_o] (V+H, 4H), split into W_x (V, 4H) and W_h (H, 4H); B (1, 4H);
    forward  A_t = x_t W_x + B + h_{t-1} W_h [N, 4H] -> f, i, o = σ(A_·), c̄ = tanh(A_c) (see ``LSTMNode``)
    backward dh_t = G_t W_vᵀ + dA_{t+1} W_hᵀ; dC_t = dC_{t+1} ⊙ f_{t+1} + dh_t ⊙ o_t ⊙ (1 - tanh²C_t);
             dA_t as in ``LSTMNode``; dW_x = Σ x_tᵀ dA_t, dW_h = Σ h_{t-1}ᵀ dA_t, dB = Σ dA_t, dx_t = dA_t W_xᵀ
    """

    n_states = 2
    _GATES = ("f", "i", "c", "o")

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float = 0.01,
        *,
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(hidden_size, output_size, weight_scale, hidden_state=hidden_state, rng=rng)

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H, n_out = self.hidden_size, self.output_size
        shapes: dict[str, tuple[int, int]] = {f"W_{g}": (V + H, H) for g in self._GATES}
        shapes.update({f"B_{g}": (1, H) for g in self._GATES})
        shapes.update({"W_v": (H, n_out), "B_v": (1, n_out)})
        return shapes

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        N, T, V = x.shape
        H = self.hidden_size
        W = np.concatenate([self._v(f"W_{g}") for g in self._GATES], axis=1)  # 4 × (V+H, H) -> (V+H, 4H)
        B = np.concatenate([self._v(f"B_{g}") for g in self._GATES], axis=1)  # 4 × (1, H) -> (1, 4H)
        W_x, W_h = W[:V], W[V:]  # (V, 4H), (H, 4H)
        A_x = self._input_projection(x, W_x, B)  # [N, T, 4H]
        dtype = A_x.dtype
        H_all = np.empty((N, T + 1, H), dtype=dtype)  # h_0 .. h_T
        C_all = np.empty((N, T + 1, H), dtype=dtype)  # C_0 .. C_T
        gates = np.empty((N, T, 4 * H), dtype=dtype)  # f, i, c̄, o after their activations
        tanh_C = np.empty((N, T, H), dtype=dtype)
        H_all[:, 0] = h = states[0]
        C_all[:, 0] = C = states[1]
        for t in range(T):
            A = A_x[:, t] + h @ W_h  # [N, 4H]
            c_bar = np.tanh(A[:, 2 * H : 3 * H])
            g = _sigmoid(A)
            g[:, 2 * H : 3 * H] = c_bar
            C = g[:, :H] * C + g[:, H : 2 * H] * c_bar
            tC = np.tanh(C)
            h = g[:, 3 * H :] * tC
            gates[:, t] = g
            tanh_C[:, t] = tC
            H_all[:, t + 1] = h
            C_all[:, t + 1] = C
        self._cache.update(H_all=H_all, C_all=C_all, gates=gates, tanh_C=tanh_C, W_x=W_x, W_h=W_h)
        return H_all[:, 1:], [h, C]

    def _backward_core(self, dH_seq: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, C_all, gates, tanh_C, W_x, W_h = (
            c[k] for k in ("x", "H_all", "C_all", "gates", "tanh_C", "W_x", "W_h")
        )
        N, T, _ = x.shape
        H = self.hidden_size
        dA = np.empty((N, T, 4 * H), dtype=dH_seq.dtype)
        dh_next = np.zeros_like(dH_seq[:, 0])
        dC_next = np.zeros_like(dh_next)
        for t in range(T - 1, -1, -1):
            g = gates[:, t]
            f, i, c_bar, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
            tC = tanh_C[:, t]
            dh = dH_seq[:, t] + dh_next
            dC = dC_next + dh * o * (1.0 - tC * tC)
            dA_t = dA[:, t]  # a view [N, 4H], written in place
            dA_t[:, :H] = dC * C_all[:, t] * f * (1.0 - f)
            dA_t[:, H : 2 * H] = dC * c_bar * i * (1.0 - i)
            dA_t[:, 2 * H : 3 * H] = dC * i * (1.0 - c_bar * c_bar)
            dA_t[:, 3 * H :] = dh * tC * o * (1.0 - o)
            dC_next = dC * f
            if t > 0 or c["given"]:
                dh_next = dA_t @ W_h.T  # [N, 4H] @ [4H, H]
        dW_x, dB, dx = self._input_backward(x, dA, W_x)
        Hprev = H_all[:, :T].reshape(N * T, H)  # h_0 .. h_{T-1}: [N, T, H] -> [N·T, H]
        dW_h = Hprev.T @ dA.reshape(N * T, 4 * H)  # (H, 4H)
        dW = np.concatenate([dW_x, dW_h], axis=0)  # (V, 4H) ++ (H, 4H) -> (V+H, 4H)
        for k, g_name in enumerate(self._GATES):
            derivs[f"W_{g_name}"] = np.ascontiguousarray(dW[:, k * H : (k + 1) * H])
            derivs[f"B_{g_name}"] = np.ascontiguousarray(dB[:, k * H : (k + 1) * H])
        return dx, [dh_next, dC_next]


class GRULayer(_RecurrentLayer):
    """A GRU layer with the book's names and the correct update gate; reset "before" (book) or "after" (torch).

    Parameters: ``W_xr, W_xu, W_xh (V, H)``, ``W_hr, W_hu, W_hh (H, H)``, ``B_r, B_u, B_h (1, H)``,
    ``W_v (H, O)``, ``B_v (1, O)``, and ``B_hn (1, H)`` only when ``reset="after"``. Equations: module
    docstring and ``GRUNode``. Book init: std ``weight_scale`` (default 0.01) except ``B_h``, ``W_v``, ``B_v``
    (std 1.0, as the book).

    Fused: W_x = [W_xr | W_xu | W_xh] (V, 3H), B = [B_r | B_u | B_h] (1, 3H), A_x = x W_x + B for all steps;
    "before": per step h W_hru with W_hru = [W_hr | W_hu] (H, 2H), then (r⊙h) W_hh (H, H);
    "after":  per step h W_h with W_h = [W_hr | W_hu | W_hh] (H, 3H), n = (h W_h)[:, 2H:] + B_hn.
    Backward per step as in ``GRUNode`` with dh'_t = G_t W_vᵀ + (gradient from step t+1); the weight and
    input gradients are accumulated after the loop from the stored dA_x [N, T, 3H] and recurrent dA's.
    """

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float = 0.01,
        *,
        reset: str = "before",
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.reset = check_choice(reset, "reset", _RESET_MODES)
        super().__init__(hidden_size, output_size, weight_scale, hidden_state=hidden_state, rng=rng)

    def _recurrent_rows(self) -> int:
        return 0

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H, n_out = self.hidden_size, self.output_size
        shapes: dict[str, tuple[int, int]] = {f"W_x{g}": (V, H) for g in "ruh"}
        shapes.update({f"W_h{g}": (H, H) for g in "ruh"})
        shapes.update({f"B_{g}": (1, H) for g in "ruh"})
        shapes.update({"W_v": (H, n_out), "B_v": (1, n_out)})
        if self.reset == "after":
            shapes["B_hn"] = (1, H)
        return shapes

    def _param_scale(self, name: str, V: int) -> float:
        if name in ("B_h", "W_v", "B_v"):
            return 1.0  # the book's GRU ignores weight_scale for these three
        return super()._param_scale(name, V)

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        N, T, _ = x.shape
        H = self.hidden_size
        W_x = np.concatenate([self._v(f"W_x{g}") for g in "ruh"], axis=1)  # 3 × (V, H) -> (V, 3H)
        B = np.concatenate([self._v(f"B_{g}") for g in "ruh"], axis=1)  # 3 × (1, H) -> (1, 3H)
        A_x = self._input_projection(x, W_x, B)  # [N, T, 3H]
        dtype = A_x.dtype
        after = self.reset == "after"
        if after:
            W_h = np.concatenate([self._v(f"W_h{g}") for g in "ruh"], axis=1)  # 3 × (H, H) -> (H, 3H)
            B_hn = self._v("B_hn")
        else:
            W_h = np.concatenate([self._v("W_hr"), self._v("W_hu")], axis=1)  # 2 × (H, H) -> (H, 2H)
            W_hh = self._v("W_hh")
        H_all = np.empty((N, T + 1, H), dtype=dtype)  # h_0 .. h_T
        ru = np.empty((N, T, 2 * H), dtype=dtype)  # r, u
        h_bar = np.empty((N, T, H), dtype=dtype)
        extra = np.empty((N, T, H), dtype=dtype)  # "before": r ⊙ h_{t-1}; "after": n = h_{t-1} W_hh + B_hn
        H_all[:, 0] = h = states[0]
        for t in range(T):
            A_t = A_x[:, t]
            Hh = h @ W_h  # [N, 2H] (before) or [N, 3H] (after)
            g = _sigmoid(A_t[:, : 2 * H] + Hh[:, : 2 * H])
            r, u = g[:, :H], g[:, H:]
            if after:
                e = Hh[:, 2 * H :] + B_hn
                hb = np.tanh(A_t[:, 2 * H :] + r * e)
            else:
                e = r * h
                hb = np.tanh(A_t[:, 2 * H :] + e @ W_hh)
            h = u * h + (1.0 - u) * hb
            ru[:, t] = g
            h_bar[:, t] = hb
            extra[:, t] = e
            H_all[:, t + 1] = h
        self._cache.update(H_all=H_all, ru=ru, h_bar=h_bar, extra=extra, W_x=W_x, W_h=W_h)
        return H_all[:, 1:], [h]

    def _backward_core(self, dH_seq: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, ru, h_bar, extra, W_x, W_h = (c[k] for k in ("x", "H_all", "ru", "h_bar", "extra", "W_x", "W_h"))
        N, T, _ = x.shape
        H = self.hidden_size
        after = self.reset == "after"
        W_hh = self._v("W_hh") if not after else None
        dA_x = np.empty((N, T, 3 * H), dtype=dH_seq.dtype)  # dA_r, dA_u, dA_h
        # recurrent pre-activation grads: "after" [dA_r, dA_u, dn] (against h W_h); "before" unused (= dA_x[..., :2H])
        dA_hid = np.empty((N, T, 3 * H), dtype=dH_seq.dtype) if after else None
        dh_next = np.zeros_like(dH_seq[:, 0])
        for t in range(T - 1, -1, -1):
            h_prev = H_all[:, t]
            r, u = ru[:, t, :H], ru[:, t, H:]
            hb = h_bar[:, t]
            dh = dH_seq[:, t] + dh_next  # the full gradient reaching h_t
            du = dh * (h_prev - hb)
            dA_h = dh * (1.0 - u) * (1.0 - hb * hb)
            dh_prev = dh * u
            if after:
                dr = dA_h * extra[:, t]  # extra = n
                dn = dA_h * r
            else:
                d_rh = dA_h @ W_hh.T  # type: ignore[union-attr]
                dr = d_rh * h_prev
                dh_prev += d_rh * r
            dA_t = dA_x[:, t]  # a view [N, 3H], written in place
            dA_t[:, :H] = dr * r * (1.0 - r)
            dA_t[:, H : 2 * H] = du * u * (1.0 - u)
            dA_t[:, 2 * H :] = dA_h
            if after:
                dHh = dA_hid[:, t]  # type: ignore[index]
                dHh[:, : 2 * H] = dA_t[:, : 2 * H]
                dHh[:, 2 * H :] = dn
                if t > 0 or c["given"]:
                    dh_prev += dHh @ W_h.T  # [N, 3H] @ [3H, H]
            elif t > 0 or c["given"]:
                dh_prev += dA_t[:, : 2 * H] @ W_h.T  # [N, 2H] @ [2H, H]
            dh_next = dh_prev
        dW_x, dB, dx = self._input_backward(x, dA_x, W_x)
        Hprev = H_all[:, :T].reshape(N * T, H)  # h_0 .. h_{T-1}: [N, T, H] -> [N·T, H]
        if after:
            dHh2 = dA_hid.reshape(N * T, 3 * H)  # type: ignore[union-attr]
            dW_h = Hprev.T @ dHh2  # (H, 3H): [W_hr | W_hu | W_hh]
            derivs["B_hn"] = dHh2[:, 2 * H :].sum(axis=0, keepdims=True)
        else:
            dA2 = dA_x.reshape(N * T, 3 * H)
            dW_h = np.concatenate(  # (H, 2H) ++ (H, H) -> (H, 3H): [W_hr | W_hu | W_hh]
                [Hprev.T @ dA2[:, : 2 * H], extra.reshape(N * T, H).T @ dA2[:, 2 * H :]], axis=1
            )
        for k, g in enumerate("ruh"):
            sl = slice(k * H, (k + 1) * H)
            derivs[f"W_x{g}"] = np.ascontiguousarray(dW_x[:, sl])
            derivs[f"W_h{g}"] = np.ascontiguousarray(dW_h[:, sl])
            derivs[f"B_{g}"] = np.ascontiguousarray(dB[:, sl])
        return dx, [dh_next]
