"""The chapter 3 recipe runs both implementations to agreement, and the dispatcher knows every recipe."""

from __future__ import annotations

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
    assert "scratch" in out
    assert "torch_impl" in out


def test_ch7_cnn_recipe_trains_the_torch_model_and_its_scratch_twin(capsys):
    from parity_tests.recipes import ch7_cnn

    code = ch7_cnn.main(["--source", "subset", "--limit", "3", "--eval-every", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "transforms from" in out
    assert "Test accuracy on all 1000 test images after 3 batches" in out


def test_ch7_twin_starts_from_the_torch_weights():
    import torch

    import torch_impl as ti
    from parity_tests.recipes import ch7_cnn

    model = ti.MNISTConvNet(generator=torch.Generator().manual_seed(3))
    net = ch7_cnn.build_scratch_twin(3)
    ch7_cnn.load_torch_weights(net, model)
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    model.eval()
    with torch.no_grad():
        expected = model(x, inference=True).numpy()
    got = net.forward(x.numpy(), inference=True)
    assert abs(got - expected).max() <= 1e-5 * abs(expected).max()
