"""The chapter 3 recipe runs both implementations to agreement, and the dispatcher knows every recipe."""

from __future__ import annotations

import re

import pytest

from parity_tests.recipes import ch3
from parity_tests.recipes.__main__ import RECIPES
from parity_tests.recipes.__main__ import main as dispatch

pytest.importorskip("mlxtend", reason="the Boston data ships with mlxtend (pip install dlfs-parity[data])")


def test_ch3_recipe_agrees_and_prints_every_model(capsys):
    code = ch3.main(["--epochs", "4", "--eval-every", "2", "--seed", "7"])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ("lr", "nn", "dl"):
        assert f'Model "{name}"' in out
    assert "parity: scratch and torch_impl agree" in out
    assert out.count("MAE") == 3


def test_ch3_recipe_rejects_bad_options(capsys):
    assert ch3.main(["--epochs", "0"]) == 2
    assert "argument --epochs: must be an integer >= 1; received 0" in capsys.readouterr().err
    assert ch3.main(["--model", "cnn"]) == 2


def test_dispatcher_lists_and_dispatches(capsys):
    assert {"ch2", "ch3"} <= set(RECIPES)
    assert dispatch(["--help"]) == 0
    assert "ch3" in capsys.readouterr().out
    assert dispatch(["nope"]) == 2


def test_ch5_recipe_trains_both_implementations_on_the_offline_subset(capsys):
    from parity_tests.recipes import ch5

    code = ch5.main(
        ["--source", "subset", "--limit", "4", "--eval-every", "2", "--val-size", "50", "--dtype", "float32"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "MNIST (subset: 4000 train / 1000 test images)" in out
    lines = [line.split() for line in out.splitlines() if line.strip().split(" ")[0] in ("2", "4")]
    assert [row[0] for row in lines] == ["2", "4"]  # accuracy every 2 batches and at the end
    assert all(len(row) == 3 and row[1].endswith("%") and row[2].endswith("%") for row in lines)  # both trained
    _assert_both_trained(out)


def test_ch7_cnn_recipe_trains_the_torch_model_and_its_scratch_twin(capsys):
    from parity_tests.recipes import ch7_cnn

    code = ch7_cnn.main(["--source", "subset", "--limit", "3", "--eval-every", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "transforms from" in out
    assert "Test accuracy on all 1000 test images after 3 batches" in out
    _assert_both_trained(out)


def _assert_both_trained(out: str) -> None:
    """Each implementation ran: its final accuracy is printed with its training time."""
    for label in ("scratch", "torch_impl"):
        pattern = rf"^  {label}\s+\d+\.\d+%  \(training \d+\.\d+ s\)$"
        assert re.search(pattern, out, flags=re.MULTILINE), f"no final accuracy of {label} in:\n{out}"
