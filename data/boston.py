"""Boston housing (chapters 2, 3 and 7), prepared exactly as the book prepares it.

Source: the copy of the data set shipped by ``mlxtend`` (``mlxtend.data.boston_housing_data``; install with
``pip install dlfs-parity[data]``): 506 rows, 13 features (CRIM ... LSTAT) and the target MEDV (median home
value in $1000s).

The book's preparation, reproduced by :func:`load_boston`:

1. ``StandardScaler().fit_transform(X)`` on ALL 506 rows (the book fits the scaler before splitting):
   each feature minus its mean, divided by its population standard deviation (``ddof=0``);
2. ``train_test_split(X, y, test_size=0.3, random_state=80718)``: 354 training and 152 test rows;
3. targets reshaped to column vectors ``(n, 1)``.

Step 2 is re-implemented here with NumPy so that only mlxtend is needed at run time. It is the same
algorithm as scikit-learn's ``ShuffleSplit`` (which ``train_test_split`` uses): ``n_test =
ceil(test_size * n)``, ``n_train = n - n_test``, one ``numpy.random.RandomState(random_state).permutation(n)``
whose first ``n_test`` entries are the test rows and the next ``n_train`` the training rows, in that order.
The legacy ``RandomState`` is used only to reproduce that split; the project's own randomness uses
``numpy.random.Generator``. The test suite checks the result against scikit-learn when it is installed.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from ._checks import check_fraction, check_size, describe

__all__ = [
    "BOOK_RANDOM_STATE",
    "BOOK_TEST_SIZE",
    "BOSTON_FEATURES",
    "load_boston",
    "load_boston_raw",
    "sklearn_style_split_indices",
]

BOSTON_FEATURES: Final = (
    "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT",
)  # fmt: skip
BOOK_TEST_SIZE: Final = 0.3
BOOK_RANDOM_STATE: Final = 80718

_N_ROWS = 506

Float64Array = npt.NDArray[np.float64]


def load_boston_raw() -> tuple[Float64Array, Float64Array]:
    """The unprocessed data set: ``X`` float64 ``(506, 13)`` and ``y`` (MEDV) float64 ``(506,)``.

    Needs ``mlxtend`` (``pip install dlfs-parity[data]``); returns fresh copies on every call.
    """
    try:
        from mlxtend.data import boston_housing_data
    except ImportError as exc:
        raise ImportError(
            "load_boston needs mlxtend, which ships the Boston housing data; install it with "
            "`pip install dlfs-parity[data]`"
        ) from exc
    X_raw, y_raw = boston_housing_data()
    X = np.array(X_raw, dtype=np.float64)
    y = np.array(y_raw, dtype=np.float64).reshape(-1)
    if X.shape != (_N_ROWS, len(BOSTON_FEATURES)) or y.shape != (_N_ROWS,):
        raise ValueError(
            f"mlxtend's boston_housing_data(): expected X of shape ({_N_ROWS}, {len(BOSTON_FEATURES)}) and "
            f"y of shape ({_N_ROWS},); received {X.shape} and {y.shape}"
        )
    return X, y


def sklearn_style_split_indices(n: int, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)`` exactly as ``sklearn.model_selection.train_test_split`` chooses them.

    For a float ``test_size`` and an int ``random_state`` (and the default ``shuffle=True``, no
    stratification): ``n_test = ceil(test_size * n)``, ``n_train = n - n_test``, ``perm =
    RandomState(random_state).permutation(n)``, test = ``perm[:n_test]``, train = ``perm[n_test:]``.
    """
    n = check_size(n, "n", minimum=2)
    fraction = check_fraction(test_size, "test_size")
    seed = check_size(random_state, "random_state", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"random_state must be < 2**32; received {seed}")
    n_test = math.ceil(fraction * n)
    n_train = n - n_test
    if n_train < 1:
        raise ValueError(f"test_size={fraction} leaves no training rows out of n={n}")
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def _standardize_columns(X: Float64Array) -> Float64Array:
    """``StandardScaler().fit_transform(X)``: per-column mean 0 and population std 1 (constant columns: 0)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0.0] = 1.0  # as scikit-learn does for constant features
    standardized: Float64Array = (X - mean) / std  # [n, k] - [k], / [k]
    return standardized


def load_boston(
    test_size: float = BOOK_TEST_SIZE,
    random_state: int = BOOK_RANDOM_STATE,
    standardize: bool = True,
) -> tuple[Float64Array, Float64Array, Float64Array, Float64Array]:
    """Boston housing prepared as in the book: ``(X_train, X_test, y_train, y_test)``, all float64.

    With the defaults: ``X_train (354, 13)``, ``X_test (152, 13)``, ``y_train (354, 1)``, ``y_test (152, 1)``.
    ``standardize=True`` standardises every feature on all 506 rows BEFORE the split (the book's order, so
    the test rows influence the scaling); the targets are never scaled. The split reproduces scikit-learn's
    ``train_test_split(X, y, test_size=test_size, random_state=random_state)`` row for row.
    """
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize must be a bool; received {describe(standardize)}")
    train_idx, test_idx = sklearn_style_split_indices(_N_ROWS, test_size, random_state)
    X, y = load_boston_raw()
    if standardize:
        X = _standardize_columns(X)
    return X[train_idx], X[test_idx], y[train_idx].reshape(-1, 1), y[test_idx].reshape(-1, 1)
