"""The parity report's Markdown (``parity.md``), rendered from the report model alone (``parity_tests.report.model``).

:func:`render` lays out, in order: the parity table (worst error per component, dtype and category), the
whole-model table, the speed table and plot, the training loss plots, the mutation self-test, the book
reproduction section, the book's notebooks, the version matrix and the failures. Every section reads only the
model's plain data, so ``render(json.loads(parity_json))`` gives the report again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import version_matrix
from .._markdown import cell
from ..book.report import section_lines as book_lines
from ..tolerances import CATEGORIES
from .plots import SPEED_PLOT, file_name
from .recipes import render_recipes

DTYPES = ("float64", "float32")


def fmt(value: float) -> str:
    """An error in the tables: ``3.2e-16``, or ``—`` for NaN (no result, or a failure shown elsewhere)."""
    return "—" if np.isnan(value) else f"{value:.1e}"


def _as_dict(row: Any) -> Mapping[str, Any]:
    return dataclasses.asdict(row) if dataclasses.is_dataclass(row) and not isinstance(row, type) else row


def render_whole_model(rows: Sequence[Mapping[str, Any] | Any]) -> list[str]:
    """The "Whole-model parity" section: per training spec and dtype, the largest divergences (the model's
    ``whole_model`` rows, or ``report_model.WholeModelRow`` objects)."""
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
    for w in map(_as_dict, rows):
        lines.append(
            f"| {w['spec']} | {w['dtype']} | {w['cases']} | {w['length']} | {fmt(w['loss_error'])} | "
            f"{fmt(w['weight_error'])} | {w['tolerance']:.0e} | {'PASS' if w['passed'] else 'FAIL'} |"
        )
    return lines


def render_versions(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "Versions" section: the versions matrix (``parity_tests.version_matrix.render``), one row per
    Python / torch / NumPy combination, and what changed against the baseline."""
    return ["", "## Versions (python3 noxfile.py -s versions)", "", *version_matrix.render(entries, heading="###")]


def _header(model: Mapping[str, Any]) -> list[str]:
    meta, tolerances = model["meta"], model["tolerances"]
    t64, t32 = tolerances["float64"], tolerances["float32"]
    return [
        "# dlfs-parity report",
        "",
        f"Generated {meta['date']} on {meta['machine']}; Python {meta['python']}, NumPy {meta['numpy']}, "
        f"torch {meta['torch']} (device {meta['device']}).",
        "",
        "Errors are max |scratch - torch| / max |torch| over each case's outputs (fwd), gradients (grad) and "
        "multi-step trajectories (traj), the worst case of each component. Tolerances: float64 "
        f"fwd/grad {t64['forward']:.0e}, traj {t64['trajectory']:.0e}; float32 fwd/grad {t32['forward']:.0e}, "
        f"traj {t32['trajectory']:.0e}.",
    ]


def _parity_table(components: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "",
        "| component | ch | scratch | torch | cases | f64 fwd | f64 grad | f64 traj | f32 fwd | f32 grad | "
        "f32 traj | parity | speed scratch/torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in components:
        ratios = ", ".join(f"{t['ratio']:.2f}" for t in c["timings"]) or "—"
        worst = " | ".join(fmt(c["worst"].get(d, {}).get(k, float("nan"))) for d in DTYPES for k in CATEGORIES)
        lines.append(
            f"| {c['spec']} | {c['chapter']} | `{c['scratch']}` | `{c['torch']}` | {c['case_count']} | {worst} | "
            f"{'PASS' if c['passed'] else 'FAIL'} | {ratios} |"
        )
    return lines


def _speed(timings: Sequence[Mapping[str, Any]], plots: Sequence[str]) -> list[str]:
    if not timings:
        return []
    lines = ["", "## Speed (forward + backward, or one optimizer step / training epoch; 1 thread, same process)", ""]
    if SPEED_PLOT in plots:
        lines += [f"![scratch/torch time per benchmark case]({SPEED_PLOT})", ""]
    lines += [
        "| component | size | dtype | scratch (ms) | torch (ms) | scratch/torch |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['spec']} | {t['case']} | {t['dtype']} | {1e3 * t['scratch_s']:.3f} | {1e3 * t['torch_s']:.3f} | "
        f"{t['ratio']:.2f} |"
        for t in timings
    ]
    return lines


def _loss_plots(components: Sequence[Mapping[str, Any]], plots: Sequence[str]) -> list[str]:
    drawn = [(c["spec"], file_name("loss", c["spec"])) for c in components]
    drawn = [(spec, name) for spec, name in drawn if name in plots]
    if not drawn:
        return []
    lines = ["", "## Training loss curves (scratch solid/circles, torch dashed/crosses)", ""]
    return lines + [f"![{spec}: loss curves of scratch and torch]({name})\n" for spec, name in drawn]


def _mutants(detections: Sequence[Mapping[str, Any]]) -> list[str]:
    if not detections:
        return []
    lines = [
        "",
        "## Mutation self-test (each deliberately broken scratch variant must be caught)",
        "",
        "| mutant | caught | evidence |",
        "|---|---|---|",
    ]
    return lines + [
        f"| {d['mutant']} | {'yes' if d['caught'] else 'NO'} | {cell(d['evidence'], limit=160)} |" for d in detections
    ]


def _failures(components: Sequence[Mapping[str, Any]]) -> list[str]:
    failures = [case["failure"] for c in components for case in c["cases"] if not case["passed"]]
    if not failures:
        return []
    return ["", "## Failures", ""] + [f"```\n{message}\n```" for message in failures]


def render(model: Mapping[str, Any]) -> str:
    """The report as Markdown, from the report model (``report_model.build_model``, its ``plots`` and
    ``plot_note`` filled in by the plot step)."""
    components, plots = model["components"], model.get("plots", [])
    lines = [*_header(model), *_parity_table(components), *render_whole_model(model["whole_model"])]
    if model.get("plot_note"):
        lines += ["", f"*{model['plot_note']}*"]
    lines += _speed([t for c in components for t in c["timings"]], plots)
    lines += _loss_plots(components, plots)
    lines += _mutants(model["mutants"])
    if model.get("reproduction") is not None:
        lines += render_recipes(model["reproduction"], plots)
    if model.get("book") is not None:
        lines += book_lines(model["book"])
    if model.get("versions") is not None:
        lines += render_versions(model["versions"])
    lines += _failures(components)
    return "\n".join(lines) + "\n"
