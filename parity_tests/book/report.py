"""The book table: ``report/book/book.md`` and ``book.json`` from notebook runs.

Per notebook: how many code cells ran unchanged, were substituted (definition, data) or skipped (display), how
many printed outputs match the book's saved output, how many differ with an erratum to explain them, and how
many differ unexplained or raised. Then one row per printed output: the book's saved output, ours, the book's
own code run here (where it was run), and the verdict, with the erratum's link into the porting guide.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..recipes._repro import write_atomic
from .manifest import BookError, book_root, load_manifest
from .runner import CellResult, NotebookRun, run_notebook

GUIDE = "../../docs/porting-guide.md"  # relative to report/book/
_ANCHORS = {
    "E7": "e7-early-stopping-restores-the-wrong-epoch-and-names-another-one",
    "E10": "e10-one-default-activation-object-is-shared-by-every-layer",
    "E12": "e12-numberwithgrad-over-counts-reused-nodes",
    "E22": "e22-chapter-2s-network-sums-the-hidden-bias-gradient-over-the-units",
    "E23": "e23-matrix_function_forward_sum-raises-unless-x11-is-modified",
    "E24": "e24-early-stopping-quits-at-the-first-evaluation-of-a-loss-above-1e9",
    "E25": "e25-linear-decay-by-repeated-subtraction-misses-final_lr",
}


def erratum_link(erratum: str) -> str:
    """A markdown link to erratum ``erratum`` (``E22``) in the porting guide."""
    anchor = _ANCHORS.get(erratum, "errata")
    return f"[{erratum}]({GUIDE}#{anchor})"


def summary(run: NotebookRun) -> dict[str, Any]:
    """Counts of one notebook run."""
    actions = [c.action for c in run.cells]
    return {
        "notebook": run.name,
        "path": run.path,
        "cells_unchanged": sum(a in ("unchanged", "magics dropped") for a in actions),
        "cells_substituted": sum(a == "definition" or a.startswith("data") for a in actions),
        "cells_skipped": actions.count("display"),
        "magic_lines_dropped": actions.count("magics dropped"),
        "outputs": sum(1 for c in run.cells if c.printed),
        "matched": run.count("status", "match"),
        "explained": run.count("status", "explained"),
        "different": run.count("status", "DIFFERENT"),
        "errors": run.count("status", "ERROR"),
        "seconds": round(run.seconds, 2),
        "passed": run.passed,
    }


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 3] + "..."
    return flat.replace("|", "\\|") or "(nothing)"


def _book_code_cell(book: NotebookRun | None, index: int) -> CellResult | None:
    if book is None:
        return None
    return next((c for c in book.cells if c.index == index), None)


def rows(run: NotebookRun, book: NotebookRun | None) -> list[dict[str, Any]]:
    """One row per printed output of ``run`` (and the book-code run's output of the same cell)."""
    out = []
    for cell in run.cells:
        if not cell.printed:
            continue
        theirs = _book_code_cell(book, cell.index)
        out.append(
            {
                "cell": cell.index,
                "book": cell.saved,
                "ours": cell.ours if not cell.error else f"raised: {cell.error}",
                "book_code_here": None if theirs is None else (theirs.ours if not theirs.error else theirs.error),
                "book_code_matches": None if theirs is None else theirs.status == "match",
                "status": cell.status,
                "erratum": cell.erratum,
                "reason": cell.reason,
            }
        )
    return out


def render(runs: list[tuple[NotebookRun, NotebookRun | None]], meta: dict[str, Any]) -> str:
    """The markdown table of every notebook run."""
    lines = [
        "# The book's notebooks, run on this project",
        "",
        f"Generated {meta['date']} on {meta['machine']}: Python {meta['python']}, NumPy {meta['numpy']}; the book's "
        f"repository at `{meta['book']}`. Each notebook's code cells ran in order with only the substitutions of "
        "`parity_tests/book/notebooks.json` (definitions -> imports, data -> the project's loader, display -> "
        "skipped). 'Book code here' is the book's own definitions run on this machine with the same data and "
        "display substitutions.",
        "",
        "| notebook | cells unchanged | substituted | skipped | outputs | match | explained by an erratum | "
        "different | errors | time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run, _ in runs:
        s = summary(run)
        magics = f" ({s['magic_lines_dropped']} without magic lines)" if s["magic_lines_dropped"] else ""
        lines.append(
            f"| {s['notebook']} (`{s['path']}`) | {s['cells_unchanged']}{magics} | {s['cells_substituted']} | "
            f"{s['cells_skipped']} | {s['outputs']} | {s['matched']} | {s['explained']} | {s['different']} | "
            f"{s['errors']} | {s['seconds']} |"
        )
    for run, book in runs:
        lines += ["", f"## {run.name}: `{run.path}`", ""]
        lines += ["| cell | book (saved) | ours | book code here | verdict |", "|---:|---|---|---|---|"]
        for row in rows(run, book):
            verdict = row["status"]
            if row["erratum"]:
                verdict += f" ({erratum_link(row['erratum'])}: {row['reason']})"
            elif row["reason"] and row["status"] != "match":
                verdict += f" ({row['reason']})"
            here = "not run" if row["book_code_here"] is None else _one_line(row["book_code_here"])
            if row["book_code_matches"] is True:
                here += " (= book)"
            lines.append(
                f"| {row['cell']} | {_one_line(row['book'])} | {_one_line(row['ours'])} | {here} | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def metadata(book_root: Path) -> dict[str, Any]:
    """Where and with what the runs happened."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "book": str(book_root),
    }


def write(out: Path, runs: list[tuple[NotebookRun, NotebookRun | None]], meta: dict[str, Any]) -> Path:
    """Write ``book.md`` and ``book.json`` into ``out`` (atomically); return the markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    data = {
        **meta,
        "notebooks": [{**summary(run), "rows": rows(run, book)} for run, book in runs],
    }
    write_atomic(out / "book.json", json.dumps(data, indent=2) + "\n")
    path = out / "book.md"
    write_atomic(path, render(runs, meta))
    return path


@dataclass
class BookSection:
    """The book table's part of the parity report: its markdown lines, whether it passed, its JSON payload."""

    lines: list[str]
    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)


def _summary_table(runs: list[tuple[NotebookRun, NotebookRun | None]]) -> list[str]:
    lines = [
        "| notebook | outputs | match | explained by an erratum | different | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run, _ in runs:
        s = summary(run)
        lines.append(
            f"| {s['notebook']} (`{s['path']}`) | {s['outputs']} | {s['matched']} | {s['explained']} | "
            f"{s['different']} | {s['errors']} |"
        )
    return lines


def book_section(out: Path, quick: bool) -> BookSection:
    """Run the manifest's notebooks (``quick``: leave out the slow parts), write ``out/book.md`` and ``.json``
    and return the parity report's section. A missing book repository is reported as skipped, not failed."""
    title = ["## The book's notebooks on this project", ""]
    try:
        root = book_root()
    except BookError as exc:
        return BookSection([*title, f"Skipped: {exc}", ""], ok=True, payload={"skipped": str(exc)})
    specs = load_manifest()
    runs: list[tuple[NotebookRun, NotebookRun | None]] = []
    for name, spec in specs.items():
        if quick and spec.slow:
            continue
        run = run_notebook(name, root=root)
        book = None if quick and spec.book_code_slow else run_notebook(name, mode="book", root=root)
        runs.append((run, book))
    path = write(out, runs, metadata(root))
    lines = [
        *title,
        "Each notebook's code cells run in order with only the manifest's substitutions; every printed output is "
        f"compared with the book's saved output (details and the book's own code run here: [{path.name}]"
        f"({out.name}/{path.name})).",
        "",
        *_summary_table(runs),
        "",
    ]
    ok = all(run.passed for run, _ in runs)
    return BookSection(lines, ok, {"notebooks": [summary(run) for run, _ in runs]})
