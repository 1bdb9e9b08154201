"""Chapter 2: linear regression trained with hand-written gradients and mini-batch SGD.

Model and loss for a batch of n rows with k features::

    N = X @ W            X [n, k], W [k, 1] -> N [n, 1]
    P = N + B            B [1, 1] broadcast over rows -> P [n, 1]
    L = (1/n) Σ_i (y_i - P_i)²      y [n, 1], L scalar (mean squared error over rows)

Gradients (the chain rule written out in :func:`loss_gradients`)::

    dL/dP = -2 (y - P) / n            [n, 1]
    dL/dN = dL/dP ⊙ dP/dN = dL/dP     [n, 1]
    dL/dW = Xᵀ @ dL/dN                [k, n] @ [n, 1] -> [k, 1]
    dL/dB = Σ_rows dL/dP              [1, 1]

Note on the book: its ``loss_gradients`` omits the ``1/n`` of the mean, so its gradient is ``n`` times the
derivative of the loss it reports (with the book's batch of 23, SGD effectively takes 23-times larger steps).
Here the gradient is the exact derivative of the reported loss, so the same learning rate trains more slowly
than in the book.

Randomness is explicit: :func:`train` makes one ``np.random.default_rng(seed)`` and draws from it, in this
order, the initial weights (only when ``weights`` is not given: ``W`` then ``B``) and then one
``rng.permutation(n)`` each time the data is (re)shuffled; the torch twin does exactly the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, TypeAlias

import numpy as np

from data._checks import as_generator, check_weight_dict, check_xy_columns

from ._validation import check_float_array, check_int, check_positive

Weights: TypeAlias = dict[str, np.ndarray]
ForwardInfo: TypeAlias = dict[str, np.ndarray]

__all__ = [
    "LinearRegressionResult",
    "forward_linear_regression",
    "generate_batch",
    "init_weights",
    "loss_gradients",
    "permute_data",
    "predict",
    "train",
]


class LinearRegressionResult(NamedTuple):
    """What :func:`train` returns; unpacks like the book's ``(losses, weights)``."""

    losses: list[float]
    """Training loss of every iteration's batch, before that iteration's update (empty unless asked for)."""
    weights: Weights
    """The trained weights, ``W`` [k, 1] and ``B`` [1, 1]."""


# ---------------------------------------------------------------------------------------------------------
# Checks and helpers shared with the one-hidden-layer network
# ---------------------------------------------------------------------------------------------------------


RandomSource: TypeAlias = np.random.Generator | np.random.RandomState
"""Where random numbers come from: a ``Generator``, or a legacy ``RandomState`` (the book modules' streams)."""


def _check_xy(X: object, y: object, name_x: str = "X", name_y: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Check a design matrix ``X`` [n, k] and a target column ``y`` [n, 1] with the same number of rows."""
    X = check_float_array(X, name_x, ndim=2, layout="[n, features]")
    y = check_float_array(y, name_y, ndim=2, layout="[n, 1]")
    check_xy_columns(X.shape, y.shape, name_x, name_y)
    return X, y


def _check_matrix(value: object, name: str) -> np.ndarray:
    return check_float_array(value, name, ndim=2)


def _check_weights(weights: object, shapes: dict[str, tuple[int, int]], name: str = "weights") -> Weights:
    """Check that ``weights`` is a dict holding exactly ``shapes``' keys, each a float array of that shape."""
    return check_weight_dict(weights, shapes, _check_matrix, name)


def _initial_weights(weights: Weights | None, shapes: dict[str, tuple[int, int]], rng: RandomSource) -> Weights:
    """The weights training starts from: N(0, 1) draws in ``shapes``' order when ``weights`` is None, else
    float64 copies of the checked ``weights`` (the caller's arrays are never modified)."""
    if weights is None:
        return {key: rng.standard_normal(shape) for key, shape in shapes.items()}
    _check_weights(weights, shapes)
    return {key: value.astype(np.float64, copy=True) for key, value in weights.items()}


def _book_batches(
    X: np.ndarray, y: np.ndarray, n_iter: int, batch_size: int, rng: RandomSource
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``n_iter`` batches in the book's order: shuffle the rows, walk through them ``batch_size`` at a time
    (the last batch of a pass is shorter when the rows do not divide evenly), reshuffle the shuffled copy when
    they are used up. Shapes: X [n, k], y [n, 1] -> batches [b, k], [b, 1] (views of the shuffled copy)."""
    n = X.shape[0]
    start = n  # shuffle before the first batch
    for _ in range(n_iter):
        if start >= n:
            perm = rng.permutation(n)
            X, y = X[perm], y[perm]
            start = 0
        yield X[start : start + batch_size], y[start : start + batch_size]
        start += batch_size


def _check_training_args(n_iter: object, learning_rate: object, batch_size: object) -> tuple[int, float, int]:
    """Check the SGD settings shared by both chapter 2 ``train`` functions."""
    return (
        check_int(n_iter, "n_iter", 1),
        check_positive(learning_rate, "learning_rate"),
        check_int(batch_size, "batch_size", 1),
    )


def permute_data(X: np.ndarray, y: np.ndarray, rng: RandomSource | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the rows of ``X`` and ``y`` with the same permutation, drawn as ``rng.permutation(n)``.

    shapes: X [n, k], y [n, 1] -> the same shapes, rows reordered (new arrays; the inputs are untouched).
    """
    X, y = _check_xy(X, y)
    perm = as_generator(rng, "rng").permutation(X.shape[0])
    return X[perm], y[perm]


def generate_batch(X: np.ndarray, y: np.ndarray, start: int = 0, batch_size: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start`` to ``start + batch_size`` of ``X`` and ``y`` (shorter at the end of the data).

    shapes: X [n, k], y [n, 1] -> X_batch [b, k], y_batch [b, 1] with b = min(batch_size, n - start).
    """
    X, y = _check_xy(X, y)
    start = check_int(start, "start", 0)
    batch_size = check_int(batch_size, "batch_size", 1)
    if start >= X.shape[0]:
        raise ValueError(f"start must be < the number of rows ({X.shape[0]}); received {start}")
    return X[start : start + batch_size], y[start : start + batch_size]


# ---------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------


def _shapes(n_in: int) -> dict[str, tuple[int, int]]:
    return {"W": (n_in, 1), "B": (1, 1)}


def init_weights(n_in: int, rng_or_seed: RandomSource | int | None = None) -> Weights:
    """Initial weights drawn from N(0, 1): ``W`` [n_in, 1] first, then ``B`` [1, 1].

    ``rng_or_seed`` is a ``np.random.Generator`` (drawn from in place) or a seed for
    ``np.random.default_rng``.
    """
    return _initial_weights(None, _shapes(check_int(n_in, "n_in", 1)), as_generator(rng_or_seed))


def _forward(X: np.ndarray, y: np.ndarray, weights: Weights) -> tuple[float, ForwardInfo]:
    N = X @ weights["W"]  # [n, k] @ [k, 1] -> [n, 1]
    P = N + weights["B"]  # [n, 1] + [1, 1] -> [n, 1]
    loss = float(np.mean(np.power(y - P, 2)))
    return loss, {"X": X, "N": N, "P": P, "y": y}


def forward_linear_regression(X_batch: np.ndarray, y_batch: np.ndarray, weights: Weights) -> tuple[float, ForwardInfo]:
    """Forward pass and mean squared error of the linear model on one batch.

    forward:  N = X @ W,  P = N + B,  L = mean_i (y_i - P_i)²
    shapes:   X_batch [n, k], y_batch [n, 1], W [k, 1], B [1, 1] -> N, P [n, 1]; L scalar
    Returns ``(loss, forward_info)`` with ``forward_info`` holding ``X``, ``N``, ``P`` and ``y``.
    """
    X_batch, y_batch = _check_xy(X_batch, y_batch, "X_batch", "y_batch")
    _check_weights(weights, _shapes(X_batch.shape[1]))
    return _forward(X_batch, y_batch, weights)


def _gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    X, P, y = forward_info["X"], forward_info["P"], forward_info["y"]
    n = X.shape[0]
    dL_dP = -2.0 * (y - P) / n  # [n, 1]
    dP_dN = np.ones_like(forward_info["N"])  # [n, 1]
    dL_dN = dL_dP * dP_dN  # [n, 1]
    dN_dW = X.T  # transpose: [n, k] -> [k, n]
    dL_dW = dN_dW @ dL_dN  # [k, n] @ [n, 1] -> [k, 1]
    dP_dB = np.ones_like(weights["B"])  # [1, 1]
    dL_dB = np.sum(dL_dP * dP_dB, axis=0, keepdims=True)  # [n, 1] -> [1, 1]
    return {"W": dL_dW, "B": dL_dB}


def loss_gradients(forward_info: ForwardInfo, weights: Weights) -> Weights:
    """Gradients of the batch loss with respect to ``W`` and ``B``, by the chain rule.

    backward: dL/dP = -2 (y - P) / n,  dL/dN = dL/dP,  dL/dW = Xᵀ @ dL/dN,  dL/dB = Σ_rows dL/dP
    shapes:   dL/dW [k, 1] (like W), dL/dB [1, 1] (like B)
    """
    if not isinstance(forward_info, dict) or not {"X", "N", "P", "y"} <= set(forward_info):
        raise ValueError("forward_info must be the dict returned by forward_linear_regression (keys X, N, P, y)")
    X, y = _check_xy(forward_info["X"], forward_info["y"], "forward_info['X']", "forward_info['y']")
    _check_weights(weights, _shapes(X.shape[1]))
    for key in ("N", "P"):
        if forward_info[key].shape != y.shape:
            raise ValueError(f"forward_info[{key!r}] must have shape {y.shape}; received {forward_info[key].shape}")
    return _gradients(forward_info, weights)


def predict(X: np.ndarray, weights: Weights) -> np.ndarray:
    """Predictions of the linear model: ``P = X @ W + B``; shapes X [n, k] -> P [n, 1]."""
    X = check_float_array(X, "X", ndim=2, layout="[n, features]")
    _check_weights(weights, _shapes(X.shape[1]))
    return X @ weights["W"] + weights["B"]  # [n, k] @ [k, 1] + [1, 1] -> [n, 1]


def train(
    X: np.ndarray,
    y: np.ndarray,
    n_iter: int = 1000,
    learning_rate: float = 0.01,
    batch_size: int = 100,
    return_losses: bool = False,
    return_weights: bool = False,
    seed: RandomSource | int | None = 1,
    weights: Weights | None = None,
    *,
    book_gradients: bool = False,
) -> LinearRegressionResult:
    """Train the linear model with mini-batch SGD, ``W -= learning_rate * dL/dW`` (and the same for ``B``).

    The data is shuffled once, then walked through in batches of ``batch_size`` rows (the last batch of a
    pass is shorter when the rows do not divide evenly); when it is exhausted it is reshuffled (the book's
    scheme). One iteration is one batch. ``weights`` gives initial weights (copied, not modified); without
    it they are drawn from N(0, 1). See the module docstring for the order of random draws. ``seed`` may also
    be a ``Generator`` or a ``RandomState`` to draw from (the book module's stream).

    ``book_gradients=True`` steps with the book's gradients, those of the SUMMED squared error (n times the
    mean's, n the batch's rows), so the book's learning rates take the book's steps
    (``scratch.book.ch2_linear_regression``).

    shapes: X [n, k], y [n, 1]. Returns ``LinearRegressionResult(losses, weights)``; ``losses`` is filled
    only when ``return_losses`` is true. ``return_weights`` is accepted for the book's signature: the
    trained weights are always returned (the book returned ``None`` without it).
    """
    X, y = _check_xy(X, y)
    n_iter, learning_rate, batch_size = _check_training_args(n_iter, learning_rate, batch_size)
    rng = as_generator(seed, "seed")
    weights = _initial_weights(weights, _shapes(X.shape[1]), rng)
    losses: list[float] = []
    for X_batch, y_batch in _book_batches(X, y, n_iter, batch_size, rng):
        loss, forward_info = _forward(X_batch, y_batch, weights)
        if return_losses:
            losses.append(loss)
        grads = _gradients(forward_info, weights)
        if book_gradients:  # the summed squared error's gradients: n times the mean's
            grads = {key: X_batch.shape[0] * grad for key, grad in grads.items()}
        for key in weights:
            weights[key] -= learning_rate * grads[key]
    return LinearRegressionResult(losses, weights)
