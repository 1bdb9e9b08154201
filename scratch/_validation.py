"""Input checks shared by every scratch component.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (right kind, wrong
value or shape) with a message that names the argument, what was expected and what was received. They
never use ``assert``, which disappears under ``python -O``.

The checks that do not depend on the array library (scalars, choices, empty axes, shapes) are the ones the
torch twins use too, from ``data._checks`` (re-exported here); this module adds the NumPy array checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from data import _checks
from data._checks import *  # noqa: F403 - the checks shared with torch_impl: data._checks.__all__
from data._checks import check_not_empty

#: The dtypes every scratch component computes in (the torch twins accept the same two).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_describe = _checks.describe  # the name the scratch modules import


def check_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    layout: str | None = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Return ``x`` unchanged if it is a non-empty, finite, floating-point ndarray of the given ndim.

    ``layout`` is a human description of the expected axes (e.g. ``"[batch, features]"``) used in messages.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of floats; received {_checks.describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating-point dtype (float32 or float64); received dtype {x.dtype} "
            f"(convert with .astype(np.float64))"
        )
    if ndim is not None and x.ndim != ndim:
        raise _checks.ndim_error(name, ndim, layout, x.shape)
    if not allow_empty:
        check_not_empty(x.shape, name, layout)
    if finite and not np.isfinite(x).all():
        raise _checks.non_finite_error(name, int(x.size - np.count_nonzero(np.isfinite(x))))
    return x


def check_dtype_matches(x: np.ndarray, name: str, reference: np.ndarray, what: str) -> None:
    """Raise ``TypeError`` unless ``x`` has the dtype of ``reference`` (described by ``what``).

    The package never casts silently between float32 and float64: the message names both dtypes and the
    conversion, as the torch twins' ``check_matches`` does.
    """
    if x.dtype != reference.dtype:
        raise TypeError(
            f"{name} must have the dtype of {what} ({reference.dtype}); received dtype {x.dtype} "
            f"(convert with .astype(np.{reference.dtype}))"
        )


def check_one_hot(target: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless ``target`` is one-hot along its last axis (0s and exactly one 1 per row);
    the message gives the index and the values of the first bad row."""
    ones = target == 1
    valid = np.all(ones | (target == 0), axis=-1) & (ones.sum(axis=-1) == 1)  # target's shape less the last axis
    if not valid.all():
        index = tuple(int(i) for i in np.argwhere(~valid)[0])
        raise _checks.one_hot_error(name, index, target[index].tolist())


def check_output_finite(output: np.ndarray, owner: str, params: Callable[[], Mapping[str, np.ndarray]]) -> None:
    """Raise ``ValueError`` if ``output`` (computed from finite inputs) is not finite, naming the cause: the
    first non-finite parameter by name, else an overflow inside ``owner``. A NaN weight is reported as the
    weight, not as the next layer's input (the torch twins' boundary check says the same). ``params`` is only
    called on that failure path."""
    if np.isfinite(output).all():
        return
    for name, value in params().items():
        if not np.isfinite(value).all():
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            raise _checks.parameter_non_finite_error(owner, name, bad, value.shape)
    raise _checks.output_overflow_error(owner, output.dtype, float(np.finfo(output.dtype).max))
