"""Chapter 4 (``04_extensions/Code.ipynb``): the book's ``lincoln`` library as the notebook imports it (dense
layers, activations, losses, SGD and momentum with learning-rate decay, Glorot initialisation, dropout, the
trainer with early stopping), on the top-level ``scratch`` classes.

What this module adds is the book's API and its random stream:

- ``Dense(neurons, activation=Linear(), conv_in=False, dropout=1.0, weight_init="standard")`` and
  ``NeuralNetwork(layers, loss, seed=1)``, which gives every layer the network's seed, as the book does;
- ``SoftmaxCrossEntropy(eps=1e-9)`` with the book's arithmetic: ``p = exp(X - logsumexp(X))`` row by row
  (SciPy's ``logsumexp`` algorithm, ``softmax`` below), clipped to ``[eps, 1 - eps]``; gradient
  ``(p_clipped - Y) / N``; its VALUE is the one the book prints, ``Σ [-Y log p - (1 - Y) log(1 - p)] / N``
  (guide erratum E2: not the function the gradient differentiates; the categorical cross-entropy is
  ``scratch.SoftmaxCrossEntropy``'s). Early stopping compares this value, as in the book;
- ``Optimizer``, ``SGD``, ``SGDMomentum`` ``(lr, final_lr=0, decay_type=None[, momentum=0.9])``: scratch's
  update rules with the book's decay, one step after every epoch by REPEATED subtraction (linear, of
  ``(lr - final_lr) / (epochs - 1)``) or multiplication (exponential, by
  ``(final_lr / lr) ** (1 / (epochs - 1))``), starting from the optimizer's current ``lr``. That drifts from the
  closed form of ``scratch.Optimizer.lr_at`` by about 1e-18 (guide erratum E25); it is kept here on purpose,
  so that runs stay bit-identical to the book's own code. Decay with ``final_lr=0`` decays (the book silently
  skipped it) and decay over fewer than two epochs raises ``ValueError`` (E8); neither occurs in the notebook;
- ``Trainer(net, optim).fit(X_train, y_train, X_test, y_test, epochs=100, eval_every=10, batch_size=32,
  seed=1, single_output=False, restart=True, early_stopping=True, conv_testing=False)`` returning ``None``
  and printing the book's messages: "Validation loss after N epochs is L" (every evaluation without early
  stopping, every improving one with it) and, on an early stop, a blank line then "Loss increased after epoch
  N, final loss was L, " / "using the model from epoch M". ``conv_testing`` prints "Validation accuracy after
  B batches is A%" every 100 batches (chapter 5's demo);
- ``softmax(x, axis=None)``, the book's ``np_utils.softmax``.

The book's stream, from ONE private ``np.random.RandomState`` per network (``net.stream``; NumPy's global
generator is never touched), used in the book's order: ``fit`` seeds it with ``seed`` and each epoch draws a
permutation of the previous epoch's (already shuffled) order; the first training batch sets each layer up,
and a ``Dense`` layer reseeds the stream with the network's seed before drawing W then B (``normal(0, scale)``:
every layer starts from the same numbers, as in the book); each dropout mask is
``binomial(1, keep_prob, shape)`` drawn when the layer's forward runs in training.

Errata (``docs/porting-guide.md``): the book's errors are corrected here, and the notebook's printed outputs
they change are listed in the manifest's differences. ``ReLU`` masks its gradient on the input (E1);
``MeanSquaredError(normalize=True)`` differentiates through the normalisation (E5); Glorot initialisation has
standard deviation ``sqrt(2 / (in + out))`` (E6); one default activation object per layer (E10). Early stopping
(E7): the book deep-copied the network at the start of every epoch that ends with an evaluation and, on a
rising loss, rebound ``trainer.net`` to that copy, which holds the weights of one epoch before the failing
evaluation (with ``eval_every > 1`` not the epoch it names, and never evaluated). Here the parameters are kept
at every improving evaluation and, on a rising loss, ``trainer.net`` is rebound to a copy of the network
holding the best evaluated weights, the epoch the message names (with ``eval_every=1`` the book's copy is that
same model). As in the book, the network object given to the trainer (the notebook's ``model``) is not rolled
back: it keeps the weights of the last epoch trained, and that is what the notebook's accuracy cells measure.
The best loss starts at +inf (E24).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from ..activations import Linear, ReLU, Sigmoid, Tanh
from ..base import Operation
from ..dropout import Dropout as _Dropout
from ..layers import Dense as _Dense
from ..layers import Layer
from ..losses import Loss, MeanSquaredError, book_cross_entropy_terms
from ..losses import SoftmaxCrossEntropy as _SoftmaxCrossEntropy
from ..network import NeuralNetwork as _NeuralNetwork
from ..optimizers import SGD as _SGD
from ..optimizers import Optimizer as _Optimizer
from ..optimizers import SGDMomentum as _SGDMomentum
from ..train import Trainer as _Trainer
from .ch3 import book_epoch_orders

__all__ = [
    "SGD",
    "Dense",
    "Dropout",
    "Layer",
    "Linear",
    "Loss",
    "MeanSquaredError",
    "NeuralNetwork",
    "Optimizer",
    "ReLU",
    "SGDMomentum",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Trainer",
    "logsumexp",
    "softmax",
]


# --------------------------------------------------------------------------------------------------------
# softmax with SciPy's logsumexp
# --------------------------------------------------------------------------------------------------------


def logsumexp(a: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(a) over ``axis`` (every element for None), with SciPy's algorithm (``scipy.special.logsumexp``
    since SciPy 1.15, which the book's ``softmax`` calls), so that the book's softmax is reproduced bit for bit:

        m = max(a),  c = number of elements equal to m,  s = Σ_{a_i < m} exp(a_i - m) / c
        logsumexp(a) = log1p(s) + log(c) + m

    (the maximum's own term is taken out of the sum for precision); where that is not finite (an infinite
    element), the direct ``log Σ exp(a)``. Real input only.
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"logsumexp needs a real numeric array; received dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    arr = np.atleast_1d(arr)
    axes = tuple(range(arr.ndim)) if axis is None else (axis,)
    if arr.size == 0:
        shape = tuple(1 if i in {ax % arr.ndim for ax in axes} else n for i, n in enumerate(arr.shape))
        out = np.full(shape, -np.inf, dtype=arr.dtype)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            direct = np.log(np.sum(np.exp(arr), axis=axes, keepdims=True))
            a_max = np.max(arr, axis=axes, keepdims=True)
            at_max = arr == a_max
            rest = arr.copy()
            rest[at_max] = -np.inf
            count = np.sum(at_max.astype(arr.dtype), axis=axes, keepdims=True, dtype=arr.dtype)
            s = np.sum(np.exp(rest - a_max), axis=axes, keepdims=True, dtype=arr.dtype)
            s = np.where(s == 0, s, s / count)
            out = np.log1p(s) + np.log(count) + a_max
        out = np.where(np.isfinite(out), out, direct)
    if not keepdims:
        out = np.squeeze(out, axis=axes)
    return out[()] if out.ndim == 0 else out


def softmax(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """exp(x - logsumexp(x)) along ``axis`` (over every element for None); the shape of x (the book's
    ``lincoln.utils.np_utils.softmax``)."""
    p: np.ndarray = np.exp(x - logsumexp(x, axis=axis, keepdims=True))
    return p


# --------------------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------------------


class SoftmaxCrossEntropy(_SoftmaxCrossEntropy):
    """``SoftmaxCrossEntropy(eps=1e-9)`` with the book's value and arithmetic, for logits X ``[N, C]`` and
    one-hot Y ``[N, C]``:

        forward:   p = clip(softmax(X), eps, 1 - eps)                 (``softmax`` above, row by row)
                   L = Σ [-Y log p - (1 - Y) log(1 - p)] / N          (the book's printed value, erratum E2)
        backward:  dL/dX = (p - Y) / N

    ``categorical_value()`` is the categorical cross-entropy -Σ Y log softmax(X) / N of the same batch, the
    function the gradient differentiates. Below float64 the value is computed in log space
    (``scratch.losses.book_cross_entropy_terms``), because in float32 ``1 - eps`` rounds to 1 and the book's
    formula gives NaN or infinity (E3).
    """

    def __init__(self, eps: float = 1e-9) -> None:
        super().__init__(eps)
        self.single_class = False

    def _output(self) -> float:
        x, y = self.prediction, self.target
        self.softmax_preds = np.clip(softmax(x, axis=1), self.eps, 1 - self.eps)
        if x.dtype != np.float64:
            return book_cross_entropy_terms(x, y, self.eps, axis=1) / len(x)  # len: N, the rows
        p = self.softmax_preds
        terms = -1.0 * y * np.log(p) - (1.0 - y) * np.log(1 - p)
        return float(np.sum(terms) / x.shape[0])

    def categorical_value(self) -> float:
        """-Σ Y log softmax(X) / N for the last ``forward`` (``scratch.SoftmaxCrossEntropy``'s value)."""
        if not hasattr(self, "softmax_preds"):
            raise RuntimeError("SoftmaxCrossEntropy.categorical_value called before forward")
        return _SoftmaxCrossEntropy().forward(self.prediction, self.target)


# --------------------------------------------------------------------------------------------------------
# Optimizers with the book's decay
# --------------------------------------------------------------------------------------------------------


class Optimizer(_Optimizer):
    """``Optimizer(lr=0.01, final_lr=0, decay_type=None)``: ``scratch.Optimizer`` with the book's per-epoch decay
    (see the module docstring): ``lr`` is multiplied by ``decay_per_epoch`` (exponential) or reduced by it
    (linear) after every epoch, from the ``lr`` the optimizer has when ``fit`` starts."""

    decay_per_epoch: float

    def _setup_decay(self, max_epochs: int) -> None:
        self.max_epochs = check_int(max_epochs, "epochs", 1)
        self.epoch = 0
        if self.decay_type is None:
            return
        if self.max_epochs < 2:
            raise ValueError(f"learning-rate decay needs epochs >= 2; received epochs={max_epochs}")
        if self.decay_type == "exponential":
            self.decay_per_epoch = float(np.power(self.final_lr / self.lr, 1.0 / (self.max_epochs - 1)))
        else:
            self.decay_per_epoch = (self.lr - self.final_lr) / (self.max_epochs - 1)

    def _decay_lr(self) -> None:
        self.epoch += 1
        if self.decay_type == "exponential":
            self.lr *= self.decay_per_epoch
        elif self.decay_type == "linear":
            self.lr -= self.decay_per_epoch


class SGD(Optimizer, _SGD):
    """``SGD(lr=0.01, final_lr=0, decay_type=None)``: p ← p - lr · g, with the book's decay."""


class SGDMomentum(Optimizer, _SGDMomentum):
    """``SGDMomentum(lr=0.01, final_lr=0, decay_type=None, momentum=0.9)``: v ← μ v + lr · g, p ← p - v (v starts
    at 0), with the book's decay."""


# --------------------------------------------------------------------------------------------------------
# Layers and the network, drawing from the network's stream
# --------------------------------------------------------------------------------------------------------


class Dropout(_Dropout):
    """``Dropout(keep_prob=0.8)``, the book's: training multiplies by a mask drawn as
    ``binomial(1, keep_prob, shape)`` from ``stream`` (the network's); inference multiplies by ``keep_prob``."""

    def __init__(self, keep_prob: float = 0.8, stream: np.random.RandomState | None = None) -> None:
        super().__init__(keep_prob)
        self.stream = stream if stream is not None else np.random.RandomState()

    def _draw_mask(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return self.stream.binomial(1, self.keep_prob, size=shape).astype(dtype)


class BookStreamLayer(Layer):
    """What the book's layers share here: the network's ``seed`` and ``stream`` (``NeuralNetwork`` sets both;
    a layer on its own has a stream of its own and no seed), and dropout masks drawn from that stream."""

    seed: int | None = None
    stream: np.random.RandomState

    def _use_stream(self) -> None:
        """Make the layer's draws (``self.rng.normal``) come from the stream, as the book's global calls did."""
        if not hasattr(self, "stream"):
            self.stream = np.random.RandomState()
        self.rng = self.stream  # type: ignore[assignment] # RandomState.normal draws the book's numbers

    def _make_dropout(self, keep_prob: float, inverted: bool) -> _Dropout:
        if inverted:
            return super()._make_dropout(keep_prob, inverted)
        if not hasattr(self, "stream"):
            self.stream = np.random.RandomState()
        return Dropout(keep_prob, self.stream)


class Dense(BookStreamLayer, _Dense):
    """``Dense(neurons, activation=Linear(), conv_in=False, dropout=1.0, weight_init="standard")``: ``scratch.Dense``
    whose W ``[in, neurons]`` then B ``[1, neurons]`` are drawn as ``normal(0, scale)`` from the network's stream
    after reseeding it with the network's seed (scale 1, or ``sqrt(2 / (in + neurons))`` for ``"glorot"``: the
    book used ``2 / (in + neurons)``, erratum E6); ``conv_in`` is accepted and unused, as in the book."""

    def __init__(
        self,
        neurons: int,
        activation: Operation | None = None,
        conv_in: bool = False,
        dropout: float = 1.0,
        weight_init: str = "standard",
    ) -> None:
        super().__init__(neurons, activation, dropout, weight_init)
        self.conv_in = conv_in

    def _setup_layer(self, input_: np.ndarray) -> None:
        self._use_stream()
        if self.seed:
            self.stream.seed(self.seed)
        super()._setup_layer(input_)


class NeuralNetwork(_NeuralNetwork):
    """``NeuralNetwork(layers, loss, seed=1)``: ``scratch.NeuralNetwork`` whose layers all get ``seed`` and share
    the network's ``stream`` (a falsy seed: the layers draw from the stream as it stands)."""

    def __init__(self, layers: Sequence[Layer], loss: Loss, seed: int | None = 1) -> None:
        super().__init__(layers, loss, seed=seed or 0)
        self.stream = np.random.RandomState()
        for layer in self.layers:
            if isinstance(layer, BookStreamLayer):
                layer.seed = seed or None
                layer.stream = self.stream


# --------------------------------------------------------------------------------------------------------
# Trainer
# --------------------------------------------------------------------------------------------------------


class Trainer(_Trainer):
    """``Trainer(net, optim)``: ``scratch.Trainer`` with the book's batch order, messages and early-stopping
    rebinding (see the module docstring)."""

    def __init__(self, net: _NeuralNetwork, optim: _Optimizer) -> None:
        super().__init__(net, optim)
        self.conv_testing = False
        self._own_stream = np.random.RandomState()

    def fit(  # type: ignore[override]
        self,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray,
        y_test: np.ndarray,
        epochs: int = 100,
        eval_every: int = 10,
        batch_size: int = 32,
        seed: int = 1,
        single_output: bool = False,
        restart: bool = True,
        early_stopping: bool = True,
        conv_testing: bool = False,
    ) -> None:
        """Train as the book does, printing its messages; ``single_output`` is accepted and unused, as in the
        book. The run's record is kept on ``self.history``."""
        self.conv_testing = bool(conv_testing)
        data = (X_train, y_train, X_test, y_test)
        super().fit(*data, epochs, eval_every, batch_size, seed, restart, early_stopping, progress=False)

    @property
    def stream(self) -> np.random.RandomState:
        """The stream the batch order is drawn from: the network's (the trainer's own for a plain scratch one)."""
        stream = getattr(self.net, "stream", None)
        return stream if isinstance(stream, np.random.RandomState) else self._own_stream

    def _epoch_orders(self, n: int, seed: int) -> Iterator[np.ndarray]:
        """The book's orders (``ch3.book_epoch_orders``) from the network's stream."""
        return book_epoch_orders(self.stream, n, seed)

    def _after_step(self, batch_index: int, X_test: np.ndarray, y_test: np.ndarray) -> None:
        """With ``conv_testing``, every 100 batches (from batch 100 of each epoch) print the accuracy on the test
        set: argmax of the predictions against argmax of the one-hot targets."""
        if self.conv_testing and batch_index % 100 == 0 and batch_index > 0:
            preds = self.net.forward(X_test, inference=True)
            hits = np.equal(np.argmax(preds, axis=1), np.argmax(y_test, axis=1)).sum()
            print("Validation accuracy after", batch_index, "batches is", f"{hits * 100.0 / X_test.shape[0]:.2f}%")

    def _report_evaluation(self, bar: Any, epoch: int, loss: float, improved: bool, early_stopping: bool) -> None:
        if improved or not early_stopping:
            print(f"Validation loss after {epoch} epochs is {loss:.3f}")

    def _report_stop(self, bar: Any, epoch: int, eval_every: int) -> None:
        print()
        print(
            f"Loss increased after epoch {epoch}, final loss was {self.best_loss:.3f},",
            f"\nusing the model from epoch {self.history.best_epoch}",
        )

    def _restore_best(self, saved: object) -> None:
        """Rebind ``self.net`` (and the optimizer's) to a copy of the network holding the best evaluated weights;
        the network the trainer was given keeps its last weights, as in the book."""
        best = copy.deepcopy(self.net)
        network = self.net
        self.net = best
        try:
            super()._restore_best(saved)
        except BaseException:
            self.net = network
            raise
        self.optim.net = best
