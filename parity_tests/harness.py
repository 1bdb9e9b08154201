"""The parity harness: run one spec case in both implementations and compare every result.

``run_case(spec, case, dtype)`` draws a ``Problem`` (random non-zero inputs, parameters in the book's
layout, a random upstream gradient) from a seeded generator, runs scratch and torch on it, and compares
every named result (outputs, input gradients, every parameter gradient, trajectories) with the tolerance
table. A failure message names the tensor, the worst index, both values, the error and the tolerance.

This module imports torch only inside the torch-side helpers, so the numpy-only test sessions can use
the rest of it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .tolerances import DEGENERATE_SCALE, category_of, tolerance_for

if TYPE_CHECKING:
    import torch

    from .specs.base import Case, ComponentSpec

DTYPES = ("float64", "float32")


class DegenerateCaseError(AssertionError):
    """A reference array is (near) zero, so the comparison would prove nothing."""


@dataclass(frozen=True)
class Comparison:
    """One named result compared between scratch (``got``) and torch (``want``)."""

    key: str
    category: str
    error: float  # max |got - want| / max |want|; inf for a shape mismatch, nan for NaN values
    tolerance: float
    worst_index: tuple[int, ...]
    got_value: float
    want_value: float
    scale: float  # max |want|
    note: str = ""

    @property
    def passed(self) -> bool:
        # Written so that a NaN error fails.
        return bool(self.error <= self.tolerance)

    def describe(self) -> str:
        if self.note:
            return f"{self.key}: {self.note}"
        return (
            f"{self.key}: error {self.error:.3e} > tolerance {self.tolerance:.0e} at index {self.worst_index}: "
            f"scratch {self.got_value!r} vs torch {self.want_value!r} (reference scale {self.scale:.3e})"
        )


def compare_arrays(key: str, got: np.ndarray, want: np.ndarray, dtype: str) -> Comparison:
    """Compare one scratch array with its torch reference under the tolerance table."""
    tol = tolerance_for(dtype, key)
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    category = category_of(key)
    if got.shape != want.shape:
        return Comparison(
            key,
            category,
            float("inf"),
            tol,
            (),
            np.nan,
            np.nan,
            np.nan,
            note=f"shape mismatch: scratch {got.shape} vs torch {want.shape}",
        )
    if not (np.isfinite(got).all() and np.isfinite(want).all()):
        bad = np.argwhere(~(np.isfinite(got) & np.isfinite(want)))
        index = tuple(int(i) for i in bad[0])
        return Comparison(
            key,
            category,
            float("nan"),
            tol,
            index,
            float(got[index]),
            float(want[index]),
            np.nan,
            note=f"non-finite values at index {index}: scratch {float(got[index])} vs torch {float(want[index])}",
        )
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    diff = np.abs(got - want)
    flat = int(np.argmax(diff)) if diff.size else 0
    index = tuple(int(i) for i in np.unravel_index(flat, diff.shape)) if diff.size else ()
    err = float(diff.reshape(-1)[flat]) / scale if scale > 0 else (0.0 if not diff.any() else float("inf"))
    return Comparison(
        key,
        category,
        err,
        tol,
        index,
        float(got[index]) if diff.size else 0.0,
        float(want[index]) if diff.size else 0.0,
        scale,
    )


@dataclass
class CaseResult:
    """All comparisons of one spec case in one dtype."""

    spec: str
    case: str
    dtype: str
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    def max_error(self, category: str) -> float:
        errors = [c.error for c in self.comparisons if c.category == category]
        return max(errors) if errors else float("nan")

    def failure_message(self) -> str:
        lines = [f"parity failed for {self.spec}[{self.case}] in {self.dtype}:"]
        lines += ["  " + c.describe() for c in self.comparisons if not c.passed]
        return "\n".join(lines)


def compare_results(
    spec: str, case: str, dtype: str, got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray]
) -> CaseResult:
    """Compare every key of two result dicts; keys present on one side only are failures."""
    result = CaseResult(spec, case, dtype)
    for key in sorted(set(got) | set(want)):
        if key not in got or key not in want:
            side = "scratch" if key not in got else "torch"
            result.comparisons.append(
                Comparison(
                    key,
                    category_of(key),
                    float("inf"),
                    tolerance_for(dtype, key),
                    (),
                    np.nan,
                    np.nan,
                    np.nan,
                    note=f"missing on the {side} side",
                )
            )
            continue
        result.comparisons.append(compare_arrays(key, got[key], want[key], dtype))
    return result


def check_not_degenerate(spec: str, case: str, reference: Mapping[str, np.ndarray]) -> None:
    """Refuse references that are (near) zero: comparing zeros with zeros proves nothing."""
    for key, value in reference.items():
        arr = np.asarray(value)
        if arr.size == 0 or float(np.max(np.abs(arr))) < DEGENERATE_SCALE:
            raise DegenerateCaseError(f"{spec}[{case}]: reference {key!r} is near zero; the case proves nothing")


def case_seed(spec: str, case: str) -> int:
    """A stable seed per (spec, case), so every run draws the same problem."""
    return zlib.crc32(f"{spec}/{case}".encode())


def torch_device() -> str:
    """The device torch runs on in parity checks: ``DLFS_TORCH_DEVICE`` (default ``cpu``)."""
    return os.environ.get("DLFS_TORCH_DEVICE", "cpu")


def configure_torch_determinism() -> None:
    """Full-precision float32 matmuls on GPUs (TF32 off), so float32 tiers mean the same on CPU and CUDA."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def to_tensor(array: np.ndarray, device: str | None = None, requires_grad: bool = False) -> torch.Tensor:
    """A torch tensor with the array's dtype on the parity device (a copy: never shares memory)."""
    import torch

    tensor = torch.from_numpy(np.array(array, copy=True)).to(device or torch_device())
    return tensor.requires_grad_(requires_grad)


def to_numpy(tensor: Any) -> np.ndarray:
    """A NumPy copy of a tensor (detached, on the CPU)."""
    return np.array(tensor.detach().cpu().numpy(), copy=True)


def run_case(spec: ComponentSpec, case: Case, dtype: str, *, check_degenerate: bool = True) -> CaseResult:
    """Run one case of ``spec`` in both implementations and compare every result."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; received {dtype!r}")
    configure_torch_determinism()
    rng = np.random.default_rng(case_seed(spec.name, case.name))
    problem = spec.make_problem(case, rng, np.dtype(dtype))
    want = spec.run_torch(problem)
    if check_degenerate:
        check_not_degenerate(spec.name, case.name, want)
    got = spec.run_scratch(problem)
    return compare_results(spec.name, case.name, dtype, got, want)
