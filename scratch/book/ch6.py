"""Chapter 6 (``06_rnns/RNN_DLFS.ipynb``): recurrent layers, their models, optimizers, loss and trainer, as the
notebook calls them, on the top-level ``scratch`` classes (``scratch.rnn``, ``scratch.rnn_model``).

What this module adds is the book's API and a random stream of its own:

- ``RNNLayer(hidden_size, output_size, weight_scale=None)``, ``LSTMLayer(..., weight_scale=0.01)``,
  ``GRULayer(..., weight_scale=0.01)``: the scratch layers (the book's carried start state, any sequence length:
  guide erratum E20; the GRU with its own update-gate weights and its full backward: E18, E19), whose
  parameters are drawn on the first ``forward`` in the BOOK's order (RNN: W_f, B_f, W_v, B_v; LSTM: W_f, B_f,
  W_i, B_i, W_c, B_c, W_o, B_o, W_v, B_v; GRU: W_xr, W_hr, B_r, W_xu, W_hu, B_u, W_xh, W_hh, B_h, W_v, B_v),
  each ``normal(0, scale, shape)`` from this module's stream, so a stream in the state of the book's global
  generator gives the book's initial weights. ``params`` keeps that key order;
- ``RNNModel(layers, sequence_length, vocab_size, loss)`` is ``scratch.RNNModel``; ``LSTMModel`` adds the
  book's ``hidden_size`` argument;
- ``SoftmaxCrossEntropy(eps=1e-9)``: the notebook's loss SUMS over batch, time and vocabulary (scratch's 2-D
  ``SoftmaxCrossEntropy`` averages over rows): ``scratch.SequenceSoftmaxCrossEntropy("sum")`` with the book's
  gradient ``clip(p, eps, 1 - eps) - Y``. Its value is the true cross-entropy -Σ Y log p (the book's value adds
  -(1 - Y) log(1 - p), guide erratum E2; ``book_value()`` gives it; the notebook never prints it);
- ``RNNOptimizer``, ``SGD``, ``AdaGrad`` with ``(lr=0.01, gradient_clipping=True)``: scratch's update rules
  (AdaGrad with the book's eps = 1e-7 inside the accumulator), every gradient element clipped to [-2, 2] first;
  the book's ``optim.model`` is an alias of scratch's ``optim.net``;
- ``RNNTrainer(text_file, model, optim, batch_size=32, seed=0)``: ``scratch.RNNTrainer`` with the book's
  sliding windows (``windows="sliding"``: window i of a batch starts at ``p + i``, ``p`` from 0 advancing by
  ``batch_size``, back to 0 when ``p + T + batch_size + 1 > len(text)``), ``train(num_iterations,
  sample_every=100)`` printing, every ``sample_every`` iterations from iteration 0, a 200-character sample
  drawn after the character at ``p``, each time after ``display.clear_output(wait=True)`` (so a notebook shows
  only the last sample; the book's code samples every 100 iterations whatever ``sample_every`` says, and the
  notebook passes 100). It keeps the book's attributes ``data``, ``chars``, ``char_to_idx``, ``idx_to_char``,
  ``vocab_size`` and ``sequence_length``, but the characters are SORTED (guide erratum E21: the book's
  ``set()`` order changes between Python processes). The moving average of the last 100 losses, which the
  book plots, is kept in ``moving_average`` (no plot is drawn);
- the notebook's helpers: ``sigmoid``, ``dsigmoid``, ``tanh``, ``dtanh``, ``softmax``, ``batch_softmax``,
  ``logsumexp`` (SciPy's signature, NumPy only), ``assert_same_shape`` (``ValueError`` for the book's bare
  ``assert``) and ``display``, a stand-in for ``IPython.display`` offering ``clear_output``.

Randomness: the book draws its weights with NumPy's global generator (``np.random.normal``) on each layer's
first forward and its samples with ``np.random.choice``, unseeded. Here both come from ``STREAM``, a private
``np.random.RandomState`` (NumPy's global state is never touched): ``RNNTrainer(..., seed=DEFAULT_SEED)``
reseeds it, so each training cell of the notebook is reproducible by itself (the layers draw lazily, on the
trainer's first batch, as the book's do); ``seed=None`` continues the stream as it stands, and ``seed(s)``
reseeds it directly. With the same seed, vocabulary order and weights, the book's own classes take the same
steps (every loss within 1e-12 relative, measured 5e-16 over 200 steps: the fused scratch layers add in another
order) and draw the same samples (``tests/scratch/test_book_ch6.py``).
"""

from __future__ import annotations

import io
import os
import sys
from collections import deque
from typing import Any

import numpy as np

from .._validation import check_int
from ..fundamentals import sigmoid  # σ(x) = 1 / (1 + exp(-x)), the book's formula bit for bit
from ..losses import Loss
from ..optimizers import SGD as _SGD
from ..optimizers import AdaGrad as _AdaGrad
from ..optimizers import Optimizer, _resolve_clip
from ..rnn import GRULayer as _GRULayer
from ..rnn import GRUNode, LSTMNode, RNNNode
from ..rnn import LSTMLayer as _LSTMLayer
from ..rnn import RNNLayer as _RNNLayer
from ..rnn_model import RNNModel, SequenceSoftmaxCrossEntropy
from ..rnn_model import RNNTrainer as _RNNTrainer

__all__ = [
    "DEFAULT_SEED",
    "SGD",
    "STREAM",
    "AdaGrad",
    "GRULayer",
    "GRUNode",
    "LSTMLayer",
    "LSTMModel",
    "LSTMNode",
    "Loss",
    "RNNLayer",
    "RNNModel",
    "RNNNode",
    "RNNOptimizer",
    "RNNTrainer",
    "SoftmaxCrossEntropy",
    "assert_same_shape",
    "batch_softmax",
    "display",
    "dsigmoid",
    "dtanh",
    "logsumexp",
    "seed",
    "sigmoid",
    "softmax",
    "tanh",
]

#: The seed ``RNNTrainer`` gives the stream by default (the book's notebook is unseeded: any fixed value serves).
DEFAULT_SEED = 0

#: The book's global ``np.random`` calls (weights, sampled characters), private to this module.
STREAM = np.random.RandomState(DEFAULT_SEED)


def seed(value: int) -> None:
    """Reseed this module's stream (what ``np.random.seed(value)`` does to the book's global generator)."""
    STREAM.seed(check_int(value, "seed", 0))


# --------------------------------------------------------------------------------------------------------
# The notebook's helpers
# --------------------------------------------------------------------------------------------------------


def assert_same_shape(array: np.ndarray, array_grad: np.ndarray) -> None:
    """Raise ``ValueError`` unless the two arrays have the same shape (the book's ``assert``)."""
    if np.shape(array) != np.shape(array_grad):
        raise ValueError(
            f"the two arrays must have the same shape; received {np.shape(array)} and {np.shape(array_grad)}"
        )


def logsumexp(a: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(a) over ``axis`` (all elements for None), computed as m + log Σ exp(a - m) with m the maximum
    (stable for any finite input; -inf where every element is -inf). SciPy's ``logsumexp`` signature without
    its weights."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"logsumexp needs a real numeric array; received dtype {arr.dtype}")
    m = np.max(arr, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf slice: exp(-inf - 0) = 0, log 0 = -inf
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(arr - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return out.reshape(())[()] if axis is None else np.squeeze(out, axis=axis)


def dsigmoid(x: np.ndarray) -> np.ndarray:
    """dσ/dx = σ(x) (1 - σ(x)), element-wise."""
    s = sigmoid(x)
    ds: np.ndarray = s * (1.0 - s)
    return ds


def tanh(x: np.ndarray) -> np.ndarray:
    """tanh(x), element-wise."""
    t: np.ndarray = np.tanh(x)
    return t


def dtanh(x: np.ndarray) -> np.ndarray:
    """d tanh/dx = 1 - tanh²(x), element-wise."""
    t = np.tanh(x)
    dt: np.ndarray = 1.0 - t * t
    return dt


def softmax(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """exp(x - logsumexp(x)) along ``axis`` (over all elements for None); the same shape as x."""
    p: np.ndarray = np.exp(x - logsumexp(x, axis=axis, keepdims=True))
    return p


def batch_softmax(input_array: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``[N, T, C]`` (each row's axis 1): ``[N, T, C] -> [N, T, C]``."""
    arr = np.asarray(input_array)
    if arr.ndim != 3:
        raise ValueError(f"batch_softmax needs a 3-D array [batch, time, classes]; received shape {arr.shape}")
    return softmax(arr, axis=2)


class _Display:
    """A stand-in for ``IPython.display`` with the one function the chapter calls."""

    @staticmethod
    def clear_output(wait: bool = False) -> None:
        """Clear the current cell's output, as Jupyter does: when ``sys.stdout`` is an in-memory buffer (a cell's
        captured output, e.g. the book runner's), empty it; on a terminal or a file, do nothing. ``wait`` is
        IPython's flag (clear when the next output arrives), the same thing here."""
        out = sys.stdout
        if isinstance(out, io.StringIO):
            out.seek(0)
            out.truncate(0)


display = _Display()


# --------------------------------------------------------------------------------------------------------
# Layers: scratch's, with the book's draw order from this module's stream
# --------------------------------------------------------------------------------------------------------


def _book_order(shapes: dict[str, tuple[int, int]], order: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """``shapes`` re-keyed in the book's order (the names must be the same)."""
    if set(shapes) != set(order):  # pragma: no cover - a mismatch between this module and scratch.rnn
        raise RuntimeError(f"parameter names {sorted(shapes)} are not the book's {sorted(order)}")
    return {name: shapes[name] for name in order}


class _BookDraws:
    """Mixin: draw the parameters from ``STREAM`` in the book's order; the book's ``_clear_gradients``."""

    _ORDER: tuple[str, ...] = ()
    params: dict[str, dict[str, np.ndarray]]
    rng: Any  # scratch's Generator, replaced by the module's RandomState

    def _use_stream(self) -> None:
        self.rng = STREAM  # RandomState.normal(0, s, size) draws np.random.normal's numbers

    def _param_shapes(self, V: int) -> dict[str, tuple[int, int]]:
        return _book_order(super()._param_shapes(V), self._ORDER)  # type: ignore[misc]

    def _clear_gradients(self) -> None:
        """Zero every parameter's ``deriv`` (scratch's ``backward`` overwrites them anyway)."""
        for entry in self.params.values():
            entry["deriv"] = np.zeros_like(entry["deriv"])


class RNNLayer(_BookDraws, _RNNLayer):
    """``RNNLayer(hidden_size, output_size, weight_scale=None)``: ``scratch.RNNLayer`` drawing W_f ``(V+H, H)``,
    B_f ``(1, H)``, W_v ``(H, O)``, B_v ``(1, O)`` in that order with std ``weight_scale`` (None: the book's
    2 / (V + O), stored on the layer when it is built, as the book does)."""

    _ORDER = ("W_f", "B_f", "W_v", "B_v")

    def __init__(self, hidden_size: int, output_size: int, weight_scale: float | None = None) -> None:
        super().__init__(hidden_size, output_size, weight_scale)
        self._use_stream()

    def _setup_layer(self, V: int, dtype: np.dtype[Any]) -> None:
        if self.weight_scale is None:
            self.weight_scale = 2 / (V + self.output_size)
        super()._setup_layer(V, dtype)


class LSTMLayer(_BookDraws, _LSTMLayer):
    """``LSTMLayer(hidden_size, output_size, weight_scale=0.01)``: ``scratch.LSTMLayer`` drawing W_f, B_f, W_i,
    B_i, W_c, B_c, W_o, B_o (W ``(V+H, H)``, B ``(1, H)``), W_v ``(H, O)``, B_v ``(1, O)`` in that order, all with
    std ``weight_scale``."""

    _ORDER = ("W_f", "B_f", "W_i", "B_i", "W_c", "B_c", "W_o", "B_o", "W_v", "B_v")

    def __init__(self, hidden_size: int, output_size: int, weight_scale: float = 0.01) -> None:
        super().__init__(hidden_size, output_size, weight_scale)
        self._use_stream()


class GRULayer(_BookDraws, _GRULayer):
    """``GRULayer(hidden_size, output_size, weight_scale=0.01)``: ``scratch.GRULayer`` (reset before the recurrent
    product, as the book) drawing W_xr, W_hr, B_r, W_xu, W_hu, B_u, W_xh, W_hh, B_h, W_v, B_v in that order
    (W_x* ``(V, H)``, W_h* ``(H, H)``, B_* ``(1, H)``, W_v ``(H, O)``, B_v ``(1, O)``), with std ``weight_scale``
    except B_h, W_v and B_v, which the book draws with std 1. Its update gate uses W_xu and W_hu (E18) and its
    backward is complete (E19): the book's GRU code is wrong on both counts."""

    _ORDER = ("W_xr", "W_hr", "B_r", "W_xu", "W_hu", "B_u", "W_xh", "W_hh", "B_h", "W_v", "B_v")

    def __init__(self, hidden_size: int, output_size: int, weight_scale: float = 0.01) -> None:
        super().__init__(hidden_size, output_size, weight_scale)
        self._use_stream()


# --------------------------------------------------------------------------------------------------------
# Model, loss, optimizers
# --------------------------------------------------------------------------------------------------------


class LSTMModel(RNNModel):
    """``LSTMModel(layers, sequence_length, vocab_size, hidden_size, loss)``: ``RNNModel`` that also records the
    book's ``hidden_size`` (informational: every layer has its own)."""

    def __init__(self, layers: list[Any], sequence_length: int, vocab_size: int, hidden_size: int, loss: Loss) -> None:
        super().__init__(layers, sequence_length, vocab_size, loss)
        self.hidden_size = check_int(hidden_size, "hidden_size", 1)


class SoftmaxCrossEntropy(SequenceSoftmaxCrossEntropy):
    """The notebook's loss on logits ``[N, T, C]`` and one-hot targets ``[N, T, C]``, summed (no division):

        forward:   p = softmax over the last axis;  L = -Σ_{n,t,c} Y log p      (E2: the true value)
        backward:  dL/dz = clip(p, eps, 1 - eps) - Y                             [N, T, C]

    The gradient clips p as the book does (at most ``eps`` from p - Y); ``book_value()`` is the book's value."""

    def __init__(self, eps: float = 1e-9) -> None:
        super().__init__(reduction="sum", eps=eps)
        self.single_class = False

    def _input_grad(self) -> np.ndarray:
        grad: np.ndarray = np.clip(self.softmax_preds, self.eps, 1 - self.eps) - self.target
        return grad


class RNNOptimizer(Optimizer):
    """The book's ``RNNOptimizer(lr=0.01, gradient_clipping=True)``: a scratch ``Optimizer`` whose gradients are
    clipped element-wise to [-2, 2] before the update (``gradient_clipping``); ``model`` is the book's name for
    ``net`` (the trainer sets it)."""

    def __init__(self, lr: float = 0.01, gradient_clipping: bool = True) -> None:
        super().__init__(lr, clip=_resolve_clip(None, gradient_clipping))
        self.gradient_clipping = gradient_clipping

    @property
    def model(self) -> Any:
        """The model whose layers ``step`` updates (the same object as ``net``)."""
        return self.net

    @model.setter
    def model(self, value: Any) -> None:
        self.net = value


class SGD(RNNOptimizer, _SGD):
    """``SGD(lr=0.01, gradient_clipping=True)``: p ← p - lr · clip(g, -2, 2)."""


class AdaGrad(RNNOptimizer, _AdaGrad):
    """``AdaGrad(lr=0.01, gradient_clipping=True)``: g ← clip(g, -2, 2); s ← s + eps + g²; p ← p - lr · g / √s,
    eps = 1e-7, s starting at 0 for every parameter."""


# --------------------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------------------


class RNNTrainer(_RNNTrainer):
    """``RNNTrainer(text_file, model, optim, batch_size=32)``: ``scratch.RNNTrainer`` with the book's sliding
    windows, printed samples and attribute names (module docstring). ``seed`` (keyword, default
    ``DEFAULT_SEED``) reseeds the module's stream, which draws the layers' weights on the first batch and the
    sampled characters; ``seed=None`` continues the stream as it stands."""

    #: The length of each printed sample (the book's).
    SAMPLE_LENGTH = 200
    #: The moving-average window of the losses (the book's ``deque(maxlen=100)``).
    WINDOW = 100

    def __init__(
        self,
        text_file: str | os.PathLike[str],
        model: RNNModel,
        optim: Optimizer,
        batch_size: int = 32,
        *,
        seed: int | None = DEFAULT_SEED,
    ) -> None:
        super().__init__(text_file, model, optim, batch_size, windows="sliding")
        if seed is not None:
            STREAM.seed(check_int(seed, "seed", 0))
        self.rng = STREAM  # type: ignore[assignment] # sampling draws np.random.choice's numbers from the stream
        self.data = self.text
        self.chars = list(self.vocab.chars)
        self.vocab_size = self.vocab.size
        self.char_to_idx = dict(self.vocab.char_to_index)
        self.idx_to_char = dict(enumerate(self.chars))
        self.sequence_length = self.model.sequence_length
        self.moving_average: list[float] = []

    def train(self, num_iterations: int, sample_every: int = 100) -> None:  # type: ignore[override]
        """Train for ``num_iterations`` batches from the start of the text; at iterations 0, ``sample_every``,
        2·``sample_every``, ... clear the output and print a 200-character sample drawn after the character at
        the next batch's start. Every loss is kept in ``losses`` and the moving average of the last 100 in
        ``moving_average``."""
        num_iterations = check_int(num_iterations, "num_iterations", 1)
        sample_every = check_int(sample_every, "sample_every", 1)
        self.position = 0
        recent: deque[float] = deque(maxlen=self.WINDOW)
        self.losses, self.moving_average = [], []
        for num_iter in range(num_iterations):
            x, y = self.next_batch()
            loss = self.model.single_step(x, y)
            self.optim.step()
            recent.append(loss)
            self.losses.append(loss)
            self.moving_average.append(float(np.mean(recent)))
            if num_iter % sample_every == 0:
                display.clear_output(wait=True)
                text = self.sample_output(self.char_to_idx[self.data[self.position]], self.SAMPLE_LENGTH)
                self.samples.append((num_iter, text))
                print(text)
