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
(``torch_impl.model.BookCheckpoint``).

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
``BookDropout(dropout, inverted=inverted_dropout, generator=generator)`` applied to y; ``inverted_dropout=True``
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

import copy
import functools
import itertools
import math
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn
from torch.optim import Optimizer

from data.progress import ProgressBar

from ._validation import (
    boundary,
    check_choice,
    check_generator,
    check_int,
    check_keep_prob,
    check_matches,
    check_one_hot,
    check_positive,
    check_same_shape,
    check_tensor,
    describe,
)
from .dropout import BookDropout
from .init import torch_linear_init_
from .layers import PyTorchLayer
from .losses import target_log_likelihood
from .model import BookCheckpoint, PyTorchModel, accepts_inference

__all__ = [
    "GRULayer",
    "LSTMLayer",
    "NextCharacterModel",
    "NextCharacterTrainer",
    "RNNLayer",
    "ResetBeforeGRU",
    "SequenceSoftmaxCrossEntropy",
    "sample_text",
    "sliding_window_batches",
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
    dropout_module: BookDropout | None
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
            BookDropout(self.keep_prob, inverted=self.inverted_dropout, generator=generator)
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


# --------------------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------------------


class SequenceSoftmaxCrossEntropy(nn.Module):
    """The RNN notebook's loss: softmax over the last axis of logits ``[N, T, C]`` (C >= 2) and cross-entropy
    against one-hot targets ``[N, T, C]`` (0s and exactly one 1 per (n, t), checked as ``scratch`` checks them).

        reduction="sum"  (the book's chapter 6):  L = -Σ_{n,t,c} Y log_softmax(X, -1)     (dL/dX = P - Y)
        reduction="mean" (nn.CrossEntropyLoss):   L = the sum / (N·T)                     (dL/dX = (P - Y) / (N·T))

    The value is the true cross-entropy (the book's notebook printed an extra -Σ(1-Y)log(1-P) term; its
    gradient was this loss's). ``sum`` equals ``F.cross_entropy(X.permute(0, 2, 1), idx, reduction="sum")``
    with index targets ``idx [N, T]``.
    """

    def __init__(self, reduction: str = "sum") -> None:
        super().__init__()
        self.reduction = check_choice(reduction, "reduction", ("sum", "mean"))

    @boundary(check_output=False)
    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Return the loss as a 0-d tensor."""
        owner = "SequenceSoftmaxCrossEntropy"
        check_tensor(prediction, f"{owner} prediction", 3, "[batch, time, classes]")
        check_tensor(target, f"{owner} target", 3, "[batch, time, classes]")
        check_same_shape(prediction, target, f"{owner} prediction", f"{owner} target")
        check_matches(target, f"{owner} target", prediction, "the prediction")
        if prediction.shape[2] < 2:
            raise ValueError(
                f"{owner} needs at least 2 classes on the last axis; received shape {tuple(prediction.shape)}"
            )
        check_one_hot(target, f"{owner} target")
        total = -target_log_likelihood(target, torch.log_softmax(prediction, dim=-1))
        if self.reduction == "mean":
            return total / (prediction.shape[0] * prediction.shape[1])
        return total

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


# --------------------------------------------------------------------------------------------------------
# Chapter 7: the character-level LSTM
# --------------------------------------------------------------------------------------------------------


class NextCharacterModel(BookCheckpoint, PyTorchModel):
    """Chapter 7's next-character model: one ``LSTMLayer(sequence_length, V, hidden_size, V)`` named ``lstm``.

    ``forward(x [N, T, V] one-hot) -> logits [N, V, T]`` (the LSTM layer's ``[N, T, V]`` permuted), the layout
    ``nn.CrossEntropyLoss`` wants with index targets ``[N, T]``. ``state_dict``: ``lstm.lstm.weight_ih_l0``, ...,
    ``lstm.fc.weight``, ``lstm.fc.bias`` and ``lstm.carry`` (the carried state). In "book" mode (default) the LSTM
    carries the batch-mean state between calls (see the module docstring); ``reset_state()`` forgets it.
    ``single_bias=True`` (default, as every torch_impl recurrent layer): one trained bias per gate, as the book's
    NumPy LSTM and scratch's; ``False``: both of ``nn.LSTM``'s biases train, as chapter 7's code does
    (``torch_impl.book.ch7.NextCharacterModel``). A checkpoint of the book's chapter 7 model
    (``lstm.fc.linear.*``) loads as it is (``BOOK_KEYS``); ``book_state_dict()`` exports the book's keys.
    """

    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        f"lstm.{book}": f"lstm.{ours}" for book, ours in LSTMLayer.BOOK_KEYS.items()
    }

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 256,
        sequence_length: int = 25,
        *,
        hidden_state: str = "book",
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
        single_bias: bool = True,
    ) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        self.sequence_length = check_int(sequence_length, "sequence_length", 1)
        self.lstm = LSTMLayer(
            self.sequence_length,
            self.vocab_size,
            hidden_size,
            self.vocab_size,
            hidden_state=hidden_state,
            dtype=dtype,
            generator=generator,
            single_bias=single_bias,
        )

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """One-hot ``x [N, T, V]`` -> logits ``[N, V, T]``."""
        out: Tensor = self.lstm(x, inference=inference)
        return out.permute(0, 2, 1)  # [N, T, V] -> [N, V, T]

    def reset_state(self) -> None:
        """Forget the LSTM's carried state."""
        self.lstm.reset_state()


def _model_reference(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    return torch.get_default_dtype(), torch.get_default_device()


def sample_text(
    model: nn.Module,
    start_index: int,
    length: int,
    vocab_size: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Draw ``length`` character indices from ``model``, one at a time, starting after ``start_index``.

    A deep copy of ``model`` (so the caller's carried state and training flag are untouched) is put in eval
    mode; each step feeds the previous character as a one-hot ``[1, 1, V]`` and relies on the copy's book-mode
    carried state for the history (a "zeros"-mode model therefore sees one character only). The last step's
    logits (``[1, V, T]`` from ``NextCharacterModel``, or ``[1, T, V]`` from any layer/model, told apart by
    shape) give p = softmax(logits / temperature); the next index is ``torch.multinomial(p, 1,
    generator=generator)``. Same generator seed -> same indices.
    """
    if isinstance(model, type) or not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
    vocab_size = check_int(vocab_size, "vocab_size", 1)
    start_index = check_int(start_index, "start_index", 0)
    if start_index >= vocab_size:
        raise ValueError(f"start_index must be in [0, {vocab_size}) (vocab_size={vocab_size}); received {start_index}")
    model_vocab = getattr(model, "vocab_size", None)
    if isinstance(model_vocab, int) and model_vocab != vocab_size:
        raise ValueError(f"vocab_size must equal the model's vocab_size {model_vocab}; received {vocab_size}")
    length = check_int(length, "length", 0)
    temperature = check_positive(temperature, "temperature")
    generator = check_generator(generator)

    sampler = copy.deepcopy(model)
    sampler.eval()
    dtype, device = _model_reference(sampler)
    drawn: list[int] = []
    index = start_index
    with torch.no_grad():
        for _ in range(length):
            x = torch.zeros(1, 1, vocab_size, dtype=dtype, device=device)
            x[0, 0, index] = 1.0
            out = sampler(x, inference=True) if accepts_inference(sampler) else sampler(x)
            if not isinstance(out, Tensor) or out.dim() != 3 or out.shape[0] != 1:
                raise ValueError(
                    f"model must return logits [1, V, T] or [1, T, V] for a [1, 1, {vocab_size}] input; "
                    f"received {describe(out)}"
                )
            if out.shape[1] == vocab_size and out.shape[2] == 1:
                logits = out[0, :, -1]  # [1, V, T=1] -> [V]
            elif out.shape[2] == vocab_size:
                logits = out[0, -1, :]  # [1, T, V] -> [V] (the last step)
            else:
                raise ValueError(
                    f"model must return logits [1, V, T] or [1, T, V] with V = vocab_size = {vocab_size}; "
                    f"received shape {tuple(out.shape)}"
                )
            probs = torch.softmax(logits.double() / temperature, dim=0)
            if generator is not None and generator.device != probs.device:
                probs = probs.to(generator.device)
            index = int(torch.multinomial(probs, 1, generator=generator))
            drawn.append(index)
    return drawn


def _as_indices(value: Any, name: str, vocab_size: int, min_length: int) -> Tensor:
    """``value`` (1-D integer ndarray or tensor) as a ``torch.long`` CPU tensor, checked."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer character indices; received dtype {value.dtype}")
        out = torch.from_numpy(np.ascontiguousarray(value).astype(np.int64, copy=False))
    elif isinstance(value, Tensor):
        if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer character indices; received dtype {value.dtype}")
        out = value.detach().to(device="cpu", dtype=torch.long)
    else:
        raise TypeError(
            f"{name} must be a 1-D numpy.ndarray or torch.Tensor of integer indices; received {describe(value)}"
        )
    if out.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one index per character); received shape {tuple(out.shape)}")
    if out.numel() < min_length:
        raise ValueError(
            f"{name} must hold at least {min_length} characters (one window of sequence_length + 1); "
            f"received {out.numel()}"
        )
    lo, hi = int(out.min()), int(out.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"{name} must hold indices in [0, {vocab_size}); received values in [{lo}, {hi}]")
    return out


def sliding_window_batches(
    indices: np.ndarray | Tensor, sequence_length: int, batch_size: int
) -> Iterator[tuple[Tensor, Tensor]]:
    """Chapter 7's ``LSTMTrainer`` batches: overlapping windows one character apart, in order, unshuffled.

    With T = ``sequence_length`` and B = ``batch_size``, batch k holds the B windows starting at s = kB, kB + 1,
    ..., kB + B - 1: inputs ``text[s : s + T]`` and targets ``text[s + 1 : s + T + 1]``, each ``[B, T]`` (long).
    Batches come while the last window of the batch is whole (kB + B - 1 + T + 1 <= len(text)), so an epoch over
    n characters is ``floor((n - T - B) / B) + 1`` batches (about n / B, i.e. B times the n / (B·T) batches of
    disjoint windows); consecutive batches overlap in all but B characters.
    """
    T = check_int(sequence_length, "sequence_length", 1)
    B = check_int(batch_size, "batch_size", 1)
    text = _as_indices(indices, "indices", int(np.iinfo(np.int64).max), 1)
    offsets = torch.arange(B)[:, None] + torch.arange(T)[None, :]  # [B, T]: window b, position t -> b + t
    start = 0
    while start + B + T <= text.numel():
        rows = offsets + start
        yield text[rows], text[rows + 1]
        start += B


class NextCharacterTrainer:
    """Chapter 7's training loop for a character model (``NextCharacterModel`` or anything with integer
    ``sequence_length`` and ``vocab_size`` attributes returning logits ``[N, V, T]``).

    ``fit(train_indices, test_indices, ...)``:

    * windows: the text (1-D integer indices) is cut into non-overlapping consecutive windows, for
      s = 0, T, 2T, ... while s + T + 1 <= len: inputs ``text[s:s+T]`` (one-hot ``[T, V]`` in the model's
      dtype), targets ``text[s+1:s+T+1]`` (indices ``[T]``);
    * each epoch visits the training windows in the order ``torch.randperm(n, generator=g)``, g a CPU
      ``torch.Generator`` seeded ``seed`` once per ``fit``, in consecutive batches of ``batch_size`` (the last
      may be smaller), at most ``max_batches`` batches per epoch. Per batch, in training mode:
      ``zero_grad``, forward, ``criterion(logits, targets)``, ``backward``, ``step``;
    * afterwards the test loss is computed in eval mode with ``inference=True`` under ``no_grad`` over the
      test windows in order (batches of ``batch_size``): the mean of the batch losses weighted by batch size,
      i.e. the mean CE over every test position for the default ``nn.CrossEntropyLoss()``.

    The model keeps its carried state across batches (and into the evaluation), as in the book. These
    disjoint shuffled windows (``windows="disjoint"``, the default) are this project's choice, not the book's:
    ``windows="sliding"`` trains on chapter 7's ``LSTMTrainer`` batches instead (:func:`sliding_window_batches`:
    overlapping windows one character apart, batch k holding those starting at kB .. kB + B - 1, in order,
    unshuffled, so an epoch is about B times as many steps; ``seed`` is then unused). Returns
    ``{"train_loss": [loss of every batch], "test_loss": float}``.
    """

    def __init__(self, model: nn.Module, optim: Optimizer, criterion: nn.Module | None = None) -> None:
        if isinstance(model, type) or not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
        for attr in ("sequence_length", "vocab_size"):
            value = getattr(model, attr, None)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TypeError(
                    f"model must have an integer {attr} >= 1 (e.g. a NextCharacterModel); received {describe(value)}"
                )
        if isinstance(optim, type) or not isinstance(optim, Optimizer):
            raise TypeError(
                f"optim must be a torch.optim.Optimizer instance (e.g. torch.optim.Adam(model.parameters())); "
                f"received {describe(optim)}"
            )
        if criterion is not None and (isinstance(criterion, type) or not callable(criterion)):
            raise TypeError(f"criterion must be a loss instance such as nn.CrossEntropyLoss(); received {criterion!r}")
        self.model = model
        self.sequence_length: int = model.sequence_length  # type: ignore[assignment]
        self.vocab_size: int = model.vocab_size  # type: ignore[assignment]
        self.optim = optim
        self.criterion: Any = nn.CrossEntropyLoss() if criterion is None else criterion

    def _windows(self, indices: Any, name: str) -> tuple[Tensor, Tensor]:
        """Inputs and targets ``[n, T]`` (long) of the non-overlapping windows of ``indices``."""
        T, V = self.sequence_length, self.vocab_size
        text = _as_indices(indices, name, V, T + 1)
        n = (text.numel() - 1) // T
        inputs = text[: n * T].view(n, T)  # [n·T] -> [n, T]: window k is text[kT : kT+T]
        targets = text[1 : n * T + 1].view(n, T)  # shifted by one character
        return inputs, targets

    def _batch(
        self, inputs: Tensor, targets: Tensor, dtype: torch.dtype, device: torch.device
    ) -> tuple[Tensor, Tensor]:
        V = self.vocab_size
        x = F.one_hot(inputs.to(device), V).to(dtype)  # [n, T] -> [n, T, V]
        return x, targets.to(device)

    def _forward(self, x: Tensor, inference: bool) -> Tensor:
        out: Tensor = self.model(x, inference=inference) if accepts_inference(self.model) else self.model(x)
        return out

    def fit(
        self,
        train_indices: np.ndarray | Tensor,
        test_indices: np.ndarray | Tensor,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        seed: int = 0,
        max_batches: int | None = None,
        progress: bool = False,
        windows: str = "disjoint",
    ) -> dict[str, Any]:
        """Train on ``train_indices`` and evaluate on ``test_indices``; see the class docstring."""
        windows = check_choice(windows, "windows", ("disjoint", "sliding"))
        epochs = check_int(epochs, "epochs", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        seed = check_int(seed, "seed", 0)
        if max_batches is not None:
            max_batches = check_int(max_batches, "max_batches", 1)
        train_x, train_y = self._windows(train_indices, "train_indices")
        test_x, test_y = self._windows(test_indices, "test_indices")
        dtype, device = _model_reference(self.model)
        g = torch.Generator().manual_seed(seed)
        n = train_x.shape[0]
        if windows == "sliding":
            text = _as_indices(train_indices, "train_indices", self.vocab_size, self.sequence_length + 1)
            n_batches = max(0, (text.numel() - self.sequence_length - batch_size) // batch_size + 1)
            if n_batches == 0:
                raise ValueError(
                    f"train_indices must hold at least sequence_length + batch_size = "
                    f"{self.sequence_length + batch_size} characters for one batch of sliding windows; "
                    f"received {text.numel()}"
                )
        else:
            n_batches = math.ceil(n / batch_size)
        per_epoch = n_batches if max_batches is None else min(n_batches, max_batches)
        bar = ProgressBar(epochs * per_epoch, enabled=bool(progress))
        train_loss: list[float] = []
        was_training = self.model.training
        try:
            self.model.train()
            for _ in range(epochs):
                if windows == "sliding":
                    epoch_batches: Iterator[tuple[Tensor, Tensor]] = itertools.islice(
                        sliding_window_batches(text, self.sequence_length, batch_size), per_epoch
                    )
                else:
                    order = torch.randperm(n, generator=g)
                    epoch_batches = (
                        (train_x[rows], train_y[rows])
                        for rows in (order[b * batch_size : (b + 1) * batch_size] for b in range(per_epoch))
                    )
                for inputs, targets in epoch_batches:
                    xb, yb = self._batch(inputs, targets, dtype, device)
                    self.optim.zero_grad()
                    loss = self.criterion(self._forward(xb, inference=False), yb)
                    loss.backward()
                    self.optim.step()
                    train_loss.append(float(loss.detach()))
                    bar.update(len(train_loss), f"train loss {train_loss[-1]:.4g}")
            self.model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                for start in range(0, test_x.shape[0], batch_size):
                    xb, yb = self._batch(
                        test_x[start : start + batch_size], test_y[start : start + batch_size], dtype, device
                    )
                    total += float(self.criterion(self._forward(xb, inference=True), yb)) * xb.shape[0]
                    count += int(xb.shape[0])
        finally:
            self.model.train(was_training)
            bar.close()
        return {"train_loss": train_loss, "test_loss": total / count}
