"""The parity report's figures, drawn from the report model (``parity_tests.report.model``) with matplotlib.

matplotlib is optional (the ``plots`` extra): :func:`figure_class` is its ``Figure`` (drawn by Agg, no pyplot
state) or None. Every figure is a function of model data only:

- :func:`speed_figure`: scratch/torch time per benchmark case (``speed_ratios.png``);
- :func:`sweep_figure`: scratch/torch and NumPy's floor/torch against size, per swept component
  (``speed_sweeps.png``);
- :func:`loss_figure`: a training spec's loss curves of both implementations and their difference
  (``loss_<spec>.png``);
- :func:`recipe_figure`: a book recipe's loss curves per experiment and their difference (``recipe_<name>.png``).

The loss and recipe figures share one layout, :func:`paired_grid`: one panel per case or experiment, side by
side and wrapped after ``PLOT_COLUMNS``, each panel a curve axis above a difference axis (log scale, an exact
0 drawn at ``DIFF_FLOOR``). :func:`figures` lists every figure a model calls for; :func:`png` turns a figure
into content for the atomic writer (``parity_tests._io``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .recipes import IMPLEMENTATIONS, curve_difference, curves_by_experiment, has_curves

SPEED_PLOT = "speed_ratios.png"
SWEEP_PLOT = "speed_sweeps.png"
PLOT_COLUMNS = 4  # panels side by side before wrapping
DIFF_FLOOR = 1e-17  # an exact 0 difference is drawn here on the log axis
DIFF_LABEL = f"|scratch - torch| / max|torch|\n(0 drawn at {DIFF_FLOOR:.0e})"
NO_MATPLOTLIB = "Plots skipped: matplotlib is not installed (pip install 'dlfs-parity[plots]')."


def figure_class() -> Any | None:
    """matplotlib's ``Figure`` (drawn by Agg, no pyplot state), or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def file_name(prefix: str, name: str) -> str:
    """``<prefix>_<name>.png`` with every character of ``name`` outside [A-Za-z0-9_.-] replaced by ``_``."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


def png(fig: Any) -> Callable[[Path], None]:
    """Content for ``_io.write_atomic``/``staged``: the figure saved as a PNG into the given path."""
    return lambda path: fig.savefig(path, format="png", dpi=100)


def relative_difference(scratch: Any, torch: Any) -> np.ndarray:
    """|scratch - torch| / max|torch| per point (max|torch| = 0 counts as 1), floored at ``DIFF_FLOOR``."""
    s, t = np.asarray(scratch, dtype=np.float64), np.asarray(torch, dtype=np.float64)
    scale = float(np.max(np.abs(t))) or 1.0
    return np.maximum(np.abs(s - t) / scale, DIFF_FLOOR)


def paired_grid(figure_class: Any, count: int, *, panel_height: float) -> tuple[Any, list[tuple[Any, Any]]]:
    """A figure of ``count`` panels, ``PLOT_COLUMNS`` per row, each a (top, bottom) pair of axes; unused cells
    of the last row are hidden. ``panel_height``: inches per panel (both axes)."""
    if count < 1:
        raise ValueError(f"count must be >= 1 panel; received {count}")
    ncols = min(count, PLOT_COLUMNS)
    blocks = -(-count // ncols)  # rows of panels, each a top axis above a bottom axis
    fig = figure_class(figsize=(4.2 * ncols, panel_height * blocks), layout="constrained")
    axes = fig.subplots(2 * blocks, ncols, squeeze=False)  # [2 * blocks, ncols]
    for unused in range(count, blocks * ncols):
        block, col = divmod(unused, ncols)
        axes[2 * block][col].set_visible(False)
        axes[2 * block + 1][col].set_visible(False)
    panels = [(axes[2 * (i // ncols)][i % ncols], axes[2 * (i // ncols) + 1][i % ncols]) for i in range(count)]
    return fig, panels


def speed_figure(figure_class: Any, timings: Sequence[Mapping[str, Any]]) -> Any:
    """Horizontal bars of scratch/torch time per benchmark case, log-x, a line at 1 (= torch's time)."""
    labels = [f"{t['spec']} / {t['case']} / {t['dtype']}" for t in timings]
    ratios = np.array([float(t["ratio"]) for t in timings])
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


def sweep_figure(figure_class: Any, components: Sequence[Mapping[str, Any]]) -> Any:
    """One panel per swept component: scratch/torch (solid) and floor/torch (dashed) against the size, per dtype,
    log-log, a line at 1 (= torch's time)."""
    swept = [c for c in components if c.get("sweeps")]
    fig = figure_class(figsize=(4.2 * len(swept), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(swept)))
    for ax, component in zip(axes, swept, strict=True):
        sweeps = component["sweeps"]
        for i, dtype in enumerate(dict.fromkeys(t["dtype"] for t in sweeps)):
            rows = sorted((t for t in sweeps if t["dtype"] == dtype), key=lambda t: t["size"])
            sizes = [t["size"] for t in rows]
            ax.plot(sizes, [t["ratio"] for t in rows], marker="o", color=f"C{i}", label=f"scratch/torch {dtype}")
            floors = [t.get("floor_ratio") for t in rows]
            if all(f is not None for f in floors):
                ax.plot(sizes, floors, linestyle="--", color=f"C{i}", alpha=0.7, label=f"NumPy floor/torch {dtype}")
        ax.axhline(1.0, color="black", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(str(sweeps[0]["axis"]))
        ax.set_ylabel("time / torch's time (< 1: faster than torch)")
        ax.set_title(str(component["spec"]))
        ax.legend(fontsize=7)
    return fig


def _draw_case(top: Any, bottom: Any, curve: Mapping[str, Any]) -> None:
    """One training case in one dtype: float64 losses on ``top``, the relative difference on ``bottom``."""
    float64 = curve["dtype"] == "float64"
    for i, key in enumerate(sorted(curve["torch"])):
        s, t, x = curve["scratch"][key], curve["torch"][key], curve["x"][key]
        label, color = key.split(":", 1)[1], f"C{i}"
        if float64:
            top.plot(
                x, s, color=color, linestyle="-", marker="o", markersize=7, fillstyle="none", label=f"scratch {label}"
            )
            top.plot(x, t, color=color, linestyle="--", marker="x", markersize=6, label=f"torch {label}")
        if len(s) == len(t):
            bottom.plot(
                x,
                relative_difference(s, t),
                color=color,
                linestyle="-" if float64 else ":",
                marker="o" if float64 else "s",
                markersize=4,
                label=f"{label} {curve['dtype']}",
            )


def loss_figure(figure_class: Any, spec: str, curves: Sequence[Mapping[str, Any]]) -> Any:
    """Per case: the float64 losses of scratch and torch overlaid (top) and their |difference| per epoch/step
    relative to the largest torch loss, in float64 and float32 (below it, log scale). ``curves``: the model's
    ``loss_curves`` entries of ``spec``."""
    cases = list(dict.fromkeys(c["case"] for c in curves))
    fig, panels = paired_grid(figure_class, len(cases), panel_height=6.4)
    unit = "epoch" if any(k.startswith("epoch:") for c in curves for k in c["torch"]) else "step"
    for name, (top, bottom) in zip(cases, panels, strict=True):
        for curve in (c for c in curves if c["case"] == name):
            _draw_case(top, bottom, curve)
        top.set_title(f"{spec}\n{name}", fontsize=9)
        top.set_ylabel("loss (float64)")
        bottom.set_yscale("log")
        bottom.set_xlabel(unit)
        bottom.set_ylabel(DIFF_LABEL, fontsize=8)
        for ax in (top, bottom):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    return fig


def recipe_figure(figure_class: Any, recipe: str, rows: Sequence[Mapping[str, Any]]) -> Any:
    """Per experiment: scratch (solid) and torch (dashed) loss curves overlaid, and below them
    |scratch - torch| / max|torch| per point (log scale). ``rows``: the recipe's reproduction rows."""
    curves = curves_by_experiment(rows)
    if not curves:
        raise ValueError(f"recipe {recipe!r} has no loss curves to draw")
    fig, panels = paired_grid(figure_class, len(curves), panel_height=5.6)
    for (name, pair), (top, bottom) in zip(curves.items(), panels, strict=True):
        first = next(iter(pair.values()))
        for impl, style in zip(IMPLEMENTATIONS, ("-", "--"), strict=True):
            if impl in pair:
                top.plot(pair[impl]["x"], pair[impl]["y"], linestyle=style, linewidth=1.2, label=impl)
        top.set_title(f"{recipe}: {name}", fontsize=9)
        top.set_ylabel(str(first.get("label", "loss")), fontsize=8)
        top.legend(fontsize=7)
        if not np.isnan(curve_difference(pair)):
            s, t = (pair[k] for k in IMPLEMENTATIONS)
            bottom.plot(s["x"], relative_difference(s["y"], t["y"]), color="tab:red", linewidth=1.0)
            bottom.set_yscale("log")
        else:
            bottom.text(0.5, 0.5, "curves not on the same x", ha="center", va="center", transform=bottom.transAxes)
        bottom.set_xlabel(str(first.get("x_label", "step")), fontsize=8)
        bottom.set_ylabel(DIFF_LABEL, fontsize=8)
    return fig


def figures(model: Mapping[str, Any], figure_class: Any) -> list[tuple[str, Callable[[], Any]]]:
    """Every figure the model calls for, as (file name, draw) in the report's order: the speed plot, one loss
    plot per training spec with curves, one plot per recipe with curves."""
    timings = [t for c in model["components"] for t in c["timings"]]
    drawings: list[tuple[str, Callable[[], Any]]] = []
    if timings:
        drawings.append((SPEED_PLOT, partial(speed_figure, figure_class, timings)))
    if any(c.get("sweeps") for c in model["components"]):
        drawings.append((SWEEP_PLOT, partial(sweep_figure, figure_class, model["components"])))
    for spec in dict.fromkeys(c["spec"] for c in model["loss_curves"]):
        curves = [c for c in model["loss_curves"] if c["spec"] == spec]
        drawings.append((file_name("loss", spec), partial(loss_figure, figure_class, spec, curves)))
    reproduction = model.get("reproduction") or {}
    for name in reproduction.get("recipes", {}):
        rows = [r for r in reproduction.get("rows", []) if r.get("recipe") == name]
        if has_curves(rows):
            drawings.append((file_name("recipe", name), partial(recipe_figure, figure_class, name, rows)))
    return drawings
