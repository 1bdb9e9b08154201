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
from .._markdown import cell, table
from ..book.report import section_lines as book_lines
from ..tolerances import CATEGORIES
from .model import FLOOR_SLACK, SPEED_NOISE, SPEED_NOISE_SHORT, speed_changes
from .plots import SPEED_PLOT, SWEEP_PLOT, file_name
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


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1e3 * seconds:.3f}"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


_VERDICTS = {
    "ahead": "at or ahead of torch",
    "floor": "at NumPy's floor",
    "behind": "**behind**",
    "reference": "no target (teaching reference)",
}


def _change(change: Mapping[str, Any]) -> str:
    if change["change"] is None:
        return "—"
    return f"{change['change']:.2f}" + (" **slower**" if change["slower"] else "")


def _speed(
    timings: Sequence[Mapping[str, Any]], plots: Sequence[str], baseline: Mapping[str, Any] | None = None
) -> list[str]:
    if not timings:
        return []
    lines = ["", "## Speed (forward + backward, or one optimizer step / training epoch; 1 thread, same process)", ""]
    if SPEED_PLOT in plots:
        lines += [f"![scratch/torch time per benchmark case]({SPEED_PLOT})", ""]
    lines += [
        "NumPy's floor is the least NumPy work of the same computation, timed in the same rounds "
        "(`parity_tests/floors.py`; the last column says what it counts). scratch/floor near 1: our code adds "
        "nothing to it; floor/torch above 1: NumPy's own kernels are slower than torch's there. A row is "
        f"at NumPy's floor when scratch/floor <= {FLOOR_SLACK}.",
        "",
    ]
    header = ["component", "size", "dtype", "scratch (ms)", "torch (ms)", "floor (ms)", "scratch/torch"]
    header += ["floor/torch", "scratch/floor", "verdict", "committed scratch/torch", "change", "floor counts"]
    changes = speed_changes(timings, baseline)
    rows = [
        [
            cell(t["spec"]),
            cell(t["case"]),
            t["dtype"],
            _ms(t["scratch_s"]),
            _ms(t["torch_s"]),
            _ms(t.get("floor_s")),
            _x(t["ratio"]),
            _x(t.get("floor_ratio")),
            _x(t.get("over_floor")),
            _VERDICTS.get(str(t.get("verdict")), "?"),
            _x(change["committed"]),
            _change(change),
            cell(str(t.get("floor_note") or t.get("no_target") or "")),
        ]
        for t, change in zip(timings, changes, strict=True)
    ]
    lines += table(header, rows)
    lines += _behind(timings)
    if baseline is None:
        lines += ["", "No committed numbers to compare with (docs/benchmarks.json; --write-speed-baseline writes it)."]
    else:
        slower = [f"{t['spec']} {t['case']} {t['dtype']}" for t, c in zip(timings, changes, strict=True) if c["slower"]]
        lines += [
            "",
            f"Compared with the committed numbers of {baseline.get('date', '?')} ({baseline.get('machine', '?')}): "
            f"a row is **slower** when its scratch/torch grew by more than the noise band, {SPEED_NOISE:.0%} "
            f"({SPEED_NOISE_SHORT:.0%} for rows under 1 ms). "
            + (f"Slower: {', '.join(slower)}." if slower else "No row is slower."),
        ]
    return lines + _gemm_rates(timings)


def _behind(timings: Sequence[Mapping[str, Any]]) -> list[str]:
    """A paragraph on the rows that are behind: each one's time over its floor, and what the floor leaves out."""
    behind = [t for t in timings if t.get("verdict") == "behind"]
    if not behind:
        return ["", "No row is behind: each is at or ahead of torch, or at NumPy's floor."]
    lines = ["", "Behind (scratch above torch and above its floor by more than the slack):", ""]
    for t in behind:
        over = "" if t.get("floor_s") is None else f": {_ms(t['scratch_s'] - t['floor_s'])} ms over the floor"
        why = str(t.get("beyond_floor") or "")
        lines.append(f"- {t['spec']} {t['case']} {t['dtype']}{over}." + (f" Not in the floor: {why}." if why else ""))
    return lines


def _sweeps(components: Sequence[Mapping[str, Any]], plots: Sequence[str]) -> list[str]:
    """The scaling sweeps: scratch/torch (and floor/torch) against one size axis per component."""
    swept = [c for c in components if c.get("sweeps")]
    if not swept:
        return []
    lines = ["", "### Scaling (scratch/torch against size, 1 thread; the same rounds as above)", ""]
    if SWEEP_PLOT in plots:
        lines += [f"![scratch/torch against size]({SWEEP_PLOT})", ""]
    for component in swept:
        sweeps = component["sweeps"]
        dtypes = list(dict.fromkeys(t["dtype"] for t in sweeps))
        sizes = list(dict.fromkeys(t["size"] for t in sweeps))
        by = {(t["size"], t["dtype"]): t for t in sweeps}
        header = [f"{component['spec']}: {sweeps[0]['axis']}"]
        header += [f"{d} {what}" for d in dtypes for what in ("scratch (ms)", "scratch/torch", "floor/torch")]
        rows = []
        for size in sizes:
            row = [str(size)]
            for d in dtypes:
                t = by.get((size, d))
                row += ["—"] * 3 if t is None else [_ms(t["scratch_s"]), _x(t["ratio"]), _x(t.get("floor_ratio"))]
            rows.append(row)
        lines += [*table(header, rows), ""]
    return lines


def _gemm_rates(timings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Achieved GFLOP/s of the rows whose floor counts GEMM flops, against a square GEMM in the same run."""
    rows = [t for t in timings if t.get("flops") and t.get("peak_gflops")]
    if not rows:
        return []
    peaks = {t["dtype"]: t["peak_gflops"] for t in rows}
    lines = [
        "",
        "### GEMM rates (GFLOP/s of the GEMM work, forward + backward, against a 1024 x 1024 GEMM in this run)",
        "",
        "BLAS peak here: " + ", ".join(f"{d} {v:.1f} GFLOP/s" for d, v in sorted(peaks.items())) + ".",
        "",
    ]
    body = []
    for t in rows:
        gflop = t["flops"] / 1e9
        rates = [gflop / t["scratch_s"], gflop / t["torch_s"], gflop / t["floor_s"]]
        body.append(
            [cell(t["spec"]), cell(t["case"]), t["dtype"], f"{gflop:.3f}"]
            + [f"{r:.1f} ({100 * r / t['peak_gflops']:.0f}%)" for r in rates]
        )
    header = ["component", "size", "dtype", "GFLOP", "scratch GFLOP/s (of peak)", "torch", "NumPy floor"]
    return lines + table(header, body)


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
    lines += _speed([t for c in components for t in c["timings"]], plots, model.get("speed_baseline"))
    lines += _sweeps(components, plots)
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
