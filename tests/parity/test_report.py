"""The parity report (``python -m parity_tests.report``): tables, plots, whole-model parity, the version matrix,
exit codes and all-or-nothing writes. Runs are restricted with ``--spec`` and tiny benchmark budgets."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_tests import _io, report
from parity_tests.harness import CaseResult, Comparison, run_case
from parity_tests.mutants import Detection
from parity_tests.report import markdown as report_render
from parity_tests.report import model as report_model
from parity_tests.report import plots
from parity_tests.specs import all_specs, get_spec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRAINING = ("SmallCNNTraining", "AutoencoderTraining")


def _with_a_training_spec(out: Path) -> list[str]:
    """The arguments of a short report on a unit spec and a whole-model spec (one with a loss plot), into ``out``."""
    return ["--out", str(out), "--spec", "ReLU", "--spec", "AutoencoderTraining", "--no-mutants", "--budget", "0.01"]


def _run(argv: list[str]) -> tuple[int, str, str]:
    """report.main on ``argv`` (without the reproduction table or the book's notebooks unless asked for)."""
    if "--recipes" not in argv:
        argv = [*argv, "--recipes", "none"]
    if "--book" not in argv:
        argv = [*argv, "--book", "none"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = report.main(argv)
    return code, out.getvalue(), err.getvalue()


def _table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with ``header_start``, as cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One report run over a plain component and two training specs (one per epoch, one per step)."""
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("report")
    argv = ["--out", str(out), "--spec", "ReLU", "--no-mutants", "--budget", "0.01"]
    argv += [x for spec in TRAINING for x in ("--spec", spec)]
    argv += ["--versions", str(out / "no-versions-here")]
    code, stdout, stderr = _run(argv)
    return {"out": out, "code": code, "stdout": stdout, "stderr": stderr}


# ---------------------------------------------------------------------------------------------------------
# A real run: files, plots, tables, terminal
# ---------------------------------------------------------------------------------------------------------


def test_run_writes_markdown_json_and_png_plots(full_run: dict[str, Any]) -> None:
    out: Path = full_run["out"]
    assert full_run["code"] == 0, full_run["stdout"] + full_run["stderr"]
    names = sorted(p.name for p in out.iterdir())
    expected = [
        "loss_AutoencoderTraining.png",
        "loss_SmallCNNTraining.png",
        "parity.json",
        "parity.md",
        "speed_ratios.png",
    ]
    assert names == expected  # no temporary files left behind, no loss plot for a non-training spec
    for name in names:
        if name.endswith(".png"):
            data = (out / name).read_bytes()
            assert data.startswith(PNG_SIGNATURE), name
            assert len(data) > 10_000, f"{name} is suspiciously small ({len(data)} bytes)"
    markdown = (out / "parity.md").read_text(encoding="utf-8")
    for name in ("speed_ratios.png", "loss_SmallCNNTraining.png", "loss_AutoencoderTraining.png"):
        assert f"]({name})" in markdown  # embedded with a relative link
    payload = json.loads((out / "parity.json").read_text(encoding="utf-8"))
    assert sorted(payload["plots"]) == sorted(n for n in names if n.endswith(".png"))
    assert {c["spec"] for c in payload["loss_curves"]} == set(TRAINING)


def test_the_markdown_is_rendered_from_the_json_model_alone(full_run: dict[str, Any]) -> None:
    """parity.json is the report model: rendering it read back gives parity.md again, and every report file
    has the permissions of an ordinary file."""
    out: Path = full_run["out"]
    model = json.loads((out / "parity.json").read_text(encoding="utf-8"))
    assert model["schema"] == report_model.SCHEMA
    assert report_render.render(model) == (out / "parity.md").read_text(encoding="utf-8")
    assert report_model.passed(model)
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == _io.default_mode(), path.name


def test_the_loss_and_recipe_plots_share_one_grid() -> None:
    """``plots.paired_grid``: a (curve, difference) pair of axes per panel, 4 per row, the rest hidden."""
    figure_class = plots.figure_class()
    if figure_class is None:
        pytest.skip("matplotlib is not installed")
    fig, panels = plots.paired_grid(figure_class, 6, panel_height=5.0)
    assert len(panels) == 6
    axes = fig.get_axes()
    assert len(axes) == 2 * 2 * 4  # two rows of panels, each a top and a bottom row of 4 axes
    assert sum(ax.get_visible() for ax in axes) == 2 * 6
    top, bottom = panels[5]
    assert top.get_visible()
    assert bottom.get_visible()
    assert top.get_position().y0 > bottom.get_position().y0  # the curves above their difference
    with pytest.raises(ValueError, match="count must be >= 1 panel; received 0"):
        plots.paired_grid(figure_class, 0, panel_height=5.0)


def test_speed_plot_has_one_bar_per_benchmark_case(full_run: dict[str, Any]) -> None:
    """The speed table (one row per spec/case/dtype) is what the bar chart draws; ReLU has a size in 2 dtypes."""
    markdown = (full_run["out"] / "parity.md").read_text(encoding="utf-8")
    rows = _table_rows(markdown, "| component | size | dtype |")
    assert {(r[0], r[2]) for r in rows} >= {("ReLU", "float64"), ("ReLU", "float32")}
    for row in rows:
        scratch, torch_ms, floor = float(row[3]), float(row[4]), row[5]
        times = [scratch, torch_ms] + ([] if floor == "—" else [float(floor)])
        rel = 0.01 + 0.001 / min(times)  # the times are printed to 0.001 ms, the ratios to 0.01
        assert float(row[6]) == pytest.approx(scratch / torch_ms, rel=rel)
        if floor != "—":  # ReLU has NumPy's floor: floor/torch and scratch/floor follow from the three times
            assert float(row[7]) == pytest.approx(float(floor) / torch_ms, rel=rel)
            assert float(row[8]) == pytest.approx(scratch / float(floor), rel=rel)
        assert row[9] in {"at or ahead of torch", "at NumPy's floor", "**behind**", "no target (teaching reference)"}


def test_whole_model_table_shows_divergences_per_model_and_dtype(full_run: dict[str, Any]) -> None:
    markdown = (full_run["out"] / "parity.md").read_text(encoding="utf-8")
    rows = _table_rows(markdown, "| model | dtype |")
    order = [s.name for s in all_specs() if s.name in TRAINING]  # the registry's order, float64 first
    assert [(r[0], r[1]) for r in rows] == [(s, d) for s in order for d in ("float64", "float32")]
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key["SmallCNNTraining", "float64"][3] == "4 epochs"
    assert by_key["AutoencoderTraining", "float32"][3] == "5 steps"
    for (_, dtype), row in by_key.items():
        loss, weight, tol = float(row[4]), float(row[5]), float(row[6])
        assert tol == report.TOLERANCES[dtype]["trajectory"]
        assert 0 <= loss <= tol
        assert 0 < weight <= tol  # float round-off makes the weights differ a little
        assert row[7] == "PASS"
    # float32 trains with ~1e-7 round-off per step: its divergence must be far above float64's
    assert float(by_key["AutoencoderTraining", "float32"][5]) > 1e3 * float(by_key["AutoencoderTraining", "float64"][5])


def test_whole_model_weight_divergence_is_the_worst_final_parameter() -> None:
    """Recomputed here from run_case: the max over traj:<param> (the key selection itself is pinned by the
    synthetic test below, where a non-weight trajectory is the largest error)."""
    spec = get_spec("AutoencoderTraining")
    assert spec.converter is not None
    params = {f"traj:{n}" for n in spec.converter.book_names}
    reports, _ = report.build([spec], bench=False, budget_s=0.01, mutants=False, progress=lambda _: None)
    (row,) = [w for w in report.whole_model_rows(reports) if w.dtype == "float32"]
    results = [run_case(spec, case, "float32") for case in spec.cases]
    weight = max(c.error for r in results for c in r.comparisons if c.key in params)
    loss = max(c.error for r in results for c in r.comparisons if c.key == "traj:loss")
    assert row.weight_error == weight
    assert row.loss_error == loss
    assert row.cases == len(spec.cases)


def test_terminal_shows_the_tables_and_where_the_plots_are(full_run: dict[str, Any]) -> None:
    stdout: str = full_run["stdout"]
    assert "| component | ch | scratch | torch |" in stdout
    assert "## Whole-model parity" in stdout
    assert "| SmallCNNTraining | float64 |" in stdout
    plots_line = next(line for line in stdout.splitlines() if line.startswith("plots: "))
    for name in ("speed_ratios.png", "loss_SmallCNNTraining.png", "loss_AutoencoderTraining.png"):
        assert str(full_run["out"] / name) in plots_line
    assert "Not run yet: `python3 noxfile.py -s versions`" in stdout


def test_stale_plots_of_an_earlier_run_are_removed(tmp_path: Path) -> None:
    (tmp_path / "loss_Old.png").write_bytes(PNG_SIGNATURE)
    (tmp_path / "speed_ratios.png").write_bytes(PNG_SIGNATURE)
    (tmp_path / "notes.txt").write_text("mine")
    code, stdout, _ = _run(["--out", str(tmp_path), "--spec", "ReLU", "--no-bench", "--no-mutants"])
    assert code == 0, stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "parity.json", "parity.md"]


def test_without_matplotlib_the_report_is_written_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, stdout, _ = _run(["--out", str(tmp_path), "--spec", "ReLU", "--no-mutants", "--budget", "0.01"])
    assert code == 0, stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parity.json", "parity.md"]
    markdown = (tmp_path / "parity.md").read_text(encoding="utf-8")
    assert "Plots skipped: matplotlib is not installed" in markdown
    assert "speed_ratios.png" not in markdown
    assert "| ReLU | N256x1024 | float64 |" in markdown  # the timings are still reported


# ---------------------------------------------------------------------------------------------------------
# Training detection and the whole-model rows, on synthetic results
# ---------------------------------------------------------------------------------------------------------


def _cmp(key: str, error: float, tolerance: float = 1e-4) -> Comparison:
    return Comparison(key, "trajectory", error, tolerance, (), 0.0, 0.0, 1.0)


def _spec_report(
    name: str, errors_by_dtype: dict[str, dict[str, float]], weights: tuple[str, ...]
) -> report.SpecReport:
    r = report.SpecReport(name, 7, "s", "t", 1, weight_names=weights)
    for dtype, errors in errors_by_dtype.items():
        r.results.append(CaseResult(name, "c", dtype, [_cmp(k, e) for k, e in errors.items()]))
    return r


def test_result_key_kinds() -> None:
    assert report.is_loss_key("epoch:train_loss")
    assert report.is_loss_key("epoch:val_loss")
    assert report.is_loss_key("traj:loss")
    for key in ("epoch:lr", "loss", "output", "grad:loss"):
        assert not report.is_loss_key(key), key
    assert report.is_weight_key("traj:0.W", ("0.W",))
    assert not report.is_weight_key("traj:reconstruction", ("0.W",))
    assert not report.is_weight_key("traj:loss", ())
    assert not report.is_weight_key("traj:lr", ())
    assert report.is_weight_key("traj:W", ())  # without a converter, every other trajectory
    assert not report.is_weight_key("grad:W", ())


def test_whole_model_rows_take_the_max_over_losses_and_weights_only() -> None:
    training = _spec_report(
        "Net",
        {
            "float64": {"epoch:train_loss": 3e-16, "epoch:val_loss": 7e-16, "epoch:lr": 0.0, "traj:0.W": 2e-15},
            "float32": {"epoch:train_loss": 3e-7, "epoch:lr": 1e-9, "traj:0.W": 5e-6, "traj:out": 0.2},
        },
        ("0.W",),
    )
    optimizer = _spec_report("SGD", {"float64": {"traj:W": 1e-16, "traj:lr": 0.0}}, ())
    layer = _spec_report("Dense", {"float64": {"output": 1e-16}}, ())
    assert training.is_training
    assert not optimizer.is_training
    assert not layer.is_training
    rows = report.whole_model_rows([layer, training, optimizer])
    assert [(w.spec, w.dtype) for w in rows] == [("Net", "float64"), ("Net", "float32")]
    assert (rows[0].loss_error, rows[0].weight_error) == (7e-16, 2e-15)
    assert (rows[1].loss_error, rows[1].weight_error) == (3e-7, 5e-6)
    assert rows[0].passed
    assert not rows[1].passed  # traj:out (0.2) fails its comparison, so the model fails


def test_a_nan_divergence_is_shown_as_a_failure_never_hidden() -> None:
    r = _spec_report("Net", {"float64": {"epoch:train_loss": float("nan"), "traj:0.W": 1e-16}}, ("0.W",))
    (row,) = report.whole_model_rows([r])
    assert np.isnan(row.loss_error)
    assert not row.passed
    assert re.search(
        r"\| Net \| float64 \| 1 \| — \| — \| 1\.0e-16 \| 1e-10 \| FAIL \|", "\n".join(report.render_whole_model([row]))
    )


# ---------------------------------------------------------------------------------------------------------
# The version matrix
# ---------------------------------------------------------------------------------------------------------


def _combo(combo: str, status: str, outcomes: dict[str, str], worst_fwd: float) -> dict[str, Any]:
    failed = sum(1 for o in outcomes.values() if o == "failed")
    return {
        "combo": combo,
        "role": "a role",
        "python": "3.11.7",
        "numpy": "2.4.6",
        "torch": "2.13.0+cpu",
        "status": status,
        "tests": {"passed": 500 - failed, "failed": failed, "errors": 0, "skipped": 3, "total": 503},
        "outcomes": outcomes,
        "worst": {"float64": {"forward": worst_fwd, "gradient": 5e-16, "trajectory": 1e-15}},
        "errors": {"Dense | c | float64 | output": worst_fwd},
        "timings": {"total": 100.0},
        "date": "2026-01-02 03:04:05",
    }


def test_versions_table_renders_each_combination_in_the_matrix_order_and_the_changes(tmp_path: Path) -> None:
    from parity_tests import version_matrix

    folder = tmp_path / "versions"
    folder.mkdir()
    later = version_matrix.COMBOS[-1].id
    (folder / f"{later}.json").write_text(json.dumps(_combo(later, "failed", {"t.py::test_dense": "failed"}, 4e-13)))
    base = version_matrix.BASELINE
    (folder / f"{base}.json").write_text(json.dumps(_combo(base, "passed", {}, 3.2e-16)))
    (folder / "a-broken.json").write_text("{not json")
    entries = report.load_versions(folder)
    assert [e["combo"] for e in entries] == [base, later, "a-broken"]  # the matrix's order, then the rest
    assert all("errors" not in e for e in entries)  # the report keeps the worst errors and the changes
    markdown = "\n".join(report.render_versions(entries))
    rows = _table_rows(markdown, "| combination |")
    assert rows[0][0] == f"{base}<br>a role"
    assert rows[0][1:6] == ["3.11.7", "2.13.0+cpu", "2.4.6", "-", "PASSED (500 passed, 0 failed, 3 skipped)"]
    assert rows[0][6] == "3.2e-16 / 5.0e-16 / 1.0e-15"
    assert rows[1][5] == "FAILED (499 passed, 1 failed, 3 skipped)"
    assert rows[2][:2] == [
        "a-broken",
        "unreadable: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ]
    assert f"- **{later}**:\n  - `test_dense`: failed (baseline: passed)" in markdown
    assert "Dense | c | float64 | output: error 4.0e-13 (baseline 3.2e-16)" in markdown


def test_report_reads_the_versions_folder(tmp_path: Path) -> None:
    folder = tmp_path / "versions"
    folder.mkdir()
    (folder / "py3.11-x.json").write_text(json.dumps(_combo("py3.11-x", "passed", {}, 3.2e-16)))
    out = tmp_path / "out"
    code, stdout, _ = _run(
        ["--out", str(out), "--spec", "ReLU", "--no-bench", "--no-mutants", "--versions", str(folder)]
    )
    assert code == 0, stdout
    markdown = (out / "parity.md").read_text(encoding="utf-8")
    assert (
        "| py3.11-x<br>a role | 3.11.7 | 2.13.0+cpu | 2.4.6 | - | PASSED (500 passed, 0 failed, 3 skipped) |"
        in markdown
    )
    assert json.loads((out / "parity.json").read_text())["versions"][0]["numpy"] == "2.4.6"


# ---------------------------------------------------------------------------------------------------------
# Exit codes and bad input
# ---------------------------------------------------------------------------------------------------------


def test_report_folder_under_a_file_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, stdout, stderr = _run(["--out", str(blocker / "report"), "--spec", "ReLU", "--no-bench"])
    assert code == 2
    assert f"error: the report folder {str(blocker / 'report')!r} is not writable" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_report_folder_is_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, stderr = _run(["--out", str(folder), "--spec", "ReLU", "--no-bench"])
    finally:
        folder.chmod(0o755)
    assert code == 2
    assert "is not writable" in stderr
    assert list(folder.iterdir()) == []


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    for argv in (["--spec", "NoSuchThing"], ["--budget", "0"]):
        with pytest.raises(SystemExit) as info, contextlib.redirect_stderr(io.StringIO()):
            report.main(["--out", str(tmp_path), *argv])
        assert info.value.code == 2


def test_an_escaped_mutant_is_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_model, "detect", lambda mutant: Detection(mutant.name, False, "every case passed"))
    code, stdout, _ = _run(["--out", str(tmp_path), "--spec", "ReLU", "--no-bench"])
    assert code == 1
    assert "| NO | every case passed |" in stdout
    assert "FAILURES" in stdout


def _with_broken_relu(monkeypatch: pytest.MonkeyPatch, run_scratch: Any) -> None:
    relu = get_spec("ReLU")
    broken = dataclasses.replace(relu, run_scratch=run_scratch)
    monkeypatch.setattr(report, "all_specs", lambda: tuple(broken if s is relu else s for s in all_specs()))


def test_a_parity_failure_is_exit_1_and_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relu = get_spec("ReLU")

    def off_by_a_little(problem: Any) -> Any:
        results = relu.run_scratch(problem)
        return {**results, "output": results["output"] + 1e-3}

    _with_broken_relu(monkeypatch, off_by_a_little)
    code, _, _ = _run(["--out", str(tmp_path), "--spec", "ReLU", "--no-bench", "--no-mutants"])
    assert code == 1
    markdown = (tmp_path / "parity.md").read_text(encoding="utf-8")
    assert re.search(r"^\| ReLU \|.*\| FAIL \| — \|$", markdown, flags=re.MULTILINE)
    assert "## Failures" in markdown
    assert "output: error" in markdown


def test_a_crashing_case_is_recorded_as_a_failure_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(problem: Any) -> Any:
        raise RuntimeError("boom in scratch")

    _with_broken_relu(monkeypatch, crash)
    code, _, _ = _run(["--out", str(tmp_path), "--spec", "ReLU", "--spec", "Tanh", "--no-bench", "--no-mutants"])
    assert code == 1
    markdown = (tmp_path / "parity.md").read_text(encoding="utf-8")
    assert "run: run raised RuntimeError: boom in scratch" in markdown
    assert re.search(r"^\| Tanh \|.*\| PASS \|", markdown, flags=re.MULTILINE)  # the others still ran


# ---------------------------------------------------------------------------------------------------------
# All-or-nothing writes
# ---------------------------------------------------------------------------------------------------------


# staged() itself (all or nothing, permissions) is tested with the writer, in tests/scratch/test_one_of_everything.py


def test_an_interrupted_plot_leaves_the_previous_report_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    (tmp_path / "parity.md").write_text("previous report")
    real = report._save_figure

    def interrupted(fig: Any) -> Any:
        save = real(fig)

        def write(tmp: Path) -> None:
            save(tmp)  # a complete PNG in the temporary file ...
            if "loss_" in tmp.name:
                raise KeyboardInterrupt  # ... then Ctrl-C before anything is renamed

        return write

    monkeypatch.setattr(report, "_save_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(_with_a_training_spec(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parity.md"]
    assert (tmp_path / "parity.md").read_text() == "previous report"


def test_a_plot_that_cannot_be_drawn_is_named_and_the_rest_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")

    def broken(*args: Any) -> Any:
        raise ValueError("no axes today")

    monkeypatch.setattr(plots, "loss_figure", broken)
    code, stdout, _ = _run(_with_a_training_spec(tmp_path))
    assert code == 0, stdout  # parity passed; a missing plot is reported, not a parity failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parity.json", "parity.md", "speed_ratios.png"]
    markdown = (tmp_path / "parity.md").read_text(encoding="utf-8")
    assert "Plots that could not be drawn: loss_AutoencoderTraining.png (ValueError: no axes today)" in markdown
    assert "| AutoencoderTraining | float32 | 3 | 5 steps |" in markdown  # the whole-model table is still there


def test_plot_file_names_are_safe() -> None:
    assert report.plot_file("Tensor (autodiff)") == "loss_Tensor_autodiff_.png"
    assert report.plot_file("SGD+clip") == "loss_SGD_clip.png"
    assert report.plot_file("BostonMLPTraining") == "loss_BostonMLPTraining.png"


def test_report_reads_where_the_versions_session_writes() -> None:
    from parity_tests import version_matrix

    assert 'results=repo / "report" / "versions"' in inspect.getsource(version_matrix.main)
    assert Path("report") / "versions" == report.DEFAULT_VERSIONS_DIR


def test_report_runs_the_books_notebooks(tmp_path: Path) -> None:
    from parity_tests.book.manifest import BookError, book_root

    try:
        book_root()
    except BookError as exc:
        pytest.skip(f"the book's repository is not available: {exc}")
    args = ["--out", str(tmp_path), "--spec", "ReLU", "--no-bench", "--no-mutants", "--book", "quick"]
    code, stdout, _ = _run([*args, "--book-notebooks", "ch6-autograd,ch3"])
    assert code == 0
    assert "## The book's notebooks on this project" in stdout
    rows = _table_rows(stdout, "| notebook | outputs | match |")
    assert [r[0].split()[0] for r in rows] == ["ch3", "ch6-autograd"]  # in the manifest's order
    assert (tmp_path / "book" / "book.md").is_file()
    payload = json.loads((tmp_path / "parity.json").read_text())
    assert payload["book"]["passed"] is True
    code, stdout, _ = _run([*args, "--book-notebooks", "ch99"])
    assert code == 1
    assert "Failed: unknown notebooks ['ch99']" in stdout


def test_report_lists_a_missing_book_as_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLFS_BOOK", str(tmp_path / "no-book"))
    code, stdout, _ = _run(
        ["--out", str(tmp_path / "r"), "--spec", "ReLU", "--no-bench", "--no-mutants", "--book", "quick"]
    )
    assert code == 0
    assert "Skipped: the book's repository must be a folder" in stdout
