"""Input checks shared by every ``torch_impl`` component.

Every check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (right kind, wrong value
or shape) with a message that names the argument, what was expected and what was received, in the NumPy
package's words: the checks that do not depend on the array library come from ``data._checks`` (re-exported
here), shared with ``scratch``; this module adds the tensor checks. They never use ``assert``, which
disappears under ``python -O``.

Finiteness is checked at the boundary a user calls, not inside it. Checking that a tensor is finite reads
one boolean back from the tensor's device (on a GPU a synchronisation point), so only the OUTERMOST
``torch_impl`` forward in a call (the model, or a layer called on its own) checks that its inputs are finite
and, once it has run, that its output is: ``boundary`` marks every component's ``forward``, and
``check_tensor`` skips the finiteness read inside a nested component (types, dtypes, shapes and devices are
metadata and are always checked). A non-finite output from finite inputs is diagnosed before it is reported:
the first non-finite parameter by name (a NaN weight is reported as the weight, not as the next layer's input),
else an overflow inside the component. Per forward that is two reads whatever the depth of the model, where
every layer and activation used to read one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from data import _checks
from data._checks import *  # noqa: F403 - the checks shared with scratch: data._checks.__all__
from data._checks import check_not_empty

#: The dtypes every torch_impl component computes in (the NumPy package accepts the same two).
FLOAT_DTYPES = (torch.float32, torch.float64)

_calls = threading.local()  # .depth: how many torch_impl forwards are running in this thread
F = TypeVar("F", bound=Callable[..., Any])


def _depth() -> int:
    return int(getattr(_calls, "depth", 0))


def _all_finite(tensors: list[Tensor]) -> bool:
    """Whether every element of ``tensors`` is finite, with one read from the device in the common case.

    Any NaN/inf makes a sum non-finite; only then (or when a sum of large finite values overflows) are the
    elements checked one by one. A plain ``torch.isfinite(x).all()`` costs more than many of the operations
    it guards.
    """
    tensors = [t.detach() for t in tensors if t.numel()]
    if not tensors:
        return True
    sums = [t.sum() for t in tensors]
    total = sums[0] if len(sums) == 1 else torch.stack([s.to(torch.float64) for s in sums]).sum()
    if bool(torch.isfinite(total)):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _diagnose_output(module: nn.Module, owner: str, outputs: list[Tensor]) -> None:
    """Raise the clearest ``ValueError`` for a non-finite output of ``module`` computed from finite inputs."""
    for name, param in module.named_parameters():
        if param.is_floating_point() and not bool(torch.isfinite(param).all()):
            raise _checks.parameter_non_finite_error(
                owner, name, int((~torch.isfinite(param)).sum()), tuple(param.shape)
            )
    for name, buffer in module.named_buffers():
        if buffer.is_floating_point() and not bool(torch.isfinite(buffer).all()):
            raise ValueError(f"{owner} state {name} must contain only finite values; received NaN/inf value(s)")
    dtype = next((t.dtype for t in outputs), torch.float64)
    raise _checks.output_overflow_error(owner, dtype, torch.finfo(dtype).max)


def boundary(*, check_output: bool = True) -> Callable[[F], F]:
    """Mark a component's ``forward``: when it is the outermost ``torch_impl`` forward running, the finiteness
    checks of its inputs run (``check_tensor``) and, if ``check_output``, its output is checked afterwards
    (diagnosed by ``_diagnose_output``). Nested inside another component, only metadata is checked."""

    def decorate(forward: F) -> F:
        @functools.wraps(forward)
        def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
            depth = _depth()
            _calls.depth = depth + 1
            try:
                out = forward(self, *args, **kwargs)
            finally:
                _calls.depth = depth
            if depth == 0 and check_output:
                outputs = [t for t in (out if isinstance(out, tuple | list) else (out,)) if isinstance(t, Tensor)]
                floats = [t for t in outputs if t.is_floating_point()]
                if not _all_finite(floats):
                    _diagnose_output(self, type(self).__name__, floats)
            return out

        wrapper.__dlfs_boundary__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


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
        raise TypeError(f"{name} must be a torch.Tensor of floats; received {_checks.describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating-point dtype (torch.float32 or torch.float64); received dtype "
            f"{x.dtype} (convert with .float() or .double())"
        )
    if ndim is not None and x.dim() != ndim:
        raise _checks.ndim_error(name, ndim, layout, tuple(x.shape), "tensor")
    if not allow_empty:
        check_not_empty(tuple(x.shape), name, layout, "tensor")
    # Only at the boundary a user called (see the module docstring): inside a nested component the value was
    # computed from checked inputs, and the outermost component checks the output.
    if finite and _depth() <= 1 and not _all_finite([x]):
        raise _checks.non_finite_error(name, int((~torch.isfinite(x)).sum()))
    return x


def check_matches(x: Tensor, name: str, reference: Tensor, what: str) -> None:
    """Raise ``TypeError`` unless ``x`` has the dtype and device of ``reference`` (described by ``what``)."""
    if x.dtype != reference.dtype:
        raise TypeError(
            f"{name} must have the dtype of {what} ({reference.dtype}); received dtype {x.dtype} "
            f"(convert with .to({reference.dtype}))"
        )
    if x.device != reference.device:
        raise TypeError(f"{name} must be on the device of {what} ({reference.device}); received a tensor on {x.device}")


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
        raise TypeError(f"{name} must be an nn.Module instance such as {example}; received {_checks.describe(value)}")
    return value


def check_lr(value: Any, name: str = "lr") -> float:
    """Return a learning rate (a real number > 0)."""
    return _checks.check_positive(value, name)


def check_generator(value: Any, name: str = "generator") -> torch.Generator | None:
    """Return ``value`` if it is a ``torch.Generator`` or ``None``."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or None; "
            f"received {_checks.describe(value)}"
        )
    return value


def check_one_hot(target: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``target`` is one-hot along its last dimension (0s and exactly one 1 per
    row); the message gives the index and the values of the first bad row (the NumPy package's wording)."""
    ones = target == 1
    valid = (ones | (target == 0)).all(dim=-1) & (ones.sum(dim=-1) == 1)  # target's shape less the last dim
    if not bool(valid.all()):
        index = tuple(int(i) for i in torch.nonzero(~valid)[0])
        raise _checks.one_hot_error(name, index, target[index].tolist())
