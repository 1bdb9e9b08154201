"""``NeuralNetwork`` (chapter 3): layers in order plus a loss."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ._validation import check_float_array, check_int
from .layers import Layer
from .losses import Loss


class NeuralNetwork:
    """A stack of layers and a loss (the book's ``NeuralNetwork``).

        forward:     X -> layer_1 -> ... -> layer_L -> predictions
        train_batch: predictions, loss = loss(predictions, y), backward from dloss/dpredictions

    ``seed`` makes the run reproducible: each layer gets an independent ``np.random.Generator``
    spawned from ``np.random.SeedSequence(seed)``, used for its initial weights and dropout masks.
    ``reset()`` re-creates those generators and marks every layer for re-initialisation, so a
    restarted network starts from exactly the same weights.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss, seed: int = 1) -> None:
        if isinstance(loss, type):
            raise TypeError(f"loss must be an instance such as {loss.__name__}(); received the class itself")
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a scratch Loss instance; received {type(loss).__name__}")
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("layers must be a non-empty sequence of scratch Layer instances")
        self.layers = list(layers)
        self.loss = loss
        self.seed = check_int(seed, "seed", 0)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Give every layer a fresh generator from ``seed`` (default: the network's) and re-initialise
        its parameters at the next forward."""
        if seed is not None:
            self.seed = check_int(seed, "seed", 0)
        children = np.random.SeedSequence(self.seed).spawn(len(self.layers))
        for layer, child in zip(self.layers, children, strict=True):
            layer.rng = np.random.default_rng(child)
            layer.first = True
            layer.loaded = False

    def loaded_layers(self) -> list[int]:
        """Indices of the layers whose weights came from ``load_params`` (since the last ``reset``)."""
        return [i for i, layer in enumerate(self.layers) if layer.loaded]

    def forward(self, x_batch: np.ndarray, inference: bool = False) -> np.ndarray:
        """Pass ``x_batch`` through every layer."""
        check_float_array(x_batch, "x_batch")
        out = x_batch
        for layer in self.layers:
            out = layer.forward(out, inference)
        return out

    def backward(self, loss_grad: np.ndarray) -> None:
        """Pass dL/dpredictions back through every layer, filling each layer's ``param_grads``."""
        grad = loss_grad
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def train_batch(self, x_batch: np.ndarray, y_batch: np.ndarray, inference: bool = False) -> float:
        """Forward, loss and backward on one batch; return the loss value."""
        predictions = self.forward(x_batch, inference)
        loss = self.loss.forward(predictions, y_batch)
        self.backward(self.loss.backward())
        return loss

    def params(self) -> Iterator[np.ndarray]:
        """Every parameter array, layer by layer (the arrays themselves, for in-place updates)."""
        for layer in self.layers:
            yield from layer.params

    def param_grads(self) -> Iterator[np.ndarray]:
        """Every parameter gradient, in the same order as ``params()``."""
        for layer in self.layers:
            yield from layer.param_grads
