"""The book table: ``report/book/book.md`` and ``book.json`` from notebook runs.

Per notebook: how many code cells ran unchanged, were substituted (definition, data) or skipped (display), how
many printed outputs match the book's saved output, how many differ with an erratum to explain them, and how
many differ unexplained or raised. Then one row per printed output: the book's saved output, ours, the book's
own code run here (where it was run), and the verdict, with the erratum's link into the porting guide.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _markdown
from .._environment import environment
from .._io import write_atomic
from ..tolerances import BOOK_DRIFT_ACCURACY_POINTS as DRIFT_ACCURACY_POINTS
from ..tolerances import BOOK_DRIFT_STOP_EVALUATIONS as DRIFT_STOP_EVALUATIONS
from .manifest import BookError, book_root, load_manifest
from .runner import CellResult, NotebookRun, run_pair

_ACCURACY = re.compile(r"accuracy is:?\s*([-+\d.]+)%")
_STOPPED = re.compile(r"Loss increased after epoch (\d+)")
_EVALUATED = re.compile(r"Validation loss after (\d+) epochs")


def drift_check(saved: str, ours: str) -> tuple[bool, str]:
    """Whether a drifting printout meets the targets (final accuracy within ``DRIFT_ACCURACY_POINTS``, early
    stopping within ``DRIFT_STOP_EVALUATIONS`` evaluations of the book's), and the measured gaps."""
    notes, ok = [], True
    acc_book, acc_here = _ACCURACY.findall(saved), _ACCURACY.findall(ours)
    if acc_book and acc_here:
        gap = float(acc_here[-1]) - float(acc_book[-1])
        ok &= abs(gap) <= DRIFT_ACCURACY_POINTS
        notes.append(f"accuracy {acc_book[-1]}% -> {acc_here[-1]}% ({gap:+.2f} points)")
    stop_book, stop_here = _STOPPED.findall(saved), _STOPPED.findall(ours)
    if stop_book or stop_here:
        epochs = [int(e) for e in _EVALUATED.findall(saved)]
        every = min((b - a for a, b in itertools.pairwise(epochs)), default=1)

        def stopped(found: list[str], text: str) -> tuple[int | None, str]:
            if found:
                return int(found[0]), f"stopped after epoch {found[0]}"
            last = max((int(e) for e in _EVALUATED.findall(text)), default=None)
            return last, f"ran to its last evaluation (epoch {last})"

        (book_epoch, book_text), (here_epoch, here_text) = stopped(stop_book, saved), stopped(stop_here, ours)
        if book_epoch is None or here_epoch is None:
            ok = False
        else:
            ok &= abs(here_epoch - book_epoch) / max(every, 1) <= DRIFT_STOP_EVALUATIONS
        notes.append(f"book {book_text}, here {here_text}" if book_text != here_text else book_text)
    return ok, "; ".join(notes)


GUIDE_FILE = Path(__file__).resolve().parents[2] / "docs" / "porting-guide.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def erratum_anchor(erratum: str) -> str:
    """The anchor of erratum ``erratum`` (``E22``) in the porting guide, read from its heading."""
    try:
        text = GUIDE_FILE.read_text(encoding="utf-8")
    except OSError:
        return "errata"
    match = re.search(rf"^### ({re.escape(erratum)}\. .*)$", text, flags=re.MULTILINE)
    return _slug(match.group(1)) if match else "errata"


def erratum_link(erratum: str, guide: str = "../../docs/porting-guide.md") -> str:
    """A markdown link to erratum ``erratum`` (``E22``) in the porting guide (``guide``: its relative path)."""
    return f"[{erratum}]({guide}#{erratum_anchor(erratum)})"


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
        "drift": run.count("status", "drift"),
        "as_book_code": run.count("status", "as book code"),
        "explained": run.count("status", "explained"),
        "ran": run.count("status", "ran"),
        "different": run.count("status", "DIFFERENT"),
        "errors": run.count("status", "ERROR"),
        "seconds": round(run.seconds, 2),
        "passed": run.passed,
    }


def _one_line(text: str, limit: int | None = 160) -> str:
    """``text`` for a table cell: shortened to ``limit`` characters on one line, or (``limit=None``) whole, its
    lines joined with ``<br>``; ``(nothing)`` for an empty printout."""
    return (_markdown.cell_lines(text) if limit is None else _markdown.cell(text, limit=limit)) or "(nothing)"


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
                "drift_target": drift_check(cell.saved, cell.ours) if cell.status == "drift" else None,
                "erratum": cell.erratum,
                "reason": cell.reason,
            }
        )
    return out


_COLUMNS = (
    "| notebook | cells unchanged | substituted | skipped | outputs | match | drift | as book code | explained by an "
    "erratum | ran | different | errors | time (s) |"
)


def _verdict(row: dict[str, Any], guide: str) -> str:
    verdict = str(row["status"])
    if row["erratum"]:
        verdict += f" ({erratum_link(row['erratum'], guide)}: {row['reason']})"
    elif row["reason"] and row["status"] != "match":
        verdict += f" ({row['reason']})"
    if row.get("drift_target") is not None and row["drift_target"][1]:
        ok, gaps = row["drift_target"]
        verdict += f"; {gaps}: target {'met' if ok else 'NOT met'}"
    return _markdown.cell(verdict)


def payload(runs: list[tuple[NotebookRun, NotebookRun | None]], meta: dict[str, Any]) -> dict[str, Any]:
    """The book table's data (``book.json``): the metadata, and per notebook its counts and rows."""
    return {
        **meta,
        "quick": any(run.quick for run, _ in runs),
        "notebooks": [
            {
                **summary(run),
                "book_code_seconds": None if book is None else round(book.seconds, 2),
                "rows": rows(run, book),
            }
            for run, book in runs
        ],
    }


def render(
    runs: list[tuple[NotebookRun, NotebookRun | None]],
    meta: dict[str, Any],
    guide: str = "../../docs/porting-guide.md",
    whole: bool = False,
) -> str:
    """The markdown table of every notebook run (``guide``: the porting guide's path relative to the output;
    ``whole``: every printout in full)."""
    return render_payload(payload(runs, meta), guide, whole)


def render_payload(data: dict[str, Any], guide: str = "../../docs/porting-guide.md", whole: bool = False) -> str:
    """The markdown of a book table's data (``payload``, or a ``book.json`` read back: the drift targets are
    checked again, so the document follows this module's rules). ``whole``: every printout in full (the
    committed reproduction document), else shortened to a line."""
    limit = None if whole else 160
    meta, quick = data, bool(data.get("quick", False))
    lines = [
        "# The book's notebooks, run on this project",
        "",
        f"Generated {meta['date']} on {meta['machine']}: Python {meta['python']}, NumPy {meta['numpy']}"
        f"{', torch ' + meta['torch'] if meta.get('torch') else ''}, {meta.get('threads', 'default')} thread(s); "
        f"the book's repository at `{meta['book']}`; {'quick (short configurations)' if quick else 'full'} mode"
        f"{': `' + meta['command'] + '`' if meta.get('command') else ''}. Each notebook's code cells ran in order "
        "with only the substitutions of `parity_tests/book/notebooks.json` (definitions -> imports, data -> the "
        "project's loader, display -> skipped; quick mode also applies its visible quick edits). 'Book code "
        "here' is the book's own definitions (its `lincoln` library included) run on this machine with the same "
        "data and display substitutions.",
        "",
        "Verdicts: **match** = the book's saved output at its printed precision; **drift** = differs from the "
        "saved output exactly as the book's own code does on this machine (floating-point drift of a chaotic "
        "run; the evidence is the first differing number, and the targets are the final accuracy within "
        f"{DRIFT_ACCURACY_POINTS} points and early stopping within {DRIFT_STOP_EVALUATIONS} evaluation); **as book "
        "code** = equals the book's own code on the same short configuration (quick mode); **explained** = "
        "differs because the book's code has an erratum this project corrects; **ran** = no reference exists "
        "(the book's code is unseeded or cannot run here).",
        "",
        _COLUMNS,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in data["notebooks"]:
        magics = f" ({s['magic_lines_dropped']} without magic lines)" if s["magic_lines_dropped"] else ""
        lines.append(
            f"| {s['notebook']} (`{s['path']}`) | {s['cells_unchanged']}{magics} | {s['cells_substituted']} | "
            f"{s['cells_skipped']} | {s['outputs']} | {s['matched']} | {s['drift']} | {s['as_book_code']} | "
            f"{s['explained']} | {s['ran']} | {s['different']} | {s['errors']} | {s['seconds']} |"
        )
    for s in data["notebooks"]:
        lines += ["", f"## {s['notebook']}: `{s['path']}`", ""]
        if s.get("book_code_seconds") is not None:
            lines += [f"Book code here: {s['book_code_seconds']:.1f} s.", ""]
        lines += ["| cell | book (saved) | ours | book code here | verdict |", "|---:|---|---|---|---|"]
        for row in s["rows"]:
            if row["status"] == "drift":
                row = {**row, "drift_target": drift_check(row["book"], row["ours"])}
            here = "not run" if row["book_code_here"] is None else _one_line(row["book_code_here"], limit)
            if row["book_code_matches"] is True:
                here += " (= book)"
            saved, ours = _one_line(row["book"], limit), _one_line(row["ours"], limit)
            lines.append(f"| {row['cell']} | {saved} | {ours} | {here} | {_verdict(row, guide)} |")
    return "\n".join(lines) + "\n"


def metadata(book_root: Path, command: str = "") -> dict[str, Any]:
    """Where and with what the runs happened (``parity_tests._environment``), the book's folder and the command."""
    return {**environment(), "book": str(book_root), "command": command}


def write(out: Path, runs: list[tuple[NotebookRun, NotebookRun | None]], meta: dict[str, Any]) -> Path:
    """Write ``book.md`` and ``book.json`` into ``out`` (atomically); return the markdown's path."""
    out.mkdir(parents=True, exist_ok=True)
    data = payload(runs, meta)
    write_atomic(out / "book.json", json.dumps(data, indent=2) + "\n")
    path = out / "book.md"
    write_atomic(path, render_payload(data))
    return path


@dataclass
class BookSection:
    """The book table's part of the parity report: its markdown lines, whether it passed, its JSON payload
    (``{"skipped": why}``, ``{"failed": why}`` or ``{"notebooks": [summary...], "document": "book/book.md"}``)."""

    lines: list[str]
    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)

    def model(self) -> dict[str, Any]:
        """The report model's ``book`` entry: ``{"passed": ok, **payload}`` (what :func:`section_lines` reads)."""
        return {"passed": self.ok, **self.payload}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], ok: bool) -> BookSection:
        return cls(section_lines(payload), ok, payload)


def _summary_table(summaries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| notebook | outputs | match | drift | as book code | explained by an erratum | ran | different | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['notebook']} (`{s['path']}`) | {s['outputs']} | {s['matched']} | {s['drift']} | "
            f"{s['as_book_code']} | {s['explained']} | {s['ran']} | {s['different']} | {s['errors']} |"
        )
    return lines


def section_lines(data: dict[str, Any]) -> list[str]:
    """The parity report's section of the book's notebooks, from the model's ``book`` entry (or a payload)."""
    title = ["## The book's notebooks on this project", ""]
    if "skipped" in data:
        return [*title, f"Skipped: {data['skipped']}", ""]
    if "failed" in data:
        return [*title, f"Failed: {data['failed']}", ""]
    document = str(data.get("document", "book/book.md"))
    return [
        *title,
        "Each notebook's code cells run in order with only the manifest's substitutions; every printed output is "
        f"compared with the book's saved output (details and the book's own code run here: "
        f"[{Path(document).name}]({document})).",
        "",
        *_summary_table(list(data.get("notebooks", []))),
        "",
    ]


def book_section(out: Path, quick: bool, names: list[str] | None = None) -> BookSection:
    """Run the manifest's notebooks (``quick``: leave out the slow parts), write ``out/book.md`` and ``.json``
    and return the parity report's section. A missing book repository is reported as skipped, not failed."""
    try:
        root = book_root()
    except BookError as exc:
        return BookSection.from_payload({"skipped": str(exc)}, ok=True)
    specs = load_manifest()
    unknown = sorted(set(names or ()) - set(specs))
    if unknown:
        return BookSection.from_payload(
            {"failed": f"unknown notebooks {unknown}; the manifest has {sorted(specs)}"}, False
        )
    runs: list[tuple[NotebookRun, NotebookRun | None]] = []
    for name, spec in specs.items():
        if (quick and spec.slow) or (names is not None and name not in names):
            continue
        skip_book = not spec.book_code or (quick and spec.book_code_slow)
        runs.append(run_pair(name, quick=quick, book_code=not skip_book, root=root))
    path = write(out, runs, metadata(root))
    data = {"notebooks": [summary(run) for run, _ in runs], "document": f"{out.name}/{path.name}"}
    return BookSection.from_payload(data, all(run.passed for run, _ in runs))
