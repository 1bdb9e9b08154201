"""Chapter 2, first half (``02_fundamentals/Code.ipynb``): linear regression trained step by step.

Every name the notebook's linear-regression cells define, on ``scratch.linear_regression`` (the mathematics
lives there), with the book's conventions:

- ``loss_gradients`` is the book's: the derivative of the SUMMED squared error, n times the gradient of the
  mean squared error the notebook reports (``scratch.linear_regression.loss_gradients``), so the book's
  ``learning_rate=0.001`` takes the book's steps. That is a convention (it rescales each step by the batch
  size), not an error; the porting guide's section 3 explains how it ports;
- the random stream is the book's (``np.random.seed(seed)``, then ``randn`` for W and B, then ``permutation``
  once and again each time the data are used up, each time of the previous shuffled copy), drawn from this
  module's private ``RandomState``: NumPy's global generator is never touched;
- ``forward_loss`` returns ``(forward_info, loss)``, ``forward_linear_regression`` returns
  ``(loss, forward_info)``, ``train`` returns ``(losses, weights)`` when ``return_weights`` is true and
  ``None`` otherwise, as in the book (``losses`` is empty unless ``return_losses``; the book raised
  ``UnboundLocalError`` there).

The chapter's run prints the book's MAE 3.5644, RMSE 5.0497 and every weight to the printed digit.
"""

from __future__ import annotations

import numpy as np

from ..linear_regression import ForwardInfo, Weights, forward_linear_regression, generate_batch, predict
from ..linear_regression import loss_gradients as _mean_loss_gradients
from ..linear_regression import train as _train
from ..metrics import mae, rmse
from .ch3 import to_2d_np

__all__ = [
    "Batch",
    "forward_linear_regression",
    "forward_loss",
    "generate_batch",
    "init_weights",
    "loss_gradients",
    "mae",
    "permute_data",
    "predict",
    "rmse",
    "to_2d_np",
    "train",
]

Batch = tuple[np.ndarray, np.ndarray]  # the notebook's alias: (X_batch, y_batch)

#: The book's random stream for chapter 2 (its ``np.random`` calls), private to the book modules.
_STREAM = np.random.RandomState()


def permute_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and y with their rows in one random order drawn from the book's stream (new arrays)."""
    perm = _STREAM.permutation(X.shape[0])
    return X[perm], y[perm]


def forward_loss(X: np.ndarray, y: np.ndarray, weights: Weights) -> tuple[ForwardInfo, float]:
    """Predictions P = X · W + B and the mean squared error, as ``(forward_info, loss)`` (the book's order)."""
    loss, forward_info = forward_linear_regression(X, y, weights)
    return forward_info, loss


def loss_gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    """The book's gradients: of the summed squared error, dL/dP = -2 (y - P), so n times those of the mean.

    backward: dL/dW = Xᵀ · dL/dP  [k, 1],   dL/dB = Σ_rows dL/dP  [1, 1]
    """
    n = forward_info["X"].shape[0]
    return {key: n * grad for key, grad in _mean_loss_gradients(forward_info, weights).items()}


def init_weights(n_in: int) -> Weights:
    """W ~ N(0, 1) ``[n_in, 1]`` then B ~ N(0, 1) ``[1, 1]``, from the book's stream."""
    return {"W": _STREAM.randn(n_in, 1), "B": _STREAM.randn(1, 1)}


def train(
    X: np.ndarray,
    y: np.ndarray,
    n_iter: int = 1000,
    learning_rate: float = 0.01,
    batch_size: int = 100,
    return_losses: bool = False,
    return_weights: bool = False,
    seed: int = 1,
) -> tuple[list[float], Weights] | None:
    """``n_iter`` steps of mini-batch SGD from ``init_weights``, as the book trains: ``scratch.linear_regression.
    train`` on the book's stream (seeded with ``seed`` unless it is 0) with the book's gradients."""
    if seed:
        _STREAM.seed(seed)
    weights = init_weights(X.shape[1])  # drawn before the first permutation, as in the book
    result = _train(X, y, n_iter, learning_rate, batch_size, return_losses, True, _STREAM, weights, book_gradients=True)
    return (result.losses, result.weights) if return_weights else None
