"""Models: chapter 7's ``PyTorchModel`` base class and ``SequentialModel``, the torch ``NeuralNetwork``; and
``BookCheckpoint``, which lets a model load the book's chapter 7 checkpoints and export its own under the book's keys.

A Boston-housing MLP is ``SequentialModel(Dense(13, 13, Sigmoid()), Dense(13, 1))``; its parameters are
``layers.0.linear.weight``, ``layers.0.linear.bias``, ``layers.1.linear.weight``, ... in ``state_dict``.
The loss is not part of the model (torch keeps the criterion separate; ``Trainer`` takes both).

The book's checkpoints: a ``state_dict`` saved by the book's chapter 7 models (``07_PyTorch`` and
``lincoln.pytorch``) names its tensors after the book's attributes (``lstm.fc.linear.weight``, the autoencoder's
flat ``conv1`` .. ``conv4``, ``dense1``, ``dense2``). A ``BookCheckpoint`` model carries a table
``book key -> our key`` (``book_keys()``; no layout changes are needed: the book's chapter 7 tensors are torch's
own ``nn.Linear``/``nn.Conv2d``/``nn.LSTM`` tensors), so ``model.load_state_dict(book_state)`` works as it is
and ``model.book_state_dict()`` gives the book's keys back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ._validation import (
    boundary,
    check_generator,
    check_module,
    check_tensor,
)
from .activations import Tanh
from .layers import ConvLayer, DenseLayer, PyTorchLayer

__all__ = ["BookCheckpoint", "MNISTConvNet", "PyTorchModel", "SequentialModel", "accepts_inference", "rename_book_keys"]


def rename_book_keys(state_dict: dict[str, Any], prefix: str, table: Mapping[str, str], owner: str) -> None:
    """Rename, in place, every key ``prefix + book`` of ``state_dict`` to ``prefix + ours`` for the pairs
    ``book -> ours`` of ``table`` (identical pairs are left alone). Keys outside the table are untouched, so an
    unknown key still fails a strict load. A checkpoint holding both a book key and its equivalent raises
    ``ValueError`` (which of the two tensors is meant cannot be told)."""
    moves = {prefix + book: prefix + ours for book, ours in table.items() if book != ours}
    present = [key for key in moves if key in state_dict]
    clashes = [key for key in present if moves[key] in state_dict and moves[key] not in moves]
    if clashes:
        key = clashes[0]
        raise ValueError(
            f"{owner} state_dict must use either the book's keys or this model's; received both the book's "
            f"{key!r} and its equivalent {moves[key]!r}"
        )
    values = {key: state_dict.pop(key) for key in present}  # all out first: the pairs may overlap
    for key, value in values.items():
        state_dict[moves[key]] = value


class BookCheckpoint(nn.Module):
    """Mixin for models and layers with a twin in the book's chapter 7 code: loads the book's ``state_dict``.

    ``BOOK_KEYS`` (a class's data, ``book key -> our key``, covering every parameter) or an overriding
    ``book_keys()`` gives the table. ``load_state_dict`` then accepts the book's keys as well as ours (renamed
    before torch matches them, so ``strict`` keeps its meaning: an unknown key is still an error), and
    ``book_state_dict()`` exports the parameters under the book's keys, for the book's own classes to load with
    ``strict=True``. Put it before the ``nn.Module`` base: ``class Model(BookCheckpoint, PyTorchModel)``.
    """

    BOOK_KEYS: ClassVar[Mapping[str, str]] = {}

    def book_keys(self) -> dict[str, str]:
        """The table ``book key -> our key`` of this module's ``state_dict`` (relative to the module)."""
        return dict(self.BOOK_KEYS)

    def book_state_dict(self) -> dict[str, Tensor]:
        """This module's ``state_dict`` under the book's keys (the same tensors, detached, as ``state_dict()``).

        Every parameter must have a book key (``ValueError`` otherwise); buffers without one (the carried
        recurrent state, which the book keeps as a plain attribute) are left out, as in the book's checkpoints.
        """
        state = self.state_dict()
        table = self.book_keys()
        ours = set(table.values())
        unmapped = sorted(name for name, _ in self.named_parameters() if name not in ours)
        if unmapped:
            raise ValueError(
                f"{type(self).__name__}.book_state_dict needs a book key for every parameter; these have none: "
                f"{unmapped}"
            )
        missing = sorted(key for key in ours if key not in state)
        if missing:
            raise ValueError(f"{type(self).__name__}.book_keys() names keys this module does not have: {missing}")
        return {book: state[key] for book, key in table.items()}

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
        # load_state_dict calls this on a module before building its children's dicts from the same dict,
        # so the renamed keys reach the submodules.
        rename_book_keys(state_dict, prefix, self.book_keys(), type(self).__name__)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class PyTorchModel(nn.Module, ABC):
    """Chapter 7's model base class: ``forward(x, inference=False)``.

    ``inference=True`` asks every layer for its inference behaviour without changing training flags.
    """

    @abstractmethod
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """Return the model's output for ``x``."""


def accepts_inference(module: nn.Module) -> bool:
    """Whether ``module``'s forward takes the chapter 7 ``inference`` flag (a ``PyTorchLayer`` or
    ``PyTorchModel``)."""
    return isinstance(module, (PyTorchLayer, PyTorchModel))


class SequentialModel(BookCheckpoint, PyTorchModel):
    """Layers applied in order (the book's ``NeuralNetwork`` without its loss).

    ``forward(x, inference)`` passes ``inference`` to every ``PyTorchLayer``/``PyTorchModel`` and calls any
    other ``nn.Module`` (``nn.Flatten()``, ``nn.Tanh()``, ...) with ``x`` alone. The layers are kept in the
    ``nn.ModuleList`` ``layers``.

    Book checkpoints: the book's chapter 7 models name their k-th dense layer ``dense{k}`` and their k-th
    convolution ``conv{k}`` (``BostonModel``: ``dense1``, ``dense2``), so ``book_keys()`` maps
    ``dense{k}.linear.*`` to the k-th ``DenseLayer``'s ``layers.{i}.linear.*`` and ``conv{k}.conv.*`` to the k-th
    layer with an ``nn.Conv2d`` named ``conv`` (``ConvLayer``). The book's ``BostonModel(13)`` checkpoint loads
    into ``SequentialModel(DenseLayer(13, 13, activation=Tanh()), DenseLayer(13, 1))``.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        if not layers:
            raise ValueError("layers must be at least one nn.Module (e.g. Dense(13, 1)); received none")
        for i, layer in enumerate(layers):
            check_module(layer, f"layers[{i}]", "Dense(13, 1)")
        self.layers = nn.ModuleList(layers)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """Pass ``x`` through every layer in order."""
        check_tensor(x, "SequentialModel input")
        out = x
        for layer in self.layers:
            out = layer(out, inference=inference) if accepts_inference(layer) else layer(out)
        return out

    def book_keys(self) -> dict[str, str]:
        """``dense{k}.linear.*`` / ``conv{k}.conv.*`` (k counted per kind from 1) -> ``layers.{i}.*``."""
        table: dict[str, str] = {}
        counts = {"dense": 0, "conv": 0}
        for i, layer in enumerate(self.layers):
            inner: nn.Module
            if isinstance(layer, DenseLayer):
                kind, inner = "dense", layer.linear
            elif isinstance(conv := getattr(layer, "conv", None), nn.Conv2d):
                kind, inner = "conv", conv
            else:
                continue
            counts[kind] += 1
            attr = "linear" if kind == "dense" else "conv"
            for name, _ in inner.named_parameters():
                table[f"{kind}{counts[kind]}.{attr}.{name}"] = f"layers.{i}.{attr}.{name}"
        return table

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> nn.Module:
        return self.layers[index]


# ---------------------------------------------------------------------------------------------------------
# Chapter 7's MNIST model
# ---------------------------------------------------------------------------------------------------------
class MNISTConvNet(BookCheckpoint, PyTorchModel):
    """Chapter 7's MNIST convolutional network (logits for 10 classes; pair it with ``nn.CrossEntropyLoss``).

        conv1   ConvLayer(1, 14, 5, Tanh, dropout 0.8)                 [N, 1, 28, 28] -> [N, 14, 28, 28]
        conv2   ConvLayer(14, 7, 5, Tanh, flatten=True, dropout 0.8)   -> [N, 7·28·28 = 5488]
        dense1  DenseLayer(5488, 32, Tanh, dropout 0.8)                -> [N, 32]
        dense2  DenseLayer(32, 10)                                     -> [N, 10]

    torch's default initialisation and inverted dropout (``nn.Dropout(0.2)``), as in the book's chapter 7
    code; with a ``generator`` every initial weight and every dropout mask is drawn from it (dropout is then
    ``Dropout(0.8, inverted=True)``, the same function).

    Its ``state_dict`` keys are those of the book's ``MNIST_ConvNet`` (``BOOK_KEYS``, the identity), so the book's
    checkpoints load as they are; ``book_state_dict()`` exports them.
    """

    IMAGE_SHAPE = (1, 28, 28)
    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        f"{layer}.{inner}.{p}": f"{layer}.{inner}.{p}"
        for layer, inner in (("conv1", "conv"), ("conv2", "conv"), ("dense1", "linear"), ("dense2", "linear"))
        for p in ("weight", "bias")
    }

    def __init__(
        self,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        options: dict[str, Any] = {"generator": check_generator(generator), "dtype": dtype, "device": device}
        self.conv1 = ConvLayer(1, 14, 5, activation=Tanh(), dropout=0.8, **options)
        self.conv2 = ConvLayer(14, 7, 5, activation=Tanh(), flatten=True, dropout=0.8, **options)
        self.dense1 = DenseLayer(28 * 28 * 7, 32, activation=Tanh(), dropout=0.8, **options)
        self.dense2 = DenseLayer(32, 10, **options)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x`` ``[N, 1, 28, 28]`` -> logits ``[N, 10]``."""
        name = "MNISTConvNet input"
        check_tensor(x, name, 4, "[batch, 1, 28, 28]")
        if tuple(x.shape[1:]) != self.IMAGE_SHAPE:
            raise ValueError(
                f"{name} must have shape [batch, 1, 28, 28] (one MNIST image per row); received shape {tuple(x.shape)}"
            )
        out = self.conv1(x, inference=inference)
        out = self.conv2(out, inference=inference)
        out = self.dense1(out, inference=inference)
        out = self.dense2(out, inference=inference)
        return out
