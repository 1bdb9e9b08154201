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

Saving and restoring (weights and carry together): ``state()`` returns copies of the parameter values plus
the carry under the book's names ``start_H`` (and ``start_C``, LSTM), each (1, H), present only while a carry
exists; ``load_state(state)`` sets both (``load_params`` for the parameters; no ``start_*`` entries means
"no carried state yet"). ``parity_tests.converters`` maps them to the torch twin's ``carry`` buffer.

Fast path: the gate weights are stacked once per ``forward`` (cheap, so in-place parameter updates are
always seen) into an input part W_x (G, V, H) and a recurrent part W_h (G, H, H) (G = 1, 4, 3 gates for
RNN, LSTM, GRU; LSTM order o, f, i, c; GRU r, u, h, and n, r, u for the "after" GRU's recurrent part).
The layers work time-major and gate-major: pre-activations and gate values live in one array
A [G, T, N, H], so every gate's [N, H] block of a step is contiguous (NumPy's element-wise loops are
several times faster on contiguous blocks than on column slices) and every step's work is in place in
preallocated buffers (``out=``), no allocation inside the loops. The input part of all steps is one
batched matmul ``[T·N, V] @ [G, V, H]`` before the loop (for a one-hot x, as for characters, the exact
row gather it amounts to), the loop does one ``[N, H] @ [G, H, H]`` per step (the reset-before GRU a
second ``[N, H] @ [H, H]`` for (r ⊙ h) W_hh, which depends on r), and the output projection is one
``[T·N, H] @ [H, O]`` after it. Backward computes the step-independent factors of the gate derivatives
for all steps at once, then loops over time only for the recurrence dh_{t-1} = Σ_g dA_{t,g} W_{h,g}ᵀ
(+ element-wise terms); dW_x, dW_h, dB, dx, dW_v, dB_v are one (batched) matmul or sum each over all
steps, and are split back into the named parameters. Results equal the per-gate formulas up to
floating-point rounding; float32 stays float32 throughout.

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

from ._validation import (
    _describe,
    check_choice,
    check_dtype_matches,
    check_float_array,
    check_int,
    check_output_finite,
    check_positive,
)
from .base import check_output_grad

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
            check_dtype_matches(arr, f"load_params[{name!r}]", values[first_name], f"load_params[{first_name!r}]")
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

    @property
    def state_names(self) -> tuple[str, ...]:
        """The carry's names in ``state()``: the book's ``start_H`` (and ``start_C`` for the LSTM)."""
        return ("start_H", "start_C")[: self.n_states]

    def state(self) -> dict[str, np.ndarray]:
        """Copies of every parameter value (``params`` order) and, while there is one, the book-mode carry
        (``start_H`` (1, H), plus ``start_C`` (1, H) for the LSTM). Empty before the layer is built."""
        out = {name: p["value"].copy() for name, p in self.params.items()}
        if self._carry is not None:
            out.update({name: s.copy() for name, s in zip(self.state_names, self._carry, strict=True)})
        return out

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Set the parameters (exactly ``load_params``'s names) and the carry from ``state`` (as ``state()``
        returns it, arrays copied). Without ``start_*`` entries the layer has no carried state afterwards; with
        them they must all be there, each (1, H) in the parameters' dtype."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state needs a mapping name -> ndarray; received {_describe(state)}")
        names = self.state_names
        given = [name for name in names if name in state]
        if given and len(given) != len(names):
            raise ValueError(
                f"load_state needs all of {list(names)} (the carried state) or none of them; received only {given}"
            )
        params = {k: v for k, v in state.items() if k not in names}
        reference = params.get(next(iter(self._param_shapes(1))))
        carry = []
        for name in given:
            arr = check_float_array(state[name], f"load_state[{name!r}]", ndim=2, layout="[1, hidden_size]")
            if arr.shape != (1, self.hidden_size):
                raise ValueError(
                    f"load_state[{name!r}] (the carried state) must have shape (1, {self.hidden_size}); "
                    f"received shape {arr.shape}"
                )
            if isinstance(reference, np.ndarray):
                check_dtype_matches(arr, f"load_state[{name!r}]", reference, "the parameters")
            carry.append(np.array(arr, copy=True))
        self.load_params(params)
        self._carry = carry or None

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
            check_dtype_matches(s, f"{type(self).__name__} {label}", np.empty(0, dtype), "x_seq")
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
        if not self.first:
            check_dtype_matches(x, name, self._v("W_v"), "the layer's parameters")
        return x

    def forward(self, x_seq: np.ndarray, initial_state: Any = None) -> np.ndarray:
        """Run the sequence ``x_seq [N, T, V]`` and return the per-step outputs ``[N, T, O]``."""
        x = self._check_seq(x_seq)
        N, T, V = x.shape
        if self.first:
            self._setup_layer(V, x.dtype)
        states, given = self._initial_states(initial_state, N, x.dtype)
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # [N, T, V] -> [T, N, V]: each step's rows contiguous
        self._cache = {"x_tm": x_tm, "given": given}
        H_tm, last = self._forward_core(x_tm, states)  # H_tm [T, N, H]: h_1 .. h_T
        self._cache["H_tm"] = H_tm
        # Output projection of every step in one matmul: [T·N, H] @ [H, O] -> [T·N, O] -> [T, N, O] -> [N, T, O].
        y_tm = H_tm.reshape(T * N, self.hidden_size) @ self._v("W_v") + self._v("B_v")
        y = np.ascontiguousarray(y_tm.reshape(T, N, -1).transpose(1, 0, 2))
        check_output_finite(y, type(self).__name__, lambda: {name: p["value"] for name, p in self.params.items()})
        if self.hidden_state == "book":
            self._carry = [s.mean(axis=0, keepdims=True) for s in last]  # [N, H] -> (1, H), a constant
        self.output = y
        return y

    def backward(self, output_grad: np.ndarray) -> np.ndarray:
        """Backpropagate ``output_grad [N, T, O]`` through time; return dL/dx_seq ``[N, T, V]``."""
        if not self._cache:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        G = check_float_array(output_grad, f"{type(self).__name__} output_grad", ndim=3, finite=False)
        check_output_grad(G, self.output, f"{type(self).__name__} output_grad")
        N, T, n_out = G.shape
        H = self.hidden_size
        G2 = np.ascontiguousarray(G.transpose(1, 0, 2)).reshape(T * N, n_out)  # [N, T, O] -> [T, N, O] -> [T·N, O]
        H2 = self._cache["H_tm"].reshape(T * N, H)  # [T, N, H] -> [T·N, H]
        derivs = {"W_v": H2.T @ G2, "B_v": G2.sum(axis=0, keepdims=True)}
        dH_tm = (G2 @ self._v("W_v").T).reshape(T, N, H)  # gradient reaching each h_t from its own output
        dx_tm, state_grads = self._backward_core(dH_tm, derivs)
        for name, d in derivs.items():
            self.params[name]["deriv"] = d
        if self._cache["given"]:
            self.initial_state_grad = state_grads[0]
            self.initial_cell_grad = state_grads[1] if self.n_states == 2 else None
        else:
            self.initial_state_grad = self.initial_cell_grad = None
        dx = np.ascontiguousarray(dx_tm.transpose(1, 0, 2))  # [T, N, V] -> [N, T, V]
        self.input_grad = dx
        return dx

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Time-major core: x [T, N, V], states each [N, H] -> (h_1 .. h_T [T, N, H], last states)."""
        raise NotImplementedError

    def _backward_core(self, dH: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Time-major core: dH [T, N, H] (G_t W_vᵀ) -> (dx [T, N, V], initial-state grads); fills ``derivs``."""
        raise NotImplementedError

    @staticmethod
    def _input_projection(x: np.ndarray, W_x: np.ndarray, B: np.ndarray, W_h: np.ndarray) -> np.ndarray:
        """x_t W_x,g + B_g for every step and gate, gate-major: [T·N, V] @ [G, V, H] -> [G, T, N, H] (a new array).

        W_x [G, V, H] and B [G, 1, H] are stacked per gate. Gate-major keeps every gate's [N, H] block of a
        step contiguous, so the per-step element-wise work runs on contiguous arrays (NumPy's fast loops,
        several times faster there than on strided column blocks). A one-hot x (each row a single exact 1, as
        for characters) selects rows of W_x: the gather gives the matmul's exact result without its cost.
        The dtype is that of all operands promoted together (W_h included), so the per-step ``out=`` buffers
        of that dtype never down-cast. The caller completes the array in place.
        """
        T, N, V = x.shape
        G, _, H = W_x.shape
        x2 = x.reshape(T * N, V)  # [T, N, V] -> [T·N, V] (contiguous, no copy)
        cols = _one_hot_columns(x2)
        A = np.matmul(x2, W_x) if cols is None else np.take(W_x, cols, axis=1)  # [G, T·N, H]
        A = A.astype(np.result_type(x, W_x, B, W_h), copy=False)
        A += B  # [G, 1, H] broadcast over steps and samples
        return A.reshape(G, T, N, H)

    @staticmethod
    def _input_backward(x: np.ndarray, dA: np.ndarray, W_x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From dA [G, T, N, H] (gate-major): dW_x = xᵀ dA_g [G, V, H], dB = Σ dA_g [G, H], dx = Σ_g dA_g W_x,gᵀ."""
        T, N, V = x.shape
        G, H = dA.shape[0], dA.shape[3]
        dA3 = dA.reshape(G, T * N, H)  # [G, T, N, H] -> [G, T·N, H]
        dW_x = np.matmul(x.reshape(T * N, V).T, dA3)  # [V, T·N] @ [G, T·N, H] -> [G, V, H]
        dB = dA3.sum(axis=1)  # [G, H]
        dx = np.matmul(dA3, W_x.transpose(0, 2, 1)).sum(axis=0)  # [G, T·N, H] @ [G, H, V] -> [G, T·N, V] -> Σ_g
        return dW_x, dB, dx.reshape(T, N, V)


def _one_hot_columns(x2: np.ndarray) -> np.ndarray | None:
    """The column of each row's 1 when every row of x2 [R, V] is one-hot (one entry exactly 1, the rest 0), else None.

    R non-zeros in all, and each row's largest entry equal to 1, means exactly one non-zero per row, equal to 1.
    """
    R = x2.shape[0]
    if np.count_nonzero(x2) != R:
        return None
    cols = x2.argmax(axis=1)
    return cols if bool(np.all(x2[np.arange(R), cols] == 1)) else None


def _sigmoid_inplace(a: np.ndarray) -> None:
    """a ← σ(a) = 1 / (1 + exp(-a)) in place, no temporaries (call under ``np.errstate(over="ignore")``)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def _one_minus_square(a: np.ndarray) -> np.ndarray:
    """1 - a² as a new array (the tanh derivative from the tanh value)."""
    out = np.multiply(a, a)
    np.subtract(1.0, out, out=out)
    return out


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
        T, N, V = x.shape
        W_f = self._v("W_f")
        W_x, W_h = W_f[None, :V], W_f[V:]  # (V+H, H) -> (1, V, H) (one gate), (H, H)
        A = self._input_projection(x, W_x, self._v("B_f")[None], W_h)[0]  # [1, T, N, H] -> [T, N, H]
        H_all = np.empty((T + 1, N, self.hidden_size), dtype=A.dtype)  # h_0 .. h_T
        H_all[0] = states[0]
        for t in range(T):
            h = H_all[t + 1]  # [N, H], written in place
            np.matmul(H_all[t], W_h, out=h)
            h += A[t]
            np.tanh(h, out=h)
        self._cache.update(H_all=H_all, W_x=W_x, W_h=W_h)
        return H_all[1:], [H_all[T]]

    def _backward_core(self, dH: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, W_x, W_h = c["x_tm"], c["H_all"], c["W_x"], c["W_h"]
        T, N, _ = x.shape
        H = self.hidden_size
        dtype = np.result_type(dH, H_all)
        P = _one_minus_square(H_all[1:])  # [T, N, H]: tanh' = 1 - h_t², all steps at once
        dA = np.empty((T, N, H), dtype=dtype)
        W_hT = np.ascontiguousarray(W_h.T)  # (H, H), contiguous for the per-step matmul
        dh = np.empty((N, H), dtype=dtype)
        carry = np.zeros((N, H), dtype=dtype)  # dA_{t+1} W_hᵀ: the gradient reaching h_t from step t+1
        for t in range(T - 1, -1, -1):
            np.add(dH[t], carry, out=dh)  # dh_t
            np.multiply(dh, P[t], out=dA[t])  # dA_t = dh_t ⊙ (1 - h_t²)
            if t > 0 or c["given"]:
                np.matmul(dA[t], W_hT, out=carry)  # [N, H] @ [H, H]
        dW_x, dB, dx = self._input_backward(x, dA[None], W_x)  # one gate: [1, T, N, H]
        dW_h = H_all[:T].reshape(T * N, H).T @ dA.reshape(T * N, H)  # h_0 .. h_{T-1}; [T, N, H] -> [T·N, H]
        derivs["W_f"] = np.concatenate([dW_x[0], dW_h], axis=0)  # (V, H) ++ (H, H) -> (V+H, H)
        derivs["B_f"] = dB  # (1, H)
        return dx, [carry]


class LSTMLayer(_RecurrentLayer):
    """The book's LSTM layer (gates f, i, c, o on Z = [x, h]; C' = f⊙C + i⊙c̄; h' = o⊙tanh(C'); y = h' W_v + B_v).

    Parameters: ``W_f, W_i, W_c, W_o (V+H, H)``, ``B_f, B_i, B_c, B_o (1, H)``, ``W_v (H, O)``, ``B_v (1, O)``;
    all drawn with std ``weight_scale`` (book default 0.01). State: (h, C), both carried in "book" mode.

    Fused, in the internal gate order o, f, i, c (the three σ gates first, then the tanh gate; in backward
    the gate driven by dh first, then the three driven by dC): the input parts W_g[:V] stacked as W_x
    (4, V, H), the recurrent parts W_g[V:] as W_h (4, H, H), B (4, 1, H); gate pre-activations and values
    are kept gate-major, A [4, T, N, H];
    forward  A_t = x_t W_x + B + h_{t-1} W_h [4, N, H] -> o, f, i = σ(A_·), c̄ = tanh(A_c) (see ``LSTMNode``)
    backward with the step-independent factors of all steps computed up front,
             P_o = tanh(C_t) ⊙ o(1-o), P_f = C_{t-1} ⊙ f(1-f), P_i = c̄ ⊙ i(1-i), P_c = i ⊙ (1-c̄²),
             K = o ⊙ (1 - tanh²C_t),  each step is
             dh_t = G_t W_vᵀ + Σ_g dA_{t+1,g} W_{h,g}ᵀ;  dC_t = dh_t ⊙ K_t + dC_{t+1} ⊙ f_{t+1};
             dA_t = [dh_t ⊙ P_o, dC_t ⊙ P_f, dC_t ⊙ P_i, dC_t ⊙ P_c]  (= ``LSTMNode``'s dA);
             then dW_x = Σ x_tᵀ dA_t, dW_h = Σ h_{t-1}ᵀ dA_t, dB = Σ dA_t, dx_t = dA_t W_xᵀ.
    """

    n_states = 2
    _FUSED = ("o", "f", "i", "c")  # internal gate order of the fused weights (the book's is f, i, c, o)

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
        gates = ("f", "i", "c", "o")
        shapes: dict[str, tuple[int, int]] = {f"W_{g}": (V + H, H) for g in gates}
        shapes.update({f"B_{g}": (1, H) for g in gates})
        shapes.update({"W_v": (H, n_out), "B_v": (1, n_out)})
        return shapes

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        T, N, V = x.shape
        H = self.hidden_size
        Ws = [self._v(f"W_{g}") for g in self._FUSED]  # 4 × (V+H, H)
        W_x = np.stack([w[:V] for w in Ws])  # 4 × (V, H) -> (4, V, H)
        W_h = np.stack([w[V:] for w in Ws])  # 4 × (H, H) -> (4, H, H)
        B = np.stack([self._v(f"B_{g}") for g in self._FUSED])  # 4 × (1, H) -> (4, 1, H)
        # A [4, T, N, H]: x_t W_x + B; each step adds h_{t-1} W_h and applies the activations in place, so
        # afterwards A holds the gate values o, f, i, c̄ of every step.
        A = self._input_projection(x, W_x, B, W_h)
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
                _sigmoid_inplace(a[:3])  # o, f, i
                np.tanh(a[3], out=a[3])  # c̄
                C = C_all[t + 1]
                np.multiply(a[1], C_all[t], out=C)  # f ⊙ C_{t-1}
                np.multiply(a[2], a[3], out=ic)
                C += ic  # C_t = f ⊙ C_{t-1} + i ⊙ c̄
                np.tanh(C, out=tanh_C[t])
                np.multiply(a[0], tanh_C[t], out=H_all[t + 1])  # h_t = o ⊙ tanh(C_t)
        self._cache.update(H_all=H_all, C_all=C_all, gates=A, tanh_C=tanh_C, W_x=W_x, W_h=W_h)
        return H_all[1:], [H_all[T], C_all[T]]

    def _backward_core(self, dH: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, C_all, A, tanh_C, W_x, W_h = (
            c[k] for k in ("x_tm", "H_all", "C_all", "gates", "tanh_C", "W_x", "W_h")
        )
        T, N, _ = x.shape
        H = self.hidden_size
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
            if t > 0 or c["given"]:
                np.matmul(d, W_hT, out=back)  # [4, N, H] @ [4, H, H] -> [4, N, H]
                np.sum(back, axis=0, out=carry)
        dW_x, dB, dx = self._input_backward(x, dA, W_x)  # (4, V, H), (4, H), [T, N, V]
        Hprev = H_all[:T].reshape(T * N, H)  # h_0 .. h_{T-1}: [T, N, H] -> [T·N, H]
        dW_h = np.matmul(Hprev.T, dA.reshape(4, T * N, H))  # [H, T·N] @ [4, T·N, H] -> (4, H, H)
        dW = np.concatenate([dW_x, dW_h], axis=1)  # (4, V, H) ++ (4, H, H) -> (4, V+H, H)
        for k, g_name in enumerate(self._FUSED):
            derivs[f"W_{g_name}"] = dW[k]
            derivs[f"B_{g_name}"] = dB[k : k + 1]  # (1, H)
        return dx, [carry, dCf]


class GRULayer(_RecurrentLayer):
    """A GRU layer with the book's names and the correct update gate; reset "before" (book) or "after" (torch).

    Parameters: ``W_xr, W_xu, W_xh (V, H)``, ``W_hr, W_hu, W_hh (H, H)``, ``B_r, B_u, B_h (1, H)``,
    ``W_v (H, O)``, ``B_v (1, O)``, and ``B_hn (1, H)`` only when ``reset="after"``. Equations: module
    docstring and ``GRUNode``. Book init: std ``weight_scale`` (default 0.01) except ``B_h``, ``W_v``, ``B_v``
    (std 1.0, as the book).

    Fused: W_x = (W_xr, W_xu, W_xh) stacked (3, V, H), B = (B_r, B_u, B_h) (3, 1, H), A = x W_x + B for all
    steps, kept gate-major [3, T, N, H] (r, u, h̃); the recurrent weights are stacked per gate:
    "before": per step h W_h with W_h = (W_hr, W_hu) (2, H, H), then (r⊙h) W_hh (H, H);
    "after":  per step h W_h with W_h = (W_hh, W_hr, W_hu) (3, H, H), n = h W_hh + B_hn.
    h' = h̃ + u ⊙ (h - h̃) (= u ⊙ h + (1 - u) ⊙ h̃). Backward as in ``GRUNode`` with
    dh'_t = G_t W_vᵀ + (gradient from step t+1), after computing the step-independent factors of all steps
    up front, so that each step only multiplies them by dh'_t (and, "before", by d(r⊙h)_t):
    P_h = (1-u) ⊙ (1-h̃²) (dA_h = dh' ⊙ P_h), P_u = (h - h̃) ⊙ u(1-u) (dA_u = dh' ⊙ P_u);
    "before": P_r = h ⊙ r(1-r) (dA_r = d(r⊙h) ⊙ P_r);
    "after":  P_r = P_h ⊙ n ⊙ r(1-r) (dA_r = dh' ⊙ P_r), P_n = P_h ⊙ r (dn = dh' ⊙ P_n).
    The weight and input gradients are one (batched) matmul each over all steps after the loop.
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
        T, N, _ = x.shape
        H = self.hidden_size
        after = self.reset == "after"
        W_x = np.stack([self._v(f"W_x{g}") for g in "ruh"])  # 3 × (V, H) -> (3, V, H)
        B = np.stack([self._v(f"B_{g}") for g in "ruh"])  # 3 × (1, H) -> (3, 1, H)
        # Recurrent weights stacked per gate: "after" (3, H, H) for n, r, u; "before" (2, H, H) for r, u.
        W_h = np.stack([self._v(f"W_h{g}") for g in ("hru" if after else "ru")])
        W_hh = self._v("W_hh")
        B_hn = self._v("B_hn") if after else np.zeros((1, H), dtype=W_hh.dtype)  # (1, H); zeros: unused "before"
        # A [3, T, N, H]: x_t W_x + B; each step completes and activates it in place into r, u, h̃.
        A = self._input_projection(x, W_x, B, W_h)
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
                    _sigmoid_inplace(ru)  # r, u
                    np.add(hW[0], B_hn, out=e)  # n
                    np.multiply(r, e, out=tmp)  # r ⊙ n
                else:
                    ru += hW
                    _sigmoid_inplace(ru)  # r, u
                    np.multiply(r, h, out=e)  # r ⊙ h_{t-1}
                    np.matmul(e, W_hh, out=tmp)  # (r ⊙ h_{t-1}) W_hh
                hb += tmp
                np.tanh(hb, out=hb)  # h̃
                np.subtract(h, hb, out=tmp)
                tmp *= u
                np.add(hb, tmp, out=H_all[t + 1])  # h_t = h̃ + u ⊙ (h_{t-1} - h̃)
        self._cache.update(H_all=H_all, gates=A, extra=extra, W_x=W_x, W_h=W_h, W_hh=W_hh)
        return H_all[1:], [H_all[T]]

    def _backward_core(self, dH: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        c = self._cache
        x, H_all, A, extra, W_x, W_h = (c[k] for k in ("x_tm", "H_all", "gates", "extra", "W_x", "W_h"))
        T, N, _ = x.shape
        H = self.hidden_size
        after = self.reset == "after"
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
                if t > 0 or c["given"]:
                    np.matmul(D[:3, t], W_hT, out=back)  # [dn, dA_r, dA_u] @ [W_hhᵀ, W_hrᵀ, W_huᵀ]
                    np.sum(back, axis=0, out=carry)
                    np.multiply(dh, u[t], out=tmp)
                    carry += tmp
        else:
            W_hhT = np.ascontiguousarray(c["W_hh"].T)  # (H, H)
            d_rh = np.empty((N, H), dtype=dtype)
            for t in range(T - 1, -1, -1):
                np.add(dH[t], carry, out=dh)  # dh'_t
                np.multiply(P[1:, t], dh, out=D[1:, t])  # dA_u, dA_h: [2, N, H] ⊙ [N, H]
                np.matmul(D[2, t], W_hhT, out=d_rh)  # d(r⊙h) = dA_h W_hhᵀ
                np.multiply(d_rh, P_r[t], out=D[0, t])  # dA_r
                if t > 0 or c["given"]:
                    np.matmul(D[:2, t], W_hT, out=back)  # [dA_r, dA_u] @ [W_hrᵀ, W_huᵀ]
                    np.sum(back, axis=0, out=carry)
                    np.multiply(d_rh, r[t], out=tmp)
                    carry += tmp
                    np.multiply(dh, u[t], out=tmp)
                    carry += tmp
        Hprev = h_prev.reshape(T * N, H)  # [T, N, H] -> [T·N, H]
        D3 = D.reshape(D.shape[0], T * N, H)  # [G, T, N, H] -> [G, T·N, H]
        dW_x, dB, dx = self._input_backward(x, D[first:], W_x)  # from dA_r, dA_u, dA_h: (3, V, H), (3, H)
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
