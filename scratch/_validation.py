"""Input checks shared by every scratch component.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (right kind, wrong
value or shape) with a message that names the argument, what was expected and what was received. They
never use ``assert``, which disappears under ``python -O``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

#: The dtypes every scratch component computes in (the torch twins accept the same two).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray of dtype {x.dtype} and shape {x.shape}"
    if hasattr(x, "shape"):
        return f"{type(x).__name__} of shape {tuple(x.shape)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


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
        raise TypeError(f"{name} must be a numpy.ndarray of floats; received {_describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating-point dtype (float32 or float64); received dtype {x.dtype} "
            f"(convert with .astype(np.float64))"
        )
    if ndim is not None and x.ndim != ndim:
        axes = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be a {ndim}-D array{axes}; received shape {x.shape}")
    if not allow_empty:
        check_not_empty(x.shape, name, layout)
    if finite and not np.isfinite(x).all():
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name} must contain only finite values; received {bad} NaN/inf value(s)")
    return x


def check_not_empty(shape: tuple[int, ...], name: str, layout: str | None = None) -> None:
    """Raise ``ValueError`` for a 0-d shape or one with an empty axis, naming that axis.

    ``layout`` (e.g. ``"[batch, time, features]"``) gives the axes their names: an empty axis 1 of
    ``[batch, time, features]`` is reported as an empty time axis, not as an empty batch.
    """
    if len(shape) == 0:
        raise ValueError(f"{name} must be a non-empty batch; received a 0-d array (a scalar), which has no batch axis")
    if 0 not in shape:
        return
    axis = shape.index(0)
    names = [part.strip() for part in layout.strip("[]").split(",")] if layout else []
    label = names[axis] if len(names) == len(shape) else ("batch" if axis == 0 else "")
    what = f"its {label} axis (axis {axis})" if label else f"axis {axis}"
    if axis == 0:
        raise ValueError(f"{name} must be a non-empty batch; received shape {shape}: {what} is empty")
    raise ValueError(f"{name} must have at least one entry along every axis; received shape {shape}: {what} is empty")


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


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the same shape as {name_a} {a.shape}; received shape {b.shape}")


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number (bool excluded)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; received {_describe(value)}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite; received {value!r}")
    return out


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number > 0."""
    out = check_real(value, name)
    if out <= 0:
        raise ValueError(f"{name} must be > 0; received {value!r}")
    return out


def check_non_negative(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number >= 0."""
    out = check_real(value, name)
    if out < 0:
        raise ValueError(f"{name} must be >= 0; received {value!r}")
    return out


def check_keep_prob(value: Any, name: str = "keep_prob") -> float:
    """Return a keep probability in (0, 1]."""
    out = check_real(value, name)
    if not 0.0 < out <= 1.0:
        raise ValueError(f"{name} must be a keep probability in (0, 1]; received {value!r}")
    return out


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` if it is an integer (bool excluded) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; received {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; received {value!r}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[Any, ...]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices!r}; received {value!r}")
    return value


def check_one_hot(target: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless ``target`` is one-hot along its last axis (0s and exactly one 1 per row);
    the message gives the index and the values of the first bad row."""
    ones = target == 1
    valid = np.all(ones | (target == 0), axis=-1) & (ones.sum(axis=-1) == 1)  # target's shape less the last axis
    if not valid.all():
        index = tuple(int(i) for i in np.argwhere(~valid)[0])
        where = ", ".join(str(i) for i in index)
        raise ValueError(
            f"{name} must be one-hot on its last axis (each row 0s and exactly one 1); {name}[{where}] is "
            f"{target[index].tolist()}"
        )


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
            raise ValueError(
                f"{owner} parameter {name} must contain only finite values; received {bad} NaN/inf value(s) "
                f"(shape {value.shape})"
            )
    raise ValueError(
        f"{owner} output must be finite for finite inputs and parameters; received NaN/inf: a value overflowed "
        f"{output.dtype} (largest finite {np.finfo(output.dtype).max:.3g}) inside {owner}"
    )
