"""The parity report: every component's parity in float64 and float32, whole-model training parity, the
mutation self-test, the paired scratch/torch timings and the version matrix, as Markdown (and JSON) with
PNG plots in a report folder, and on the terminal.

    python -m parity_tests.report --out report          # everything
    python -m parity_tests.report --no-bench            # no benchmarks
    python -m parity_tests.report --recipes none        # no book reproduction table
    python -m parity_tests.report --book none           # no run of the book's own notebooks
    python -m parity_tests.report --spec Dense --spec ReLU

The folder gets ``parity.md``, ``parity.json``, ``speed_ratios.png`` (scratch/torch time per benchmark
case) and one ``loss_<spec>.png`` per training spec (the loss curves of both implementations overlaid,
and their difference). Plots need matplotlib (the ``plots`` extra); without it the report is written
without them and says so. The version matrix is read from ``report/versions/*.json`` (``--versions``),
which ``python3 noxfile.py -s versions`` writes. The book reproduction table (``--recipes quick``, the default;
``full``; ``none``) goes to ``reproduction-quick/`` (full: ``reproduction/``) with one ``recipe_<name>.png`` of
loss curves per recipe; a recipe whose dataset is missing is listed as skipped with the reason (see
``report_recipes``). The book's own notebooks run on this project (``--book quick``, the default; ``full``;
``none``) go to ``book/`` (``book.md``, ``book.json``) with a summary in ``parity.md``; a missing book repository
(``DLFS_BOOK``) is listed as skipped.

Exit status: 0 when every parity case passes, every mutant is caught, no recipe fails (skipped is not
failed) and every book notebook prints the book's numbers or an explained difference, 1 otherwise, 2 for bad
usage (for example an unwritable report folder). Every file is first
written to a temporary name in the report folder and renamed only once all of them are complete, so an
interrupted run never leaves a half-written report file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .book.report import BookSection, book_section
from .harness import CaseResult, Comparison, case_seed, run_case, torch_device
from .mutants import MUTANTS, Detection, detect
from .report_recipes import MODES as RECIPE_MODES
from .report_recipes import RecipeSummary, recipe_figure, render_recipes, run_recipes
from .report_recipes import has_curves as recipe_has_curves
from .report_recipes import plot_file as recipe_plot_file
from .specs import ComponentSpec, all_specs
from .specs.base import Case, Problem, Results
from .tolerances import TOLERANCES

SPEED_PLOT = "speed_ratios.png"
DEFAULT_VERSIONS_DIR = Path("report") / "versions"
PLOT_COLUMNS = 4  # cases side by side in a loss plot before wrapping
DIFF_FLOOR = 1e-17  # an exact 0 difference is drawn here on the log axis


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


def build(
    specs: Sequence[ComponentSpec],
    bench: bool,
    budget_s: float,
    mutants: bool,
    progress: Callable[[str], None],
) -> tuple[list[SpecReport], list[Detection]]:
    """Run every case (and optionally the benchmarks and mutants) and collect the results.

    A case that raises (rather than returning results) is recorded as a failure with the exception, so one
    broken component cannot hide the others' results.
    """
    reports = []
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
                losses = sorted(k for k in set(got) & set(want) if is_loss_key(k))
                if losses:
                    report.curves.append(
                        Curves(
                            case.name,
                            dtype,
                            dict(case.options),
                            {k: np.asarray(got[k], dtype=np.float64).reshape(-1) for k in losses},
                            {k: np.asarray(want[k], dtype=np.float64).reshape(-1) for k in losses},
                        )
                    )
        if bench:
            try:
                report.timings = measure(spec, budget_s)
            except Exception as exc:  # a broken benchmark is a failure too
                report.results.append(_crashed(spec.name, "benchmark", "-", "benchmark", exc))
        progress(f"{spec.name}: {'PASS' if report.passed else 'FAIL'}")
        reports.append(report)
    names = {s.name for s in specs}
    detections = [detect(m) for m in MUTANTS if m.spec in names] if mutants else []
    return reports, detections


# ---------------------------------------------------------------------------------------------------------
# Whole-model parity and the version matrix
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


def whole_model_rows(reports: Sequence[SpecReport]) -> list[WholeModelRow]:
    """One row per training spec and dtype: the largest loss and weight divergence over its cases."""
    rows = []
    for r in reports:
        if not r.is_training:
            continue
        for dtype in sorted({res.dtype for res in r.results if res.dtype in TOLERANCES}, reverse=True):
            results = [res for res in r.results if res.dtype == dtype]
            comparisons = [c for res in results for c in res.comparisons]
            loss = [c.error for c in comparisons if is_loss_key(c.key)]
            weight = [c.error for c in comparisons if is_weight_key(c.key, r.weight_names)]
            rows.append(
                WholeModelRow(
                    spec=r.spec,
                    dtype=dtype,
                    cases=len(results),
                    length=_length([c for c in r.curves if c.dtype == dtype]),
                    loss_error=_max(loss),
                    weight_error=_max(weight),
                    tolerance=TOLERANCES[dtype]["trajectory"],
                    passed=all(res.passed for res in results),
                )
            )
    return rows


def _max(values: Sequence[float]) -> float:
    """The largest value, NaN if any is NaN (a NaN error is a failure, never hidden), NaN when empty."""
    if not values or any(np.isnan(v) for v in values):
        return float("nan")
    return max(values)


def load_versions(folder: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` the nox ``versions`` session wrote into ``folder`` (sorted by name); [] if none.

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
    return entries


def render_versions(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "Versions" section: which Python/NumPy/torch combinations ran, their results and differences."""
    lines = ["", "## Versions (python3 noxfile.py -s versions)", ""]
    if not entries:
        lines.append(
            "Not run yet: `python3 noxfile.py -s versions` writes one file per combination into `report/versions/`."
        )
        return lines
    lines += [
        "| combination | Python | NumPy | torch | tests passed | failed | skipped | result | f64 fwd | f64 grad | "
        "f64 traj | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        if "unreadable" in e:
            lines.append(f"| {e['combo']} | unreadable: {str(e['unreadable']).replace('|', '/')[:120]} |")
            continue
        tests = e.get("tests") or {}
        worst = e.get("worst_float64") or {}
        cells = [
            str(e["combo"]),
            str(e.get("python", "?")),
            str(e.get("numpy", "?")),
            str(e.get("torch", "?")),
            str(tests.get("passed", "?")),
            str(tests.get("failed", "?")),
            str(tests.get("skipped", "?")),
            "PASS" if e.get("passed") else "FAIL",
            *(_fmt(float(worst.get(k, float("nan")))) for k in ("forward", "gradient", "trajectory")),
            str(e.get("date", "?")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_version_differences(entries)]
    return lines


def _version_differences(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    readable = [e for e in entries if "unreadable" not in e]
    failing = {str(e["combo"]): list(e.get("failed_tests") or []) for e in readable if not e.get("passed")}
    out = []
    if not failing:
        counts = {(e.get("tests") or {}).get("passed") for e in readable}
        same = f" the same {counts.pop()} tests" if len(counts) == 1 else ""
        out.append(f"Differences: none in outcome; every combination passed{same}.")
    else:
        out.append("Differences: these combinations failed:")
        for combo, tests in failing.items():
            shown = ", ".join(f"`{t}`" for t in tests[:10]) or "(see the session log)"
            more = f" and {len(tests) - 10} more" if len(tests) > 10 else ""
            out.append(f"- {combo}: {shown}{more}")
    for key, label in (("forward", "fwd"), ("gradient", "grad"), ("trajectory", "traj")):
        values = [float((e.get("worst_float64") or {}).get(key, float("nan"))) for e in readable]
        values = [v for v in values if not np.isnan(v)]
        if len(values) > 1 and max(values) != min(values):
            out.append(f"- worst float64 {label} error ranges from {min(values):.1e} to {max(values):.1e}.")
    return out


# ---------------------------------------------------------------------------------------------------------
# Plots (matplotlib, Agg, imported only here)
# ---------------------------------------------------------------------------------------------------------


def _figure_class() -> Any | None:
    """matplotlib's ``Figure`` (drawn by Agg, no pyplot state), or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def plot_file(spec: str) -> str:
    """``loss_<spec>.png`` with every character outside [A-Za-z0-9_.-] replaced by ``_``."""
    return f"loss_{re.sub(r'[^A-Za-z0-9_.-]+', '_', spec)}.png"


def speed_figure(figure_class: Any, timings: Sequence[Timing]) -> Any:
    """Horizontal bars of scratch/torch time per benchmark case, log-x, a line at 1 (= torch's time)."""
    labels = [f"{t.spec} / {t.case} / {t.dtype}" for t in timings]
    ratios = np.array([t.ratio for t in timings])
    fig = figure_class(figsize=(9, 1.2 + 0.24 * len(timings)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(timings))
    colors = ["tab:green" if r <= 1 else "tab:orange" for r in ratios]
    ax.barh(y, ratios - 1.0, left=1.0, color=colors)  # bars grow from torch's time (1) to the ratio
    for yi, r in zip(y, ratios, strict=True):
        ax.annotate(
            f"{r:.2f}",
            (r, yi),
            xytext=(3 if r > 1 else -3, 0),
            textcoords="offset points",
            ha="left" if r > 1 else "right",
            va="center",
            fontsize=7,
        )
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(len(timings) - 0.5, -0.5)  # first case at the top, as in the table
    ax.set_xlabel("scratch time / torch time (log scale; dashed line: torch's time; < 1: scratch faster)")
    ax.set_title("Paired benchmarks, 1 thread: scratch (NumPy) / torch time per step")
    low, high = min(float(ratios.min()), 1.0) / 2.0, max(float(ratios.max()), 1.0) * 2.0
    ax.set_xlim(low, high)
    ticks = [m * 10.0**e for e in range(-4, 5) for m in (1, 2, 5)]
    ax.set_xticks([t for t in ticks if low <= t <= high], [f"{t:g}" for t in ticks if low <= t <= high])
    ax.set_xticks([], minor=True)
    return fig


def loss_figure(figure_class: Any, spec: str, curves: Sequence[Curves]) -> Any:
    """Per case (side by side, wrapped after ``PLOT_COLUMNS``): the float64 losses of scratch and torch
    overlaid (top) and their |difference| per epoch/step relative to the largest torch loss, in float64 and
    float32 (below it, log scale)."""
    cases = list(dict.fromkeys(c.case for c in curves))
    ncols = min(len(cases), PLOT_COLUMNS)
    blocks = -(-len(cases) // ncols)  # rows of cases, each a loss axis above a difference axis
    fig = figure_class(figsize=(4.2 * ncols, 6.4 * blocks), layout="constrained")
    axes = fig.subplots(2 * blocks, ncols, squeeze=False)
    for unused in range(len(cases), blocks * ncols):
        axes[2 * (unused // ncols)][unused % ncols].set_visible(False)
        axes[2 * (unused // ncols) + 1][unused % ncols].set_visible(False)
    for index, name in enumerate(cases):
        block, col = divmod(index, ncols)
        top, bottom = axes[2 * block][col], axes[2 * block + 1][col]
        for curve in (c for c in curves if c.case == name):
            for i, key in enumerate(sorted(curve.torch)):
                s, t = curve.scratch[key], curve.torch[key]
                x = _steps(key, len(t), curve.options)
                label = key.split(":", 1)[1]
                color = f"C{i}"
                if curve.dtype == "float64":
                    top.plot(
                        x,
                        s,
                        color=color,
                        linestyle="-",
                        marker="o",
                        markersize=7,
                        fillstyle="none",
                        label=f"scratch {label}",
                    )
                    top.plot(x, t, color=color, linestyle="--", marker="x", markersize=6, label=f"torch {label}")
                if s.shape == t.shape:
                    scale = float(np.max(np.abs(t))) or 1.0
                    diff = np.maximum(np.abs(s - t) / scale, DIFF_FLOOR)
                    style = "-" if curve.dtype == "float64" else ":"
                    marker = "o" if curve.dtype == "float64" else "s"
                    bottom.plot(
                        x,
                        diff,
                        color=color,
                        linestyle=style,
                        marker=marker,
                        markersize=4,
                        label=f"{label} {curve.dtype}",
                    )
        unit = "epoch" if any(k.startswith("epoch:") for c in curves for k in c.torch) else "step"
        top.set_title(f"{spec}\n{name}", fontsize=9)
        top.set_ylabel("loss (float64)")
        if top.get_legend_handles_labels()[0]:
            top.legend(fontsize=7)
        bottom.set_yscale("log")
        bottom.set_xlabel(unit)
        bottom.set_ylabel(f"|scratch - torch| / max|torch|\n(0 drawn at {DIFF_FLOOR:.0e})", fontsize=8)
        if bottom.get_legend_handles_labels()[0]:
            bottom.legend(fontsize=7)
    return fig


def _steps(key: str, n: int, options: Mapping[str, Any]) -> np.ndarray:
    """x positions: 1..n, or every ``eval_every`` epochs for validation losses."""
    every = int(options.get("eval_every", 1)) if key.startswith("epoch:") and "val" in key else 1
    return np.arange(1, n + 1) * every


# ---------------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.1e}"


def render_markdown(
    reports: Sequence[SpecReport],
    detections: Sequence[Detection],
    meta: dict[str, Any],
    *,
    plots: Sequence[str] = (),
    plot_note: str = "",
    versions: Sequence[Mapping[str, Any]] | None = None,
    recipes: RecipeSummary | None = None,
    book: BookSection | None = None,
) -> str:
    """The report as Markdown: parity table, whole-model table, speed table and plot, loss plots,
    mutation table, version matrix (when ``versions`` is given) and failures.

    ``plots`` are file names relative to the report folder; ``plot_note`` says why plots are missing.
    """
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
    lines += render_whole_model(whole_model_rows(reports))
    if plot_note:
        lines += ["", f"*{plot_note}*"]
    timings = [t for r in reports for t in r.timings]
    if timings:
        lines += [
            "",
            "## Speed (forward + backward, or one optimizer step / training epoch; 1 thread, same process)",
            "",
        ]
        if SPEED_PLOT in plots:
            lines += [f"![scratch/torch time per benchmark case]({SPEED_PLOT})", ""]
        lines += [
            "| component | size | dtype | scratch (ms) | torch (ms) | scratch/torch |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.spec} | {t.case} | {t.dtype} | {1e3 * t.scratch_s:.3f} | {1e3 * t.torch_s:.3f} | {t.ratio:.2f} |"
            for t in timings
        ]
    loss_plots = [(r.spec, plot_file(r.spec)) for r in reports if plot_file(r.spec) in plots]
    if loss_plots:
        lines += ["", "## Training loss curves (scratch solid/circles, torch dashed/crosses)", ""]
        lines += [f"![{spec}: loss curves of scratch and torch]({name})\n" for spec, name in loss_plots]
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
    if recipes is not None:
        lines += render_recipes(recipes, plots)
    if book is not None:
        lines += book.lines
    if versions is not None:
        lines += render_versions(versions)
    failures = [res for r in reports for res in r.results if not res.passed]
    if failures:
        lines += ["", "## Failures", ""] + [f"```\n{res.failure_message()}\n```" for res in failures]
    return "\n".join(lines) + "\n"


def render_whole_model(rows: Sequence[WholeModelRow]) -> list[str]:
    """The "Whole-model parity" section: per training spec and dtype, the largest divergences."""
    if not rows:
        return []
    lines = [
        "",
        "## Whole-model parity (training from shared weights on shared batches)",
        "",
        "Largest relative divergence over every case: loss = per-epoch/per-step losses (`epoch:*loss*`, "
        "`traj:*loss*`), weights = every final parameter (`traj:<param>`).",
        "",
        "| model | dtype | cases | length | max loss divergence | max weight divergence | tolerance | parity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {w.spec} | {w.dtype} | {w.cases} | {w.length} | {_fmt(w.loss_error)} | {_fmt(w.weight_error)} | "
        f"{w.tolerance:.0e} | {'PASS' if w.passed else 'FAIL'} |"
        for w in rows
    ]
    return lines


# ---------------------------------------------------------------------------------------------------------
# Writing: every file staged under a temporary name, renamed only when all are complete
# ---------------------------------------------------------------------------------------------------------


@contextmanager
def staged(out: Path) -> Iterator[Callable[[str, Callable[[Path], object]], None]]:
    """Yield ``stage(name, write)``: ``write(tmp_path)`` fills a temporary file in ``out``.

    When the block ends normally every staged file is renamed to its name (``os.replace``, atomic on one
    file system); when it raises (including KeyboardInterrupt) every temporary file is removed and no
    report file is touched.
    """
    pending: list[tuple[Path, Path]] = []

    def stage(name: str, write: Callable[[Path], object]) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a report file gets the usual permissions
        pending.append((tmp, out / name))
        write(tmp)

    try:
        yield stage
        for tmp, final in pending:
            os.replace(tmp, final)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, text: str) -> None:
    with staged(path.parent) as stage:
        stage(path.name, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _save_figure(fig: Any) -> Callable[[Path], None]:
    return lambda tmp: fig.savefig(tmp, format="png", dpi=100)


def _prepare_out(out: Path) -> str | None:
    """Create the report folder and prove it is writable; the reason when it is not, else None."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        return f"error: the report folder {str(out)!r} is not writable: {exc}"
    return None


def _meta(started: float) -> dict[str, Any]:
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "device": torch_device(),
        "seconds": round(time.time() - started, 1),
    }


def _payload(
    reports: Sequence[SpecReport],
    detections: Sequence[Detection],
    meta: dict[str, Any],
    plots: Sequence[str],
    versions: Sequence[Mapping[str, Any]],
    recipes: RecipeSummary | None = None,
    book: BookSection | None = None,
) -> dict[str, Any]:
    return {
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
        "whole_model": [asdict(w) for w in whole_model_rows(reports)],
        "loss_curves": [
            {
                "spec": r.spec,
                "case": c.case,
                "dtype": c.dtype,
                "scratch": {k: v.tolist() for k, v in c.scratch.items()},
                "torch": {k: v.tolist() for k, v in c.torch.items()},
            }
            for r in reports
            for c in r.curves
        ],
        "mutants": [asdict(d) for d in detections],
        "plots": list(plots),
        "versions": list(versions),
        "reproduction": None
        if recipes is None
        else {"mode": recipes.mode, "exit_code": recipes.exit_code, "error": recipes.error, "recipes": recipes.recipes},
        "book": None if book is None else {"passed": book.ok, **book.payload},
    }


def write_report(
    out: Path,
    reports: Sequence[SpecReport],
    detections: Sequence[Detection],
    meta: dict[str, Any],
    versions: Sequence[Mapping[str, Any]],
    recipes: RecipeSummary | None = None,
    book: BookSection | None = None,
) -> tuple[str, list[str]]:
    """Write parity.md, parity.json and the PNG plots into ``out`` (all or nothing); return the Markdown
    and the plot file names written."""
    figure_class = _figure_class()
    timings = [t for r in reports for t in r.timings]
    training = [r for r in reports if r.curves]
    recipe_names = [n for n in recipes.recipes if recipe_has_curves(recipes.rows_of(n))] if recipes else []
    plot_note = ""
    if figure_class is None and (timings or training or recipe_names):
        plot_note = "Plots skipped: matplotlib is not installed (pip install 'dlfs-parity[plots]')."
    plots: list[str] = []
    drawings: list[tuple[str, Callable[[], Any]]] = []
    if figure_class is not None:
        if timings:
            drawings.append((SPEED_PLOT, lambda: speed_figure(figure_class, timings)))
        drawings += [(plot_file(r.spec), partial(loss_figure, figure_class, r.spec, r.curves)) for r in training]
        if recipes is not None:
            drawings += [
                (recipe_plot_file(n), partial(recipe_figure, figure_class, n, recipes.rows_of(n))) for n in recipe_names
            ]
    failed: list[str] = []
    with staged(out) as stage:
        for name, draw in drawings:
            try:
                figure = draw()
            except Exception as exc:  # a plot that cannot be drawn must not cost the tables
                failed.append(f"{name} ({type(exc).__name__}: {exc})")
                continue
            stage(name, _save_figure(figure))
            plots.append(name)
        if failed:
            plot_note = "Plots that could not be drawn: " + "; ".join(failed)
        markdown = render_markdown(
            reports, detections, meta, plots=plots, plot_note=plot_note, versions=versions, recipes=recipes, book=book
        )
        payload = _payload(reports, detections, meta, plots, versions, recipes, book)
        stage("parity.md", lambda tmp: tmp.write_text(markdown, encoding="utf-8"))
        stage("parity.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n"))
    # plots of an earlier run that this run did not draw would be stale: the Markdown no longer links them
    for old in [*out.glob("loss_*.png"), *out.glob("recipe_*.png"), out / SPEED_PLOT]:
        if old.is_file() and old.name not in plots:
            old.unlink()
    return markdown, plots


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity_tests.report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report"), help="report folder (default: report)")
    parser.add_argument("--no-bench", action="store_true", help="skip the paired benchmarks")
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutation self-test")
    parser.add_argument("--budget", type=float, default=0.6, help="seconds of timing per benchmark pair")
    parser.add_argument("--spec", action="append", default=[], help="only these components (repeatable)")
    parser.add_argument(
        "--recipes",
        choices=RECIPE_MODES,
        default="quick",
        help="the book reproduction table: quick (default, minutes; in <out>/reproduction-quick), full (the "
        "book's configurations, hours; in <out>/reproduction) or none",
    )
    parser.add_argument(
        "--recipe", action="append", default=[], help="only these recipes in the reproduction table (repeatable)"
    )
    parser.add_argument(
        "--book",
        choices=("quick", "full", "none"),
        default="quick",
        help="run the book's own notebooks on this project into <out>/book: quick (default, seconds), full or none",
    )
    parser.add_argument(
        "--book-notebooks",
        default="",
        metavar="NAME,...",
        help="only these notebooks of the book's manifest (comma-separated; default: all)",
    )
    parser.add_argument(
        "--versions",
        type=Path,
        default=DEFAULT_VERSIONS_DIR,
        help=f"folder of the nox versions session's results (default: {DEFAULT_VERSIONS_DIR})",
    )
    args = parser.parse_args(argv)
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 seconds; received {args.budget}")

    specs = [s for s in all_specs() if not args.spec or s.name in args.spec]
    unknown = set(args.spec) - {s.name for s in all_specs()}
    if unknown:
        parser.error(f"unknown --spec {sorted(unknown)}; known: {[s.name for s in all_specs()]}")
    from .recipes.__main__ import REPRODUCTIONS

    unknown_recipes = set(args.recipe) - set(REPRODUCTIONS)
    if unknown_recipes:
        parser.error(f"unknown --recipe {sorted(unknown_recipes)}; known: {list(REPRODUCTIONS)}")
    if problem := _prepare_out(args.out):
        print(problem, file=sys.stderr)
        return 2

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
    recipes: RecipeSummary | None = None
    if args.recipes != "none":
        names = list(dict.fromkeys(args.recipe or REPRODUCTIONS))
        print(f"book reproduction ({args.recipes}): {', '.join(names)}", file=sys.stderr, flush=True)
        recipes = run_recipes(args.recipes, names, args.out)
    book: BookSection | None = None
    if args.book != "none":
        print(f"the book's notebooks ({args.book})", file=sys.stderr, flush=True)
        notebooks = [n for n in args.book_notebooks.split(",") if n] or None
        book = book_section(args.out / "book", quick=args.book == "quick", names=notebooks)
    meta = _meta(started)
    try:
        markdown, plots = write_report(args.out, reports, detections, meta, load_versions(args.versions), recipes, book)
    except OSError as exc:  # the folder became unwritable (or full) while the checks ran
        print(f"error: could not write the report into {str(args.out)!r}: {exc}", file=sys.stderr)
        return 2
    print(markdown)
    ok = all(r.passed for r in reports) and all(d.caught for d in detections) and (recipes is None or recipes.ok)
    ok = ok and (book is None or book.ok)
    if recipes is not None and not recipes.ok:
        print(f"reproduction: {recipes.error or 'failed recipes: ' + ', '.join(recipes.failed)}", file=sys.stderr)
    if plots:
        print("plots: " + ", ".join(str(args.out / p) for p in plots))
    print(f"report written to {args.out}/parity.md ({'all passed' if ok else 'FAILURES'}; {meta['seconds']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
