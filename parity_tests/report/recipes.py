"""The book reproduction part of the parity report.

The report runs every recipe's ``reproduce()`` (``--recipes quick``, the default: small limits and few epochs;
``full``: the book's configurations, hours; ``none``), which writes the side-by-side table to
``<report>/reproduction-quick/`` (quick) or ``<report>/reproduction/`` (full), as ``reproduction.md`` and
``.json``. This module reads that result back into a :class:`RecipeSummary` (whose ``model()`` is the
report model's ``reproduction`` entry), summarises it per recipe (status, skip or failure reason, experiments,
time, the largest scratch/torch difference of the loss curves) in the report's "Book reproduction" section;
``plots.recipe_figure`` draws one ``recipe_<name>.png`` per recipe from the same rows.

A recipe whose dataset or optional package is missing is listed as skipped with its reason and the rest are
still reported; a recipe that raises is listed as failed and makes the report exit non-zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._markdown import cell
from ..port import relative_error

MODES = ("quick", "full", "none")
SUBDIR = {"quick": "reproduction-quick", "full": "reproduction"}  # as ``recipes all [--quick]`` names them
IMPLEMENTATIONS = ("scratch", "torch_impl")


@dataclass
class RecipeSummary:
    """What ``run_table`` produced: per recipe its status, and every row (with its loss curve, if any)."""

    mode: str
    exit_code: int
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> status, reason, rows, seconds
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""  # why no table could be produced at all

    @property
    def failed(self) -> list[str]:
        return [n for n, r in self.recipes.items() if r.get("status") == "failed"]

    @property
    def skipped(self) -> dict[str, str]:
        return {n: str(r.get("reason", "")) for n, r in self.recipes.items() if r.get("status") == "skipped"}

    @property
    def ok(self) -> bool:
        """No recipe failed and the table was written (skipped recipes are not failures)."""
        return not self.error and self.exit_code == 0 and not self.failed

    def rows_of(self, recipe: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("recipe") == recipe]

    def model(self) -> dict[str, Any]:
        """The report model's ``reproduction`` entry (JSON-serialisable)."""
        return {
            "mode": self.mode,
            "exit_code": self.exit_code,
            "error": self.error,
            "recipes": self.recipes,
            "rows": self.rows,
        }

    @classmethod
    def from_model(cls, data: Mapping[str, Any]) -> RecipeSummary:
        """The summary back from the report model's ``reproduction`` entry."""
        return cls(
            str(data["mode"]),
            int(data["exit_code"]),
            dict(data.get("recipes", {})),
            list(data.get("rows", [])),
            str(data.get("error", "")),
        )


def run_recipes(mode: str, names: Sequence[str], out: Path) -> RecipeSummary:
    """Run the reproduction table for ``names`` in ``mode`` (``quick`` or ``full``) into ``out/SUBDIR[mode]``."""
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full'; received {mode!r}")
    from ..recipes.__main__ import run_table

    folder = out / SUBDIR[mode]
    code = run_table(list(names), mode == "quick", folder, echo=False)
    path = folder / "reproduction.json"
    if code == 2:
        return RecipeSummary(mode, code, error=f"the reproduction table could not be written into {str(folder)!r}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return RecipeSummary(mode, code, error=f"could not read {str(path)!r} back: {exc}")
    return RecipeSummary(mode, code, dict(payload.get("recipes", {})), list(payload.get("rows", [])))


def plot_file(recipe: str) -> str:
    """``recipe_<name>.png`` (``plots.file_name``)."""
    from .plots import file_name

    return file_name("recipe", recipe)


def curves_by_experiment(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """experiment -> implementation -> curve, for the rows that carry one (in the rows' order)."""
    found: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in rows:
        curve = r.get("curve")
        if isinstance(curve, Mapping):
            found.setdefault(str(r["experiment"]), {})[str(r["implementation"])] = curve
    return found


def curve_difference(pair: Mapping[str, Mapping[str, Any]]) -> float:
    """max |scratch - torch| / max |torch| over a curve pair on the same x; NaN when not comparable."""
    if not all(k in pair for k in IMPLEMENTATIONS):
        return float("nan")
    s, t = (pair[k] for k in IMPLEMENTATIONS)
    if list(s["x"]) != list(t["x"]):
        return float("nan")
    ys, yt = np.asarray(s["y"], dtype=np.float64), np.asarray(t["y"], dtype=np.float64)
    return relative_error(ys, yt)


def worst_difference(rows: Sequence[Mapping[str, Any]]) -> float:
    """The largest :func:`curve_difference` over a recipe's experiments (NaN if none is comparable)."""
    return worst_experiment(rows)[1]


def worst_experiment(rows: Sequence[Mapping[str, Any]]) -> tuple[str, float]:
    """The experiment with the largest :func:`curve_difference` and that difference (``("", nan)`` if none)."""
    diffs = [(name, curve_difference(p)) for name, p in curves_by_experiment(rows).items()]
    diffs = [(name, d) for name, d in diffs if not np.isnan(d)]
    return max(diffs, key=lambda item: item[1]) if diffs else ("", float("nan"))


def has_curves(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any of a recipe's rows carries a loss curve (what ``plots.recipe_figure`` draws)."""
    return bool(curves_by_experiment(rows))


def recipe_figure(figure_class: Any, recipe: str, rows: Sequence[Mapping[str, Any]]) -> Any:
    """``plots.recipe_figure`` (kept here for callers of the earlier layout)."""
    from .plots import recipe_figure as draw

    return draw(figure_class, recipe, rows)


def render_recipes(summary: RecipeSummary | Mapping[str, Any], plots: Sequence[str] = ()) -> list[str]:
    """The report's "Book reproduction" section from the model's ``reproduction`` entry (or a summary): one
    line per recipe, the link to the full table, the plots drawn (``plots``: file names)."""
    if not isinstance(summary, RecipeSummary):
        summary = RecipeSummary.from_model(summary)
    mode = (
        "quick: small limits and few epochs, checks that every experiment runs in both implementations and how "
        "closely they agree; `python -m parity_tests.recipes all` runs the book's full configurations"
        if summary.mode == "quick"
        else "full: the book's configurations"
    )
    lines = ["", f"## Book reproduction ({mode})", ""]
    if summary.error:
        return [*lines, f"**Not produced:** {summary.error}"]
    sub = SUBDIR[summary.mode]
    lines += [
        f"Every metric of both implementations side by side: [{sub}/reproduction.md]({sub}/reproduction.md) "
        f"(rows and loss curves in [{sub}/reproduction.json]({sub}/reproduction.json)).",
        "",
        "The curves agree to round-off where both implementations share every random draw and compute in "
        "float64; a recipe whose implementations draw their own dropout masks, or that trains in float32, or "
        "whose training amplifies round-off (chapter 6: see its recipe) differs more. The last column is the "
        "note of the experiment with the largest difference.",
        "",
        "| recipe | status | experiments | seconds | loss curves: max \\|scratch - torch\\| / max \\|torch\\| | "
        "skipped or failed because / note |",
        "|---|---|---|---|---|---|",
    ]
    for name, info in summary.recipes.items():
        rows = summary.rows_of(name)
        status = str(info.get("status", "?"))
        experiments = len({r["experiment"] for r in rows}) if rows else "–"
        seconds = info.get("seconds")
        worst, diff = worst_experiment(rows)
        notes = [str(r.get("note", "")) for r in rows if r["experiment"] == worst]
        why = str(info.get("reason", "")) if status != "ok" else (f"{worst}: {notes[0]}" if worst and notes else "")
        lines.append(
            f"| {name} | {status if status == 'ok' else status.upper()} | {experiments} | "
            f"{'–' if seconds is None else f'{float(seconds):.1f}'} | {'–' if np.isnan(diff) else f'{diff:.1e}'} | "
            f"{cell(why)} |"
        )
    drawn = [(n, plot_file(n)) for n in summary.recipes if plot_file(n) in plots]
    if drawn:
        lines += ["", "Loss curves per recipe (scratch solid, torch dashed; below: their relative difference):", ""]
        lines += [f"![{n}: loss curves of scratch and torch]({p})\n" for n, p in drawn]
    return lines
