"""Comparing arrays under the tolerance table, with the tier and category chosen explicitly.

The metric is the max-norm relative error of ``parity_tests.tolerances``:

    err = max |got - want| / max |want|

with one rule for a zero reference: if ``want`` is all zero, the error is 0 when ``got`` is all zero too and
infinite otherwise (a relative error against nothing cannot be small). Shapes must be equal (no
broadcasting) and every value finite; a NaN or an infinity is a failure that names its index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from ..tolerances import TOLERANCES

Tier = Literal["float64", "float32"]
Category = Literal["forward", "gradient", "trajectory"]
TIERS: tuple[str, ...] = get_args(Tier)
CATEGORY_NAMES: tuple[str, ...] = get_args(Category)


def tolerance(dtype: str, category: str) -> float:
    """The tolerance table's entry for ``dtype`` (``"float64"``/``"float32"``) and ``category``
    (``"forward"``, ``"gradient"`` or ``"trajectory"``)."""
    if dtype not in TIERS:
        raise ValueError(f"dtype must be one of {TIERS}; received {dtype!r}")
    if category not in CATEGORY_NAMES:
        raise ValueError(f"category must be one of {CATEGORY_NAMES}; received {category!r}")
    return TOLERANCES[dtype][category]


def _as_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array (a torch tensor is detached and copied; integers are refused)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiub" or array.dtype == object:
        raise TypeError(f"{what} must be a numeric array or tensor; received dtype {array.dtype}")
    return array.astype(np.float64)


def relative_error(got: Any, want: Any, *, min_scale: float | None = None) -> float:
    """``max |got - want| / max |want|`` (the project's one metric; see the module docstring for a zero
    reference). ``inf`` for different shapes, ``nan`` if any value is not finite. With ``min_scale``, a
    reference whose largest magnitude is below it raises ``ValueError``: comparing against (near) zeros proves
    nothing."""
    g, w = _as_array(got, "got"), _as_array(want, "want")
    if min_scale is not None and (w.size == 0 or float(np.max(np.abs(w))) < min_scale):
        largest = float(np.max(np.abs(w))) if w.size else 0.0
        raise ValueError(
            f"the reference is near zero (max |want| = {largest:.3g} < {min_scale:g}): the comparison would prove "
            "nothing"
        )
    if g.shape != w.shape:
        return float("inf")
    if not (np.isfinite(g).all() and np.isfinite(w).all()):
        return float("nan")
    if g.size == 0:
        return 0.0
    diff = float(np.max(np.abs(g - w)))
    scale = float(np.max(np.abs(w)))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


@dataclass(frozen=True)
class Comparison:
    """One named result compared: ``got`` (scratch or your NumPy port) against ``want`` (torch)."""

    key: str
    category: str
    error: float  # relative_error(got, want); inf for a shape mismatch, nan for non-finite values
    tolerance: float
    worst_index: tuple[int, ...]
    got_value: float
    want_value: float
    scale: float  # max |want|
    note: str = ""
    labels: tuple[str, str] = ("scratch", "torch")

    @property
    def passed(self) -> bool:
        # Written so that a NaN error fails.
        return bool(self.error <= self.tolerance)

    def describe(self) -> str:
        """One line: what differs, where, both values, the error and the tolerance."""
        return f"{self.key}: {self.detail()}"

    def detail(self) -> str:
        """``describe`` without the key."""
        if self.note:
            return self.note
        got, want = self.labels
        return (
            f"error {self.error:.3e} > tolerance {self.tolerance:.0e} at index {self.worst_index}: "
            f"{got} {self.got_value!r} vs {want} {self.want_value!r} (reference scale {self.scale:.3e})"
        )


def compare(
    got: Any,
    want: Any,
    *,
    dtype: str,
    category: str,
    name: str = "value",
    labels: tuple[str, str] = ("numpy", "torch"),
) -> Comparison:
    """Compare ``got`` with the reference ``want`` under the tolerance of ``dtype`` and ``category``.

    ``dtype`` is the tier (``"float64"``: round-off of about 1e-16, tolerance 1e-12 for one call;
    ``"float32"``: 1e-5), ``category`` is ``"forward"`` (outputs of one call), ``"gradient"`` (one backward)
    or ``"trajectory"`` (after several steps). Arrays or tensors; the result says whether it passed
    (``.passed``) and, if not, where (``.describe()``: the worst index and both values).
    """
    tol = tolerance(dtype, category)
    g, w = _as_array(got, f"{name} ({labels[0]})"), _as_array(want, f"{name} ({labels[1]})")
    nan = float("nan")
    if g.shape != w.shape:
        note = f"shape mismatch: {labels[0]} {g.shape} vs {labels[1]} {w.shape}"
        return Comparison(name, category, float("inf"), tol, (), nan, nan, nan, note, labels)
    finite = np.isfinite(g) & np.isfinite(w)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        note = f"non-finite values at index {index}: {labels[0]} {float(g[index])} vs {labels[1]} {float(w[index])}"
        return Comparison(name, category, nan, tol, index, float(g[index]), float(w[index]), nan, note, labels)
    if g.size == 0:
        return Comparison(name, category, 0.0, tol, (), 0.0, 0.0, 0.0, "", labels)
    diff = np.abs(g - w)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
    return Comparison(
        name,
        category,
        relative_error(g, w),
        tol,
        index,
        float(g[index]),
        float(w[index]),
        float(np.max(np.abs(w))),
        "",
        labels,
    )


@dataclass
class ComparisonSet:
    """Several named comparisons (one model's results); ``passed`` when all passed."""

    title: str
    dtype: str
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    def max_error(self, category: str) -> float:
        errors = [c.error for c in self.comparisons if c.category == category]
        return max(errors) if errors else float("nan")

    def failure_message(self) -> str:
        lines = [f"parity failed for {self.title} in {self.dtype}:"]
        lines += ["  " + c.describe() for c in self.failures]
        return "\n".join(lines)


def compare_all(
    got: Mapping[str, Any],
    want: Mapping[str, Any],
    *,
    dtype: str,
    category: str,
    title: str = "results",
    labels: tuple[str, str] = ("numpy", "torch"),
) -> ComparisonSet:
    """``compare`` every key of two dicts in one category; a key on one side only is a failure."""
    result = ComparisonSet(title, dtype)
    tol = tolerance(dtype, category)
    nan = float("nan")
    for key in sorted(set(got) | set(want), key=str):
        if key not in got or key not in want:
            side = labels[0] if key not in got else labels[1]
            note = f"missing on the {side} side"
            result.comparisons.append(Comparison(key, category, float("inf"), tol, (), nan, nan, nan, note, labels))
            continue
        result.comparisons.append(compare(got[key], want[key], dtype=dtype, category=category, name=key, labels=labels))
    return result
