"""Chapter 2 in PyTorch: linear regression, with gradients from autograd (the twin of
``scratch.linear_regression``), and the metrics and helpers ``torch_impl.one_hidden_layer`` shares.

The model and loss are the same as scratch's (mean squared error over rows, targets as ``[n, 1]`` columns,
weights in the book's layout: ``W`` ``[in, 1]``, ``B`` ``[1, 1]``); the gradients are not written by hand but
taken with ``torch.autograd`` and applied with ``torch.optim.SGD``.

Convention: torch tensors in, torch tensors out. Every tensor argument must be a floating-point tensor and
all of them must share one dtype (use ``torch.float64`` for parity with scratch); weights are dicts of
tensors keyed like the book (``W``, ``B``). Scalar results (losses, metrics) are returned as Python floats
where the name says so, as 0-d tensors from ``forward_*``.

Randomness is the same as in scratch so that both can be run on the same weights and batches: ``train``
makes one ``np.random.default_rng(seed)`` and draws from it the initial weights (only when ``weights`` is not
given, in the order W, B, each with ``standard_normal``) and then one ``rng.permutation(n)`` per (re)shuffle of
the training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)

from data._checks import as_generator, check_weight_dict, check_xy_columns

from ._validation import check_int, check_positive, check_same_shape, check_tensor, describe

TensorDict: TypeAlias = dict[str, torch.Tensor]
RandomSource: TypeAlias = np.random.Generator | np.random.RandomState

__all__ = [
    "LinearRegressionResult",
    "forward_linear_regression",
    "init_linear_regression_weights",
    "linear_regression_loss_gradients",
    "mae",
    "predict_linear_regression",
    "rmse",
    "train_linear_regression",
]


class LinearRegressionResult(NamedTuple):
    """What :func:`train_linear_regression` returns (unpacks like the book's ``(losses, weights)``)."""

    losses: list[float]
    """Training loss of every iteration's batch, before that iteration's update (empty unless asked for)."""
    weights: TensorDict
    """The trained weights ``W`` [k, 1] and ``B`` [1, 1] (detached tensors)."""


# ---------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------


def _check_xy(X: object, y: object, name_x: str = "X", name_y: str = "y") -> tuple[torch.Tensor, torch.Tensor]:
    X = check_tensor(X, name_x, 2, "[n, features]")
    y = check_tensor(y, name_y, 2, "[n, 1]")
    check_xy_columns(tuple(X.shape), tuple(y.shape), name_x, name_y)
    if y.dtype != X.dtype:
        raise TypeError(f"{name_y} must have the dtype of {name_x} ({X.dtype}); received {y.dtype}")
    return X, y


def _check_weights(
    weights: object, shapes: dict[str, tuple[int, int]], dtype: torch.dtype, name: str = "weights"
) -> TensorDict:
    def check_value(value: object, label: str) -> torch.Tensor:
        value = check_tensor(value, label, 2)
        if value.dtype != dtype:
            raise TypeError(f"{label} must have the data's dtype {dtype}; received {value.dtype}")
        return value

    return check_weight_dict(weights, shapes, check_value, name)


def _lr_shapes(n_in: int) -> dict[str, tuple[int, int]]:
    return {"W": (n_in, 1), "B": (1, 1)}


def _draw(rng: RandomSource, shapes: Mapping[str, tuple[int, int]], dtype: torch.dtype) -> TensorDict:
    # N(0, 1) draws in dict order, with NumPy's generator so that a seed gives scratch's exact weights.
    return {key: torch.from_numpy(rng.standard_normal(shape)).to(dtype) for key, shape in shapes.items()}


def _initial_params(
    weights: TensorDict | None, shapes: dict[str, tuple[int, int]], dtype: torch.dtype, rng: RandomSource
) -> TensorDict:
    """Leaf tensors to train: N(0, 1) draws in ``shapes``' order when ``weights`` is None, else copies of the
    checked ``weights`` (the caller's tensors are never modified)."""
    if weights is None:
        weights = _draw(rng, shapes, dtype)
    else:
        _check_weights(weights, shapes, dtype)
    return _copy_params(weights)


def _copy_params(weights: TensorDict) -> TensorDict:
    return {key: value.detach().clone().requires_grad_(True) for key, value in weights.items()}


LossOf: TypeAlias = Callable[[torch.Tensor, torch.Tensor, TensorDict], torch.Tensor]
"""A model's batch loss ``L(X, y, weights)``, a 0-d tensor."""


def _autograd_gradients(
    forward_info: object,
    weights: TensorDict,
    producer: str,
    shapes_for: Callable[[torch.Tensor], dict[str, tuple[int, int]]],
    loss_of: LossOf,
) -> TensorDict:
    """Gradients of ``loss_of`` at ``weights`` on the batch ``X``, ``y`` of ``forward_info`` (the dict
    ``producer`` returns), by ``torch.autograd`` on leaf copies of the weights; each of its weight's shape."""
    if not isinstance(forward_info, dict) or not {"X", "y"} <= set(forward_info):
        raise ValueError(f"forward_info must be the dict returned by {producer}")
    X, y = _check_xy(forward_info["X"], forward_info["y"], "forward_info['X']", "forward_info['y']")
    _check_weights(weights, shapes_for(X), X.dtype)
    params = _copy_params(weights)
    with torch.enable_grad():
        grads = torch.autograd.grad(loss_of(X, y, params), list(params.values()))
    return dict(zip(params, grads, strict=True))


def _sgd(
    params: TensorDict,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_of: LossOf,
    learning_rate: float,
    return_losses: bool,
    after_step: Callable[[int], None] | None = None,
) -> list[float]:
    """One ``torch.optim.SGD`` step on ``loss_of(X_batch, y_batch, params)`` per batch (autograd gradients);
    ``after_step(i)`` runs after update ``i`` (0-based). Returns every batch's loss before its update when
    ``return_losses``, else an empty list."""
    optimizer = torch.optim.SGD(list(params.values()), lr=learning_rate)
    losses: list[float] = []
    for i, (X_batch, y_batch) in enumerate(batches):
        optimizer.zero_grad()
        loss = loss_of(X_batch, y_batch, params)
        if return_losses:
            losses.append(loss.item())
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step(i)
    return losses


def _batches(
    X: torch.Tensor, y: torch.Tensor, n_iter: int, batch_size: int, rng: RandomSource
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The book's batch order: shuffle, walk through in batches, reshuffle (compounding) when exhausted."""
    n = X.shape[0]
    out = []
    perm = torch.from_numpy(rng.permutation(n))
    X, y = X[perm], y[perm]
    start = 0
    for _ in range(n_iter):
        if start >= n:
            perm = torch.from_numpy(rng.permutation(n))
            X, y = X[perm], y[perm]
            start = 0
        out.append((X[start : start + batch_size], y[start : start + batch_size]))
        start += batch_size
    return out


# ---------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------


def _check_pair(preds: object, actuals: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(preds, torch.Tensor) or not isinstance(actuals, torch.Tensor):
        raise TypeError(f"preds and actuals must be torch tensors; received {describe(preds)}, {describe(actuals)}")
    check_same_shape(preds, actuals, "preds", "actuals")
    return preds, actuals


def mae(preds: torch.Tensor, actuals: torch.Tensor) -> float:
    """Mean absolute error ``mean(|p - y|)`` over every element; shapes must be equal (no broadcasting)."""
    preds, actuals = _check_pair(preds, actuals)
    return float(F.l1_loss(preds, actuals))


def rmse(preds: torch.Tensor, actuals: torch.Tensor) -> float:
    """Root mean squared error ``sqrt(mean((p - y)²))`` over every element; shapes must be equal."""
    preds, actuals = _check_pair(preds, actuals)
    return float(torch.sqrt(F.mse_loss(preds, actuals)))


# ---------------------------------------------------------------------------------------------------------
# Linear regression
# ---------------------------------------------------------------------------------------------------------


def init_linear_regression_weights(
    n_in: int, rng_or_seed: np.random.Generator | int | None = None, dtype: torch.dtype = torch.float64
) -> TensorDict:
    """N(0, 1) weights ``W`` [n_in, 1] then ``B`` [1, 1], drawn with NumPy exactly as scratch does."""
    rng = as_generator(rng_or_seed, "rng_or_seed")
    return _draw(rng, _lr_shapes(check_int(n_in, "n_in", 1)), dtype)


def _lr_forward(X: torch.Tensor, y: torch.Tensor, weights: TensorDict) -> tuple[torch.Tensor, TensorDict]:
    N = X @ weights["W"]  # [n, k] @ [k, 1] -> [n, 1]
    P = N + weights["B"]  # [n, 1] + [1, 1] -> [n, 1]
    loss = F.mse_loss(P, y)  # mean over the n x 1 elements = mean over rows, since there is one column
    return loss, {"X": X, "N": N, "P": P, "y": y}


def _lr_loss(X: torch.Tensor, y: torch.Tensor, weights: TensorDict) -> torch.Tensor:
    return _lr_forward(X, y, weights)[0]


def forward_linear_regression(
    X_batch: torch.Tensor, y_batch: torch.Tensor, weights: TensorDict
) -> tuple[torch.Tensor, TensorDict]:
    """Forward pass and mean squared error of the linear model on one batch.

    forward:  N = X @ W,  P = N + B,  L = mean_i (y_i - P_i)²
    shapes:   X_batch [n, k], y_batch [n, 1], W [k, 1], B [1, 1] -> N, P [n, 1]; L a 0-d tensor
    Returns ``(loss, forward_info)`` with ``forward_info`` holding X, N, P and y (as scratch).
    """
    X_batch, y_batch = _check_xy(X_batch, y_batch, "X_batch", "y_batch")
    _check_weights(weights, _lr_shapes(X_batch.shape[1]), X_batch.dtype)
    return _lr_forward(X_batch, y_batch, weights)


def linear_regression_loss_gradients(forward_info: TensorDict, weights: TensorDict) -> TensorDict:
    """Gradients of the batch loss with respect to ``W`` and ``B``, by ``torch.autograd``.

    Reads ``X`` and ``y`` from ``forward_info`` (the dict :func:`forward_linear_regression` returns), reruns
    the forward pass on leaf copies of the weights and differentiates it.
    backward: (autograd; mathematically dL/dW = Xᵀ @ (-2 (y - P) / n), dL/dB = Σ_rows -2 (y - P) / n)
    shapes:   dL/dW [k, 1], dL/dB [1, 1]
    """
    return _autograd_gradients(
        forward_info, weights, "forward_linear_regression (keys X, N, P, y)", lambda X: _lr_shapes(X.shape[1]), _lr_loss
    )


def predict_linear_regression(X: torch.Tensor, weights: TensorDict) -> torch.Tensor:
    """Predictions ``P = X @ W + B``; shapes X [n, k] -> P [n, 1]. No graph is recorded."""
    X = check_tensor(X, "X", 2, "[n, features]")
    _check_weights(weights, _lr_shapes(X.shape[1]), X.dtype)
    with torch.no_grad():
        return X @ weights["W"] + weights["B"]  # [n, k] @ [k, 1] + [1, 1] -> [n, 1]


def train_linear_regression(
    X: torch.Tensor,
    y: torch.Tensor,
    n_iter: int = 1000,
    learning_rate: float = 0.01,
    batch_size: int = 100,
    return_losses: bool = False,
    return_weights: bool = False,
    seed: int | None = 1,
    weights: TensorDict | None = None,
) -> LinearRegressionResult:
    """Train the linear model with ``torch.optim.SGD`` on autograd gradients; the twin of scratch's ``train``.

    Same arguments, batch order and random draws as ``scratch.linear_regression.train`` (see the module
    docstring), so from the same ``weights`` (or seed) and data both give the same losses and weights.
    shapes: X [n, k], y [n, 1]. Returns ``LinearRegressionResult(losses, weights)``; ``losses`` is filled
    only when ``return_losses`` is true; the trained weights are always returned.
    """
    X, y = _check_xy(X, y)
    n_iter = check_int(n_iter, "n_iter", 1)
    learning_rate = check_positive(learning_rate, "learning_rate")
    batch_size = check_int(batch_size, "batch_size", 1)
    rng = as_generator(seed, "seed")
    params = _initial_params(weights, _lr_shapes(X.shape[1]), X.dtype, rng)
    batches = _batches(X, y, n_iter, batch_size, rng)
    losses = _sgd(params, batches, _lr_loss, learning_rate, return_losses)
    return LinearRegressionResult(losses, {key: value.detach() for key, value in params.items()})
