"""Regression metrics used to report the book's Boston results (chapters 2 and 3)."""

from __future__ import annotations

import numpy as np

from ._validation import check_float_array, check_same_shape

__all__ = ["mae", "rmse"]


def _check_pair(preds: np.ndarray, actuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    preds = check_float_array(preds, "preds")
    actuals = check_float_array(actuals, "actuals")
    check_same_shape(preds, actuals, "preds", "actuals")
    return preds, actuals


def mae(preds: np.ndarray, actuals: np.ndarray) -> float:
    """Mean absolute error over every element.

    MAE = mean(|p - y|)          shapes: preds and actuals equal (e.g. [n, 1]); a shape mismatch is a
    ValueError (no broadcasting: [n] against [n, 1] would silently average n² differences).
    """
    preds, actuals = _check_pair(preds, actuals)
    return float(np.mean(np.abs(preds - actuals)))


def rmse(preds: np.ndarray, actuals: np.ndarray) -> float:
    """Root mean squared error over every element.

    RMSE = sqrt(mean((p - y)²))  shapes: preds and actuals equal; a shape mismatch is a ValueError.
    """
    preds, actuals = _check_pair(preds, actuals)
    return float(np.sqrt(np.mean(np.power(preds - actuals, 2))))
