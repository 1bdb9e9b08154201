"""Batching helpers shared by the scratch ``Trainer`` and the PyTorch trainer.

Both trainers draw their batches from these functions so that, given the same seed, they see exactly the
same rows in exactly the same order:

* once per epoch, each trainer calls :func:`epoch_order` with its own ``numpy.random.Generator`` (seeded
  identically in both), and nothing else in the epoch consumes randomness from that generator;
* it then calls :func:`iterate_batches` on the ORIGINAL, unshuffled arrays with that order. (The book's
  ``permute_data`` re-permutes the previous epoch's shuffled copy; indexing the original arrays with a fresh
  permutation has the same distribution and is what both implementations here do.)

Batches follow the book's ``generate_batches``: consecutive slices of ``batch_size`` rows, in order, the
last batch possibly smaller.

Inputs are checked eagerly: bad arguments raise ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (right kind, wrong value or shape) with a message naming the argument, what was expected and
what was received.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ._checks import check_rows, check_size, describe

__all__ = ["batch_slices", "epoch_order", "iterate_batches", "one_hot"]


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def one_hot(labels: npt.ArrayLike, num_classes: int | None = None, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """One-hot encode integer class labels.

    Parameters
    ----------
    labels:
        1-D array-like of non-negative integer labels, shape ``(n,)``. Floating-point arrays are accepted
        only if every value is integral (e.g. ``3.0``).
    num_classes:
        Number of columns. ``None`` uses ``labels.max() + 1`` (which needs at least one label).
    dtype:
        dtype of the result (``float64`` by default, as the book's losses expect).

    Returns
    -------
    ndarray of shape ``(n, num_classes)`` with a single 1 per row.

    Raises
    ------
    TypeError
        ``labels`` is not numeric (strings, booleans, objects), contains non-integral floats (or NaN/inf),
        or ``num_classes`` is not an int.
    ValueError
        ``labels`` is not 1-D, contains negative labels or labels ``>= num_classes``, ``num_classes < 1``,
        or ``labels`` is empty and ``num_classes`` is ``None``.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"labels must hold integers (an integer dtype, or floats with integral values); received {describe(arr)}"
        )
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of shape (n,); received shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        finite = ~bad
        bad[finite] = arr[finite] != np.floor(arr[finite])
        if bad.any():
            raise TypeError(
                f"labels must have integral values; received dtype {arr.dtype} with {int(bad.sum())} "
                f"non-integral value(s), e.g. {arr[bad][0]!r}"
            )
    if arr.size and arr.min() < 0:
        raise ValueError(f"labels must be >= 0; received a minimum label of {arr.min()!r}")
    if num_classes is None:
        if arr.size == 0:
            raise ValueError("num_classes must be given when labels is empty; received num_classes=None")
        k = int(arr.max()) + 1
    else:
        k = check_size(num_classes, "num_classes", minimum=1)
        if arr.size and arr.max() >= k:
            raise ValueError(f"labels must be < num_classes={k}; received a maximum label of {arr.max()!r}")
    int_labels = arr.astype(np.int64)
    out = np.zeros((int_labels.size, k), dtype=dtype)
    out[np.arange(int_labels.size), int_labels] = 1
    return out


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Consecutive slices covering ``range(n)`` in order, ``batch_size`` rows each.

    The last slice may be shorter (the book's ``generate_batches`` behaviour): ``batch_slices(10, 4)`` is
    ``[slice(0, 4), slice(4, 8), slice(8, 10)]``. ``n == 0`` gives an empty list.
    """
    n = check_size(n, "n", minimum=0)
    batch_size = check_size(batch_size, "batch_size", minimum=1)
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def epoch_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """The row order for one epoch: ``rng.permutation(n)``.

    This is the ONLY source of shuffling randomness in training: the scratch ``Trainer`` and the PyTorch
    trainer each call it exactly once at the start of every epoch (with generators seeded identically), and
    pass the result to :func:`iterate_batches` together with the original, unshuffled arrays. Two
    generators created with the same seed therefore give both trainers identical batches.
    """
    n = check_size(n, "n", minimum=0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); received {describe(rng)}"
        )
    return rng.permutation(n)


def _check_order(order: Any, n: int) -> np.ndarray:
    if not isinstance(order, np.ndarray):
        raise TypeError(f"order must be a numpy.ndarray of row indices (or None); received {describe(order)}")
    if order.dtype.kind not in "iu":
        raise TypeError(f"order must have an integer dtype; received dtype {order.dtype}")
    if order.shape != (n,):
        raise ValueError(
            f"order must be a permutation of range({n}) with shape ({n},) to match X and y; "
            f"received shape {order.shape}"
        )
    if n and (order.min() < 0 or order.max() >= n or np.unique(order).size != n):
        raise ValueError(
            f"order must be a permutation of range({n}) (every row exactly once); received indices "
            f"in [{order.min()}, {order.max()}] with {np.unique(order).size} distinct value(s)"
        )
    return order


def iterate_batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs of ``batch_size`` rows, the last possibly smaller.

    With ``order=None`` the rows come in their stored order and each batch is a view (no copy). With an
    ``order`` (typically from :func:`epoch_order`) batch ``i`` holds the same values as
    ``X[order][s_i], y[order][s_i]`` for the slices ``s_i`` of :func:`batch_slices`, but only the rows of
    that batch are gathered: the whole array is never copied.

    Arguments are validated immediately (not at the first ``next``): ``X`` and ``y`` must be ndarrays
    with the same number of rows, ``batch_size`` an int >= 1, and ``order`` a permutation of
    ``range(len(X))``.
    """
    X = check_rows(X, "X")
    y = check_rows(y, "y")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"y must have the same number of rows as X ({X.shape[0]}); received {y.shape[0]} rows "
            f"(X shape {X.shape}, y shape {y.shape})"
        )
    slices = batch_slices(X.shape[0], batch_size)
    if order is not None:
        order = _check_order(order, X.shape[0])
    return _generate(X, y, slices, order)


def _generate(
    X: np.ndarray, y: np.ndarray, slices: list[slice], order: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for s in slices:
        if order is None:
            yield X[s], y[s]
        else:
            rows = order[s]
            yield X[rows], y[rows]
