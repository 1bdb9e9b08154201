"""Chapter 2, second half (``02_fundamentals/Code.ipynb``): the one-hidden-layer network trained step by step.

Every name the notebook's network cells define, on ``scratch.one_hidden_layer`` (the mathematics lives there),
with the book's conventions and stream:

- ``loss_gradients`` is the book's scale: dL/dP = -(y - P), n/2 times the gradient of the mean squared error
  the notebook reports, so ``learning_rate=0.001`` takes the book's steps (a convention, see the porting
  guide's section 3);
- but each hidden bias B1[j] gets its own gradient Σ_rows dL/dN1[:, j]. The book's code summed that over the
  hidden units too, giving every unit of B1 the same scalar step: a real error (guide erratum E22), so the
  chapter's network ends elsewhere than the book's printed weights and errors (MAE 2.5951 in the book);
- the random stream is the book's (chapter 2's private ``RandomState``, shared with the linear-regression
  half): ``np.random.seed(seed)``, then W1, B1, W2, B2 by ``randn``, then the permutations;
- ``train`` returns ``(losses, weights, val_scores)`` when ``return_weights`` is true, else ``None``; with
  ``return_scores`` it records the test set's mean squared error after every ``test_every`` updates (the book
  called an ``r2_score`` it never imported, with its arguments swapped).
"""

from __future__ import annotations

import numpy as np

from ..fundamentals import sigmoid
from ..linear_regression import ForwardInfo, Weights
from ..one_hidden_layer import forward_loss, predict
from ..one_hidden_layer import loss_gradients as _mean_loss_gradients
from ..one_hidden_layer import train as _train
from .ch2_linear_regression import _STREAM, generate_batch, permute_data

__all__ = [
    "forward_loss",
    "generate_batch",
    "init_weights",
    "loss_gradients",
    "permute_data",
    "predict",
    "sigmoid",
    "train",
]


def init_weights(input_size: int, hidden_size: int) -> Weights:
    """W1 ``[input_size, hidden_size]``, B1 ``[1, hidden_size]``, W2 ``[hidden_size, 1]``, B2 ``[1, 1]``, each
    N(0, 1), drawn in that order from the book's stream."""
    return {
        "W1": _STREAM.randn(input_size, hidden_size),
        "B1": _STREAM.randn(1, hidden_size),
        "W2": _STREAM.randn(hidden_size, 1),
        "B2": _STREAM.randn(1, 1),
    }


def loss_gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    """The book's gradients (dL/dP = -(y - P), n/2 times those of the mean squared error), each of its
    weight's shape: W1 ``[k, h]``, B1 ``[1, h]`` (one per hidden unit), W2 ``[h, 1]``, B2 ``[1, 1]``."""
    scale = forward_info["X"].shape[0] / 2
    return {key: scale * grad for key, grad in _mean_loss_gradients(forward_info, weights).items()}


def train(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    n_iter: int = 1000,
    test_every: int = 1000,
    learning_rate: float = 0.01,
    hidden_size: int = 13,
    batch_size: int = 100,
    return_losses: bool = False,
    return_weights: bool = False,
    return_scores: bool = False,
    seed: int = 1,
) -> tuple[list[float], Weights, list[float]] | None:
    """``n_iter`` steps of mini-batch SGD from ``init_weights``, as the book trains the network:
    ``scratch.one_hidden_layer.train`` on the book's stream with the book's gradients. ``return_scores``
    records the test set's mean squared error after every ``test_every`` updates (the book's R² call was
    broken: ``r2_score`` was never imported)."""
    if seed:
        _STREAM.seed(seed)
    weights = init_weights(X_train.shape[1], hidden_size=hidden_size)  # drawn before the first permutation
    args = (X_train, y_train, X_test, y_test, n_iter, test_every, learning_rate, hidden_size, batch_size)
    result = _train(*args, return_losses, True, return_scores, _STREAM, weights, book_gradients=True)
    return (result.losses, result.weights, result.scores) if return_weights else None
