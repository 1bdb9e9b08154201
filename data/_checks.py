"""Argument checks shared by the whole library: ``data``, ``scratch`` and ``torch_impl`` (pure Python and NumPy).

One place for every check (and every error message) that does not depend on the array library, so that the
NumPy package and its torch twin say the same thing in the same words. ``scratch._validation`` and
``torch_impl._validation`` re-export these and add their array checks (``check_float_array`` /
``check_tensor``), which build their messages with the ``*_error`` functions below. ``data`` is the neutral
home: both packages already import it, and it imports neither of them (nor torch).

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong value or shape)
with a message that names the argument, what was expected and what was received; none uses ``assert``, which
disappears under ``python -O``. The ``*_error`` functions return the exception for the caller to raise, so a
check on a hot path pays for the message only when it fails.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "as_generator",
    "check_architecture",
    "check_choice",
    "check_decay",
    "check_fraction",
    "check_int",
    "check_keep_prob",
    "check_momentum",
    "check_non_negative",
    "check_not_empty",
    "check_pathlike",
    "check_positive",
    "check_real",
    "check_rows",
    "check_same_shape",
    "check_size",
    "check_weight_dict",
    "check_xy_columns",
    "conv_output_size",
    "conv_pads",
    "describe",
    "image_shape_error",
    "ndim_error",
    "non_finite_error",
    "one_hot_error",
    "output_overflow_error",
    "parameter_non_finite_error",
    "resolve_padding",
]


def describe(x: Any) -> str:
    """A short description of ``x`` for error messages: type, dtype, shape (and device) of an array or tensor,
    else the type and a repr cut to 60 characters."""
    if isinstance(x, np.ndarray):
        return f"ndarray of dtype {x.dtype} and shape {x.shape}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        device = getattr(x, "device", None)
        where = f" on {device}" if device is not None and not isinstance(device, str) else ""
        return f"{type(x).__name__} of dtype {x.dtype} and shape {tuple(x.shape)}{where}"
    if hasattr(x, "shape"):
        return f"{type(x).__name__} of shape {tuple(x.shape)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


# ---------------------------------------------------------------------------------------------------------
# Scalars and choices
# ---------------------------------------------------------------------------------------------------------


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number (bool excluded)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; received {describe(value)}")
    out = float(value)
    if not math.isfinite(out):
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


def check_momentum(value: Any, name: str = "momentum") -> float:
    """Return a coefficient in [0, 1) (a momentum, one of Adam's betas)."""
    out = check_real(value, name)
    if not 0.0 <= out < 1.0:
        raise ValueError(f"{name} must be in [0, 1); received {value!r}")
    return out


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` if it is an integer (bool excluded) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; received {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; received {value!r}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[Any, ...]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices!r}; received {value!r}")
    return value


def check_decay(decay_type: Any, lr: float, final_lr: float, choices: tuple[Any, ...]) -> Any:
    """Return ``decay_type`` if it is one of ``choices`` and the book's decay from ``lr`` to ``final_lr`` (both
    already checked) is possible: ``final_lr <= lr``, and ``final_lr > 0`` for exponential decay."""
    decay_type = check_choice(decay_type, "decay_type", choices)
    if decay_type is not None and final_lr > lr:
        raise ValueError(f"final_lr must be <= lr for decay (lr={lr}); received final_lr={final_lr!r}")
    if decay_type == "exponential" and final_lr == 0:
        raise ValueError("final_lr must be > 0 for exponential decay; received final_lr=0")
    return decay_type


def as_generator(
    rng_or_seed: np.random.Generator | np.random.RandomState | int | None, name: str = "rng_or_seed"
) -> np.random.Generator | np.random.RandomState:
    """``rng_or_seed`` itself if it is a ``np.random.Generator`` (or a legacy ``RandomState``, drawn from in
    place), else ``np.random.default_rng(rng_or_seed)`` for a seed (an integer >= 0) or ``None``."""
    if isinstance(rng_or_seed, np.random.Generator | np.random.RandomState):
        return rng_or_seed
    if rng_or_seed is None:
        return np.random.default_rng()
    return np.random.default_rng(check_int(rng_or_seed, name, 0))


# ---------------------------------------------------------------------------------------------------------
# Shapes and array messages (the array checks themselves live with their array library)
# ---------------------------------------------------------------------------------------------------------


def check_not_empty(shape: tuple[int, ...], name: str, layout: str | None = None, kind: str = "array") -> None:
    """Raise ``ValueError`` for a 0-d shape or one with an empty axis, naming that axis.

    ``layout`` (e.g. ``"[batch, time, features]"``) gives the axes their names: an empty axis 1 of
    ``[batch, time, features]`` is reported as an empty time axis, not as an empty batch. ``kind`` is what the
    message calls the value (``"array"``, ``"tensor"``).
    """
    if len(shape) == 0:
        raise ValueError(f"{name} must be a non-empty batch; received a 0-d {kind} (a scalar), which has no batch axis")
    if 0 not in shape:
        return
    axis = shape.index(0)
    names = [part.strip() for part in layout.strip("[]").split(",")] if layout else []
    label = names[axis] if len(names) == len(shape) else ("batch" if axis == 0 else "")
    what = f"its {label} axis (axis {axis})" if label else f"axis {axis}"
    if axis == 0:
        raise ValueError(f"{name} must be a non-empty batch; received shape {shape}: {what} is empty")
    raise ValueError(f"{name} must have at least one entry along every axis; received shape {shape}: {what} is empty")


def check_same_shape(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless the arrays (or tensors) ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b} must have the same shape as {name_a} {tuple(a.shape)}; received shape {tuple(b.shape)}"
        )


def ndim_error(name: str, ndim: int, layout: str | None, shape: tuple[int, ...], kind: str = "array") -> ValueError:
    """The error for an array (or tensor: ``kind``) of the wrong rank; ``layout`` names the expected axes."""
    axes = f" {layout}" if layout else ""
    return ValueError(f"{name} must be a {ndim}-D {kind}{axes}; received shape {shape}")


def non_finite_error(name: str, bad: int) -> ValueError:
    """The error for an input holding ``bad`` NaN/inf values."""
    return ValueError(f"{name} must contain only finite values; received {bad} NaN/inf value(s)")


def parameter_non_finite_error(owner: str, name: str, bad: int, shape: tuple[int, ...]) -> ValueError:
    """The error for a parameter of ``owner`` holding ``bad`` NaN/inf values (the cause of a non-finite output)."""
    return ValueError(
        f"{owner} parameter {name} must contain only finite values; received {bad} NaN/inf value(s) (shape {shape})"
    )


def output_overflow_error(owner: str, dtype: Any, largest: float) -> ValueError:
    """The error for a non-finite output of ``owner`` from finite inputs and parameters: an overflow of ``dtype``
    (whose largest finite value is ``largest``)."""
    return ValueError(
        f"{owner} output must be finite for finite inputs and parameters; received NaN/inf: a value overflowed "
        f"{dtype} (largest finite {largest:.3g}) inside {owner}"
    )


def one_hot_error(name: str, index: tuple[int, ...], row: Any) -> ValueError:
    """The error for a target that is not one-hot on its last axis; ``row`` holds the values at ``index``."""
    where = ", ".join(str(i) for i in index)
    return ValueError(
        f"{name} must be one-hot on its last axis (each row 0s and exactly one 1); {name}[{where}] is {row}"
    )


def image_shape_error(name: str, image_shape: tuple[int, int, int], shape: tuple[int, ...]) -> ValueError:
    """The error for a batch of images whose per-sample shape is not ``image_shape`` ``(C, H, W)``."""
    c, h, w = image_shape
    return ValueError(
        f"{name} must have image shape [batch, {c}, {h}, {w}] (image_shape={image_shape}); received shape {shape}"
    )


# ---------------------------------------------------------------------------------------------------------
# Model arguments shared by a scratch model and its torch twin
# ---------------------------------------------------------------------------------------------------------


def check_architecture(
    hidden_channels: Any, kernel_size: Any, encoding_size: Any, image_shape: Any
) -> tuple[tuple[int, int], int, int, tuple[int, int, int]]:
    """The autoencoders' constructor arguments (chapter 7, both packages) as ``((C1, C2), k, E, (C, H, W))``:
    a pair of channel counts, an odd kernel size (padding k // 2 keeps the image size only for odd k), an
    encoding size and an image shape, every entry an integer >= 1."""
    if isinstance(hidden_channels, (str, bytes)) or not isinstance(hidden_channels, Sequence):
        raise TypeError(f"hidden_channels must be a pair of integers (C1, C2); received {describe(hidden_channels)}")
    if len(hidden_channels) != 2:
        raise ValueError(f"hidden_channels must be a pair of integers (C1, C2); received {tuple(hidden_channels)!r}")
    c1 = check_int(hidden_channels[0], "hidden_channels[0]", 1)
    c2 = check_int(hidden_channels[1], "hidden_channels[1]", 1)
    k = check_int(kernel_size, "kernel_size", 1)
    if k % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd (padding k // 2 keeps the image size only for odd k); received {kernel_size}"
        )
    enc = check_int(encoding_size, "encoding_size", 1)
    if isinstance(image_shape, (str, bytes)) or not isinstance(image_shape, Sequence) or len(image_shape) != 3:
        raise TypeError(f"image_shape must be a triple of integers (C, H, W); received {describe(image_shape)}")
    c, h, w = (check_int(d, f"image_shape[{i}]", 1) for i, d in enumerate(image_shape))
    return (c1, c2), k, enc, (c, h, w)


def check_xy_columns(x_shape: tuple[int, ...], y_shape: tuple[int, ...], name_x: str, name_y: str) -> None:
    """Raise ``ValueError`` unless the 2-D ``y`` is a column ``[n, 1]`` with as many rows as the 2-D ``X`` (the
    chapter 2 models' data, both packages)."""
    if y_shape[1] != 1:
        raise ValueError(f"{name_y} must be a column vector of shape [n, 1]; received shape {y_shape}")
    if y_shape[0] != x_shape[0]:
        raise ValueError(f"{name_y} must have as many rows as {name_x} ({x_shape[0]}); received shape {y_shape}")


def check_weight_dict(
    weights: Any, shapes: dict[str, tuple[int, int]], check_value: Callable[[Any, str], Any], name: str = "weights"
) -> dict[str, Any]:
    """Return ``weights`` if it is a dict with exactly the keys of ``shapes``, each value passing
    ``check_value(value, label)`` (the array library's own check: type, dtype) and then of that shape (the
    chapter 2 models' weights, both packages)."""
    if not isinstance(weights, dict):
        raise TypeError(f"{name} must be a dict with keys {sorted(shapes)}; received {describe(weights)}")
    if set(weights) != set(shapes):
        raise ValueError(f"{name} must have exactly the keys {sorted(shapes)}; received {sorted(weights)}")
    for key, shape in shapes.items():
        label = f"{name}[{key!r}]"
        value = check_value(weights[key], label)
        if tuple(value.shape) != shape:
            raise ValueError(f"{label} must have shape {shape}; received shape {tuple(value.shape)}")
    return weights


# ---------------------------------------------------------------------------------------------------------
# Convolution geometry shared by the twins (pure integer arithmetic on checked arguments)
# ---------------------------------------------------------------------------------------------------------

PADDING_HELP = "None (the book's kernel_size // 2), an integer >= 0 or 'same'"


def resolve_padding(padding: Any, kernel_size: int, stride: int = 1) -> int | str:
    """The padding a convolution uses: ``None`` -> ``kernel_size // 2`` (the book's); an int ``p >= 0`` -> ``p``
    zeros on every side; ``"same"`` (torch's: the output keeps the input's size), which requires ``stride == 1``.
    Raises ``TypeError`` / ``ValueError`` naming ``padding`` otherwise."""
    if padding is None:
        return kernel_size // 2
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"padding must be {PADDING_HELP}; received {padding!r}")
        if stride != 1:
            raise ValueError(
                f"padding='same' requires stride=1 (torch's rule: the output could not keep the input's size); "
                f"received stride={stride}"
            )
        return "same"
    if isinstance(padding, bool) or not isinstance(padding, Integral):
        raise TypeError(f"padding must be {PADDING_HELP}; received {describe(padding)}")
    if padding < 0:
        raise ValueError(f"padding must be {PADDING_HELP}; received {padding!r}")
    return int(padding)


def conv_pads(padding: Any, kernel_size: int, stride: int = 1) -> tuple[int, int]:
    """Zeros ``(before, after)`` added along each spatial axis: ``(p, p)`` for an int padding p (``None``: the
    book's ``p = kernel_size // 2``), ``((k - 1) // 2, k // 2)`` for ``"same"`` (torch's split for an even k)."""
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    resolved = resolve_padding(padding, kernel_size, check_int(stride, "stride", 1))
    if isinstance(resolved, str):  # "same"
        return (kernel_size - 1) // 2, kernel_size // 2
    return resolved, resolved


def conv_output_size(size: int, kernel_size: int, padding: Any = None, stride: int = 1) -> int:
    """Output length along one axis: ``floor((size + before + after - kernel_size) / stride) + 1`` with the pads
    of :func:`conv_pads`. ``ValueError`` when the kernel is larger than the padded input."""
    size = check_int(size, "size", 1)
    before, after = conv_pads(padding, kernel_size, stride)
    padded = size + before + after
    if padded < kernel_size:
        resolved = resolve_padding(padding, kernel_size, stride)
        raise ValueError(
            f"size must be at least {kernel_size} once padded (kernel_size={kernel_size}, padding={resolved!r}); "
            f"received size {size}, {padded} once padded"
        )
    return (padded - kernel_size) // stride + 1


# ---------------------------------------------------------------------------------------------------------
# The data package's own argument checks
# ---------------------------------------------------------------------------------------------------------


def check_size(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (bool excluded) and ``>= minimum`` (a count, an index or
    a seed of the ``data`` package)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; received {describe(value)}")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; received {out}")
    return out


def check_fraction(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float in the open interval (0, 1); received {describe(value)}")
    out = float(value)
    if not 0.0 < out < 1.0:
        raise ValueError(f"{name} must be a float in the open interval (0, 1); received {value!r}")
    return out


def check_rows(x: Any, name: str) -> np.ndarray:
    """Return ``x`` if it is an ndarray with at least one axis (rows along axis 0)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; received {describe(x)}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (rows along axis 0); received a 0-D array")
    return x


def check_pathlike(value: Any, name: str) -> Path:
    """``value`` as a ``Path`` (``~`` expanded) if it is a str or an ``os.PathLike``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike path; received {describe(value)}")
    return Path(os.fspath(value)).expanduser()
