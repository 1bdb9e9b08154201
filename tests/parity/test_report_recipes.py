"""The parity report's book reproduction section: recipes run, skipped (with why) or failed, their loss plots."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

import parity_tests.recipes.__main__ as recipes_main
from parity_tests import report
from parity_tests.recipes._repro import SkipRecipe, first_sentence, row
from parity_tests.report import recipes as report_recipes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = report.main(argv)
    return code, out.getvalue(), err.getvalue()


def _curve(y: list[float]) -> dict[str, Any]:
    return {
        "label": "training loss (per batch)",
        "x_label": "batch",
        "x": [float(i + 1) for i in range(len(y))],
        "y": y,
    }


def _rows_with_curves(quick: bool) -> list[dict[str, Any]]:
    scratch = [2.3, 1.7, 1.1, 0.9]
    torch = [2.3, 1.7, 1.1 * (1 + 3e-9), 0.9]
    return [
        {**row("chX", "tiny", "scratch", {"acc": 0.5}, 0.1, "fake"), "curve": _curve(scratch)},
        {**row("chX", "tiny", "torch_impl", {"acc": 0.5}, 0.2, "fake"), "curve": _curve(torch)},
    ]


def _no_data(quick: bool) -> list[dict[str, Any]]:
    raise SkipRecipe("full MNIST not found (no files under /nowhere)")


def _boom(quick: bool) -> list[dict[str, Any]]:
    raise RuntimeError("the recipe crashed")


def _base(out: Path) -> list[str]:
    return [
        "--out",
        str(out),
        "--spec",
        "ReLU",
        "--no-bench",
        "--no-mutants",
        "--versions",
        str(out / "none"),
        "--book",
        "none",
    ]


def test_skipped_and_failed_recipes_are_named_with_the_reason_and_the_rest_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    fakes = {"good": _rows_with_curves, "nodata": _no_data, "boom": _boom}
    monkeypatch.setattr(recipes_main, "REPRODUCTIONS", fakes)
    code, stdout, stderr = _run([*_base(tmp_path), "--recipes", "quick"])
    assert code == 1, "a failed recipe must fail the report"
    assert "failed recipes: boom" in stderr
    md = (tmp_path / "parity.md").read_text()
    section = md[md.index("## Book reproduction") :]
    lines = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    assert "| ok |" in lines["good"]
    assert "1.4e-09" in lines["good"]  # the curves' difference: 1.1 * 3e-9 / 2.3
    assert "tiny: fake" in lines["good"]  # the note of the worst experiment
    assert "SKIPPED" in lines["nodata"]
    assert "full MNIST not found (no files under /nowhere)" in lines["nodata"]
    assert "FAILED" in lines["boom"]
    assert "the recipe crashed" in lines["boom"]
    assert "## Book reproduction" in stdout
    # the plot of the recipe with curves, linked from the Markdown; none for those without
    png = tmp_path / "recipe_good.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert "(recipe_good.png)" in md
    assert not (tmp_path / "recipe_nodata.png").exists()
    # the full table and the machine-readable summary
    assert "| tiny |" in (tmp_path / "reproduction-quick" / "reproduction.md").read_text()
    payload = json.loads((tmp_path / "parity.json").read_text())
    statuses = {n: r["status"] for n, r in payload["reproduction"]["recipes"].items()}
    assert statuses == {"good": "ok", "nodata": "skipped", "boom": "failed"}
    assert "recipe_good.png" in payload["plots"]


def test_skipped_recipes_do_not_fail_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recipes_main, "REPRODUCTIONS", {"good": _rows_with_curves, "nodata": _no_data})
    code, _, _ = _run([*_base(tmp_path), "--recipes", "quick"])
    assert code == 0
    assert "SKIPPED" in (tmp_path / "parity.md").read_text()


def test_missing_datasets_skip_the_text_and_mnist_recipes_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no.datasets.here"  # dots in the path must not cut the reason short
    empty.mkdir()
    monkeypatch.setenv("DLFS_DATASETS", str(empty))
    monkeypatch.delenv("DLFS_MNIST_DIR", raising=False)
    out = tmp_path / "report"
    argv = [*_base(out), "--recipes", "quick", "--recipe", "ch4", "--recipe", "ch6", "--recipe", "ch7-lstm"]
    code, _, _ = _run(argv)
    assert code == 0
    section = (out / "parity.md").read_text().split("## Book reproduction", 1)[1]
    for name, why in (("ch4", "full MNIST not found"), ("ch6", "not found"), ("ch7-lstm", "not found")):
        line = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
        assert "SKIPPED" in line
        assert why in line
        assert str(empty) in line


def test_recipes_none_leaves_the_section_out_and_unknown_recipe_is_a_usage_error(tmp_path: Path) -> None:
    code, _, _ = _run([*_base(tmp_path), "--recipes", "none"])
    assert code == 0
    assert "## Book reproduction" not in (tmp_path / "parity.md").read_text()
    assert json.loads((tmp_path / "parity.json").read_text())["reproduction"] is None
    with pytest.raises(SystemExit) as exc:
        _run([*_base(tmp_path), "--recipe", "ch99"])
    assert exc.value.code == 2


def test_a_stale_recipe_plot_is_removed_when_this_run_does_not_draw_it(tmp_path: Path) -> None:
    stale = tmp_path / "recipe_old.png"
    tmp_path.mkdir(exist_ok=True)
    stale.write_bytes(PNG_SIGNATURE)
    code, _, _ = _run([*_base(tmp_path), "--recipes", "none"])
    assert code == 0
    assert not stale.exists()


def test_curve_difference_is_relative_to_the_torch_scale_and_needs_the_same_x() -> None:
    pair = {"scratch": _curve([1.0, 4.0, 2.0]), "torch_impl": _curve([1.0, 3.0, 2.0])}
    assert report_recipes.curve_difference(pair) == pytest.approx(1.0 / 3.0)
    shifted = {"scratch": _curve([1.0, 4.0]), "torch_impl": _curve([1.0, 3.0, 2.0])}
    assert math.isnan(report_recipes.curve_difference(shifted))
    assert math.isnan(report_recipes.curve_difference({"scratch": _curve([1.0])}))
    rows = [{"experiment": "a", "implementation": k, "curve": c} for k, c in pair.items()] + [
        {"experiment": "b", "implementation": "scratch"}
    ]
    assert report_recipes.worst_difference(rows) == pytest.approx(1.0 / 3.0)
    assert math.isnan(report_recipes.worst_difference(rows[2:]))


def test_run_recipes_rejects_an_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'quick' or 'full'; received 'none'"):
        report_recipes.run_recipes("none", ["ch3"], tmp_path)


def test_a_real_recipe_is_run_plotted_and_its_curves_agree(tmp_path: Path) -> None:
    """The chapter 7 Boston recipe (float64, shared dropout masks): both validation-loss curves in the plot,
    and the table's curve difference at round-off level."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("mlxtend")
    code, _, _ = _run([*_base(tmp_path), "--recipes", "quick", "--recipe", "ch7-boston"])
    assert code == 0
    assert (tmp_path / "recipe_ch7-boston.png").read_bytes()[:8] == PNG_SIGNATURE
    rows = json.loads((tmp_path / "reproduction-quick" / "reproduction.json").read_text())["rows"]
    assert {r["implementation"] for r in rows} == {"scratch", "torch_impl"}
    assert all(r["recipe"] == "ch7-boston" and len(r["curve"]["y"]) >= 2 for r in rows)
    line = next(x for x in (tmp_path / "parity.md").read_text().splitlines() if x.startswith("| ch7-boston |"))
    diff = float(line.split("|")[5])
    assert 0.0 <= diff <= 1e-8, line


def test_a_quick_table_never_overwrites_the_full_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlxtend")
    monkeypatch.chdir(tmp_path)
    full = tmp_path / "report" / "reproduction" / "reproduction.md"
    full.parent.mkdir(parents=True)
    full.write_text("an hours-long full run\n")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = recipes_main.main(["all", "--quick", "--only", "ch7-boston"])
    assert code == 0
    assert full.read_text() == "an hours-long full run\n"
    assert "Boston" in (tmp_path / "report" / "reproduction-quick" / "reproduction.md").read_text()


def test_a_skip_reason_keeps_dotted_paths_whole() -> None:
    message = "MNIST files not found: DLFS_DATASETS='/ci/.nox/x.y/data'. Expected a folder with t10k-images.gz."
    assert first_sentence(message) == "MNIST files not found: DLFS_DATASETS='/ci/.nox/x.y/data'"
    assert first_sentence("  one sentence without a full stop ") == "one sentence without a full stop"
