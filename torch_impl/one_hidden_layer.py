"""Chapter 2 in PyTorch: the one-hidden-layer network (sigmoid hidden layer, linear output), with gradients
from autograd: the twin of ``scratch.one_hidden_layer``.

Weights ``W1`` ``[in, h]``, ``B1`` ``[1, h]``, ``W2`` ``[h, 1]``, ``B2`` ``[1, 1]`` in the book's layout, the mean
squared error over rows, ``torch.autograd`` gradients and ``torch.optim.SGD`` steps; the same conventions and
randomness as ``torch_impl.linear_regression`` (initial weights drawn in the order W1, B1, W2, B2).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)

from data._checks import as_generator

from ._validation import check_int, check_positive, check_tensor, describe
from .linear_regression import (
    TensorDict,
    _autograd_gradients,
    _batches,
    _check_weights,
    _check_xy,
    _draw,
    _initial_params,
    _sgd,
)

__all__ = [
    "OneHiddenLayerResult",
    "forward_loss_nn",
    "init_one_hidden_layer_weights",
    "nn_loss_gradients",
    "predict_one_hidden_layer",
    "train_one_hidden_layer",
]


def _nn_shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, int]]:
    return {"W1": (input_size, hidden_size), "B1": (1, hidden_size), "W2": (hidden_size, 1), "B2": (1, 1)}


def _hidden_size(weights: object) -> int:
    W1 = weights.get("W1") if isinstance(weights, dict) else None
    if not isinstance(W1, torch.Tensor) or W1.dim() != 2:
        raise ValueError("weights must be a dict with keys ['B1', 'B2', 'W1', 'W2'] (W1 a [in, hidden] tensor)")
    return int(W1.shape[1])


class OneHiddenLayerResult(NamedTuple):
    """What :func:`train_one_hidden_layer` returns (unpacks like ``(losses, weights, scores)``)."""

    losses: list[float]
    """Training loss of every iteration's batch, before that iteration's update (empty unless asked for)."""
    weights: TensorDict
    """The trained weights ``W1`` [k, h], ``B1`` [1, h], ``W2`` [h, 1], ``B2`` [1, 1] (detached tensors)."""
    scores: list[float]
    """Test-set mean squared error after every ``test_every`` updates (empty unless asked for)."""


# ---------------------------------------------------------------------------------------------------------
# One hidden layer
# ---------------------------------------------------------------------------------------------------------


def init_one_hidden_layer_weights(
    input_size: int,
    hidden_size: int,
    rng_or_seed: np.random.Generator | int | None = None,
    dtype: torch.dtype = torch.float64,
) -> TensorDict:
    """N(0, 1) weights W1 [in, h], B1 [1, h], W2 [h, 1], B2 [1, 1], drawn with NumPy exactly as scratch."""
    shapes = _nn_shapes(check_int(input_size, "input_size", 1), check_int(hidden_size, "hidden_size", 1))
    return _draw(as_generator(rng_or_seed, "rng_or_seed"), shapes, dtype)


def _nn_forward(X: torch.Tensor, y: torch.Tensor, weights: TensorDict) -> tuple[TensorDict, torch.Tensor]:
    M1 = X @ weights["W1"]  # [n, k] @ [k, h] -> [n, h]
    N1 = M1 + weights["B1"]  # [n, h] + [1, h] -> [n, h]
    O1 = torch.sigmoid(N1)  # [n, h]
    M2 = O1 @ weights["W2"]  # [n, h] @ [h, 1] -> [n, 1]
    P = M2 + weights["B2"]  # [n, 1] + [1, 1] -> [n, 1]
    loss = F.mse_loss(P, y)  # one column: the mean over elements is the mean over rows
    return {"X": X, "M1": M1, "N1": N1, "O1": O1, "M2": M2, "P": P, "y": y}, loss


def _nn_loss(X: torch.Tensor, y: torch.Tensor, weights: TensorDict) -> torch.Tensor:
    return _nn_forward(X, y, weights)[1]


def forward_loss_nn(X: torch.Tensor, y: torch.Tensor, weights: TensorDict) -> tuple[TensorDict, torch.Tensor]:
    """Forward pass and mean squared error of the one-hidden-layer network on one batch.

    forward:  M1 = X @ W1, N1 = M1 + B1, O1 = sigmoid(N1), M2 = O1 @ W2, P = M2 + B2, L = mean_i (y_i - P_i)²
    shapes:   X [n, k], y [n, 1] -> M1, N1, O1 [n, h]; M2, P [n, 1]; L a 0-d tensor
    Returns ``(forward_info, loss)`` (the book's order), as scratch's ``forward_loss``.
    """
    X, y = _check_xy(X, y)
    _check_weights(weights, _nn_shapes(X.shape[1], _hidden_size(weights)), X.dtype)
    return _nn_forward(X, y, weights)


def nn_loss_gradients(forward_info: TensorDict, weights: TensorDict) -> TensorDict:
    """Gradients of the batch loss with respect to W1, B1, W2, B2, by ``torch.autograd``.

    Reads ``X`` and ``y`` from ``forward_info`` (the dict :func:`forward_loss_nn` returns), reruns the forward
    pass on leaf copies of the weights and differentiates it.
    backward: (autograd; mathematically dL/dN1 = (dL/dP @ W2ᵀ) ⊙ O1 ⊙ (1 - O1), dL/dP = -2 (y - P) / n, ...)
    shapes:   each gradient has its weight's shape
    """
    return _autograd_gradients(
        forward_info,
        weights,
        "forward_loss_nn (keys X, ..., P, y)",
        lambda X: _nn_shapes(X.shape[1], _hidden_size(weights)),
        _nn_loss,
    )


def _nn_predict(X: torch.Tensor, weights: TensorDict) -> torch.Tensor:
    O1 = torch.sigmoid(X @ weights["W1"] + weights["B1"])  # [n, k] @ [k, h] + [1, h] -> [n, h]
    return O1 @ weights["W2"] + weights["B2"]  # [n, h] @ [h, 1] + [1, 1] -> [n, 1]


def predict_one_hidden_layer(X: torch.Tensor, weights: TensorDict) -> torch.Tensor:
    """Predictions ``P = sigmoid(X @ W1 + B1) @ W2 + B2``; shapes X [n, k] -> P [n, 1]; records no graph."""
    X = check_tensor(X, "X", 2, "[n, features]")
    _check_weights(weights, _nn_shapes(X.shape[1], _hidden_size(weights)), X.dtype)
    with torch.no_grad():
        return _nn_predict(X, weights)


def train_one_hidden_layer(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    n_iter: int = 1000,
    test_every: int = 1000,
    learning_rate: float = 0.01,
    hidden_size: int = 13,
    batch_size: int = 100,
    return_losses: bool = False,
    return_weights: bool = False,
    return_scores: bool = False,
    seed: int | None = 1,
    weights: TensorDict | None = None,
) -> OneHiddenLayerResult:
    """Train the network with ``torch.optim.SGD`` on autograd gradients; the twin of scratch's ``train``.

    Same arguments, batch order, random draws and test schedule as ``scratch.one_hidden_layer.train``: the
    test-set loss is recorded after updates ``test_every``, ``2 * test_every``, ... when ``return_scores``.
    shapes: X_train [n, k], y_train [n, 1], X_test [m, k], y_test [m, 1]. Returns
    ``OneHiddenLayerResult(losses, weights, scores)``.
    """
    X_train, y_train = _check_xy(X_train, y_train, "X_train", "y_train")
    X_test, y_test = _check_xy(X_test, y_test, "X_test", "y_test")
    if X_test.shape[1] != X_train.shape[1] or X_test.dtype != X_train.dtype:
        raise ValueError(
            f"X_test must have X_train's columns ({X_train.shape[1]}) and dtype ({X_train.dtype}); "
            f"received {describe(X_test)}"
        )
    n_iter = check_int(n_iter, "n_iter", 1)
    test_every = check_int(test_every, "test_every", 1)
    learning_rate = check_positive(learning_rate, "learning_rate")
    hidden_size = check_int(hidden_size, "hidden_size", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = as_generator(seed, "seed")
    params = _initial_params(weights, _nn_shapes(X_train.shape[1], hidden_size), X_train.dtype, rng)
    scores: list[float] = []

    def score(i: int) -> None:
        if return_scores and (i + 1) % test_every == 0:
            with torch.no_grad():
                scores.append(F.mse_loss(_nn_predict(X_test, params), y_test).item())

    batches = _batches(X_train, y_train, n_iter, batch_size, rng)
    losses = _sgd(params, batches, _nn_loss, learning_rate, return_losses, score)
    return OneHiddenLayerResult(losses, {key: value.detach() for key, value in params.items()}, scores)
