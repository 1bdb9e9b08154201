"""Chapter 3 (``03_dlfs/Code.ipynb``): operations, layers, the network, SGD and the trainer, as the book calls
them, on the top-level ``scratch`` classes.

What this module adds is the book's API and its random stream:

- ``Dense(neurons, activation=Sigmoid())``: the book's default activation (a fresh one per layer: the book's
  single shared default object broke backward, guide erratum E10);
- ``NeuralNetwork(layers, loss, seed=1)`` gives every layer the network's seed, as the book does;
- the book's stream, from this module's private ``RandomState`` (NumPy's global generator is never touched):
  ``Trainer.fit`` seeds it with ``seed`` and draws epoch 0's permutation; the first batch sets each layer up,
  which reseeds the stream with the network's seed and draws W then B (so equal-shaped layers start equal, as
  in the book); every later epoch re-permutes the previous epoch's order with the next draw of the stream;
- ``Trainer.fit`` returns ``None`` and prints the book's validation-loss lines; ``eval_regression_model``
  prints the book's two lines; ``mae``/``rmse`` take the book's argument names; ``permute_data``,
  ``to_2d_np`` and ``assert_same_shape`` are the notebook's helpers (with ``ValueError`` for the book's bare
  ``assert``).

With those, the notebook's three models print the book's 15 validation losses and 6 error values exactly.
Early stopping keeps the best evaluated model (guide erratum E7) and starts from +inf (E24); neither changes
the chapter's runs, which never stop early.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._validation import check_float_array
from ..activations import Linear, Sigmoid
from ..base import Operation, ParamOperation
from ..layers import Dense as _Dense
from ..layers import Layer
from ..losses import Loss, MeanSquaredError
from ..metrics import mae as _mae
from ..metrics import rmse as _rmse
from ..network import NeuralNetwork as _NeuralNetwork
from ..operations import BiasAdd, WeightMultiply
from ..optimizers import SGD, Optimizer
from ..train import Trainer as _Trainer

__all__ = [
    "SGD",
    "BiasAdd",
    "Dense",
    "Layer",
    "Linear",
    "Loss",
    "MeanSquaredError",
    "NeuralNetwork",
    "Operation",
    "Optimizer",
    "ParamOperation",
    "Sigmoid",
    "Trainer",
    "WeightMultiply",
    "assert_same_shape",
    "eval_regression_model",
    "mae",
    "permute_data",
    "rmse",
    "to_2d_np",
]

#: The book's random stream (its ``np.random.seed`` / ``randn`` / ``permutation`` calls), private to this module.
_STREAM = np.random.RandomState()


def assert_same_shape(array: np.ndarray, array_grad: np.ndarray) -> None:
    """Raise ``ValueError`` unless the two arrays have the same shape (the book's ``assert``)."""
    if np.shape(array) != np.shape(array_grad):
        raise ValueError(
            f"the two arrays must have the same shape; received {np.shape(array)} and {np.shape(array_grad)}"
        )


class Dense(_Dense):
    """``Dense(neurons, activation=Sigmoid())``: ``scratch.Dense`` with the book's default activation and its
    initial weights W ~ N(0, 1) ``[in, neurons]`` then B ~ N(0, 1) ``[1, neurons]`` drawn from the book's
    stream after reseeding it with ``self.seed`` (set by ``NeuralNetwork``)."""

    seed: int | None = None

    def __init__(self, neurons: int, activation: Operation | None = None) -> None:
        super().__init__(neurons, activation if activation is not None else Sigmoid())

    def _setup_layer(self, input_: np.ndarray) -> None:
        if self.seed:
            _STREAM.seed(self.seed)
        self.rng = _STREAM  # type: ignore[assignment] # RandomState.normal(0, 1, size) draws randn's numbers
        super()._setup_layer(input_)


class NeuralNetwork(_NeuralNetwork):
    """``NeuralNetwork(layers, loss, seed=1)``: ``scratch.NeuralNetwork`` whose layers all get ``seed`` (a falsy
    seed: the layers draw from the stream as it stands, as in the book)."""

    def __init__(self, layers: Sequence[Layer], loss: Loss, seed: int | None = 1) -> None:
        super().__init__(layers, loss, seed=seed or 0)
        for layer in self.layers:
            layer.seed = seed or None  # type: ignore[attr-defined]


class Trainer(_Trainer):
    """``Trainer(net, optim)``: ``scratch.Trainer`` drawing the book's batch order (see the module docstring)."""

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
        restart: bool = True,
    ) -> None:
        """Train as the book does, printing "Validation loss after N epochs is L" (3 decimals) at each
        improving evaluation; the history is kept on ``self.history``."""
        data = (X_train, y_train, X_test, y_test)
        super().fit(*data, epochs, eval_every, batch_size, seed, restart, early_stopping=True, progress=False)

    def _epoch_orders(self, n: int, seed: int) -> Iterator[np.ndarray]:
        return book_epoch_orders(_STREAM, n, seed)


def book_epoch_orders(stream: np.random.RandomState, n: int, seed: int) -> Iterator[np.ndarray]:
    """The book's batch orders of ``n`` rows (chapters 3 to 5): ``seed`` the stream, then each epoch permute the
    previous epoch's order with the stream's next ``permutation(n)``."""
    stream.seed(seed)
    order = np.arange(n)
    while True:
        order = order[stream.permutation(n)]  # the book re-permutes its already shuffled copy
        yield order


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error, mean(|y_true - y_pred|) (shapes equal)."""
    return _mae(y_pred, y_true)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, sqrt(mean((y_true - y_pred)²)) (shapes equal)."""
    return _rmse(y_pred, y_true)


def eval_regression_model(model: Any, X_test: np.ndarray, y_test: np.ndarray) -> None:
    """Print the model's mean absolute error and root mean squared error on the test set, as the book does."""
    preds = model.forward(X_test).reshape(-1, 1)  # [n, 1] -> [n, 1]: the book's column of predictions
    print(f"Mean absolute error: {mae(preds, y_test):.2f}")
    print()
    print(f"Root mean squared error {rmse(preds, y_test):.2f}")


def permute_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and y with their rows in one random order drawn from the book's stream."""
    check_float_array(X, "X")
    perm = _STREAM.permutation(X.shape[0])
    return X[perm], y[perm]


def to_2d_np(a: np.ndarray, type: str = "col") -> np.ndarray:
    """A 1-D array as a column ``[n, 1]`` (``type="col"``) or a row ``[1, n]`` (``type="row"``)."""
    if np.ndim(a) != 1:
        raise ValueError(f"a must be a 1-D array; received shape {np.shape(a)}")
    if type not in ("col", "row"):
        raise ValueError(f"type must be 'col' or 'row'; received {type!r}")
    return np.reshape(a, (-1, 1) if type == "col" else (1, -1))
