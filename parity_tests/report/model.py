"""The parity report's data: running every spec case, the benchmarks and the mutants, and the one JSON model.

Collecting builds :class:`SpecReport` objects (the harness's results with the raw loss curves and timings) and
:class:`~parity_tests.mutants.Detection` objects; :func:`build_model` turns them, with the run's metadata, the
version matrix, the book reproduction table and the book's notebooks, into the report model: plain dicts,
lists, strings and numbers, written unchanged as ``parity.json``. The Markdown (``report_render.render``)
and the plots (``plots.figures``) read only that model, so a ``parity.json`` read back renders the same report.

The model (``SCHEMA`` = 2)::

    {"schema": 2,
     "meta": {"date", "machine", "python", "numpy", "torch", "device", "seconds"},
     "tolerances": TOLERANCES,
     "components": [{"spec", "chapter", "scratch", "torch", "case_count", "passed", "training",
                     "worst": {dtype: {category: error}},            # NaN where a category has no result
                     "cases": [{"case", "dtype", "passed", "errors": {key: error}, "failure": str | None}],
                     "timings": [{"spec", "case", "dtype", "scratch_s", "torch_s", "floor_s", "floor_note",
                                  "flops", "peak_gflops", "ratio", "floor_ratio", "over_floor", "verdict"}],
                     "sweeps": [the same, with "axis" and "size"]}],
     "whole_model": [{"spec", "dtype", "cases", "length", "loss_error", "weight_error", "tolerance", "passed"}],
     "loss_curves": [{"spec", "case", "dtype", "x": {key: [...]}, "scratch": {key: [...]}, "torch": {key: [...]}}],
     "mutants": [{"mutant", "caught", "evidence"}],
     "versions": [the nox versions session's files],
     "reproduction": None | {"mode", "exit_code", "error", "recipes": {name: status...}, "rows": [...]},
     "book": None | {"passed", "skipped" | "failed" | "notebooks", "document"},
     "plots": [file names], "plot_note": str}                       # filled in when the plots are drawn
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import version_matrix
from .._environment import environment
from ..floors import gemm_rate
from ..harness import CaseResult, Comparison, case_seed, run_case, torch_device
from ..mutants import MUTANTS, Detection, detect
from ..specs import ComponentSpec
from ..specs.base import Case, Problem, Results
from ..tolerances import CATEGORIES, TOLERANCES
from .recipes import RecipeSummary

SCHEMA = 2
Model = dict[str, Any]  # the JSON model described in the module docstring


@dataclass
class Timing:
    """Best-of-rounds seconds per call for one benchmark case, scratch and torch (and NumPy's floor where the
    spec has one: ``parity_tests.floors``), one thread, measured in alternating rounds in one process.

    ``flops``: the floor's GEMM flop count (forward + backward), for the achieved GFLOP/s; ``peak_gflops``: a
    square 1024 GEMM's rate in the same dtype, measured in the same run."""

    spec: str
    case: str
    dtype: str
    scratch_s: float
    torch_s: float
    floor_s: float | None = None
    floor_note: str = ""
    flops: float | None = None
    peak_gflops: float | None = None
    axis: str = ""  # a sweep's axis ("batch", ...) and this case's size on it; "" for the benchmark cases
    size: int | None = None
    no_target: str = ""  # the spec's no_speed_target: why this row has no speed target
    beyond_floor: str = ""  # the floor's ``beyond``: what scratch does that the floor does not count

    @property
    def ratio(self) -> float:
        return self.scratch_s / self.torch_s

    @property
    def floor_ratio(self) -> float | None:
        """floor / torch: above 1, NumPy's own kernels are slower than torch's on this computation."""
        return None if self.floor_s is None else self.floor_s / self.torch_s

    @property
    def over_floor(self) -> float | None:
        """scratch / floor: what our code adds to the NumPy work it cannot avoid."""
        return None if self.floor_s is None else self.scratch_s / self.floor_s

    @property
    def verdict(self) -> str:
        """``"ahead"`` (at or ahead of torch), ``"floor"`` (scratch/floor <= FLOOR_SLACK), ``"behind"``, or
        ``"reference"`` for a component without a speed target (a teaching reference)."""
        if self.no_target:
            return "reference"
        if self.ratio <= 1.0:
            return "ahead"
        if self.over_floor is not None and self.over_floor <= FLOOR_SLACK:
            return "floor"
        return "behind"


#: Scratch counts as at NumPy's floor within this factor of it (issue 16's target).
FLOOR_SLACK = 1.15

#: A benchmark row is flagged as slower than the committed numbers when its scratch/torch ratio grew by more
#: than this fraction. Ratios are measured in one process, so the machine's speed cancels, but not the load of
#: other processes nor the variance of short timings. Two consecutive report runs on a quiet machine
#: (2026-12-03) moved the ratio by up to 25% on rows whose shorter time is 1 ms or more, 36% between 0.1 and
#: 1 ms, 45% below 0.1 ms: hence 30% for the longer rows and 50% for the rows under 1 ms.
SPEED_NOISE = 0.3
SPEED_NOISE_SHORT = 0.5
SHORT_S = 1e-3


def speed_noise(timing: Mapping[str, Any]) -> float:
    """The noise band of one benchmark row: wider when its shorter time is under ``SHORT_S``."""
    return SPEED_NOISE_SHORT if min(timing["scratch_s"], timing["torch_s"]) < SHORT_S else SPEED_NOISE


@dataclass
class Curves:
    """The raw loss curves (``epoch:*loss*`` / ``traj:*loss*`` results) of one training case in one dtype."""

    case: str
    dtype: str
    options: Mapping[str, Any]
    scratch: dict[str, np.ndarray]
    torch: dict[str, np.ndarray]


@dataclass
class SpecReport:
    """Everything measured for one component."""

    spec: str
    chapter: int
    scratch: str
    torch: str
    cases: int
    results: list[CaseResult] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    sweeps: list[Timing] = field(default_factory=list)
    curves: list[Curves] = field(default_factory=list)
    weight_names: tuple[str, ...] = ()  # book names of the model's parameters (``traj:<name>`` results)

    def worst(self, dtype: str, category: str) -> float:
        values = [r.max_error(category) for r in self.results if r.dtype == dtype]
        values = [v for v in values if not np.isnan(v)]
        return max(values) if values else float("nan")

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def is_training(self) -> bool:
        """A whole-model training spec: its results include a loss curve (``epoch:*loss*`` or ``traj:*loss*``)."""
        return any(is_loss_key(c.key) for r in self.results for c in r.comparisons)


@dataclass
class WholeModelRow:
    """The largest loss and weight divergence of one training spec in one dtype, over its cases."""

    spec: str
    dtype: str
    cases: int
    length: str  # "5 epochs", "5 steps", "4-5 epochs"
    loss_error: float
    weight_error: float
    tolerance: float
    passed: bool


# ---------------------------------------------------------------------------------------------------------
# Result keys of training specs
# ---------------------------------------------------------------------------------------------------------


def is_loss_key(key: str) -> bool:
    """``epoch:train_loss``, ``epoch:val_loss``, ``traj:loss``: a loss recorded per epoch or step."""
    prefix, _, name = key.partition(":")
    return prefix in ("epoch", "traj") and "loss" in name


def is_weight_key(key: str, weight_names: Sequence[str] = ()) -> bool:
    """A final-weight result: ``traj:<name>`` for a parameter name of the model.

    With ``weight_names`` (the spec converter's book names) only those count; without, every ``traj:``
    result that is not a loss or a learning rate.
    """
    prefix, _, name = key.partition(":")
    if prefix != "traj" or is_loss_key(key):
        return False
    return name in weight_names if weight_names else name != "lr"


# ---------------------------------------------------------------------------------------------------------
# Running cases and benchmarks
# ---------------------------------------------------------------------------------------------------------


def run_case_keeping(spec: ComponentSpec, case: Case, dtype: str) -> tuple[CaseResult, Results, Results]:
    """``harness.run_case`` (same seed, same checks), also returning the raw scratch and torch results.

    The spec's ``run_scratch`` / ``run_torch`` are wrapped to keep what they return, so nothing runs twice.
    """
    captured: dict[str, Results] = {}

    def keep(side: str, run: Callable[[Problem], Results]) -> Callable[[Problem], Results]:
        def wrapped(problem: Problem) -> Results:
            captured[side] = run(problem)
            return captured[side]

        return wrapped

    spying = dataclasses.replace(
        spec, run_scratch=keep("scratch", spec.run_scratch), run_torch=keep("torch", spec.run_torch)
    )
    result = run_case(spying, case, dtype)
    return result, captured.get("scratch", {}), captured.get("torch", {})


def _crashed(spec: str, case: str, dtype: str, what: str, exc: BaseException) -> CaseResult:
    """A failing result standing for a case (or benchmark) that raised instead of returning."""
    note = f"{what} raised {type(exc).__name__}: {exc}"
    return CaseResult(
        spec, case, dtype, [Comparison(what, "error", float("nan"), 0.0, (), np.nan, np.nan, np.nan, note)]
    )


def _time_steps(steps: Sequence[Callable[[], Any]], budget_s: float) -> list[float]:
    """Alternate the callables in rounds; return each one's best per-call time (robust to noise)."""
    for step in steps:
        step()  # warm-up
    start = time.perf_counter()
    for step in steps:
        step()
    one = max(time.perf_counter() - start, 1e-7)
    rounds = 7
    number = max(1, int(budget_s / rounds / one))
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            t0 = time.perf_counter()
            for _ in range(number):
                step()
            best[i] = min(best[i], (time.perf_counter() - t0) / number)
    return best


def measure(
    spec: ComponentSpec, budget_s: float, peaks: Mapping[str, float] | None = None, *, sweep: bool = False
) -> list[Timing]:
    """Time every benchmark case of ``spec`` (its sweep's cases with ``sweep``) in every dtype, at one thread,
    with its floor where it has one."""
    timings: list[Timing] = []
    if spec.bench_scratch is None or spec.bench_torch is None or (sweep and spec.sweep is None):
        return timings
    axis = spec.sweep.axis if sweep and spec.sweep is not None else ""
    for case in spec.sweep.cases if sweep and spec.sweep is not None else spec.bench:
        for dtype in spec.dtypes:
            problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype(dtype))
            steps = [spec.bench_scratch(problem), spec.bench_torch(problem)]
            if spec.floor is not None:
                steps.append(spec.floor.make(problem))
            times = _time_steps(steps, budget_s)
            floor = spec.floor
            timings.append(
                Timing(
                    spec.name,
                    case.name,
                    dtype,
                    times[0],
                    times[1],
                    floor_s=times[2] if floor is not None else None,
                    floor_note=floor.note if floor is not None else "",
                    flops=floor.flops(problem) if floor is not None and floor.flops is not None else None,
                    peak_gflops=(peaks or {}).get(dtype),
                    axis=axis,
                    size=spec.sweep.value(case) if axis and spec.sweep is not None else None,
                    no_target=spec.no_speed_target,
                    beyond_floor=floor.beyond if floor is not None else "",
                )
            )
    return timings


def _loss_curves(case: Case, dtype: str, got: Results, want: Results) -> Curves | None:
    """The loss curves of one training case (``None`` when its results hold none)."""
    losses = sorted(k for k in set(got) & set(want) if is_loss_key(k))
    if not losses:
        return None

    def flat(results: Results) -> dict[str, np.ndarray]:
        return {k: np.asarray(results[k], dtype=np.float64).reshape(-1) for k in losses}

    return Curves(case.name, dtype, dict(case.options), flat(got), flat(want))


def build(
    specs: Sequence[ComponentSpec],
    bench: bool,
    budget_s: float,
    mutants: bool,
    progress: Callable[[str], None],
    *,
    sweeps: bool = False,
) -> tuple[list[SpecReport], list[Detection]]:
    """Run every case (and optionally the benchmarks and mutants) and collect the results.

    A case that raises (rather than returning results) is recorded as a failure with the exception, so one
    broken component cannot hide the others' results.
    """
    reports = []
    peaks = {d: gemm_rate(d) for d in ("float64", "float32")} if bench else {}
    for spec in specs:
        weights = tuple(spec.converter.book_names) if spec.converter is not None else ()
        report = SpecReport(
            spec.name, spec.chapter, spec.scratch_name, spec.torch_name, len(spec.cases), weight_names=weights
        )
        for case in spec.cases:
            for dtype in spec.dtypes:
                try:
                    result, got, want = run_case_keeping(spec, case, dtype)
                except Exception as exc:  # recorded as a failure, shown in the report
                    report.results.append(_crashed(spec.name, case.name, dtype, "run", exc))
                    continue
                report.results.append(result)
                if (curves := _loss_curves(case, dtype, got, want)) is not None:
                    report.curves.append(curves)
        if bench:
            try:
                report.timings = measure(spec, budget_s, peaks)
                if sweeps:
                    report.sweeps = measure(spec, budget_s, peaks, sweep=True)
            except Exception as exc:  # a broken benchmark is a failure too
                report.results.append(_crashed(spec.name, "benchmark", "-", "benchmark", exc))
        progress(f"{spec.name}: {'PASS' if report.passed else 'FAIL'}")
        reports.append(report)
    names = {s.name for s in specs}
    detections = [detect(m) for m in MUTANTS if m.spec in names] if mutants else []
    return reports, detections


# ---------------------------------------------------------------------------------------------------------
# Whole-model parity, the version matrix, the run's metadata
# ---------------------------------------------------------------------------------------------------------


def _length(curves: Sequence[Curves]) -> str:
    """How long the training runs were: the longest loss curve of each case, in epochs or steps."""
    lengths, units = [], set()
    for c in curves:
        lengths.append(max(len(v) for v in c.torch.values()))
        units |= {"epochs" if k.startswith("epoch:") else "steps" for k in c.torch}
    if not lengths:
        return "—"
    unit = "/".join(sorted(units))
    low, high = min(lengths), max(lengths)
    return f"{low} {unit}" if low == high else f"{low}-{high} {unit}"


def _max(values: Sequence[float]) -> float:
    """The largest value, NaN if any is NaN (a NaN error is a failure, never hidden), NaN when empty."""
    if not values or any(np.isnan(v) for v in values):
        return float("nan")
    return max(values)


def whole_model_rows(reports: Sequence[SpecReport]) -> list[WholeModelRow]:
    """One row per training spec and dtype: the largest loss and weight divergence over its cases."""
    rows = []
    for r in reports:
        if not r.is_training:
            continue
        for dtype in sorted({res.dtype for res in r.results if res.dtype in TOLERANCES}, reverse=True):
            results = [res for res in r.results if res.dtype == dtype]
            comparisons = [c for res in results for c in res.comparisons]
            rows.append(
                WholeModelRow(
                    spec=r.spec,
                    dtype=dtype,
                    cases=len(results),
                    length=_length([c for c in r.curves if c.dtype == dtype]),
                    loss_error=_max([c.error for c in comparisons if is_loss_key(c.key)]),
                    weight_error=_max([c.error for c in comparisons if is_weight_key(c.key, r.weight_names)]),
                    tolerance=TOLERANCES[dtype]["trajectory"],
                    passed=all(res.passed for res in results),
                )
            )
    return rows


def load_versions(folder: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` the nox ``versions`` session wrote into ``folder``, in the matrix's order (unknown names
    after, by name), each without its per-case errors but with its changes against the baseline; [] if none.

    A file that cannot be read or parsed becomes ``{"combo": <name>, "unreadable": <why>}``.
    """
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, received {type(data).__name__}")
        except (OSError, ValueError) as exc:
            data = {"unreadable": str(exc)}
        data.setdefault("combo", path.stem)
        entries.append(data)
    order = {combo.id: i for i, combo in enumerate(version_matrix.COMBOS)}
    entries.sort(key=lambda e: (order.get(str(e["combo"]), len(order)), str(e["combo"])))
    baseline = next((e for e in entries if e["combo"] == version_matrix.BASELINE and "unreadable" not in e), None)
    return [version_matrix.for_document(e, baseline) for e in entries]


def run_metadata(started: float) -> dict[str, Any]:
    """When, where and with which versions the report ran (``started``: ``time.time()`` at the start)."""
    return {**environment(), "device": torch_device(), "seconds": round(time.time() - started, 1)}


# ---------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------


def _eval_steps(key: str, n: int, options: Mapping[str, Any]) -> list[float]:
    """x positions of a loss curve: 1..n, or every ``eval_every`` epochs for validation losses."""
    every = int(options.get("eval_every", 1)) if key.startswith("epoch:") and "val" in key else 1
    return [float(every * i) for i in range(1, n + 1)]


def _component(r: SpecReport) -> dict[str, Any]:
    return {
        "spec": r.spec,
        "chapter": r.chapter,
        "scratch": r.scratch,
        "torch": r.torch,
        "case_count": r.cases,
        "passed": r.passed,
        "training": r.is_training,
        "worst": {d: {c: r.worst(d, c) for c in CATEGORIES} for d in TOLERANCES},
        "cases": [
            {
                "case": c.case,
                "dtype": c.dtype,
                "passed": c.passed,
                "errors": {x.key: x.error for x in c.comparisons},
                "failure": None if c.passed else c.failure_message(),
            }
            for c in r.results
        ],
        "timings": [_timing(t) for t in r.timings],
        "sweeps": [_timing(t) for t in r.sweeps],
    }


def _curves(r: SpecReport, c: Curves) -> dict[str, Any]:
    return {
        "spec": r.spec,
        "case": c.case,
        "dtype": c.dtype,
        "x": {k: _eval_steps(k, len(v), c.options) for k, v in c.torch.items()},
        "scratch": {k: v.tolist() for k, v in c.scratch.items()},
        "torch": {k: v.tolist() for k, v in c.torch.items()},
    }


def speed_baseline(model: Mapping[str, Any], note: str = "") -> dict[str, Any]:
    """The committed numbers (``docs/benchmarks.json``) from a model: each benchmark row's scratch/torch and
    scratch/floor ratios, with when and where they were measured."""
    rows = {
        f"{t['spec']} | {t['case']} | {t['dtype']}": {"ratio": t["ratio"], "over_floor": t.get("over_floor")}
        for c in model["components"]
        for t in c["timings"]
    }
    meta = model["meta"]
    return {"date": meta.get("date"), "machine": meta.get("machine"), "note": note, "rows": rows}


def load_speed_baseline(path: Path) -> dict[str, Any] | None:
    """The committed benchmark numbers, or None when ``path`` does not exist; ``ValueError`` naming the file
    when it is not such a file."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
        raise ValueError(f"{path}: expected a JSON object with 'rows' (the report's --write-speed-baseline)")
    return data


def speed_changes(timings: Sequence[Mapping[str, Any]], baseline: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Per benchmark row: the committed ratio, ``change`` (new/committed) and ``slower`` (beyond the noise)."""
    rows = (baseline or {}).get("rows", {})
    out = []
    for t in timings:
        old = rows.get(f"{t['spec']} | {t['case']} | {t['dtype']}")
        change = None if old is None else t["ratio"] / old["ratio"]
        slower = change is not None and change > 1 + speed_noise(t)
        out.append({"committed": None if old is None else old["ratio"], "change": change, "slower": slower})
    return out


def _timing(t: Timing) -> dict[str, Any]:
    derived = {"ratio": t.ratio, "floor_ratio": t.floor_ratio, "over_floor": t.over_floor, "verdict": t.verdict}
    return {**asdict(t), **derived}


def build_model(
    reports: Sequence[SpecReport],
    detections: Sequence[Detection],
    meta: Mapping[str, Any],
    versions: Sequence[Mapping[str, Any]] = (),
    recipes: RecipeSummary | None = None,
    book: Mapping[str, Any] | None = None,
) -> Model:
    """The report model (module docstring) of everything collected; ``book`` is the book section's data
    (``BookSection.model()``). ``plots`` is empty and ``plot_note`` blank until the plots are drawn."""
    return {
        "schema": SCHEMA,
        "meta": dict(meta),
        "tolerances": TOLERANCES,
        "components": [_component(r) for r in reports],
        "whole_model": [asdict(w) for w in whole_model_rows(reports)],
        "loss_curves": [_curves(r, c) for r in reports for c in r.curves],
        "mutants": [asdict(d) for d in detections],
        "versions": [dict(v) for v in versions],
        "reproduction": None if recipes is None else recipes.model(),
        "book": None if book is None else dict(book),
        "plots": [],
        "plot_note": "",
    }


def passed(model: Mapping[str, Any]) -> bool:
    """Every parity case passed, every mutant was caught, no recipe failed, the book's notebooks passed."""
    reproduction, book = model["reproduction"], model["book"]
    return (
        all(c["passed"] for c in model["components"])
        and all(m["caught"] for m in model["mutants"])
        and (reproduction is None or RecipeSummary.from_model(reproduction).ok)
        and (book is None or bool(book["passed"]))
    )


def to_json(model: Mapping[str, Any]) -> str:
    """``parity.json``: the model, indented (NaN errors stay NaN, as Python's json writes and reads them)."""
    return json.dumps(model, indent=2, default=float) + "\n"
