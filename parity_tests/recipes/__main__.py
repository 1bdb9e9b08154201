"""Dispatcher: ``python -m parity_tests.recipes NAME [options]`` runs the recipe called NAME.

``python -m parity_tests.recipes all [--quick] [--out DIR] [--only NAME ...]`` runs every registered recipe's
``reproduce(quick)`` and writes the book reproduction table (``DIR/reproduction.md`` and
``DIR/reproduction.json``; default ``report/reproduction``, or ``report/reproduction-quick`` with ``--quick`` so
that a quick run never overwrites an hours-long full one); ``python -m parity_tests.recipes table NAME
[--quick] [--out DIR]`` does the same for one recipe (``all --only NAME``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._environment import environment
from .._io import check_writable
from . import ch2, ch3, ch4, ch5, ch6, ch7_autoencoder, ch7_boston, ch7_cnn, ch7_lstm
from ._repro import ReportWriteError, SkipRecipe, check_row, render_markdown, write_report

RECIPES: dict[str, Callable[[list[str] | None], int]] = {
    "ch2": ch2.main,
    "ch3": ch3.main,
    "ch4": ch4.main,
    "ch5": ch5.main,
    "ch6": ch6.main,
    "ch7-boston": ch7_boston.main,
    "ch7-cnn": ch7_cnn.main,
    "ch7-autoencoder": ch7_autoencoder.main,
    "ch7-lstm": ch7_lstm.main,
}

#: The recipes of the reproduction table: name -> ``reproduce(quick) -> list[dict]``. One line per recipe.
REPRODUCTIONS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "ch2": ch2.reproduce,
    "ch3": ch3.reproduce,
    "ch4": ch4.reproduce,
    "ch5": ch5.reproduce,
    "ch6": ch6.reproduce,
    "ch7-boston": ch7_boston.reproduce,
    "ch7-cnn": ch7_cnn.reproduce,
    "ch7-autoencoder": ch7_autoencoder.reproduce,
    "ch7-lstm": ch7_lstm.reproduce,
}

DEFAULT_OUT = Path("report") / "reproduction"  # the book's full configurations
DEFAULT_QUICK_OUT = Path("report") / "reproduction-quick"  # --quick: a separate folder, never the full table


def default_out(quick: bool) -> Path:
    """Where a reproduction table goes unless ``--out`` says otherwise."""
    return DEFAULT_QUICK_OUT if quick else DEFAULT_OUT


USAGE = (
    "usage: python -m parity_tests.recipes NAME [options]   (NAME --help for a recipe's options)\n"
    "       python -m parity_tests.recipes all [--quick] [--out DIR] [--only NAME ...]   (reproduction table)\n"
    "       python -m parity_tests.recipes table NAME [--quick] [--out DIR]              (one recipe's table)"
)


def _table_parser(prog: str, single: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m parity_tests.recipes {prog}",
        description="Run the recipes' reproduce() and write the book reproduction table "
        "(reproduction.md and reproduction.json).",
    )
    if single:
        p.add_argument("name", choices=list(REPRODUCTIONS), help="the recipe")
    else:
        p.add_argument(
            "--only",
            action="append",
            choices=list(REPRODUCTIONS),
            default=None,
            help="run only this recipe (repeatable; default: all of them)",
        )
    p.add_argument("--quick", action="store_true", help="small limits and few epochs (minutes, for CI)")
    p.add_argument(
        "--out", default=None, help=f"output folder (default {DEFAULT_OUT}; with --quick {DEFAULT_QUICK_OUT})"
    )
    return p


def _check_writable(directory: Path) -> None:
    """Create ``directory`` and prove it writable before any long run (``ReportWriteError`` otherwise)."""
    try:
        check_writable(directory)
    except OSError as exc:
        raise ReportWriteError(f"cannot write the reproduction report into {str(directory)!r}: {exc}") from exc


def run_table(names: Sequence[str], quick: bool, out: str | Path, *, echo: bool = True) -> int:
    """Run ``reproduce(quick)`` of each recipe in ``names``, write (and with ``echo`` print) the table; return
    the exit code (0; 1 if a recipe failed with an error; 2 if the output folder is unwritable). Progress goes
    to stderr; the table is ``out/reproduction.md`` and the rows (with their loss curves) ``out/reproduction.json``."""
    out_dir = Path(out)
    try:
        _check_writable(out_dir)
    except ReportWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    recipes: dict[str, dict[str, Any]] = {}
    failed = False
    for name in names:
        print(f"[{name}] running reproduce(quick={quick}) ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            got = [{**check_row(r), "recipe": name} for r in REPRODUCTIONS[name](quick)]
        except SkipRecipe as exc:
            skipped[name] = exc.reason
            recipes[name] = {"status": "skipped", "reason": exc.reason, "seconds": time.perf_counter() - t0}
            print(f"[{name}] skipped: {exc.reason}", file=sys.stderr)
            continue
        except Exception as exc:  # a broken recipe must not lose the others' results
            failed = True
            reason = f"FAILED: {type(exc).__name__}: {exc}"
            skipped[name] = reason
            recipes[name] = {"status": "failed", "reason": reason, "seconds": time.perf_counter() - t0}
            print(f"[{name}] {reason}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - t0
        rows += got
        recipes[name] = {"status": "ok", "rows": len(got), "seconds": seconds}
        print(f"[{name}] {len(got)} rows in {seconds:.1f} s", file=sys.stderr, flush=True)

    mode = "quick (small limits, few epochs: checks the pipeline, not the book's numbers)" if quick else "full (book)"
    env = environment()
    walls = ", ".join(f"{n} {r['seconds']:.1f} s" for n, r in recipes.items())
    preamble = [
        f"Mode: {mode}. Generated {env['date']} with Python {env['python']}, NumPy {env['numpy']}, torch "
        f"{env['torch'] or 'absent'} on {env['machine']}.",
        "",
        "Each line is one experiment; each metric shows the scratch (NumPy) and torch_impl values side by side. "
        "Both implementations start from the same weights and see the same batches; dropout masks are shared "
        "where the note says so, otherwise each implementation draws its own.",
        "",
        f"Recipe wall time: {walls}.",
    ]
    markdown = render_markdown(rows, skipped, title="Book reproduction: scratch vs torch_impl", preamble=preamble)
    payload = {
        "quick": quick,
        "generated": env["date"],
        "environment": env,
        "recipes": recipes,
        "rows": rows,
        "skipped": skipped,
    }
    try:
        md_path, json_path = write_report(out_dir, markdown, payload)
    except ReportWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if echo:
        print(markdown)
        print(f"wrote {md_path} and {json_path}")
    return 1 if failed else 0


def _print_help() -> None:
    print(USAGE)
    print("recipes:")
    for name, recipe in RECIPES.items():
        module = sys.modules.get(recipe.__module__)
        summary = ((module.__doc__ if module else None) or "").strip().splitlines()
        print(f"  {name:10s} {summary[0] if summary else ''}")
    print(f"  {'all':10s} every recipe's reproduce(): the book reproduction table ({', '.join(REPRODUCTIONS)})")
    print(f"  {'table':10s} one recipe's reproduction table")


def main(argv: list[str] | None = None) -> int:
    """Run the recipe named by the first argument with the remaining arguments; return its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        _print_help()
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name in ("all", "table"):
        try:
            opts = _table_parser(name, single=name == "table").parse_args(rest)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
        names = [opts.name] if name == "table" else list(dict.fromkeys(opts.only or REPRODUCTIONS))
        return run_table(names, opts.quick, opts.out or default_out(opts.quick))
    if name not in RECIPES:
        print(f"unknown recipe {name!r}; choose one of: {', '.join([*RECIPES, 'all', 'table'])}", file=sys.stderr)
        return 2
    return RECIPES[name](rest)


if __name__ == "__main__":
    sys.exit(main())
