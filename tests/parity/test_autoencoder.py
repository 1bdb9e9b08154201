"""Chapter 7 autoencoder: the torch twin's layout, the MSE normalisation factor, and the recipe.

The forward/backward and training parity of every case is generated from parity_tests/specs/autoencoder.py
(test_parity, test_fd_oracle, test_bad_input_*, test_converters, test_benchmarks).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import torch_impl as ti
import torch_impl.autoencoder as tae
from data.mnist import find_mnist_dir
from parity_tests.harness import case_seed
from parity_tests.recipes import ch7_autoencoder
from parity_tests.specs.autoencoder import AUTOENCODER_CONVERTER, AUTOENCODER_SPEC, build_scratch, param_shapes
from parity_tests.specs.base import Problem
from scratch.autoencoder import Autoencoder as ScratchAutoencoder


def _problem(case_index: int = 0) -> Problem:
    case = AUTOENCODER_SPEC.cases[case_index]
    return AUTOENCODER_SPEC.make_problem(case, np.random.default_rng(case_seed("test", case.name)), np.dtype("float64"))


@pytest.mark.parametrize("case_index", [0, 1])
def test_converter_names_match_scratch_and_torch(case_index: int) -> None:
    problem = _problem(case_index)
    model = tae.Autoencoder(**_arch(problem), dtype=torch.float64)
    state = model.state_dict()
    assert tuple(state) == AUTOENCODER_CONVERTER.torch_names
    scratch_model = build_scratch(problem)
    assert scratch_model.param_names == AUTOENCODER_CONVERTER.book_names
    torch_side = AUTOENCODER_CONVERTER.to_torch(problem.params)
    for name, value in torch_side.items():
        assert tuple(state[name].shape) == value.shape, name
    assert {k: v.shape for k, v in scratch_model.named_params().items()} == param_shapes(problem.case)


def _arch(problem: Problem) -> dict[str, Any]:
    c = problem.case
    return {
        "hidden_channels": c["channels"],
        "kernel_size": c["k"],
        "encoding_size": c["enc"],
        "image_shape": c["image"],
    }


@pytest.mark.parametrize("image_shape", [(1, 6, 6), (2, 5, 7), (1, 28, 28)])
def test_book_mse_is_exactly_chw_times_mse_loss(image_shape: tuple[int, int, int]) -> None:
    """scratch / torch_impl MeanSquaredError (Σ/N) = C·H·W · nn.MSELoss() (Σ/(N·C·H·W)), values and gradients."""
    chw = math.prod(image_shape)
    gen = torch.Generator().manual_seed(chw)
    p = torch.randn(3, *image_shape, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randn(3, *image_shape, dtype=torch.float64, generator=gen)
    book = ti.MeanSquaredError()(p, y)
    (g_book,) = torch.autograd.grad(book, p)
    mean = nn.MSELoss()(p, y)
    (g_mean,) = torch.autograd.grad(mean, p)
    assert float((book / mean).detach()) == pytest.approx(chw, rel=1e-14)
    torch.testing.assert_close(g_book, chw * g_mean, rtol=1e-14, atol=0)
    # the scratch autoencoder's two modes differ by the same factor, and its "mean" is nn.MSELoss's value
    x = np.tanh(np.random.default_rng(chw).standard_normal((3, *image_shape)))
    arch: dict[str, Any] = {"hidden_channels": (2, 2), "kernel_size": 3, "encoding_size": 3, "image_shape": image_shape}
    s_book = ScratchAutoencoder(**arch, mse="book", seed=1).train_batch(x)
    s_mean_model = ScratchAutoencoder(**arch, mse="mean", seed=1)
    s_mean = s_mean_model.train_batch(x)
    assert s_book / s_mean == pytest.approx(chw, rel=1e-13)
    recon, _ = s_mean_model.forward(x)
    assert s_mean == pytest.approx(float(nn.MSELoss()(torch.from_numpy(recon), torch.from_numpy(x))), rel=1e-13)


def test_torch_twin_forward_returns_reconstruction_and_encoding() -> None:
    model = tae.Autoencoder((3, 2), 3, 4, (1, 6, 6), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.tanh(torch.randn(5, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    recon, z = model(x)
    assert recon.shape == (5, 1, 6, 6)
    assert z.shape == (5, 4)
    torch.testing.assert_close(model.decoder(z), recon, rtol=0, atol=0)
    torch.testing.assert_close(model.encoder(x), z, rtol=0, atol=0)
    # the same generator seed gives the same weights
    again = tae.Autoencoder((3, 2), 3, 4, (1, 6, 6), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_recipe_weights_transfer_gives_identical_forward() -> None:
    twin = tae.Autoencoder(generator=torch.Generator().manual_seed(3))
    model = ScratchAutoencoder(mse="mean", seed=3)
    ch7_autoencoder.load_torch_weights(model, twin)
    x = torch.tanh(torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(4)))
    with torch.no_grad():
        expected, z_expected = twin(x)
    got, z = model.forward(x.numpy())
    assert np.max(np.abs(got - expected.numpy())) <= 1e-5
    assert np.max(np.abs(z - z_expected.numpy())) <= 1e-5


def test_recipe_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert ch7_autoencoder.main(["--epochs", "0"]) == 2
    assert "argument --epochs: must be an integer >= 1; received 0" in capsys.readouterr().err
    assert ch7_autoencoder.main(["--tsne-points", "-5"]) == 2
    assert ch7_autoencoder.main(["--limit", "ten"]) == 2
    assert ch7_autoencoder.main(["--source", "web"]) == 2
    assert ch7_autoencoder.main(["--help"]) == 0


def test_recipe_reports_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ch7_autoencoder.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "error: no MNIST data" in out
    assert "MNIST files not found" in out
    assert not list(tmp_path.iterdir())


def test_recipe_tiny_run_writes_both_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if find_mnist_dir() is None:
        pytest.skip("full MNIST not found (set DLFS_DATASETS)")
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    out_dir = tmp_path / "plots"
    argv = ["--source", "full", "--limit", "120", "--test-limit", "90", "--tsne-points", "60", "--out", str(out_dir)]
    code = ch7_autoencoder.main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "120 training / 90 test images" in out
    assert "After 2 batches" in out
    for name in ("reconstructions.png", "tsne.png"):
        data = (out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert sorted(p.name for p in out_dir.iterdir()) == ["reconstructions.png", "tsne.png"]  # no temporary files
    # both implementations report the same MSE to float32 precision (same weights, same batches)
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("scratch ", "torch_impl "))]
    assert len(rows) == 2
    (_, s_train, s_test, _), (_, t_train, t_test, _) = rows
    assert float(s_train) == pytest.approx(float(t_train), rel=1e-4)
    assert float(s_test) == pytest.approx(float(t_test), rel=1e-4)


def test_reproduce_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch7_autoencoder, "QUICK_LIMIT", 60)
    monkeypatch.setattr(ch7_autoencoder, "QUICK_TEST_LIMIT", 50)
    try:
        rows = ch7_autoencoder.reproduce(quick=True)
    except ch7_autoencoder.SkipRecipe as exc:
        pytest.skip(exc.reason)
    assert [r["implementation"] for r in rows] == ["scratch", "torch_impl"]
    assert all(r["chapter"] == "ch7" and r["experiment"] == "autoencoder" for r in rows)
    s, t = (r["metrics"]["test_mse"] for r in rows)
    assert 0 < s < 2
    assert s == pytest.approx(t, rel=1e-4)
    assert all(r["seconds"] > 0 for r in rows)
