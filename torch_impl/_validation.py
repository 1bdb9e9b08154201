"""Input checks shared by every ``torch_impl`` component.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (right kind, wrong value
or shape) with a message that names the argument, what was expected and what was received, in the same
style as the NumPy package's checks. They never use ``assert``, which disappears under ``python -O``.

Checking that a tensor is finite reads one boolean back from the tensor's device; on a GPU that is a
synchronisation point, the price of a clear error instead of a silent NaN.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor, nn

#: The dtypes every torch_impl component computes in (the NumPy package accepts the same two).
FLOAT_DTYPES = (torch.float32, torch.float64)


def describe(x: Any) -> str:
    """A short description of ``x`` for error messages."""
    if isinstance(x, Tensor):
        return f"Tensor of dtype {x.dtype} and shape {tuple(x.shape)} on {x.device}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{type(x).__name__} of dtype {x.dtype} and shape {tuple(x.shape)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_tensor(
    x: Any,
    name: str,
    ndim: int | None = None,
    layout: str | None = None,
    *,
    allow_empty: bool = False,
    finite: bool = True,
) -> Tensor:
    """Return ``x`` unchanged if it is a non-empty, finite, floating-point tensor of the given ndim.

    ``layout`` is a human description of the expected axes (e.g. ``"[batch, features]"``) used in messages.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of floats; received {describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating-point dtype (torch.float32 or torch.float64); received dtype "
            f"{x.dtype} (convert with .float() or .double())"
        )
    if ndim is not None and x.dim() != ndim:
        axes = f" {layout}" if layout else ""
        raise ValueError(f"{name} must be a {ndim}-D tensor{axes}; received shape {tuple(x.shape)}")
    if not allow_empty:
        check_not_empty(tuple(x.shape), name, layout)
    # Exact and cheap: any NaN/inf makes the sum non-finite; only then (or when a sum of large finite
    # values overflows) is the element-wise check run. A plain torch.isfinite(x).all() costs more than
    # many of the operations it guards.
    if finite and x.numel() and not bool(torch.isfinite(x.detach().sum())) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must contain only finite values; received {bad} NaN/inf value(s)")
    return x


def check_not_empty(shape: tuple[int, ...], name: str, layout: str | None = None) -> None:
    """Raise ``ValueError`` for a 0-d shape or one with an empty axis, naming that axis (the NumPy package's
    wording): ``layout`` (e.g. ``"[batch, time, features]"``) names the axes, so an empty time axis is not
    reported as an empty batch."""
    if len(shape) == 0:
        raise ValueError(f"{name} must be a non-empty batch; received a 0-d tensor (a scalar), which has no batch axis")
    if 0 not in shape:
        return
    axis = shape.index(0)
    names = [part.strip() for part in layout.strip("[]").split(",")] if layout else []
    label = names[axis] if len(names) == len(shape) else ("batch" if axis == 0 else "")
    what = f"its {label} axis (axis {axis})" if label else f"axis {axis}"
    if axis == 0:
        raise ValueError(f"{name} must be a non-empty batch; received shape {shape}: {what} is empty")
    raise ValueError(f"{name} must have at least one entry along every axis; received shape {shape}: {what} is empty")


def check_matches(x: Tensor, name: str, reference: Tensor, what: str) -> None:
    """Raise ``TypeError`` unless ``x`` has the dtype and device of ``reference`` (described by ``what``)."""
    if x.dtype != reference.dtype:
        raise TypeError(
            f"{name} must have the dtype of {what} ({reference.dtype}); received dtype {x.dtype} "
            f"(convert with .to({reference.dtype}))"
        )
    if x.device != reference.device:
        raise TypeError(f"{name} must be on the device of {what} ({reference.device}); received a tensor on {x.device}")


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b} must have the same shape as {name_a} {tuple(a.shape)}; received shape {tuple(b.shape)}"
        )


def check_features(x: Tensor, name: str, expected: int, owner: str) -> None:
    """Raise ``ValueError`` unless the 2-D tensor ``x`` has ``expected`` columns (``owner`` explains why)."""
    if x.shape[1] != expected:
        raise ValueError(f"{name} must have {expected} features ({owner}); received shape {tuple(x.shape)}")


def check_module(value: Any, name: str, example: str) -> nn.Module:
    """Return ``value`` if it is an ``nn.Module`` instance (a module class gets a hint to instantiate it)."""
    if isinstance(value, type):
        raise TypeError(
            f"{name} must be an nn.Module instance such as {example}; received the class {value.__name__} "
            f"itself (add parentheses: {value.__name__}())"
        )
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be an nn.Module instance such as {example}; received {describe(value)}")
    return value


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


def check_lr(value: Any, name: str = "lr") -> float:
    """Return a learning rate (a real number > 0)."""
    return check_positive(value, name)


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
    """Return a momentum coefficient in [0, 1)."""
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


def check_generator(value: Any, name: str = "generator") -> torch.Generator | None:
    """Return ``value`` if it is a ``torch.Generator`` or ``None``."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or None; "
            f"received {describe(value)}"
        )
    return value


def check_one_hot(target: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``target`` is one-hot along its last dimension (0s and exactly one 1 per
    row); the message gives the index and the values of the first bad row (the NumPy package's wording)."""
    ones = target == 1
    valid = (ones | (target == 0)).all(dim=-1) & (ones.sum(dim=-1) == 1)  # target's shape less the last dim
    if not bool(valid.all()):
        index = tuple(int(i) for i in torch.nonzero(~valid)[0])
        where = ", ".join(str(i) for i in index)
        raise ValueError(
            f"{name} must be one-hot on its last axis (each row 0s and exactly one 1); {name}[{where}] is "
            f"{target[index].tolist()}"
        )
