"""The parity report: every component's parity in float64 and float32, the mutation self-test, and the
paired scratch/torch timings, as a Markdown table (and JSON) in a report folder and on the terminal.

    python -m parity_tests.report --out report          # everything
    python -m parity_tests.report --no-bench            # parity only
    python -m parity_tests.report --spec Dense --spec ReLU

Exit status: 0 when every parity case passes and every mutant is caught, 1 otherwise, 2 for bad usage
(for example an unwritable report folder). Files are written to a temporary name and renamed, so an
interrupted run never leaves a half-written report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .harness import CaseResult, case_seed, run_case, torch_device
from .mutants import MUTANTS, Detection, detect
from .specs import ComponentSpec, all_specs
from .tolerances import TOLERANCES


@dataclass
class Timing:
    """Best-of-rounds seconds per call for one benchmark case, scratch and torch, one thread."""

    spec: str
    case: str
    dtype: str
    scratch_s: float
    torch_s: float

    @property
    def ratio(self) -> float:
        return self.scratch_s / self.torch_s


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

    def worst(self, dtype: str, category: str) -> float:
        values = [r.max_error(category) for r in self.results if r.dtype == dtype]
        values = [v for v in values if not np.isnan(v)]
        return max(values) if values else float("nan")

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _time_pair(scratch_step: Callable[[], Any], torch_step: Callable[[], Any], budget_s: float) -> tuple[float, float]:
    """Alternate the two callables in rounds; return each one's best per-call time (robust to noise)."""
    for step in (scratch_step, torch_step):
        step()  # warm-up
    start = time.perf_counter()
    scratch_step()
    torch_step()
    one = max(time.perf_counter() - start, 1e-7)
    rounds = 7
    number = max(1, int(budget_s / rounds / one))
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, step in enumerate((scratch_step, torch_step)):
            t0 = time.perf_counter()
            for _ in range(number):
                step()
            best[i] = min(best[i], (time.perf_counter() - t0) / number)
    return best[0], best[1]


def measure(spec: ComponentSpec, budget_s: float) -> list[Timing]:
    """Time every benchmark case of ``spec`` in every dtype, at one thread."""
    timings: list[Timing] = []
    if spec.bench_scratch is None or spec.bench_torch is None:
        return timings
    for case in spec.bench:
        for dtype in spec.dtypes:
            problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype(dtype))
            s, t = _time_pair(spec.bench_scratch(problem), spec.bench_torch(problem), budget_s)
            timings.append(Timing(spec.name, case.name, dtype, s, t))
    return timings


def _fmt(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1e}"


def render_markdown(reports: Sequence[SpecReport], detections: Sequence[Detection], meta: dict[str, Any]) -> str:
    """The report as Markdown: parity table, benchmark table, mutation table."""
    t64, t32 = TOLERANCES["float64"], TOLERANCES["float32"]
    lines = [
        "# dlfs-parity report",
        "",
        f"Generated {meta['date']} on {meta['machine']}; Python {meta['python']}, NumPy {meta['numpy']}, "
        f"torch {meta['torch']} (device {meta['device']}).",
        "",
        "Errors are max |scratch - torch| / max |torch| over each case's outputs (fwd), gradients (grad) and "
        "multi-step trajectories (traj), the worst case of each component. Tolerances: float64 "
        f"fwd/grad {t64['forward']:.0e}, traj {t64['trajectory']:.0e}; float32 fwd/grad {t32['forward']:.0e}, "
        f"traj {t32['trajectory']:.0e}.",
        "",
        "| component | ch | scratch | torch | cases | f64 fwd | f64 grad | f64 traj | f32 fwd | f32 grad | "
        "f32 traj | parity | speed scratch/torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        ratios = ", ".join(f"{t.ratio:.2f}" for t in r.timings) or "—"
        lines.append(
            f"| {r.spec} | {r.chapter} | `{r.scratch}` | `{r.torch}` | {r.cases} | "
            + " | ".join(
                _fmt(r.worst(d, c)) for d in ("float64", "float32") for c in ("forward", "gradient", "trajectory")
            )
            + f" | {'PASS' if r.passed else 'FAIL'} | {ratios} |"
        )
    timings = [t for r in reports for t in r.timings]
    if timings:
        lines += [
            "",
            "## Speed (forward + backward, or one optimizer step / training epoch; 1 thread, same process)",
            "",
            "| component | size | dtype | scratch (ms) | torch (ms) | scratch/torch |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.spec} | {t.case} | {t.dtype} | {1e3 * t.scratch_s:.3f} | {1e3 * t.torch_s:.3f} | {t.ratio:.2f} |"
            for t in timings
        ]
    if detections:
        lines += [
            "",
            "## Mutation self-test (each deliberately broken scratch variant must be caught)",
            "",
            "| mutant | caught | evidence |",
            "|---|---|---|",
        ]
        lines += [
            f"| {d.mutant} | {'yes' if d.caught else 'NO'} | {d.evidence.replace('|', '/')[:160]} |" for d in detections
        ]
    failures = [res for r in reports for res in r.results if not res.passed]
    if failures:
        lines += ["", "## Failures", ""] + [f"```\n{res.failure_message()}\n```" for res in failures]
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise SystemExit(f"error: the report folder {str(out)!r} is not writable: {exc}") from None


def build(
    specs: Sequence[ComponentSpec],
    bench: bool,
    budget_s: float,
    mutants: bool,
    progress: Callable[[str], None],
) -> tuple[list[SpecReport], list[Detection]]:
    """Run every case (and optionally the benchmarks and mutants) and collect the results."""
    reports = []
    for spec in specs:
        report = SpecReport(spec.name, spec.chapter, spec.scratch_name, spec.torch_name, len(spec.cases))
        for case in spec.cases:
            for dtype in spec.dtypes:
                report.results.append(run_case(spec, case, dtype))
        if bench:
            report.timings = measure(spec, budget_s)
        progress(f"{spec.name}: {'PASS' if report.passed else 'FAIL'}")
        reports.append(report)
    names = {s.name for s in specs}
    detections = [detect(m) for m in MUTANTS if m.spec in names] if mutants else []
    return reports, detections


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity_tests.report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report"), help="report folder (default: report)")
    parser.add_argument("--no-bench", action="store_true", help="skip the paired benchmarks")
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutation self-test")
    parser.add_argument("--budget", type=float, default=0.6, help="seconds of timing per benchmark pair")
    parser.add_argument("--spec", action="append", default=[], help="only these components (repeatable)")
    args = parser.parse_args(argv)

    specs = [s for s in all_specs() if not args.spec or s.name in args.spec]
    unknown = set(args.spec) - {s.name for s in all_specs()}
    if unknown:
        parser.error(f"unknown --spec {sorted(unknown)}; known: {[s.name for s in all_specs()]}")
    _prepare_out(args.out)

    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        limiter: Any = threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - threadpoolctl is in the tests extra
        limiter = None
    started = time.time()
    try:
        reports, detections = build(
            specs,
            not args.no_bench,
            args.budget,
            not args.no_mutants,
            lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    finally:
        if limiter is not None:
            limiter.unregister()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "device": torch_device(),
        "seconds": round(time.time() - started, 1),
    }
    markdown = render_markdown(reports, detections, meta)
    payload = {
        "meta": meta,
        "tolerances": TOLERANCES,
        "components": [
            {
                "spec": r.spec,
                "passed": r.passed,
                "cases": [
                    {
                        "case": c.case,
                        "dtype": c.dtype,
                        "passed": c.passed,
                        "errors": {x.key: x.error for x in c.comparisons},
                    }
                    for c in r.results
                ],
                "timings": [{**asdict(t), "ratio": t.ratio} for t in r.timings],
            }
            for r in reports
        ],
        "mutants": [asdict(d) for d in detections],
    }
    _atomic_write(args.out / "parity.md", markdown)
    _atomic_write(args.out / "parity.json", json.dumps(payload, indent=2, default=float) + "\n")
    print(markdown)
    ok = all(r.passed for r in reports) and all(d.caught for d in detections)
    print(f"report written to {args.out}/parity.md ({'all passed' if ok else 'FAILURES'}; {meta['seconds']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
