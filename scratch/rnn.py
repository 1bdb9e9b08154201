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

Two paths through the sequence, chosen with ``impl=`` and equal to floating-point rounding:

* ``impl="readable"``: the book's structure. ``forward`` creates one node (``RNNNode``, ``LSTMNode``,
  ``GRUNode``: one time step with separate per-gate matmuls) per time step and steps them in order, each
  fed the previous node's state; ``backward`` steps the same nodes in reverse order, each handing the
  gradient for its input state to the node before it, while the nodes add their parameter gradients into
  ``params[name]["deriv"]``.
* ``impl="fast"`` (the default): the same computation fused over the whole sequence (stacked gate weights,
  one matmul for the input part of all steps, in-place per-step updates, gradient factors of all steps
  computed up front), in ``scratch._fast_rnn``, whose docstring explains each trick.
  ``_forward_core``/``_backward_core`` of each layer call it. Measured at one thread (forward and
  backward): 2-3x faster than the readable path for small layers (N 4, T 10, H 16), 1.2-2x at the
  chapter's sizes with one-hot characters (N 32, T 25, V 62, H 128 and 256), and equal within noise once
  the matmuls of large dense layers dominate (N 64, T 50, H 256).

Default initialisation (the book's, kept for compatibility): every parameter ~ N(0, weight_scale²), i.e.
``weight_scale`` is the standard deviation. ``RNNLayer(weight_scale=None)`` uses the book's
``2 / (V + O)`` — a variance-style Glorot value used as a std, and with O where Glorot has H.
``LSTMLayer`` and ``GRULayer`` default to 0.01; the book's GRU draws ``B_h``, ``W_v`` and ``B_v`` with std 1.0
whatever ``weight_scale`` is, and so does this one. ``B_hn`` (not in the book) uses ``weight_scale``.
Parameters take the first input's dtype. ``load_params`` sets them explicitly (e.g. shared with torch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import _fast_rnn
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
from .conv import IMPLS
from .fundamentals import sigmoid_array

__all__ = ["GRULayer", "GRUNode", "LSTMLayer", "LSTMNode", "RNNLayer", "RNNNode"]

ParamDict = dict[str, dict[str, np.ndarray]]

_SEQ_LAYOUT = "[batch, time, features]"
_HIDDEN_MODES = ("book", "zeros")
_RESET_MODES = ("before", "after")


def _acc(params: ParamDict, name: str, grad: np.ndarray) -> None:
    """params[name]["deriv"] += grad (the nodes accumulate over time steps, as in the book)."""
    params[name]["deriv"] += grad


# --------------------------------------------------------------------------------------------------------
# Nodes: one time step, the book's API, separate per-gate matmuls (the readable path).
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
        self.f = sigmoid_array(self.Z @ params["W_f"]["value"] + params["B_f"]["value"])
        self.i = sigmoid_array(self.Z @ params["W_i"]["value"] + params["B_i"]["value"])
        self.c_bar = np.tanh(self.Z @ params["W_c"]["value"] + params["B_c"]["value"])
        self.o = sigmoid_array(self.Z @ params["W_o"]["value"] + params["B_o"]["value"])
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
        self.r = sigmoid_array(x_in @ p["W_xr"] + H_in @ p["W_hr"] + p["B_r"])
        self.u = sigmoid_array(x_in @ p["W_xu"] + H_in @ p["W_hu"] + p["B_u"])
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
# Layers: a sequence of nodes, stepped through time (the readable path) or fused (the default).
# --------------------------------------------------------------------------------------------------------


class _RecurrentLayer:
    """Shared machinery: lazy parameters, state modes, validation, and the two paths through the sequence."""

    n_states = 1  # 1: h only; 2: (h, C) for the LSTM
    _node_type: Callable[[], Any]  # the readable path: one node per time step
    _kernels: _fast_rnn.Kernels  # the fast path: the fused forward and backward over the whole sequence

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float | None = None,
        *,
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
        impl: str = "fast",
    ) -> None:
        self.hidden_size = check_int(hidden_size, "hidden_size", 1)
        self.output_size = check_int(output_size, "output_size", 1)
        self.weight_scale = None if weight_scale is None else check_positive(weight_scale, "weight_scale")
        self.hidden_state = check_choice(hidden_state, "hidden_state", _HIDDEN_MODES)
        self._impl: str = check_choice(impl, "impl", IMPLS)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.params: ParamDict = {}
        self.input_size: int | None = None
        self.first = True
        self.initial_state_grad: np.ndarray | None = None
        self.initial_cell_grad: np.ndarray | None = None
        self.nodes: list[Any] = []  # readable path: the nodes of the last forward, one per time step
        self._carry: list[np.ndarray] | None = None  # book mode: [start_H (1, H)] (+ [start_C (1, H)])
        self._cache: dict[str, Any] = {}  # what the last forward left for backward

    @property
    def impl(self) -> str:
        """``"fast"`` (fused kernels, the default) or ``"readable"`` (nodes stepped through time); fixed."""
        return self._impl

    # ---- parameters -----------------------------------------------------------------------------------

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        """Every parameter's shape for input size V, in ``params`` order."""
        raise NotImplementedError

    def _output_shapes(self) -> dict[str, tuple[int, int]]:
        """The output projection every cell ends with: ``W_v (H, O)``, ``B_v (1, O)``."""
        return {"W_v": (self.hidden_size, self.output_size), "B_v": (1, self.output_size)}

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
        N, _, V = x.shape
        if self.first:
            self._setup_layer(V, x.dtype)
        states, given = self._initial_states(initial_state, N, x.dtype)
        self._cache = {"given": given, "x_shape": x.shape}  # what backward needs; each path adds its own
        if self._impl == "readable":
            y, last = self._forward_nodes(x, states)
        else:
            y, last = self._forward_fused(x, states)
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
        if self._impl == "readable":
            dx, state_grads = self._backward_nodes(G)
        else:
            dx, state_grads = self._backward_fused(G)
        if self._cache["given"]:
            self.initial_state_grad = state_grads[0]
            self.initial_cell_grad = state_grads[1] if self.n_states == 2 else None
        else:
            self.initial_state_grad = self.initial_cell_grad = None
        self.input_grad = dx
        return dx

    # ---- the readable path: one node per time step ------------------------------------------------------

    def _new_node(self) -> Any:
        """A fresh node for one time step (``RNNNode``, ``LSTMNode`` or ``GRUNode``)."""
        return self._node_type()

    def _forward_nodes(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Step one new node per time step: node t maps (x_t, state_{t-1}) to (y_t, state_t).

        x ``[N, T, V]``, states each ``[N, H]`` (h, and C for the LSTM) -> (y ``[N, T, O]``, last states).
        """
        N, T, _ = x.shape
        y = np.empty((N, T, self.output_size), dtype=x.dtype)
        self.nodes = [self._new_node() for _ in range(T)]
        for t, node in enumerate(self.nodes):
            y[:, t], *states = node.forward(x[:, t], *states, self.params)  # x_t [N, V] -> y_t [N, O]
        return y, states

    def _backward_nodes(self, G: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Step the nodes backwards: node t maps (G_t, gradient for state_t) to (dx_t, gradient for state_{t-1}).

        G ``[N, T, O]`` -> (dx ``[N, T, V]``, the gradients for the initial states, each ``[N, H]``). The
        nodes add their parameter gradients into ``params[name]["deriv"]``, reset to zeros first.
        """
        N, T, _ = G.shape
        for p in self.params.values():
            p["deriv"] = np.zeros_like(p["value"])
        dx = np.empty(self._cache["x_shape"], dtype=G.dtype)  # [N, T, V]
        state_grads = [np.zeros((N, self.hidden_size), dtype=G.dtype) for _ in range(self.n_states)]  # after step T
        for t in range(T - 1, -1, -1):
            dx[:, t], *state_grads = self.nodes[t].backward(G[:, t], *state_grads, self.params)
        return dx, state_grads

    # ---- the fast path: fused kernels over the whole sequence (``scratch._fast_rnn``) ------------------------

    def _forward_fused(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """x ``[N, T, V]`` -> (y ``[N, T, O]``, last states), time-major inside."""
        N, T, _ = x.shape
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # [N, T, V] -> [T, N, V]: each step's rows contiguous
        self._cache["x_tm"] = x_tm
        H_tm, last = self._forward_core(x_tm, states)  # H_tm [T, N, H]: h_1 .. h_T
        self._cache["H_tm"] = H_tm
        # Output projection of every step in one matmul: [T·N, H] @ [H, O] -> [T·N, O] -> [T, N, O] -> [N, T, O].
        y_tm = H_tm.reshape(T * N, self.hidden_size) @ self._v("W_v") + self._v("B_v")
        return np.ascontiguousarray(y_tm.reshape(T, N, -1).transpose(1, 0, 2)), last

    def _backward_fused(self, G: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """G ``[N, T, O]`` -> (dx ``[N, T, V]``, initial-state gradients); sets every ``params[name]["deriv"]``."""
        N, T, n_out = G.shape
        H = self.hidden_size
        G2 = np.ascontiguousarray(G.transpose(1, 0, 2)).reshape(T * N, n_out)  # [N, T, O] -> [T, N, O] -> [T·N, O]
        H2 = self._cache["H_tm"].reshape(T * N, H)  # [T, N, H] -> [T·N, H]
        derivs = {"W_v": H2.T @ G2, "B_v": G2.sum(axis=0, keepdims=True)}
        dH_tm = (G2 @ self._v("W_v").T).reshape(T, N, H)  # gradient reaching each h_t from its own output
        dx_tm, state_grads = self._backward_core(dH_tm, derivs)
        for name, d in derivs.items():
            self.params[name]["deriv"] = d
        return np.ascontiguousarray(dx_tm.transpose(1, 0, 2)), state_grads  # dx: [T, N, V] -> [N, T, V]

    def _forward_core(self, x: np.ndarray, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Time-major fused core: x [T, N, V], states each [N, H] -> (h_1 .. h_T [T, N, H], last states)."""
        return self._kernels.forward(self._v, x, states, self._cache)

    def _backward_core(self, dH: np.ndarray, derivs: dict[str, np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Time-major fused core: dH [T, N, H] (G_t W_vᵀ) -> (dx [T, N, V], initial-state grads); fills ``derivs``."""
        return self._kernels.backward(dH, self._cache, derivs)


class RNNLayer(_RecurrentLayer):
    """The book's vanilla RNN layer: h_t = tanh([x_t, h_{t-1}] W_f + B_f), y_t = h_t W_v + B_v (``RNNNode``).

    Parameters: ``W_f (V+H, H)``, ``B_f (1, H)``, ``W_v (H, O)``, ``B_v (1, O)``.
    ``weight_scale=None`` is the book's std ``2 / (V + O)``. Shapes: ``forward([N, T, V]) -> [N, T, O]``,
    ``backward([N, T, O]) -> [N, T, V]``. ``impl``: module docstring.
    """

    _node_type = RNNNode
    _kernels = _fast_rnn.RNN

    # __init__ is _RecurrentLayer's: (hidden_size, output_size, weight_scale=None, *, hidden_state, rng, impl)

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H = self.hidden_size
        return {"W_f": (V + H, H), "B_f": (1, H), **self._output_shapes()}

    def _param_scale(self, name: str, V: int) -> float:
        return 2.0 / (V + self.output_size) if self.weight_scale is None else self.weight_scale


class LSTMLayer(_RecurrentLayer):
    """The book's LSTM layer (gates f, i, c, o on Z = [x, h]; C' = f⊙C + i⊙c̄; h' = o⊙tanh(C'); y = h' W_v + B_v;
    ``LSTMNode``).

    Parameters: ``W_f, W_i, W_c, W_o (V+H, H)``, ``B_f, B_i, B_c, B_o (1, H)``, ``W_v (H, O)``, ``B_v (1, O)``;
    all drawn with std ``weight_scale`` (book default 0.01). State: (h, C), both carried in "book" mode.
    ``impl``: module docstring.
    """

    n_states = 2
    _node_type = LSTMNode
    _kernels = _fast_rnn.LSTM

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        weight_scale: float = 0.01,
        *,
        hidden_state: str = "book",
        rng: np.random.Generator | int | None = None,
        impl: str = "fast",
    ) -> None:
        super().__init__(hidden_size, output_size, weight_scale, hidden_state=hidden_state, rng=rng, impl=impl)

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H = self.hidden_size
        gates = ("f", "i", "c", "o")
        shapes: dict[str, tuple[int, int]] = {f"W_{g}": (V + H, H) for g in gates}
        shapes.update({f"B_{g}": (1, H) for g in gates})
        shapes.update(self._output_shapes())
        return shapes


class GRULayer(_RecurrentLayer):
    """A GRU layer with the book's names and the correct update gate; reset "before" (book) or "after" (torch)
    (``GRUNode``).

    Parameters: ``W_xr, W_xu, W_xh (V, H)``, ``W_hr, W_hu, W_hh (H, H)``, ``B_r, B_u, B_h (1, H)``,
    ``W_v (H, O)``, ``B_v (1, O)``, and ``B_hn (1, H)`` only when ``reset="after"``. Equations: module
    docstring and ``GRUNode``. Book init: std ``weight_scale`` (default 0.01) except ``B_h``, ``W_v``, ``B_v``
    (std 1.0, as the book). ``impl``: module docstring.
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
        impl: str = "fast",
    ) -> None:
        self.reset = check_choice(reset, "reset", _RESET_MODES)
        self._kernels = _fast_rnn.GRU_AFTER if self.reset == "after" else _fast_rnn.GRU_BEFORE
        super().__init__(hidden_size, output_size, weight_scale, hidden_state=hidden_state, rng=rng, impl=impl)

    def _recurrent_rows(self) -> int:
        return 0

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        H = self.hidden_size
        shapes: dict[str, tuple[int, int]] = {f"W_x{g}": (V, H) for g in "ruh"}
        shapes.update({f"W_h{g}": (H, H) for g in "ruh"})
        shapes.update({f"B_{g}": (1, H) for g in "ruh"})
        shapes.update(self._output_shapes())
        if self.reset == "after":
            shapes["B_hn"] = (1, H)
        return shapes

    def _param_scale(self, name: str, V: int) -> float:
        if name in ("B_h", "W_v", "B_v"):
            return 1.0  # the book's GRU ignores weight_scale for these three
        return super()._param_scale(name, V)

    def _new_node(self) -> GRUNode:
        return GRUNode(self.reset)
