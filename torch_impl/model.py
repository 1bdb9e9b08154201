"""Models: chapter 7's ``PyTorchModel`` base class and ``SequentialModel``, the torch ``NeuralNetwork``.

A Boston-housing MLP is ``SequentialModel(Dense(13, 13, Sigmoid()), Dense(13, 1))``; its parameters are
``layers.0.linear.weight``, ``layers.0.linear.bias``, ``layers.1.linear.weight``, ... in ``state_dict``.
The loss is not part of the model (torch keeps the criterion separate; ``PyTorchTrainer`` takes both).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from ._validation import boundary, check_module, check_tensor
from .layers import PyTorchLayer

__all__ = ["PyTorchModel", "SequentialModel", "accepts_inference"]


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


class SequentialModel(PyTorchModel):
    """Layers applied in order (the book's ``NeuralNetwork`` without its loss).

    ``forward(x, inference)`` passes ``inference`` to every ``PyTorchLayer``/``PyTorchModel`` and calls any
    other ``nn.Module`` (``nn.Flatten()``, ``nn.Tanh()``, ...) with ``x`` alone. The layers are kept in the
    ``nn.ModuleList`` ``layers``.
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

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> nn.Module:
        return self.layers[index]
