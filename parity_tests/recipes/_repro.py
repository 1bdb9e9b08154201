"""The book reproduction table: result rows, skipped recipes, the Markdown renderer and atomic report writing.

A recipe's ``reproduce(quick: bool) -> list[dict]`` returns rows (``ReproRow.to_dict()``, or ``row(...)``):

    {"chapter": "ch4", "experiment": "5", "implementation": "scratch",
     "metrics": {"test accuracy": 0.9512, ...}, "seconds": 71.3, "note": "..."}

and raises ``SkipRecipe(reason)`` when it cannot run here (a missing data set or optional package).
:func:`render_markdown` lays the rows out as one Markdown table per chapter, one line per experiment, with each
metric's values for every implementation side by side (scratch, torch_impl, then any other, e.g. sklearn),
then the seconds per implementation and the notes; skipped recipes are listed with their reasons.
:func:`write_report` writes ``reproduction.md`` and ``reproduction.json`` atomically (temporary file in the
same folder, then ``os.replace``), so a reader never sees a half-written report.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "IMPLEMENTATION_ORDER",
    "ReportWriteError",
    "ReproRow",
    "SkipRecipe",
    "check_row",
    "render_markdown",
    "row",
    "write_atomic",
    "write_report",
]

#: Implementations shown first, in this order; any other (e.g. "sklearn") follows in order of appearance.
IMPLEMENTATION_ORDER = ("scratch", "torch_impl")
_KEYS = ("chapter", "experiment", "implementation", "metrics", "seconds", "note")


class SkipRecipe(Exception):  # noqa: N818 - the name the recipes' contract uses
    """Raised by ``reproduce`` when the recipe cannot run here; ``reason`` says why (shown in the table)."""

    def __init__(self, reason: str) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise TypeError(f"reason must be a non-empty string; received {reason!r}")
        super().__init__(reason)
        self.reason = reason


class ReportWriteError(OSError):
    """The report could not be written (the output folder cannot be created or written to)."""


@dataclass
class ReproRow:
    """One (chapter, experiment, implementation) result of the reproduction table."""

    chapter: str
    experiment: str
    implementation: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain, JSON-serialisable dict (after the same checks as :func:`check_row`)."""
        return check_row(asdict(self))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a row dict and return a normalised copy (floats, str note). ``ValueError``/``TypeError`` otherwise."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a reproduction row must be a dict; received {type(data).__name__}")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"a reproduction row needs the keys {list(_KEYS)}; missing {missing} in {dict(data)!r}")
    for key in ("chapter", "experiment", "implementation"):
        if not isinstance(data[key], str) or not data[key]:
            raise TypeError(f"row[{key!r}] must be a non-empty string; received {data[key]!r}")
    metrics = data["metrics"]
    if not isinstance(metrics, Mapping):
        raise TypeError(f"row['metrics'] must be a dict of name -> number; received {type(metrics).__name__}")
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not _is_number(value):
            raise TypeError(f"row['metrics'] must map names to numbers; received {name!r}: {value!r}")
        clean[name] = float(value)
    seconds = data["seconds"]
    if seconds is not None and (not _is_number(seconds) or seconds < 0 or not math.isfinite(seconds)):
        raise ValueError(f"row['seconds'] must be a finite number >= 0 or None; received {seconds!r}")
    if not isinstance(data["note"], str):
        raise TypeError(f"row['note'] must be a string; received {data['note']!r}")
    return {
        "chapter": data["chapter"],
        "experiment": data["experiment"],
        "implementation": data["implementation"],
        "metrics": clean,
        "seconds": None if seconds is None else float(seconds),
        "note": data["note"],
    }


def row(
    chapter: str,
    experiment: str,
    implementation: str,
    metrics: Mapping[str, float],
    seconds: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Shorthand for ``ReproRow(...).to_dict()``."""
    return ReproRow(chapter, experiment, implementation, dict(metrics), seconds, note).to_dict()


def _ordered(items: Sequence[str], first: Sequence[str] = ()) -> list[str]:
    seen = dict.fromkeys(items)
    return [x for x in first if x in seen] + [x for x in seen if x not in first]


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _fmt_seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(
    rows: Sequence[Mapping[str, Any]],
    skipped: Mapping[str, str] | None = None,
    *,
    title: str = "Book reproduction",
    preamble: Sequence[str] = (),
) -> str:
    """The reproduction table as Markdown: a section per chapter, one line per experiment, each metric's values
    per implementation side by side (``metric · scratch``, ``metric · torch_impl``, ...), seconds per
    implementation, notes; then the skipped recipes with their reasons."""
    checked = [check_row(r) for r in rows]
    lines = [f"# {title}", ""]
    lines += [*preamble, ""] if preamble else []
    for chapter in _ordered([r["chapter"] for r in checked]):
        ch_rows = [r for r in checked if r["chapter"] == chapter]
        impls = _ordered([r["implementation"] for r in ch_rows], IMPLEMENTATION_ORDER)
        metrics = _ordered([m for r in ch_rows for m in r["metrics"]])
        # one column per (metric, implementation) pair that has a value somewhere in the chapter
        columns = [
            (m, i)
            for m in metrics
            for i in impls
            if any(r["implementation"] == i and m in r["metrics"] for r in ch_rows)
        ]
        timed = [i for i in impls if any(r["implementation"] == i and r["seconds"] is not None for r in ch_rows)]
        header = ["experiment", *(f"{m} · {i}" for m, i in columns), *(f"seconds · {i}" for i in timed), "note"]
        lines += [f"## {chapter}", "", "| " + " | ".join(_cell(h) for h in header) + " |"]
        lines.append(
            "|" + "|".join("---" if k == 0 or k == len(header) - 1 else "---:" for k in range(len(header))) + "|"
        )
        for experiment in _ordered([r["experiment"] for r in ch_rows]):
            by_impl = {r["implementation"]: r for r in ch_rows if r["experiment"] == experiment}
            cells = [experiment]
            cells += [_fmt(by_impl[i]["metrics"].get(m)) if i in by_impl else "–" for m, i in columns]
            cells += [_fmt_seconds(by_impl[i]["seconds"]) if i in by_impl else "–" for i in timed]
            notes = _ordered([r["note"] for r in by_impl.values() if r["note"]])
            cells.append("; ".join(notes))
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if skipped:
        lines += ["## Skipped", ""]
        lines += [f"- {name}: {_cell(reason)}" for name, reason in skipped.items()]
        lines.append("")
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``: readers see
    the old file or the new one, never a partial one, and no temporary file is left behind on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(out_dir: str | os.PathLike[str], markdown: str, payload: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``out_dir/reproduction.md`` and ``out_dir/reproduction.json`` (created with its parents) atomically.

    Raises ``ReportWriteError`` naming the folder when it cannot be created or written to."""
    directory = Path(out_dir)
    md_path, json_path = directory / "reproduction.md", directory / "reproduction.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(json_path, json.dumps(payload, indent=2, sort_keys=False) + "\n")
        write_atomic(md_path, markdown)
    except OSError as exc:
        raise ReportWriteError(f"cannot write the reproduction report into {str(directory)!r}: {exc}") from exc
    return md_path, json_path
