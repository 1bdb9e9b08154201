"""Recurrent layers (chapters 6-7) the PyTorch way, twins of ``scratch.RNNLayer``/``LSTMLayer``/``GRULayer``,
and chapter 7's character-level LSTM (``NextCharacterModel``, ``sample_text``, ``NextCharacterTrainer``).

Notation: N batch, T time steps, V input features, H hidden size, O output size, σ the logistic sigmoid,
⊙ the element-wise product. Every layer is batch-first, ``x [N, T, V] -> y [N, T, O]``: a torch recurrent
module (``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` or ``ResetBeforeGRU``) gives h_1 .. h_T, then the per-step output
projection of the book, y_t = fc(h_t) = h_t W_vᵀ + b_v (``nn.Linear(H, O)``), then the layer's dropout.

Cells (torch's equations; ``weight_ih_l0`` (G·H, V), ``weight_hh_l0`` (G·H, H), ``bias_ih_l0``/``bias_hh_l0``
(G·H,) with G = 1, 4, 3 gate blocks):

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    LSTM  i, f, g, o blocks: i = σ(·), f = σ(·), g = tanh(·), o = σ(·) of (W_i· x + b_i· + W_h· h + b_h·)
          c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
    GRU   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
          reset="after"  (nn.GRU, cuDNN, Keras reset_after=True):  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
          reset="before" (the book, Cho et al. v3, Keras reset_after=False; ``ResetBeforeGRU``):
                                                                  n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
          h' = (1 - z) ⊙ n + z ⊙ h

The book's weights map onto these as in ``parity_tests.converters`` (RNN: W_f[:V]ᵀ -> weight_ih, W_f[V:]ᵀ ->
weight_hh; LSTM: book gates f, i, c, o -> torch blocks i, f, g, o; GRU: book r, u, h -> torch r, z, n; the
book's single bias per gate is bias_ih with bias_hh = 0, except the reset-after GRU's B_hn = bias_hh's n block).

``state_dict`` keys are ``rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, fc.weight,
fc.bias`` (``lstm.``/``gru.`` for the others) and ``carry``, the book-mode carried state (a persistent buffer,
saved and loaded with the weights): ``(S, H)`` with S = 1 (h; S = 2 for the LSTM: rows h, c) once a call has
left one, ``(0, H)`` while there is none. A checkpoint without ``carry`` (saved before the buffer existed, or
by the book, whose LSTM keeps its state in plain attributes) loads as "no carried state yet", so
``load_state_dict(..., strict=True)`` with the six parameter keys alone works. ``parity_tests.converters``
maps ``carry`` to and from the scratch layers' ``start_H``/``start_C`` (``state()``/``load_state()``).

Book checkpoints: ``LSTMLayer`` and ``NextCharacterModel`` also load a ``state_dict`` saved by the book's
chapter 7 classes, whose output layer is a ``DenseLayer`` (its ``fc.linear.weight`` is ``fc.weight`` here; the
table ``BOOK_KEYS`` renames it while loading), and ``book_state_dict()`` exports ours under the book's keys
(``torch_impl.network.BookCheckpoint``).

Hidden state at the start of a ``forward`` (``hidden_state=``), exactly as ``scratch.rnn``:

* ``"book"`` (default): the first call starts from zeros; after EVERY forward (training or inference) the
  layer stores the detached batch mean of the last hidden state (and cell state, LSTM), shape (1, H), and
  the next call repeats it for each of its N samples (h0 = carry.expand(1, N, H)). No gradient flows into
  it and a backward through call k does not reach call k-1. ``reset_state()`` forgets it. It lives in the
  ``carry`` buffer (above), so it follows ``.to()`` and is saved and loaded with the weights.
* ``"zeros"``: every call starts from zeros (torch's default h0).
* ``forward(x, initial_state=h0)`` (``(h0, c0)`` for the LSTM, each [N, H]) overrides the mode for that
  call; gradients flow into the given tensors (pass them with ``requires_grad=True`` to read ``h0.grad``).
  In "book" mode the carry is still updated after such a call.

Any sequence length works, and it may change between calls (the feature count may not):
``sequence_length`` is the book's informational argument, kept as an attribute (``None`` allowed).

Dropout: ``dropout`` is the KEEP probability (1.0: none). A layer with ``dropout < 1`` appends a
``Dropout(dropout, inverted=inverted_dropout, generator=generator)`` applied to y; ``inverted_dropout=True``
(default) is chapter 7's ``nn.Dropout(1 - dropout)`` function. ``forward(x, inference=True)`` (or ``eval()``)
gives dropout's inference behaviour, as in ``DenseLayer``.

One bias or two (``single_bias``, default True for every layer and for ``NextCharacterModel``): torch adds
``bias_ih + bias_hh`` and trains both, so a gradient step moves their sum by TWICE the step of the book's single
bias (both receive the same gradient). With ``single_bias=True`` the summed part of ``bias_hh`` is set to 0 and
kept there (a gradient hook zeroes its gradient), so the layer trains exactly like the book's; the reset-after
GRU's n block of ``bias_hh`` (the book's separate ``B_hn``) still trains. Loading a checkpoint with a non-zero
summed ``bias_hh`` (chapter 7's ``nn.LSTM`` trains both) folds it into ``bias_ih`` (b_ih + b_hh, then 0; the
same function up to one rounding). ``single_bias=False`` is plain torch (chapter 7's ``nn.LSTM``; the book
module ``torch_impl.book.ch7`` builds its layers so).

Initialisation: torch's defaults (every recurrent parameter ~ U(±1/√H), ``fc`` like ``nn.Linear``), drawn from
``generator`` when one is given (recurrent parameters in ``state_dict`` order, then ``fc.weight``, ``fc.bias``),
else from torch's global generator. Parameters are created in ``dtype`` (default ``torch.get_default_dtype()``).
"""

from __future__ import annotations

import functools
import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

from ._validation import (
    boundary,
    check_choice,
    check_generator,
    check_int,
    check_keep_prob,
    check_matches,
    check_tensor,
    describe,
)
from .dropout import Dropout
from .init import torch_linear_init_
from .layers import PyTorchLayer
from .network import BookCheckpoint

__all__ = [
    "GRULayer",
    "LSTMLayer",
    "RNNLayer",
    "ResetBeforeGRU",
]

_SEQ_LAYOUT = "[batch, time, features]"
_HIDDEN_MODES = ("book", "zeros")
_RESET_MODES = ("before", "after")


def _check_sequence_length(value: Any) -> int | None:
    """``None`` or an integer >= 1 (the book's informational ``sequence_length``)."""
    if value is None:
        return None
    return check_int(value, "sequence_length", 1)


def _uniform_(tensor: Tensor, bound: float, generator: torch.Generator | None) -> None:
    """Fill ``tensor`` with U(-bound, bound) draws from ``generator`` (on its device, then copied)."""
    with torch.no_grad():
        if generator is None or generator.device == tensor.device:
            tensor.uniform_(-bound, bound, generator=generator)
        else:
            twin = torch.empty(tensor.shape, dtype=tensor.dtype, device=generator.device)
            twin.uniform_(-bound, bound, generator=generator)
            tensor.copy_(twin)


# --------------------------------------------------------------------------------------------------------
# The reset-before GRU cell (autograd), which nn.GRU cannot express
# --------------------------------------------------------------------------------------------------------


class ResetBeforeGRU(nn.Module):
    """A one-layer, batch-first GRU with the reset gate applied BEFORE the recurrent matmul.

    This is Cho et al. (2014, v3), Keras ``reset_after=False`` and the book's formula; ``nn.GRU`` applies
    the reset after the matmul and cannot express it. Parameters are named and shaped exactly like
    ``nn.GRU``'s single layer, gate blocks in torch's order r, z, n:
    ``weight_ih_l0 (3H, V)``, ``weight_hh_l0 (3H, H)``, ``bias_ih_l0 (3H,)``, ``bias_hh_l0 (3H,)``.

        r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn),   h' = (1 - z) ⊙ n + z ⊙ h

    ``forward(x [N, T, V], h0 [1, N, H] | None) -> (out [N, T, H], h_n [1, N, H])`` like
    ``nn.GRU(batch_first=True)`` (h0 = 0 when ``None``). The input projection of every step is one matmul
    ``[N, T, V] @ [V, 3H]`` before the loop; each step does one ``[N, H] @ [H, 2H]`` (r, z) and one
    ``[N, H] @ [H, H]`` (n, which needs r first). Gradients come from autograd. Every parameter is initialised
    ~ U(±1/√H) like ``nn.GRU`` (from ``generator`` in ``reset_parameters(generator)`` if given).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_int(input_size, "input_size", 1)
        self.hidden_size = check_int(hidden_size, "hidden_size", 1)
        V, H = self.input_size, self.hidden_size
        kw: dict[str, Any] = {"dtype": dtype, "device": device}
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * H, V, **kw))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * H, H, **kw))
        self.bias_ih_l0 = nn.Parameter(torch.empty(3 * H, **kw))
        self.bias_hh_l0 = nn.Parameter(torch.empty(3 * H, **kw))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re-)draw every parameter ~ U(±1/√H) (``nn.GRU``'s rule), in ``state_dict`` order."""
        check_generator(generator)
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            _uniform_(p, bound, generator)

    @boundary()
    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run ``x [N, T, V]`` from ``h0 [1, N, H]`` (zeros if ``None``); return ``(out [N, T, H], h_n [1, N, H])``."""
        name = "ResetBeforeGRU input"
        check_tensor(x, name, 3, _SEQ_LAYOUT, finite=False)
        if x.shape[2] != self.input_size:
            raise ValueError(
                f"{name} must have {self.input_size} features (input_size={self.input_size}); received shape "
                f"{tuple(x.shape)} with {x.shape[2]} features"
            )
        check_matches(x, name, self.weight_ih_l0, "the cell's weights")
        N, T, _ = x.shape
        H = self.hidden_size
        if h0 is None:
            h = x.new_zeros(N, H)
        else:
            check_tensor(h0, "ResetBeforeGRU h0", 3, "[1, batch, hidden_size]", finite=False)
            if tuple(h0.shape) != (1, N, H):
                raise ValueError(
                    f"ResetBeforeGRU h0 must have shape (1, batch, hidden_size) = {(1, N, H)}; received shape "
                    f"{tuple(h0.shape)}"
                )
            check_matches(h0, "ResetBeforeGRU h0", self.weight_ih_l0, "the cell's weights")
            h = h0[0]  # [1, N, H] -> [N, H]
        # Input part of every gate for all steps at once: [N, T, V] @ [V, 3H] + b_ih -> [N, T, 3H].
        A_x = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)
        W_hrz, W_hn = self.weight_hh_l0[: 2 * H], self.weight_hh_l0[2 * H :]  # (2H, H), (H, H)
        b_hrz, b_hn = self.bias_hh_l0[: 2 * H], self.bias_hh_l0[2 * H :]  # (2H,), (H,)
        outs = []
        for t in range(T):
            a = A_x[:, t]  # [N, 3H]
            rz = torch.sigmoid(a[:, : 2 * H] + F.linear(h, W_hrz, b_hrz))  # [N, H] @ [H, 2H] -> [N, 2H]
            r, z = rz[:, :H], rz[:, H:]
            n = torch.tanh(a[:, 2 * H :] + F.linear(r * h, W_hn, b_hn))  # [N, H] @ [H, H]
            h = z * h + (1.0 - z) * n
            outs.append(h)
        out = torch.stack(outs, dim=1)  # T × [N, H] -> [N, T, H]
        return out, h.unsqueeze(0)  # [N, H] -> [1, N, H]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first=True, reset='before'"


# --------------------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------------------


def _zero_leading_rows(grad: Tensor, rows: int) -> Tensor:
    """Gradient hook of ``bias_hh`` under ``single_bias``: no gradient for its first ``rows`` entries."""
    grad = grad.clone()
    grad[:rows] = 0.0
    return grad


class _RecurrentLayer(PyTorchLayer):
    """Shared machinery: argument checks, state modes, validation, projection, dropout, carry."""

    n_states = 1  # 1: h only; 2: (h, c) for the LSTM
    core_name = "rnn"  # the recurrent submodule's attribute name
    dropout_module: Dropout | None
    fc: nn.Linear

    def __init__(
        self,
        sequence_length: int | None,
        input_size: int,
        hidden_size: int,
        output_size: int,
        dropout: float = 1.0,
        *,
        hidden_state: str = "book",
        dtype: torch.dtype | None = None,
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        single_bias: bool = True,
    ) -> None:
        super().__init__()
        self.single_bias = bool(single_bias)
        self.sequence_length = _check_sequence_length(sequence_length)
        self.input_size = check_int(input_size, "input_size", 1)
        self.hidden_size = check_int(hidden_size, "hidden_size", 1)
        self.output_size = check_int(output_size, "output_size", 1)
        self.keep_prob = check_keep_prob(dropout, "dropout")
        self.hidden_state = check_choice(hidden_state, "hidden_state", _HIDDEN_MODES)
        self.inverted_dropout = bool(inverted_dropout)
        self.generator = check_generator(generator)
        self.dropout_module = (
            Dropout(self.keep_prob, inverted=self.inverted_dropout, generator=generator)
            if self.keep_prob < 1.0
            else None
        )
        setattr(self, self.core_name, self._make_core(dtype))
        self.fc = nn.Linear(self.hidden_size, self.output_size, dtype=dtype)
        # Book mode's carried state, saved with the weights: (0, H) none yet; (S, H) rows h (, c) once carried.
        self.carry: Tensor
        self.register_buffer("carry", torch.zeros(0, self.hidden_size, dtype=self.fc.weight.dtype))
        if self.generator is not None:
            self.reset_parameters()
        if self.single_bias:
            self._zero_summed_bias_hh()
            self._bias_hh().register_hook(functools.partial(_zero_leading_rows, rows=self._summed_rows()))

    def _make_core(self, dtype: torch.dtype | None) -> nn.Module:
        """The recurrent submodule (stored as ``core_name``), ``[N, T, V] -> [N, T, H]`` batch-first."""
        raise NotImplementedError

    def _summed_rows(self) -> int:
        """How many leading rows of ``bias_hh`` only ever act summed with ``bias_ih`` (all of them, except the
        reset-after GRU's n block, which sits inside r ⊙ (·) and is the book's separate ``B_hn``)."""
        return int(self._bias_hh().shape[0])

    def _bias_hh(self) -> Tensor:
        bias_hh: Tensor = getattr(self.core, "bias_hh_l0")  # noqa: B009 (typed access to a Parameter)
        return bias_hh

    def _zero_summed_bias_hh(self) -> None:
        with torch.no_grad():
            self._bias_hh()[: self._summed_rows()] = 0.0

    @property
    def core(self) -> nn.Module:
        """The recurrent submodule (``rnn``, ``lstm`` or ``gru``)."""
        module: nn.Module = getattr(self, self.core_name)
        return module

    def reset_parameters(self) -> None:
        """Draw the recurrent parameters ~ U(±1/√H) (``state_dict`` order), then ``fc`` like ``nn.Linear``,
        from ``generator`` (torch's global generator if ``None``)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.core.parameters():
            _uniform_(p, bound, self.generator)
        torch_linear_init_(self.fc.weight, self.fc.bias, self.generator)
        if getattr(self, "single_bias", False) and hasattr(self, "fc"):
            self._zero_summed_bias_hh()

    # ---- state ------------------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """Forget the book-mode carry: the next call starts from zeros."""
        self.carry = self.carry.new_zeros(0, self.hidden_size)

    @property
    def carried_state(self) -> Tensor | tuple[Tensor, Tensor] | None:
        """The book-mode carry ((1, H); ``(h, c)`` for the LSTM), or ``None`` before the first call."""
        if self.carry.shape[0] == 0:
            return None
        rows = self.carry.split(1)  # (S, H) -> S x (1, H)
        return rows[0] if self.n_states == 1 else (rows[0], rows[1])

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """torch's loader, after two adjustments of the incoming ``state_dict``: a missing ``carry`` (an older or
        a book checkpoint) is "no carried state yet", and the buffer takes the incoming carry's shape ((0, H) or
        (S, H), both valid); with ``single_bias`` a non-zero summed ``bias_hh`` is folded into ``bias_ih``."""
        cls = type(self).__name__
        key = prefix + "carry"
        incoming = state_dict.get(key)
        H, S = self.hidden_size, self.n_states
        if incoming is None:
            incoming = state_dict[key] = self.carry.new_zeros(0, H)
        if not isinstance(incoming, Tensor) or not incoming.is_floating_point():
            raise TypeError(f"{cls} state_dict[{key!r}] must be a floating-point tensor; received {describe(incoming)}")
        if tuple(incoming.shape) not in ((0, H), (S, H)):
            raise ValueError(
                f"{cls} state_dict[{key!r}] (the carried state) must have shape (0, {H}) (none) or ({S}, {H}) "
                f"(rows {'h, c' if S == 2 else 'h'}); received shape {tuple(incoming.shape)}"
            )
        if incoming.shape != self.carry.shape:
            self.carry = self.carry.new_zeros(incoming.shape)  # torch's copy_ needs the shapes equal
        if self.single_bias:
            self._fold_bias_hh(state_dict, prefix)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _fold_bias_hh(self, state_dict: dict[str, Any], prefix: str) -> None:
        """``bias_ih[:r] += bias_hh[:r]; bias_hh[:r] = 0`` in ``state_dict`` (new tensors, in this layer's dtype),
        r = the summed rows, when that part of ``bias_hh`` is non-zero (anything malformed is left to torch)."""
        ih_key, hh_key = f"{prefix}{self.core_name}.bias_ih_l0", f"{prefix}{self.core_name}.bias_hh_l0"
        ih, hh = state_dict.get(ih_key), state_dict.get(hh_key)
        mine = self._bias_hh()
        if not isinstance(ih, Tensor) or not isinstance(hh, Tensor) or ih.shape != mine.shape or hh.shape != mine.shape:
            return
        rows = self._summed_rows()
        if not bool(hh[:rows].detach().ne(0).any()):
            return
        ih = ih.detach().to(dtype=mine.dtype, device=mine.device, copy=True)
        hh = hh.detach().to(dtype=mine.dtype, device=mine.device, copy=True)
        ih[:rows] += hh[:rows]
        hh[:rows] = 0.0
        state_dict[ih_key], state_dict[hh_key] = ih, hh

    def _initial_states(self, initial_state: Any, x: Tensor) -> tuple[Tensor, ...] | None:
        """The starting states, each ``[1, N, H]``, or ``None`` for zeros."""
        N, H = x.shape[0], self.hidden_size
        cls = type(self).__name__
        if initial_state is None:
            if self.hidden_state == "book" and self.carry.shape[0] > 0:
                # carry (S, H) -> S x (1, H) -> (1, 1, H) -> (1, N, H): the same carried state for every sample
                return tuple(s.to(x).unsqueeze(0).expand(1, N, H).contiguous() for s in self.carry.split(1))
            return None
        if self.n_states == 1:
            states, labels = [initial_state], ["initial_state"]
        else:
            if not isinstance(initial_state, tuple | list) or len(initial_state) != 2:
                raise TypeError(
                    f"{cls} initial_state must be a tuple (h0, c0) of [batch, hidden_size] tensors; "
                    f"received {describe(initial_state)}"
                )
            states, labels = list(initial_state), ["initial_state h0", "initial_state c0"]
        out = []
        for s, label in zip(states, labels, strict=True):
            name = f"{cls} {label}"
            check_tensor(s, name, 2, "[batch, hidden_size]")
            if tuple(s.shape) != (N, H):
                raise ValueError(
                    f"{name} must have shape (batch, hidden_size) = {(N, H)}; received shape {tuple(s.shape)}"
                )
            check_matches(s, name, self.fc.weight, "the layer's weights")
            out.append(s.unsqueeze(0))  # [N, H] -> [1, N, H]
        return tuple(out)

    def _check_seq(self, x: Any) -> Tensor:
        name = f"{type(self).__name__} x_seq"
        check_tensor(x, name, 3, _SEQ_LAYOUT)
        if x.shape[2] != self.input_size:
            raise ValueError(
                f"{name} must have {self.input_size} features (the layer was built for input_size="
                f"{self.input_size}; the sequence length may change, the feature count may not); received shape "
                f"{tuple(x.shape)} with {x.shape[2]} features"
            )
        check_matches(x, name, self.fc.weight, "the layer's weights")
        return x

    # ---- forward ------------------------------------------------------------------------------------------

    @abstractmethod
    def _run(self, x: Tensor, states: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """``(h_1 .. h_T [N, T, H], last states each [1, N, H])``."""

    @boundary()
    def forward(self, x: Tensor, inference: bool = False, initial_state: Any = None) -> Tensor:
        """``x [N, T, V] -> y [N, T, O]``: recurrence, per-step ``fc``, dropout; see the module docstring."""
        x = self._check_seq(x)
        states = self._initial_states(initial_state, x)
        hs, last = self._run(x, states)
        if self.hidden_state == "book":
            # each [1, N, H] -> (1, H): batch mean of the last state, detached (a constant for the next call);
            # S x (1, H) -> (S, H), in the buffer's dtype and device
            self.carry = torch.cat([s[0].detach().mean(dim=0, keepdim=True) for s in last]).to(self.carry)
        out = self.fc(hs)  # [N, T, H] -> [N, T, O], one projection per step
        if self.dropout_module is not None:
            out = self.dropout_module(out, inference=inference)
        return out

    def extra_repr(self) -> str:
        return f"sequence_length={self.sequence_length}, hidden_state={self.hidden_state!r}, keep_prob={self.keep_prob}"


class RNNLayer(_RecurrentLayer):
    """The book's vanilla RNN layer: ``nn.RNN(tanh, batch_first=True)`` then ``nn.Linear(H, O)`` per step.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  y_t = fc(h_t). Twin of ``scratch.RNNLayer``
    (``weight_ih_l0 = W_f[:V]ᵀ``, ``weight_hh_l0 = W_f[V:]ᵀ``, ``bias_ih_l0 + bias_hh_l0 = B_f``,
    ``fc.weight = W_vᵀ``, ``fc.bias = B_v[0]``). See the module docstring for states, dropout, init.
    """

    core_name = "rnn"
    rnn: nn.RNN

    def _make_core(self, dtype: torch.dtype | None) -> nn.Module:
        return nn.RNN(self.input_size, self.hidden_size, batch_first=True, nonlinearity="tanh", dtype=dtype)

    def _run(self, x: Tensor, states: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, h_n = self.rnn(x, None if states is None else states[0])
        return out, (h_n,)


class LSTMLayer(BookCheckpoint, _RecurrentLayer):
    """The book's LSTM layer (chapter 7's signature): ``nn.LSTM(batch_first=True)`` then ``nn.Linear(H, O)``.

    Twin of ``scratch.LSTMLayer``: torch's gate blocks i, f, g, o are the book's i, f, c, o. Both h and c are
    carried in "book" mode (``carry`` rows h, c); ``initial_state`` is a pair ``(h0, c0)`` of [N, H] tensors.
    Loads the book's chapter 7 ``LSTMLayer`` checkpoints: ``BOOK_KEYS`` renames its ``DenseLayer``'s
    ``fc.linear.*`` to ``fc.*`` (the ``nn.LSTM`` keys are the same).
    """

    n_states = 2
    core_name = "lstm"
    lstm: nn.LSTM
    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        "lstm.weight_ih_l0": "lstm.weight_ih_l0",
        "lstm.weight_hh_l0": "lstm.weight_hh_l0",
        "lstm.bias_ih_l0": "lstm.bias_ih_l0",
        "lstm.bias_hh_l0": "lstm.bias_hh_l0",
        "fc.linear.weight": "fc.weight",
        "fc.linear.bias": "fc.bias",
    }

    def _make_core(self, dtype: torch.dtype | None) -> nn.Module:
        return nn.LSTM(self.input_size, self.hidden_size, batch_first=True, dtype=dtype)

    def _run(self, x: Tensor, states: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, (h_n, c_n) = self.lstm(x, None if states is None else (states[0], states[1]))
        return out, (h_n, c_n)


class GRULayer(_RecurrentLayer):
    """A GRU layer with the book's per-step projection; reset "before" (the book) or "after" (``nn.GRU``).

    ``reset="before"``: ``gru = ResetBeforeGRU(V, H)`` (hand-written, autograd); ``reset="after"``:
    ``gru = nn.GRU(V, H, batch_first=True)``. Both have the same parameter names and shapes. Twin of
    ``scratch.GRULayer(reset=...)`` (torch r, z, n = book r, u, h; for "after" ``bias_hh_l0``'s n block is
    the book's ``B_hn``).
    """

    core_name = "gru"
    gru: nn.Module  # nn.GRU or ResetBeforeGRU

    def __init__(
        self,
        sequence_length: int | None,
        input_size: int,
        hidden_size: int,
        output_size: int,
        dropout: float = 1.0,
        *,
        reset: str = "before",
        hidden_state: str = "book",
        dtype: torch.dtype | None = None,
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        single_bias: bool = True,
    ) -> None:
        self.reset = check_choice(reset, "reset", _RESET_MODES)  # read by _make_core during super().__init__
        super().__init__(
            sequence_length,
            input_size,
            hidden_size,
            output_size,
            dropout,
            hidden_state=hidden_state,
            dtype=dtype,
            inverted_dropout=inverted_dropout,
            generator=generator,
            single_bias=single_bias,
        )

    def _make_core(self, dtype: torch.dtype | None) -> nn.Module:
        if self.reset == "after":
            return nn.GRU(self.input_size, self.hidden_size, batch_first=True, dtype=dtype)
        return ResetBeforeGRU(self.input_size, self.hidden_size, dtype=dtype)

    def _summed_rows(self) -> int:
        # reset="after": the n block of bias_hh is b_hn, inside r ⊙ (W_hn h + b_hn), trained on its own
        return 2 * self.hidden_size if self.reset == "after" else 3 * self.hidden_size

    def _run(self, x: Tensor, states: tuple[Tensor, ...] | None) -> tuple[Tensor, tuple[Tensor, ...]]:
        out, h_n = self.gru(x, None if states is None else states[0])
        return out, (h_n,)

    def extra_repr(self) -> str:
        return f"reset={self.reset!r}, " + super().extra_repr()
