"""Chapter 2: a neural network with one sigmoid hidden layer, trained with hand-written gradients.

Model and loss for a batch of n rows, k features and h hidden units::

    M1 = X @ W1          X [n, k], W1 [k, h] -> M1 [n, h]
    N1 = M1 + B1         B1 [1, h] broadcast over rows -> N1 [n, h]
    O1 = sigmoid(N1)     [n, h]
    M2 = O1 @ W2         W2 [h, 1] -> M2 [n, 1]
    P  = M2 + B2         B2 [1, 1] -> P [n, 1]
    L  = (1/n) Σ_i (y_i - P_i)²     y [n, 1], L scalar (mean squared error over rows)

Gradients (written out in :func:`loss_gradients`)::

    dL/dP  = -2 (y - P) / n                  [n, 1]
    dL/dM2 = dL/dP                           [n, 1]
    dL/dB2 = Σ_rows dL/dP                    [1, 1]
    dL/dW2 = O1ᵀ @ dL/dM2                    [h, n] @ [n, 1] -> [h, 1]
    dL/dO1 = dL/dM2 @ W2ᵀ                    [n, 1] @ [1, h] -> [n, h]
    dL/dN1 = dL/dO1 ⊙ O1 ⊙ (1 - O1)          [n, h]
    dL/dB1 = Σ_rows dL/dN1                   [1, h]
    dL/dW1 = Xᵀ @ dL/dN1                     [k, n] @ [n, h] -> [k, h]

Note on the book: its gradient starts from ``dL/dP = -(y - P)``, without the ``2/n`` of the mean squared error
it reports, so it is ``n/2`` times the derivative of that loss. Here the gradient is exact, so the same
learning rate trains more slowly than in the book.

Randomness is explicit: :func:`train` makes one ``np.random.default_rng(seed)`` and draws from it the initial
weights (only when ``weights`` is not given: ``W1``, ``B1``, ``W2``, ``B2`` in that order), then one
``rng.permutation(n)`` per (re)shuffle of the training data; the torch twin does exactly the same.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from data._checks import as_generator

from ._validation import check_float_array, check_int
from .fundamentals import sigmoid
from .linear_regression import (
    ForwardInfo,
    RandomSource,
    Weights,
    _book_batches,
    _check_training_args,
    _check_weights,
    _check_xy,
    _initial_weights,
)

__all__ = [
    "OneHiddenLayerResult",
    "forward_loss",
    "init_weights",
    "loss_gradients",
    "predict",
    "train",
]


class OneHiddenLayerResult(NamedTuple):
    """What :func:`train` returns; unpacks like the book's ``(losses, weights, val_scores)``."""

    losses: list[float]
    """Training loss of every iteration's batch, before that iteration's update (empty unless asked for)."""
    weights: Weights
    """The trained weights ``W1`` [k, h], ``B1`` [1, h], ``W2`` [h, 1], ``B2`` [1, 1]."""
    scores: list[float]
    """Test-set mean squared error after every ``test_every`` updates (empty unless asked for). The book
    recorded scikit-learn's R² here; scratch depends on NumPy only, and the loss is what chapter 2 prints."""


def _shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, int]]:
    return {"W1": (input_size, hidden_size), "B1": (1, hidden_size), "W2": (hidden_size, 1), "B2": (1, 1)}


def init_weights(input_size: int, hidden_size: int, rng_or_seed: RandomSource | int | None = None) -> Weights:
    """Initial weights from N(0, 1), drawn in the order W1 [in, h], B1 [1, h], W2 [h, 1], B2 [1, 1].

    ``rng_or_seed`` is a ``np.random.Generator`` (drawn from in place) or a seed for
    ``np.random.default_rng``.
    """
    shapes = _shapes(check_int(input_size, "input_size", 1), check_int(hidden_size, "hidden_size", 1))
    return _initial_weights(None, shapes, as_generator(rng_or_seed))


def _hidden_size(weights: object) -> int:
    if not isinstance(weights, dict) or "W1" not in weights or not hasattr(weights["W1"], "shape"):
        raise ValueError("weights must be a dict with keys ['B1', 'B2', 'W1', 'W2'] (W1 shaped [in, hidden])")
    W1 = weights["W1"]
    if len(W1.shape) != 2:
        raise ValueError(f"weights['W1'] must be a 2-D array [in, hidden]; received shape {W1.shape}")
    return int(W1.shape[1])


def _forward(X: np.ndarray, y: np.ndarray, weights: Weights) -> tuple[ForwardInfo, float]:
    M1 = X @ weights["W1"]  # [n, k] @ [k, h] -> [n, h]
    N1 = M1 + weights["B1"]  # [n, h] + [1, h] -> [n, h]
    O1 = sigmoid(N1)  # [n, h]
    M2 = O1 @ weights["W2"]  # [n, h] @ [h, 1] -> [n, 1]
    P = M2 + weights["B2"]  # [n, 1] + [1, 1] -> [n, 1]
    loss = float(np.mean(np.power(y - P, 2)))
    return {"X": X, "M1": M1, "N1": N1, "O1": O1, "M2": M2, "P": P, "y": y}, loss


def forward_loss(X: np.ndarray, y: np.ndarray, weights: Weights) -> tuple[ForwardInfo, float]:
    """Forward pass and mean squared error of the network on one batch.

    forward:  M1 = X @ W1, N1 = M1 + B1, O1 = sigmoid(N1), M2 = O1 @ W2, P = M2 + B2, L = mean_i (y_i - P_i)²
    shapes:   X [n, k], y [n, 1] -> M1, N1, O1 [n, h]; M2, P [n, 1]; L scalar
    Returns ``(forward_info, loss)`` (the book's order) with ``forward_info`` holding X, M1, N1, O1, M2, P, y.
    """
    X, y = _check_xy(X, y)
    _check_weights(weights, _shapes(X.shape[1], _hidden_size(weights)))
    return _forward(X, y, weights)


def _gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    X, O1, P, y = forward_info["X"], forward_info["O1"], forward_info["P"], forward_info["y"]
    n = X.shape[0]
    dL_dP = -2.0 * (y - P) / n  # [n, 1]
    dL_dM2 = dL_dP * np.ones_like(forward_info["M2"])  # dP/dM2 = 1: [n, 1]
    dL_dB2 = np.sum(dL_dP * np.ones_like(weights["B2"]), axis=0, keepdims=True)  # [n, 1] -> [1, 1]
    dM2_dW2 = O1.T  # transpose: [n, h] -> [h, n]
    dL_dW2 = dM2_dW2 @ dL_dM2  # [h, n] @ [n, 1] -> [h, 1]
    dM2_dO1 = weights["W2"].T  # transpose: [h, 1] -> [1, h]
    dL_dO1 = dL_dM2 @ dM2_dO1  # [n, 1] @ [1, h] -> [n, h]
    dO1_dN1 = O1 * (1.0 - O1)  # sigmoid'(N1): [n, h]
    dL_dN1 = dL_dO1 * dO1_dN1  # [n, h]
    dL_dB1 = np.sum(dL_dN1 * np.ones_like(weights["B1"]), axis=0, keepdims=True)  # [n, h] -> [1, h]
    dL_dM1 = dL_dN1  # dN1/dM1 = 1: [n, h]
    dM1_dW1 = X.T  # transpose: [n, k] -> [k, n]
    dL_dW1 = dM1_dW1 @ dL_dM1  # [k, n] @ [n, h] -> [k, h]
    return {"W1": dL_dW1, "B1": dL_dB1, "W2": dL_dW2, "B2": dL_dB2}


def loss_gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    """Gradients of the batch loss with respect to every weight, by the chain rule.

    backward: dL/dP = -2 (y - P) / n;  dL/dB2 = Σ_rows dL/dP;  dL/dW2 = O1ᵀ @ dL/dP;
              dL/dN1 = (dL/dP @ W2ᵀ) ⊙ O1 ⊙ (1 - O1);  dL/dB1 = Σ_rows dL/dN1;  dL/dW1 = Xᵀ @ dL/dN1
    shapes:   each gradient has its weight's shape: W1 [k, h], B1 [1, h], W2 [h, 1], B2 [1, 1]
    """
    needed = {"X", "M1", "N1", "O1", "M2", "P", "y"}
    if not isinstance(forward_info, dict) or not needed <= set(forward_info):
        raise ValueError(f"forward_info must be the dict returned by forward_loss (keys {sorted(needed)})")
    X, y = _check_xy(forward_info["X"], forward_info["y"], "forward_info['X']", "forward_info['y']")
    hidden = _hidden_size(weights)
    _check_weights(weights, _shapes(X.shape[1], hidden))
    expected = {
        "M1": (X.shape[0], hidden),
        "N1": (X.shape[0], hidden),
        "O1": (X.shape[0], hidden),
        "M2": y.shape,
        "P": y.shape,
    }
    for key, shape in expected.items():
        if forward_info[key].shape != shape:
            raise ValueError(f"forward_info[{key!r}] must have shape {shape}; received {forward_info[key].shape}")
    return _gradients(forward_info, weights)


def _predict(X: np.ndarray, weights: Weights) -> np.ndarray:
    O1 = sigmoid(X @ weights["W1"] + weights["B1"])  # [n, k] @ [k, h] + [1, h] -> [n, h]
    return O1 @ weights["W2"] + weights["B2"]  # [n, h] @ [h, 1] + [1, 1] -> [n, 1]


def predict(X: np.ndarray, weights: Weights) -> np.ndarray:
    """Network predictions ``P = sigmoid(X @ W1 + B1) @ W2 + B2``; shapes X [n, k] -> P [n, 1]."""
    X = check_float_array(X, "X", ndim=2, layout="[n, features]")
    _check_weights(weights, _shapes(X.shape[1], _hidden_size(weights)))
    return _predict(X, weights)


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
    seed: RandomSource | int | None = 1,
    weights: Weights | None = None,
    *,
    book_gradients: bool = False,
) -> OneHiddenLayerResult:
    """Train the network with mini-batch SGD, ``w -= learning_rate * dL/dw`` for every weight.

    Batches and reshuffles follow the book (see ``linear_regression.train``). ``weights`` gives initial
    weights (copied, not modified; their hidden size must equal ``hidden_size``); without it they are drawn
    from N(0, 1). When ``return_scores`` is true, the test-set loss is recorded after updates number
    ``test_every``, ``2 * test_every``, ... (the book tested at iterations ``test_every, 2 * test_every, ...``
    counted from 0, i.e. one update later, and never after the last one).

    ``seed`` may also be a ``Generator`` or a ``RandomState`` to draw from (the book module's stream).
    ``book_gradients=True`` steps with the book's gradients, dL/dP = -(y - P): n/2 times those of the mean
    squared error (n the batch's rows), so the book's learning rates take the book's steps
    (``scratch.book.ch2_network``).

    shapes: X_train [n, k], y_train [n, 1], X_test [m, k], y_test [m, 1]. Returns
    ``OneHiddenLayerResult(losses, weights, scores)``; ``losses`` and ``scores`` are filled only when asked
    for; the weights are always returned (``return_weights`` is accepted for the book's signature).
    """
    X_train, y_train = _check_xy(X_train, y_train, "X_train", "y_train")
    X_test, y_test = _check_xy(X_test, y_test, "X_test", "y_test")
    if X_test.shape[1] != X_train.shape[1]:
        raise ValueError(
            f"X_test must have as many columns as X_train ({X_train.shape[1]}); received shape {X_test.shape}"
        )
    n_iter, learning_rate, batch_size = _check_training_args(n_iter, learning_rate, batch_size)
    test_every = check_int(test_every, "test_every", 1)
    hidden_size = check_int(hidden_size, "hidden_size", 1)
    rng = as_generator(seed, "seed")
    weights = _initial_weights(weights, _shapes(X_train.shape[1], hidden_size), rng)
    losses: list[float] = []
    scores: list[float] = []
    for i, (X_batch, y_batch) in enumerate(_book_batches(X_train, y_train, n_iter, batch_size, rng)):
        forward_info, loss = _forward(X_batch, y_batch, weights)
        if return_losses:
            losses.append(loss)
        grads = _gradients(forward_info, weights)
        if book_gradients:  # the book's -(y - P): n / 2 times the mean squared error's gradients
            grads = {key: X_batch.shape[0] / 2 * grad for key, grad in grads.items()}
        for key in weights:
            weights[key] -= learning_rate * grads[key]
        if return_scores and (i + 1) % test_every == 0:
            test_preds = _predict(X_test, weights)
            scores.append(float(np.mean(np.power(y_test - test_preds, 2))))
    return OneHiddenLayerResult(losses, weights, scores)
