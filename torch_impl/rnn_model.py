"""Chapter 6 and 7's models in PyTorch: the sequence loss, ``NextCharacterModel`` (the chapter 7 character LSTM),
sampling text and the trainer: the twins of ``scratch.rnn_model`` (``SequenceSoftmaxCrossEntropy``, ``RNNModel``,
``sample``, ``RNNTrainer``). The recurrent layers themselves are in ``torch_impl.rnn``.
"""

from __future__ import annotations

import copy
import itertools
import math
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
    check_matches,
    check_one_hot,
    check_positive,
    check_same_shape,
    check_tensor,
    describe,
)
from .losses import target_log_likelihood
from .network import BookCheckpoint, PyTorchModel, accepts_inference
from .rnn import LSTMLayer
from .train import _model_reference

__all__ = [
    "NextCharacterModel",
    "NextCharacterTrainer",
    "SequenceSoftmaxCrossEntropy",
    "sample_text",
    "sliding_window_batches",
]


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
