"""The parity report: every component's parity in float64 and float32, whole-model training parity, the
mutation self-test, the paired scratch/torch timings and the version matrix, as Markdown (and JSON) with
PNG plots in a report folder, and on the terminal.

    python -m parity_tests.report --out report          # everything
    python -m parity_tests.report --no-bench            # no benchmarks (and no sweeps)
    python -m parity_tests.report --no-sweeps           # benchmarks without the scaling sweeps
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
``parity_tests.report.recipes``). The book's own notebooks run on this project (``--book quick``, the default; ``full``;
``none``) go to ``book/`` (``book.md``, ``book.json``) with a summary in ``parity.md``; a missing book repository
(``DLFS_BOOK``) is listed as skipped.

Exit status: 0 when every parity case passes, every mutant is caught, no recipe fails (skipped is not
failed) and every book notebook prints the book's numbers or an explained difference, 1 otherwise, 2 for bad
usage (for example an unwritable report folder). Every file is first
written to a temporary name in the report folder and renamed only once all of them are complete
(``parity_tests._io.staged``), so an interrupted run never leaves a half-written report file.

The report is built in three steps, each its own module: ``report.model`` runs the cases, benchmarks and
mutants and collects everything into one JSON model (``parity.json``); ``plots`` draws the figures and
``report.markdown`` the Markdown from that model alone. This module is the command line and the writing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import check_writable, staged, write_atomic
from ..book.report import BookSection, book_section
from ..mutants import Detection
from ..specs import all_specs
from ..tolerances import TOLERANCES
from . import plots as _plots
from .markdown import render, render_versions, render_whole_model
from .model import (
    Curves,
    Model,
    SpecReport,
    Timing,
    WholeModelRow,
    build,
    build_model,
    is_loss_key,
    is_weight_key,
    load_speed_baseline,
    load_versions,
    measure,
    passed,
    run_case_keeping,
    run_metadata,
    speed_baseline,
    to_json,
    whole_model_rows,
)
from .plots import SPEED_PLOT, figure_class, file_name, loss_figure, speed_figure
from .recipes import MODES as RECIPE_MODES
from .recipes import RecipeSummary, run_recipes

__all__ = [
    "DEFAULT_VERSIONS_DIR",
    "SPEED_PLOT",
    "TOLERANCES",
    "Curves",
    "SpecReport",
    "Timing",
    "WholeModelRow",
    "build",
    "build_model",
    "is_loss_key",
    "is_weight_key",
    "load_versions",
    "loss_figure",
    "main",
    "measure",
    "plot_file",
    "render",
    "render_markdown",
    "render_versions",
    "render_whole_model",
    "run_case_keeping",
    "speed_figure",
    "staged",
    "whole_model_rows",
    "write_model",
    "write_report",
]

DEFAULT_VERSIONS_DIR = Path("report") / "versions"
STALE_PLOTS = ("loss_*.png", "recipe_*.png", SPEED_PLOT)  # plots of an earlier run, removed unless redrawn

_save_figure = _plots.png  # a figure -> PNG content for the writer (a test interrupts it)


def plot_file(spec: str) -> str:
    """``loss_<spec>.png`` with every character outside [A-Za-z0-9_.-] replaced by ``_``."""
    return file_name("loss", spec)


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
    """The report as Markdown from collected results (``report_render.render`` of their model); ``versions``
    None leaves the version matrix out."""
    model = build_model(reports, detections, meta, versions or (), recipes, None if book is None else book.model())
    model.update(plots=list(plots), plot_note=plot_note, versions=None if versions is None else model["versions"])
    return render(model)


def _draw(model: Model, stage: Callable[[str, Any], None]) -> None:
    """Draw every plot the model calls for into ``stage``; record the drawn file names and a note on what is
    missing in the model (``plots``, ``plot_note``). A plot that raises costs only itself."""
    fc = figure_class()
    drawings = _plots.figures(model, fc)
    if fc is None:
        model.update(plots=[], plot_note=_plots.NO_MATPLOTLIB if drawings else "")
        return
    drawn, failed = [], []
    for name, draw in drawings:
        try:
            figure = draw()
        except Exception as exc:  # a plot that cannot be drawn must not cost the tables
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
            continue
        stage(name, _save_figure(figure))
        drawn.append(name)
    model.update(plots=drawn, plot_note="Plots that could not be drawn: " + "; ".join(failed) if failed else "")


def write_model(out: Path, model: Model) -> str:
    """Draw the model's plots and write them, ``parity.md`` and ``parity.json`` into ``out`` (all or nothing);
    return the Markdown. Plots of an earlier run that this run did not draw are removed."""
    with staged(out) as stage:
        _draw(model, stage)
        markdown = render(model)
        stage("parity.md", markdown)
        stage("parity.json", to_json(model))
    for pattern in STALE_PLOTS:
        for old in out.glob(pattern):
            if old.is_file() and old.name not in model["plots"]:
                old.unlink()
    return markdown


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
    model = build_model(reports, detections, meta, versions, recipes, None if book is None else book.model())
    markdown = write_model(out, model)
    return markdown, list(model["plots"])


def _prepare_out(out: Path) -> str | None:
    """Create the report folder and prove it is writable; the reason when it is not, else None."""
    try:
        check_writable(out)
    except OSError as exc:
        return f"error: the report folder {str(out)!r} is not writable: {exc}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m parity_tests.report", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("report"), help="report folder (default: report)")
    parser.add_argument("--no-bench", action="store_true", help="skip the paired benchmarks")
    parser.add_argument("--no-mutants", action="store_true", help="skip the mutation self-test")
    parser.add_argument(
        "--speed-baseline",
        type=Path,
        default=Path("docs") / "benchmarks.json",
        help="the committed benchmark numbers the speed table compares with (default: docs/benchmarks.json)",
    )
    parser.add_argument(
        "--write-speed-baseline",
        type=Path,
        metavar="PATH",
        help="also write this run's scratch/torch ratios there (to commit as the new reference numbers)",
    )
    parser.add_argument(
        "--no-sweeps", action="store_true", help="skip the scaling sweeps (Dense batch, Conv2D_Op image, LSTM hidden)"
    )
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
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def collect(args: argparse.Namespace, specs: Sequence[Any]) -> Model:
    """Run everything the options ask for (specs at one thread, the recipes, the book's notebooks) into the
    report model."""
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
            specs, not args.no_bench, args.budget, not args.no_mutants, _progress, sweeps=not args.no_sweeps
        )
    finally:
        if limiter is not None:
            limiter.unregister()
    recipes: RecipeSummary | None = None
    if args.recipes != "none":
        from ..recipes.__main__ import REPRODUCTIONS

        names = list(dict.fromkeys(args.recipe or REPRODUCTIONS))
        _progress(f"book reproduction ({args.recipes}): {', '.join(names)}")
        recipes = run_recipes(args.recipes, names, args.out)
    book: BookSection | None = None
    if args.book != "none":
        _progress(f"the book's notebooks ({args.book})")
        notebooks = [n for n in args.book_notebooks.split(",") if n] or None
        book = book_section(args.out / "book", quick=args.book == "quick", names=notebooks)
    return build_model(
        reports,
        detections,
        run_metadata(started),
        load_versions(args.versions),
        recipes,
        None if book is None else book.model(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 seconds; received {args.budget}")
    known = all_specs()
    unknown = set(args.spec) - {s.name for s in known}
    if unknown:
        parser.error(f"unknown --spec {sorted(unknown)}; known: {[s.name for s in known]}")
    from ..recipes.__main__ import REPRODUCTIONS

    unknown_recipes = set(args.recipe) - set(REPRODUCTIONS)
    if unknown_recipes:
        parser.error(f"unknown --recipe {sorted(unknown_recipes)}; known: {list(REPRODUCTIONS)}")
    if problem := _prepare_out(args.out):
        print(problem, file=sys.stderr)
        return 2
    model = collect(args, [s for s in known if not args.spec or s.name in args.spec])
    try:
        model["speed_baseline"] = load_speed_baseline(args.speed_baseline)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write_speed_baseline is not None:
        write_atomic(args.write_speed_baseline, json.dumps(speed_baseline(model), indent=1, sort_keys=True) + "\n")
    try:
        markdown = write_model(args.out, model)
    except OSError as exc:  # the folder became unwritable (or full) while the checks ran
        print(f"error: could not write the report into {str(args.out)!r}: {exc}", file=sys.stderr)
        return 2
    print(markdown)
    ok = passed(model)
    reproduction = model["reproduction"]
    if reproduction is not None and not (recipes := RecipeSummary.from_model(reproduction)).ok:
        print(f"reproduction: {recipes.error or 'failed recipes: ' + ', '.join(recipes.failed)}", file=sys.stderr)
    if model["plots"]:
        print("plots: " + ", ".join(str(args.out / p) for p in model["plots"]))
    seconds = model["meta"]["seconds"]
    print(f"report written to {args.out}/parity.md ({'all passed' if ok else 'FAILURES'}; {seconds} s)")
    return 0 if ok else 1
