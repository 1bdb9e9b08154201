"""The parity harness: run one spec case in both implementations and compare every result.

``run_case(spec, case, dtype)`` draws a ``Problem`` (random non-zero inputs, parameters in the book's
layout, a random upstream gradient) from a seeded generator, runs scratch and torch on it, and compares
every named result (outputs, input gradients, every parameter gradient, trajectories) with the tolerance
table. A failure message names the tensor, the worst index, both values, the error and the tolerance.

This module imports torch only inside the torch-side helpers, so the numpy-only test sessions can use
the rest of it.
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .port.compare import Comparison, ComparisonSet, compare, relative_error
from .tolerances import DEGENERATE_SCALE, EXTREME_FLOAT32_FACTOR, TOLERANCES, category_of, tolerance_for

if TYPE_CHECKING:
    import torch

    from .specs.base import Case, ComponentSpec, Problem, Results

DTYPES = ("float64", "float32")


class DegenerateCaseError(AssertionError):
    """A reference array is (near) zero, so the comparison would prove nothing."""


def compare_arrays(key: str, got: np.ndarray, want: np.ndarray, dtype: str) -> Comparison:
    """Compare one scratch array with its torch reference under the tolerance table; the key's prefix chooses
    the category (``grad:`` gradient, ``traj:``/``epoch:`` trajectory, anything else forward), the specs'
    naming convention. Porters call ``parity_tests.port.compare`` with the category spelled out."""
    return compare(got, want, dtype=dtype, category=category_of(key), name=key, labels=("scratch", "torch"))


class CaseResult(ComparisonSet):
    """All comparisons of one spec case in one dtype (a ``ComparisonSet`` titled ``spec[case]``)."""

    def __init__(self, spec: str, case: str, dtype: str, comparisons: list[Comparison] | None = None) -> None:
        super().__init__(f"{spec}[{case}]", dtype, [] if comparisons is None else comparisons)
        self.spec = spec
        self.case = case


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


# ---------------------------------------------------------------------------------------------------------
# Extreme values: inputs scaled towards the dtype's limits
# ---------------------------------------------------------------------------------------------------------


def extreme_magnitudes(dtype: str) -> tuple[float, ...]:
    """Largest input magnitudes of the extreme-value sweep: moderate, large, sqrt(max) (where a square
    overflows) and max / 8 (where a sum of a few terms overflows)."""
    finfo = np.finfo(np.dtype(dtype))
    return (1e3, 1e8, float(np.sqrt(finfo.max)), float(finfo.max) / 8)


@dataclass
class ExtremeResult:
    """One spec case run with its first input scaled so that its largest magnitude is ``magnitude``."""

    spec: str
    case: str
    dtype: str
    magnitude: float
    comparisons: list[Comparison] = field(default_factory=list)
    refused: tuple[str, str] | None = None  # both raised: (scratch's message, torch's message)
    failure: str = ""

    @property
    def passed(self) -> bool:
        return not self.failure and all(c.passed for c in self.comparisons)


def compare_where_finite(key: str, got: np.ndarray, want: np.ndarray, dtype: str) -> Comparison:
    """``compare_arrays`` restricted to the entries where torch's value is finite; there scratch's must be
    finite too (a NaN/inf where torch is finite fails)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return compare_arrays(key, got, want, dtype)
    mask = np.isfinite(want)
    return compare_arrays(key, np.where(mask, got, 0.0), np.where(mask, want, 0.0), dtype)


def _as_float64(value: Any) -> Any:
    """``value`` with every floating ndarray inside it (dicts, lists, tuples) cast to float64."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind == "f" else value
    if isinstance(value, dict):
        return {k: _as_float64(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_as_float64(v) for v in value)
    return value


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    """``relative_error`` over the entries where ``want`` is finite (the others count as equal)."""
    mask = np.isfinite(want)
    return relative_error(np.where(mask, np.asarray(got, np.float64), 0.0), np.where(mask, want, 0.0))


def _run_torch_native(spec: ComponentSpec, problem: Problem) -> Results:
    """``spec.run_torch(problem)`` with oneDNN off: torch's native CPU kernels (for float32 LSTM/GRU and
    convolutions a different, sometimes less accurate, summation than oneDNN's)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # oneDNN's note about TF32 on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False), np.errstate(all="ignore"):
            return spec.run_torch(problem)


def run_extreme(spec: ComponentSpec, case: Case, dtype: str, magnitude: float) -> ExtremeResult:
    """Run ``spec``'s ``case`` with its first input (``spec.fuzz.inputs[0]``) scaled to ``magnitude``.

    If one implementation raises, the other must raise too, both with a ``ValueError``/``TypeError`` (an
    overflow refused at the boundary). Otherwise, wherever torch's results are finite scratch's must be finite,
    and:

    - every result equal within the tolerance table; failing that,
    - a reference whose largest magnitude is below ``DEGENERATE_SCALE`` (everything saturated) counts for its
      finiteness only;
    - float64 gradients within the table's ``extreme`` tolerance: large inputs make them ill-conditioned (sums
      of large terms cancelling, units saturated), and any two implementations differ by more than round-off;
    - float32 results are judged against the float64 truth (torch on the same values in float64): scratch's
      error at most ``EXTREME_FLOAT32_FACTOR`` times torch's plus the float32 forward tolerance, i.e. the same
      accuracy class as torch, whose error is taken as the larger of its two CPU paths (oneDNN on and off:
      they differ by up to 60x on the same LSTM input, and scratch matches the native one to the digit).
    """
    if spec.fuzz is None:
        raise ValueError(f"spec {spec.name} has no fuzz record naming its inputs")
    configure_torch_determinism()
    result = ExtremeResult(spec.name, case.name, dtype, magnitude)
    rng = np.random.default_rng(case_seed(spec.name, case.name))
    problem = spec.make_problem(case, rng, np.dtype(dtype))
    key = spec.fuzz.inputs[0]
    x = problem.inputs[key].astype(np.float64)
    problem.inputs[key] = (x * (magnitude / np.max(np.abs(x)))).astype(dtype)
    outcomes = _run_both(spec, problem)
    s, t = outcomes["scratch"], outcomes["torch"]
    if isinstance(s, Exception) or isinstance(t, Exception):
        if isinstance(s, Exception) and isinstance(t, Exception):
            result.refused = (str(s), str(t))
        else:
            raised, other = ("scratch", "torch") if isinstance(s, Exception) else ("torch", "scratch")
            result.failure = f"{raised} raised ({s if raised == 'scratch' else t}) where {other} returned results"
        return result
    truths: list[Results] = []  # the float64 truth and torch's native path, computed once when first needed
    for name in sorted(set(s) | set(t)):
        if name not in s or name not in t:
            result.failure = f"{name} is missing on one side"
            return result
        comparison = compare_where_finite(name, s[name], t[name], dtype)
        if comparison.passed or comparison.note:  # equal within the table, or a shape/finiteness failure
            result.comparisons.append(comparison)
        elif comparison.scale < DEGENERATE_SCALE:  # a saturated, near-zero reference: only finiteness counts
            result.comparisons.append(dataclasses.replace(comparison, error=0.0, note=""))
        elif dtype == "float64" and comparison.category == "gradient":
            result.comparisons.append(dataclasses.replace(comparison, tolerance=TOLERANCES["float64"]["extreme"]))
        elif dtype == "float32":
            if not truths:
                truths += _float32_references(spec, problem)
            result.comparisons.append(_against_truth(comparison, s[name], t[name], truths[0][name], truths[1][name]))
        else:
            result.comparisons.append(comparison)
    return result


def _run_both(spec: ComponentSpec, problem: Problem) -> dict[str, Any]:
    """Both implementations on ``problem``: their results, or the ``ValueError``/``TypeError`` each raised."""
    outcomes: dict[str, Any] = {}
    for side, runner in (("scratch", spec.run_scratch), ("torch", spec.run_torch)):
        try:
            with np.errstate(all="ignore"):
                outcomes[side] = runner(problem)
        except (ValueError, TypeError) as exc:
            outcomes[side] = exc
    return outcomes


def _float32_references(spec: ComponentSpec, problem: Problem) -> list[Results]:
    """[the float64 truth (torch on the same values in float64), torch's native-kernel float32 results]."""
    wide = dataclasses.replace(problem, dtype=np.dtype(np.float64))
    wide.inputs, wide.params = _as_float64(problem.inputs), _as_float64(problem.params)
    wide.upstream, wide.extras = _as_float64(problem.upstream), _as_float64(problem.extras)
    with np.errstate(all="ignore"):
        truth = spec.run_torch(wide)
    return [truth, _run_torch_native(spec, problem)]


def _against_truth(comparison: Comparison, got: Any, want: Any, truth: Any, native: Any) -> Comparison:
    """A float32 result judged against the float64 truth: scratch's error at most ``EXTREME_FLOAT32_FACTOR``
    times the larger of torch's two paths' errors, plus the float32 forward tolerance."""
    reference = np.asarray(truth, np.float64)
    err_s = _relative(got, reference)
    err_t = max(_relative(want, reference), _relative(native, reference))
    bound = EXTREME_FLOAT32_FACTOR * err_t + TOLERANCES["float32"]["forward"]
    note = "" if err_s <= bound else f"against the float64 truth: scratch error {err_s:.2e}, torch {err_t:.2e}"
    return dataclasses.replace(comparison, error=err_s, tolerance=bound, note=note)
