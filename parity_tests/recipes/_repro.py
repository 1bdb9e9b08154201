"""The book reproduction table: result rows, skipped recipes, the Markdown renderer and atomic report writing.

A recipe's ``reproduce(quick: bool) -> list[dict]`` returns rows (``ReproRow.to_dict()``, or ``row(...)``):

    {"chapter": "ch4", "experiment": "5", "implementation": "scratch",
     "metrics": {"test accuracy": 0.9512, ...}, "seconds": 71.3, "note": "...",
     "curve": {"label": "validation loss", "x_label": "epoch", "x": [1.0, 2.0], "y": [0.61, 0.48]}}

``curve`` is optional: the run's loss trace (``label`` names the quantity, ``x_label`` the x-axis; ``x`` strictly
increasing and finite, ``y`` finite, same length >= 1), which the parity report draws for both implementations
overlaid. :func:`make_curve` builds one and averages consecutive blocks of a trace longer than
``MAX_CURVE_POINTS`` (saying so in the label). Rows without a curve have no ``"curve"`` key.

and raises ``SkipRecipe(reason)`` when it cannot run here (a missing data set or optional package).
:func:`render_markdown` lays the rows out as one Markdown table per chapter, one line per experiment, with each
metric's values for every implementation side by side (scratch, torch_impl, then any other, e.g. sklearn),
then the seconds per implementation and the notes; skipped recipes are listed with their reasons.
:func:`write_report` writes ``reproduction.md`` and ``reproduction.json`` atomically (``parity_tests._io``: a
temporary file in the same folder, then renamed), so a reader never sees a half-written report.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._io import write_atomic
from .._markdown import cell as _cell
from ..report.plots import png

__all__ = [
    "IMPLEMENTATION_ORDER",
    "MAX_CURVE_POINTS",
    "ReportWriteError",
    "ReproRow",
    "SkipRecipe",
    "check_curve",
    "check_row",
    "make_curve",
    "render_markdown",
    "row",
    "write_atomic",
    "write_report",
]

#: Implementations shown first, in this order; any other (e.g. "sklearn") follows in order of appearance.
IMPLEMENTATION_ORDER = ("book (saved)", "scratch", "torch_impl")  # the book's printed number first
_KEYS = ("chapter", "experiment", "implementation", "metrics", "seconds", "note")
_CURVE_KEYS = ("label", "x_label", "x", "y")
#: The most points :func:`make_curve` keeps; a longer trace is averaged over consecutive blocks.
MAX_CURVE_POINTS = 2000


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
    curve: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain, JSON-serialisable dict (after the same checks as :func:`check_row`); no ``"curve"``
        key when ``curve`` is None."""
        data = asdict(self)
        if data["curve"] is None:
            del data["curve"]
        return check_row(data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _where(context: str) -> str:
    return f" ({context})" if context else ""


def _finite_numbers(seq: Any, key: str, where: str) -> list[float]:
    """``row['curve'][key]`` as a list of finite Python floats (``TypeError``/``ValueError`` naming the position)."""
    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
        raise TypeError(f"row['curve'][{key!r}] must be a list of numbers; received {type(seq).__name__}{where}")
    clean: list[float] = []
    for i, value in enumerate(seq):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"row['curve'][{key!r}] must be a list of numbers; received {value!r} at position {i}{where}"
            )
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"row['curve'][{key!r}] must be finite; received {number!r} at position {i}{where}")
        clean.append(number)
    return clean


def check_curve(curve: Any, context: str = "") -> dict[str, Any]:
    """Validate a row's ``curve`` and return a normalised copy (``x`` and ``y`` as lists of Python floats).

    Expects ``{"label": str, "x_label": str, "x": [numbers], "y": [numbers]}``: non-empty strings, ``x`` and ``y``
    of the same length >= 1, ``x`` finite and strictly increasing, ``y`` finite. ``context`` (e.g. the row's
    chapter/experiment/implementation) is named in the messages. ``TypeError``/``ValueError`` otherwise."""
    where = _where(context)
    if not isinstance(curve, Mapping):
        raise TypeError(
            f"row['curve'] must be a dict with keys {list(_CURVE_KEYS)}; received {type(curve).__name__}{where}"
        )
    missing = [k for k in _CURVE_KEYS if k not in curve]
    extra = [k for k in curve if k not in _CURVE_KEYS]
    if missing or extra:
        raise ValueError(
            f"row['curve'] must have exactly the keys {list(_CURVE_KEYS)}; missing {missing}, unexpected {extra}{where}"
        )
    for key in ("label", "x_label"):
        if not isinstance(curve[key], str) or not curve[key].strip():
            raise TypeError(f"row['curve'][{key!r}] must be a non-empty string; received {curve[key]!r}{where}")
    x, y = (_finite_numbers(curve[key], key, where) for key in ("x", "y"))
    if not x:
        raise ValueError(f"row['curve'] must have at least one point; received empty x and y{where}")
    if len(x) != len(y):
        raise ValueError(f"row['curve'] x and y must have the same length; received {len(x)} and {len(y)}{where}")
    for i in range(1, len(x)):
        if not x[i] > x[i - 1]:
            raise ValueError(
                f"row['curve']['x'] must be strictly increasing; received {x[i - 1]!r} then {x[i]!r} "
                f"at positions {i - 1}, {i}{where}"
            )
    return {"label": curve["label"], "x_label": curve["x_label"], "x": x, "y": y}


def make_curve(
    y: Sequence[float] | Any,
    *,
    label: str,
    x_label: str,
    x: Sequence[float] | Any | None = None,
    max_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """A validated ``curve`` for a row from a loss trace ``y`` at positions ``x`` (default 1, 2, ..., len(y)).

    A trace longer than ``max_points`` is kept whole but averaged over consecutive blocks of
    ``k = ceil(len / max_points)`` points (the last block may be shorter): each point is the block's mean at the
    x of the block's last point, and the label says ``"(mean of blocks of k)"``."""
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ValueError(f"max_points must be an integer >= 1; received {max_points!r}")
    ys = [float(v) for v in y]
    xs = [float(v) for v in x] if x is not None else [float(i) for i in range(1, len(ys) + 1)]
    if len(xs) != len(ys):
        raise ValueError(f"x and y must have the same length; received {len(xs)} and {len(ys)}")
    if len(ys) > max_points:
        k = -(-len(ys) // max_points)
        starts = range(0, len(ys), k)
        ys = [math.fsum(ys[s : s + k]) / len(ys[s : s + k]) for s in starts]
        xs = [xs[min(s + k, len(xs)) - 1] for s in starts]
        label = f"{label} (mean of blocks of {k})"
    return check_curve({"label": label, "x_label": x_label, "x": xs, "y": ys})


def check_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a row dict and return a normalised copy (floats, str note, and the optional ``curve`` through
    :func:`check_curve`; no ``"curve"`` key when the row has none or ``None``). ``ValueError``/``TypeError``
    otherwise."""
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
    out: dict[str, Any] = {
        "chapter": data["chapter"],
        "experiment": data["experiment"],
        "implementation": data["implementation"],
        "metrics": clean,
        "seconds": None if seconds is None else float(seconds),
        "note": data["note"],
    }
    if data.get("curve") is not None:
        context = f"row {data['chapter']}/{data['experiment']}/{data['implementation']}"
        out["curve"] = check_curve(data["curve"], context)
    return out


def row(
    chapter: str,
    experiment: str,
    implementation: str,
    metrics: Mapping[str, float],
    seconds: float | None = None,
    note: str = "",
    *,
    curve: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Shorthand for ``ReproRow(...).to_dict()``; ``curve`` (see :func:`check_curve`) is optional."""
    return ReproRow(
        chapter, experiment, implementation, dict(metrics), seconds, note, None if curve is None else dict(curve)
    ).to_dict()


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


def first_sentence(message: object) -> str:
    """The first sentence of an error message (up to the first ". "), for a one-line skip reason. Dots inside
    paths and file names (``.nox``, ``idx3-ubyte.gz``) are not sentence ends."""
    return re.split(r"\.\s", str(message).strip(), maxsplit=1)[0]


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or None if matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure_atomic(fig: Any, path: Path) -> None:
    """``fig`` as a PNG at ``path``, written atomically (``parity_tests._io``)."""
    write_atomic(path, png(fig))


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
