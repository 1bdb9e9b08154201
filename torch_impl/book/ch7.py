"""Chapter 7 (``07_PyTorch/Code.ipynb``): the book's PyTorch layers, models and trainers, under the book's
names, on the top-level ``torch_impl`` components.

What this module adds to ``torch_impl`` is the book's API:

- the models return TUPLES, as the book's do and as its code indexes them (``model(x)[0]``):
  ``BostonModel`` and ``MNIST_ConvNet`` return ``(output,)``, ``NextCharacterModel`` ``(logits [N, V, T],)``,
  ``Autoencoder(hidden_dim)`` ``(reconstruction, encoding)``; the layers (``DenseLayer``, ``ConvLayer``,
  ``DeconvLayer``, ``LSTMLayer``) return tensors;
- every model loads a ``state_dict`` saved by the book's own class (``model.load_state_dict(book_state)``; the
  LSTM's ``lstm.fc.linear.*`` and the autoencoder's flat ``conv1`` .. ``dense2`` keys are renamed by the
  top-level twins' ``BOOK_KEYS``) and exports its own under the book's keys (``book_state_dict()``);
- ``DenseLayer.forward(x, inference=True)`` switches the layer to eval mode for good, as the book's does
  (so a later call without ``inference`` stays deterministic and draws no dropout mask);
- ``PyTorchTrainer.fit`` with the book's arguments (``train_dataloader``/``test_dataloader``,
  ``final_lr_exp``), order of events and printed lines, and NO early stopping unless asked
  (``early_stopping=True``); ``LSTMTrainer`` with the book's overlapping, in-order windows;
- ``assert_dim``, ``permute_data`` and ``ConvNetPreprocessor`` (``lincoln.pytorch``); the MNIST data set
  and transforms the notebook takes from torchvision (``MNIST``, ``transforms``; torchvision's transforms when
  it imports, the project's equal ones otherwise; the images always come from the local IDX files, never a
  download) and the project's loaders for the notebook's data cells (``load_boston_tensors``,
  ``mnist_datasets``).

The book's random stream is torch's GLOBAL generator, which the notebook seeds in its first cell
(``torch.manual_seed(20190325)``): every layer here draws its initial weights from it at construction, in
the book's order and with the same ``nn.init`` calls as the book's ``nn.Linear``/``nn.Conv2d``/``nn.LSTM``;
dropout layers are ``nn.Dropout`` (global masks); ``permute_data`` is ``torch.randperm`` on the global
generator; ``LSTMTrainer.fit`` calls ``torch.manual_seed(seed)`` as the book's does. So the notebook's seed
gives the book's initial weights and batches (the Boston model's first printed loss is the book's
437.97467041015625 within one float32 unit in the last place).

Trainer, per epoch e = 0 .. epochs - 1 (the book's order):

1. if ``final_lr_exp``: ``scheduler.step()`` of ``ExponentialLR(gamma = (final_lr_exp / lr) ** (1 / (epochs
   + 1)))``, stepped at the START of the epoch (torch warns that it comes before ``optimizer.step()``), so
   the first epoch already runs at ``lr · gamma``;
2. arrays: ``X_train, y_train = permute_data(X_train, y_train)`` (a fresh ``randperm`` of the previous epoch's
   order), ``model.train()``, consecutive batches of ``batch_size`` rows (the last may be partial):
   ``zero_grad``, ``loss = criterion(model(X_batch)[0], y_batch)``, ``backward``, ``step``;
   DataLoaders: the same over ``train_dataloader``'s batches (the model's mode is left as it is);
3. if ``e % eval_every == 0``: under ``no_grad``, ``model.eval()`` (left on: the book does not switch back;
   with arrays the next epoch's ``model.train()`` does), then prints "The loss after e epochs was <loss>"
   (arrays: the loss on ``X_test`` in full float32 precision) or "The loss after e + 1 epochs was <mean>"
   (DataLoaders: the float32 mean of the batch losses rounded to 4 decimals) — the saved run's lines.

Bad input raises ``TypeError``/``ValueError`` naming what was expected and what was received, where the book
asserted or failed later.
"""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer, lr_scheduler
from torch.utils.data import DataLoader

import torch_impl
from data.boston import load_boston
from data.mnist import find_mnist_dir, load_mnist_full
from data.text import Vocabulary

from .._validation import check_int, check_tensor, describe
from ..layers import ConvLayer, DeconvLayer, PyTorchLayer
from ..mnist import MNISTDataset, mnist_transforms, torchvision_available
from ..network import BookCheckpoint
from ..rnn_model import sliding_window_batches

__all__ = [
    "MNIST",
    "Autoencoder",
    "BostonModel",
    "ConvLayer",
    "ConvNetPreprocessor",
    "DeconvLayer",
    "DenseLayer",
    "LSTMLayer",
    "LSTMTrainer",
    "MNIST_ConvNet",
    "NextCharacterModel",
    "PyTorchLayer",
    "PyTorchModel",
    "PyTorchTrainer",
    "assert_dim",
    "load_boston_tensors",
    "mnist_datasets",
    "permute_data",
    "transforms",
]

Criterion = Callable[[Tensor, Tensor], Tensor]


# ---------------------------------------------------------------------------------------------------------
# lincoln.pytorch.utils and lincoln.pytorch.preprocessor
# ---------------------------------------------------------------------------------------------------------
def assert_dim(t: Tensor, dim: int) -> None:
    """Raise unless ``t`` is a tensor with ``dim`` dimensions (``ValueError``; ``TypeError`` for a non-tensor)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a torch.Tensor with {dim} dimensions; received {describe(t)}")
    if t.dim() != dim:
        raise ValueError(f"Tensor expected to have dimension {dim}; received shape {tuple(t.shape)} ({t.dim()})")


def permute_data(X: Tensor, y: Tensor, seed: int = 1) -> tuple[Tensor, Tensor]:
    """``(X[perm], y[perm])`` for ``perm = torch.randperm(len(X))`` drawn from torch's GLOBAL generator (as the
    book's; ``seed`` is accepted and unused, as in the book)."""
    for value, name in ((X, "X"), (y, "y")):
        if not isinstance(value, Tensor) or value.dim() == 0:
            raise TypeError(f"{name} must be a torch.Tensor with a batch axis; received {describe(value)}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows like X; received shape {tuple(y.shape)}")
    perm = torch.randperm(X.shape[0])
    return X[perm], y[perm]


class ConvNetPreprocessor:
    """Channels-last images ``[N, H, W, C]`` -> channels-first ``[N, C, H, W]`` (a permuted view)."""

    def transform(self, x: Tensor) -> Tensor:
        """``x.permute(0, 3, 1, 2)``."""
        assert_dim(x, 4)
        return x.permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------------------
# Layers and models
# ---------------------------------------------------------------------------------------------------------
class PyTorchModel(nn.Module):
    """The book's model base class: ``forward`` returns a tuple whose first item is the prediction."""

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """The model's outputs for ``x``, as a tuple."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(x) returning a tuple")


class DenseLayer(torch_impl.DenseLayer):
    """The book's ``DenseLayer(input_size, neurons, dropout=1.0, activation=None)``: ``torch_impl.DenseLayer``
    (``nn.Linear``, activation, ``nn.Dropout(1 - dropout)``, torch's initialisation from the global
    generator), except that ``forward(x, inference=True)`` puts the layer in eval mode FOR GOOD, as the book's
    does: later calls without ``inference`` stay deterministic until something calls ``train()``."""

    def __init__(
        self, input_size: int, neurons: int, dropout: float = 1.0, activation: nn.Module | None = None
    ) -> None:
        super().__init__(input_size, neurons, dropout, activation)

    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x [batch, input_size] -> [batch, neurons]``."""
        if inference:
            self.eval()
        out: Tensor = super().forward(x, inference)
        return out


def _check_features(x: Any, model: str, features: int) -> None:
    check_tensor(x, f"{model} input", 2, f"[batch, {features}]", finite=False)
    if x.shape[1] != features:
        raise ValueError(f"{model} input must have shape [batch, {features}]; received shape {tuple(x.shape)}")


class BostonModel(BookCheckpoint, PyTorchModel):
    """The chapter's Boston model: ``DenseLayer(13, hidden_size, Tanh, dropout=hidden_dropout)`` then
    ``DenseLayer(hidden_size, 1)``; ``forward(x [batch, 13], inference=False) -> (prediction [batch, 1],)``.
    Its keys are the book's (``BOOK_KEYS`` is the identity); the top-level twin ``SequentialModel`` of two
    ``DenseLayer``s loads the same checkpoints."""

    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        f"dense{k}.linear.{p}": f"dense{k}.linear.{p}" for k in (1, 2) for p in ("weight", "bias")
    }

    def __init__(self, hidden_size: int = 13, hidden_dropout: float = 1.0) -> None:
        super().__init__()
        self.dense1 = DenseLayer(13, hidden_size, activation=nn.Tanh(), dropout=hidden_dropout)
        self.dense2 = DenseLayer(hidden_size, 1)

    def forward(self, x: Tensor, inference: bool = False) -> tuple[Tensor]:
        """``x [batch, 13] -> (prediction [batch, 1],)``."""
        _check_features(x, "BostonModel", 13)
        return (self.dense2(self.dense1(x, inference), inference),)


class MNIST_ConvNet(torch_impl.MNISTConvNet):
    """The chapter's MNIST network (``torch_impl.MNISTConvNet``, built from the global generator in the book's
    order conv1, conv2, dense1, dense2); ``forward(x [N, 1, 28, 28]) -> (logits [N, 10],)``."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, x: Tensor, inference: bool = False) -> tuple[Tensor]:  # type: ignore[override]
        """``x [N, 1, 28, 28] -> (logits [N, 10],)``."""
        return (super().forward(x, inference),)


class LSTMLayer(torch_impl.LSTMLayer):
    """The book's ``LSTMLayer(sequence_length, input_size, hidden_size, output_size, dropout=1.0)``:
    ``torch_impl.LSTMLayer`` with both of ``nn.LSTM``'s biases trained (the chapter's plain ``nn.LSTM``) and the
    book's carried state (the detached batch mean of the last hidden and cell states starts the next call).
    ``x [N, T, input_size] -> [N, T, output_size]``. (With ``dropout < 1`` the masks come from
    ``torch_impl``'s inverted dropout, the same function as the book's ``nn.Dropout``, drawn differently; the
    chapter never uses it.)"""

    def __init__(
        self, sequence_length: int, input_size: int, hidden_size: int, output_size: int, dropout: float = 1.0
    ) -> None:
        super().__init__(sequence_length, input_size, hidden_size, output_size, dropout, single_bias=False)


class NextCharacterModel(torch_impl.NextCharacterModel):
    """The chapter's ``NextCharacterModel(vocab_size, hidden_size=256, sequence_length=25)``: one
    ``LSTMLayer(sequence_length, vocab_size, hidden_size, vocab_size)`` with both of ``nn.LSTM``'s biases trained
    (``single_bias=False``, the chapter's; the top-level default is the book's NumPy single bias);
    ``forward(one-hot x [N, T, V]) -> (logits [N, V, T],)``. Loads the book's checkpoints (``lstm.fc.linear.*``)."""

    def __init__(self, vocab_size: int, hidden_size: int = 256, sequence_length: int = 25) -> None:
        super().__init__(vocab_size, hidden_size, sequence_length, single_bias=False)  # nn.LSTM's two biases

    def forward(self, x: Tensor, inference: bool = False) -> tuple[Tensor]:  # type: ignore[override]
        """One-hot ``x [N, T, V] -> (logits [N, V, T],)``."""
        return (super().forward(x, inference),)


class Autoencoder(torch_impl.Autoencoder):
    """The chapter's ``Autoencoder(hidden_dim=28)`` (``torch_impl.Autoencoder`` with ``encoding_size=hidden_dim``,
    built from the global generator in the book's order); ``forward(x [N, 1, 28, 28]) -> (reconstruction
    [N, 1, 28, 28], encoding [N, hidden_dim])``."""

    def __init__(self, hidden_dim: int = 28) -> None:
        super().__init__(encoding_size=hidden_dim)


# ---------------------------------------------------------------------------------------------------------
# Trainers
# ---------------------------------------------------------------------------------------------------------
def _first_output(out: Any, model: nn.Module) -> Tensor:
    """The prediction of a book model's output: ``out[0]`` of a tuple; a bare tensor is taken whole (indexing
    it would silently pick the first sample)."""
    if isinstance(out, tuple | list) and out and isinstance(out[0], Tensor):
        return out[0]
    if isinstance(out, Tensor):
        return out
    raise TypeError(f"{type(model).__name__} must return a tuple (prediction, ...); received {describe(out)}")


class PyTorchTrainer:
    """The book's ``PyTorchTrainer(model, optim, criterion)``; see the module docstring for ``fit``."""

    def __init__(self, model: nn.Module, optim: Optimizer, criterion: Criterion) -> None:
        if isinstance(model, type) or not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
        if isinstance(optim, type) or not isinstance(optim, Optimizer):
            raise TypeError(f"optim must be a torch.optim.Optimizer instance; received {describe(optim)}")
        if isinstance(criterion, type) or not callable(criterion):
            raise TypeError(f"criterion must be a loss instance such as nn.MSELoss(); received {describe(criterion)}")
        self.model = model
        self.optim = optim
        self.loss = criterion
        self._check_optim_net_aligned()

    def _check_optim_net_aligned(self) -> None:
        """Raise ``ValueError`` unless the optimizer's first parameter group is exactly the model's parameters."""
        group = self.optim.param_groups[0]["params"]
        params = list(self.model.parameters())
        if len(group) != len(params) or any(a is not b for a, b in zip(group, params, strict=False)):
            raise ValueError(
                f"optim must optimise the model's parameters (optim(model.parameters(), ...)); its first parameter "
                f"group holds {len(group)} tensors, the model has {len(params)} parameters, not the same ones"
            )

    def _generate_batches(self, X: Tensor, y: Tensor, size: int = 32) -> Iterator[tuple[Tensor, Tensor]]:
        """Consecutive ``(X[i:i+size], y[i:i+size])``; the last batch may be smaller."""
        for ii in range(0, X.shape[0], size):
            yield X[ii : ii + size], y[ii : ii + size]

    def _step(self, X_batch: Tensor, y_batch: Tensor) -> None:
        self.optim.zero_grad()
        loss = self.loss(_first_output(self.model(X_batch), self.model), y_batch)
        loss.backward()
        self.optim.step()

    def _value(self, X: Tensor, y: Tensor) -> Tensor:
        return self.loss(_first_output(self.model(X), self.model), y)

    def fit(
        self,
        X_train: Tensor | None = None,
        y_train: Tensor | None = None,
        X_test: Tensor | None = None,
        y_test: Tensor | None = None,
        train_dataloader: DataLoader[Any] | None = None,
        test_dataloader: DataLoader[Any] | None = None,
        epochs: int = 100,
        eval_every: int = 10,
        batch_size: int = 32,
        final_lr_exp: float | None = None,
        *,
        early_stopping: bool = False,
    ) -> None:
        """Train as the book's trainer does (module docstring). ``early_stopping=True`` (not the book's):
        at an evaluation whose loss is not below the best one so far, restore the best evaluated weights and
        stop."""
        epochs = check_int(epochs, "epochs", 1)
        eval_every = check_int(eval_every, "eval_every", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        if train_dataloader is not None:
            epoch = self._loader_epochs(train_dataloader, test_dataloader)
        else:
            epoch = self._tensor_epochs(X_train, y_train, X_test, y_test, batch_size)
        scheduler = self._scheduler(final_lr_exp, epochs)
        best, best_state = float("inf"), None
        for e in range(epochs):
            if scheduler is not None:
                scheduler.step()
            value = epoch(e, e % eval_every == 0)
            if value is None or not early_stopping:
                continue
            if value < best:
                best = value
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                if best_state is not None:
                    self.model.load_state_dict(best_state)
                print(f"Loss increased after epoch {e}, final loss was {best}, using the best evaluated model")
                break

    def _scheduler(self, final_lr_exp: float | None, epochs: int) -> lr_scheduler.ExponentialLR | None:
        """The book's decay: gamma = (final / initial) ** (1 / (epochs + 1)), stepped at the start of each epoch."""
        if not final_lr_exp:
            return None
        if final_lr_exp < 0:
            raise ValueError(f"final_lr_exp must be a positive learning rate; received {final_lr_exp!r}")
        init_lr = float(self.optim.param_groups[0]["lr"])
        decay = (final_lr_exp / init_lr) ** (1.0 / (epochs + 1))
        return lr_scheduler.ExponentialLR(self.optim, gamma=decay)

    def _tensor_epochs(
        self, X_train: Any, y_train: Any, X_test: Any, y_test: Any, batch_size: int
    ) -> Callable[[int, bool], float | None]:
        """One epoch on tensors: permute the previous epoch's order again, train in consecutive batches, and on an
        evaluation epoch print ``The loss after e epochs was v`` (the book's epoch count) and return v."""
        named = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
        for name, tensor in named.items():
            if not isinstance(tensor, Tensor):
                raise TypeError(
                    f"{name} must be a torch.Tensor (or pass train_dataloader= and test_dataloader=); "
                    f"received {describe(tensor)}"
                )
        state = {"X": X_train, "y": y_train}

        def epoch(e: int, evaluate: bool) -> float | None:
            state["X"], state["y"] = permute_data(state["X"], state["y"])  # the previous epoch's order, permuted
            self.model.train()
            for X_batch, y_batch in self._generate_batches(state["X"], state["y"], batch_size):
                self._step(X_batch, y_batch)
            if not evaluate:
                return None
            with torch.no_grad():
                self.model.eval()
                value = self._value(X_test, y_test).item()
            print("The loss after", e, "epochs was", value)
            return float(value)

        return epoch

    def _loader_epochs(self, train: Any, test: Any) -> Callable[[int, bool], float | None]:
        """One epoch on DataLoaders: train on every batch; on an evaluation epoch print the mean batch loss (rounded
        to 4 digits, epoch counted from 1) and return it. The model stays in eval mode afterwards (the book's)."""
        for loader, name in ((train, "train_dataloader"), (test, "test_dataloader")):
            if not isinstance(loader, DataLoader):
                raise TypeError(f"{name} must be a torch DataLoader; received {describe(loader)}")

        def epoch(e: int, evaluate: bool) -> float | None:
            for X_batch, y_batch in train:
                self._step(X_batch, y_batch)
            if not evaluate:
                return None
            with torch.no_grad():
                self.model.eval()
                losses = [self._value(X_batch, y_batch).item() for X_batch, y_batch in test]
                value = torch.tensor(losses, dtype=torch.float32).mean().item()
            print("The loss after", e + 1, "epochs was", round(value, 4))
            return float(value)

        return epoch


class LSTMTrainer(PyTorchTrainer):
    """The chapter's ``LSTMTrainer(model, optim, criterion)`` for a ``NextCharacterModel``.

    ``fit(data, epochs=10, eval_every=1, batch_size=32, seed=121718)``: the first 80% of ``data`` trains, the
    rest tests. ``torch.manual_seed(seed)`` (the book's, on the global generator). Every epoch slides over the
    training text in order (``generate_batches_next_char``: batch k holds the ``batch_size`` windows starting
    at k·B .. k·B + B - 1, one character apart, inputs one-hot ``[B, T, V]``, targets indices ``[B, T]``,
    T the model's ``sequence_length``), one optimizer step per batch; every ``eval_every`` epochs it prints
    "Validation loss after e epochs is <loss:.3f>" for the test text cut into consecutive disjoint windows
    (``generate_test_data``), all in one batch.

    Characters are indexed in SORTED order (``data.text.Vocabulary``): the book's ``list(set(data))`` order
    changes from one Python process to the next (erratum E21), and with it the initial weights each
    character meets, so the book's own validation loss is not reproducible (its saved 2.331 was one draw).
    """

    def __init__(self, model: nn.Module, optim: Optimizer, criterion: Criterion) -> None:
        super().__init__(model, optim, criterion)
        for attr in ("vocab_size", "sequence_length"):
            value = getattr(model, attr, None)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TypeError(f"model must have an integer {attr} (a NextCharacterModel); received {describe(value)}")
        self.vocab_size: int = model.vocab_size  # type: ignore[assignment]
        self.max_len: int = model.sequence_length  # type: ignore[assignment]

    def fit(  # type: ignore[override]
        self, data: str, epochs: int = 10, eval_every: int = 1, batch_size: int = 32, seed: int = 121718
    ) -> None:
        """Train on ``data`` (see the class docstring)."""
        if not isinstance(data, str):
            raise TypeError(f"data must be the training text as a str; received {describe(data)}")
        epochs = check_int(epochs, "epochs", 1)
        eval_every = check_int(eval_every, "eval_every", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        self.data = data
        self.train_data, self.test_data = self._train_test_split_text()
        vocabulary = Vocabulary.from_text(data)
        if vocabulary.size > self.vocab_size:
            raise ValueError(
                f"data must use at most vocab_size={self.vocab_size} distinct characters (the model's); received "
                f"a text with {vocabulary.size}"
            )
        needs = ((self.train_data, "training", self.max_len + batch_size), (self.test_data, "test", self.max_len + 1))
        for part, name, least in needs:
            if len(part) < least:
                raise ValueError(
                    f"data must give the {name} part (80% / 20%) at least {least} characters for one batch of "
                    f"sequence_length={self.max_len}; received {len(part)} of {len(data)}"
                )
        self.vocabulary = vocabulary
        self.chars = list(vocabulary.chars)
        self.char_to_idx = dict(vocabulary.char_to_index)
        self.idx_to_char = dict(enumerate(vocabulary.chars))
        torch.manual_seed(seed)
        for e in range(epochs):
            for X_batch, y_batch in self.generate_batches_next_char(batch_size):
                self._step(X_batch, y_batch)
            if (e + 1) % eval_every == 0:
                X_test, y_test = self.generate_test_data()
                loss = self._value(X_test, y_test)  # with autograd on, as the book (the same kernels)
                print(f"Validation loss after {e + 1} epochs is {loss.item():.3f}")

    def _train_test_split_text(self, pct: float = 0.8) -> tuple[str, str]:
        n = len(self.data)
        return self.data[: int(n * pct)], self.data[int(n * pct) :]

    def _one_hot(self, indices: Tensor) -> Tensor:
        """Indices ``[..., T]`` -> float32 one-hot ``[..., T, vocab_size]``."""
        return nn.functional.one_hot(indices, self.vocab_size).to(torch.float32)

    def generate_batches_next_char(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The book's training batches: ``(one-hot inputs [B, T, V], target indices [B, T])``."""
        text = torch.from_numpy(self.vocabulary.encode(self.train_data))
        for inputs, targets in sliding_window_batches(text, self.max_len, batch_size):
            yield self._one_hot(inputs), targets

    def generate_test_data(self) -> tuple[Tensor, Tensor]:
        """The test text's consecutive disjoint windows ``s = 0, T, 2T, ...`` (while ``s + T + 1 <= len``):
        ``(one-hot inputs [n, T, V], target indices [n, T])``."""
        text = torch.from_numpy(self.vocabulary.encode(self.test_data))
        T = self.max_len
        n = (text.numel() - 1) // T
        inputs = text[: n * T].view(n, T)  # [n·T] -> [n, T]: window k is text[kT : kT + T]
        targets = text[1 : n * T + 1].view(n, T)
        return self._one_hot(inputs), targets


# ---------------------------------------------------------------------------------------------------------
# Data: torchvision's MNIST and transforms, the notebook's data cells
# ---------------------------------------------------------------------------------------------------------
def _transforms_namespace() -> Any:
    if torchvision_available():
        return importlib.import_module("torchvision.transforms")
    return types.SimpleNamespace(
        Compose=torch_impl.Compose, ToTensor=torch_impl.ToTensor, Normalize=torch_impl.Normalize
    )


#: ``torchvision.transforms`` where it imports; else a namespace of the project's equal ``Compose``,
#: ``ToTensor`` and ``Normalize`` (``torch_impl.mnist``: torchvision's arithmetic, the same bits).
transforms = _transforms_namespace()


@functools.cache
def _mnist_arrays(directory: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = load_mnist_full(directory)
    for a in arrays:
        a.setflags(write=False)  # shared by every MNIST object of the process
    return arrays


class MNIST(MNISTDataset):
    """torchvision's ``MNIST(root, train=True, transform=None, target_transform=None, download=False)`` on the
    local IDX files: ``root`` if it holds them, else ``$DLFS_MNIST_DIR`` / ``$DLFS_DATASETS`` (``data.mnist``).
    Nothing is ever downloaded (``download`` is accepted and ignored; missing files raise
    ``FileNotFoundError`` saying where to put them). ``rows`` (not torchvision's) keeps the first ``rows``
    images. Items are ``(transform(image [28, 28] uint8), label)``; ``data`` is uint8 ``[N, 28, 28]``,
    ``targets`` int64 ``[N]`` (``train_labels``/``test_labels``/``train_data``/``test_data``: torchvision's old
    names)."""

    def __init__(
        self,
        root: str | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
        *,
        rows: int | None = None,
    ) -> None:
        if target_transform is not None and (isinstance(target_transform, type) or not callable(target_transform)):
            raise TypeError(f"target_transform must be a callable or None; received {describe(target_transform)}")
        directory = find_mnist_dir(root) if isinstance(root, str) and root else None
        X_train, y_train, X_test, y_test = _mnist_arrays(None if directory is None else str(directory))
        images, labels = (X_train, y_train) if train else (X_test, y_test)
        if rows is not None:
            rows = check_int(rows, "rows", 1)
            images, labels = images[:rows], labels[:rows]
        super().__init__(images, labels, transform)
        self.root, self.train, self.target_transform = root, bool(train), target_transform

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = super().__getitem__(index)
        return image, (label if self.target_transform is None else self.target_transform(label))

    @property
    def train_labels(self) -> Tensor:
        """``targets`` (torchvision's old name)."""
        return self.targets

    @property
    def test_labels(self) -> Tensor:
        """``targets`` (torchvision's old name)."""
        return self.targets

    @property
    def train_data(self) -> Tensor:
        """``data`` (torchvision's old name)."""
        return self.data

    @property
    def test_data(self) -> Tensor:
        """``data`` (torchvision's old name)."""
        return self.data


def mnist_datasets(
    transform: Callable[[Any], Any] | None = None,
    *,
    train_rows: int | None = None,
    test_rows: int | None = None,
) -> tuple[MNIST, MNIST]:
    """The notebook's ``train_dataset, test_dataset`` (``MNIST(train=True/False, transform=transform)``);
    ``transform=None`` gives the chapter's ``Compose([ToTensor(), Normalize((0.1305,), (0.3081,))])``.
    ``train_rows``/``test_rows`` keep the first images of each set (a short run)."""
    transform = mnist_transforms() if transform is None else transform
    return (
        MNIST(train=True, transform=transform, rows=train_rows),
        MNIST(train=False, transform=transform, rows=test_rows),
    )


def load_boston_tensors() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The notebook's Boston cell: ``(X_train [354, 13], X_test [152, 13], y_train [354, 1], y_test [152, 1])``,
    float32 tensors of ``data.load_boston()`` (features standardised on all 506 rows, then scikit-learn's
    split with ``test_size=0.3, random_state=80718``)."""
    return tuple(torch.tensor(a, dtype=torch.float32) for a in load_boston())  # type: ignore[return-value]
