"""The chapter 6 and chapter 7 character-model recipes: both implementations train in lock step (float64), the
plots and samples are written, bad input exits 2, and ``reproduce`` returns well-formed rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import torch_impl as ti
from data.text import GENERATED_SHAKESPEARE, Vocabulary
from parity_tests import _io
from parity_tests.recipes import ch6, ch7_lstm
from parity_tests.recipes._repro import check_row
from scratch.rnn_model import RNNModel

pytest.importorskip("matplotlib", reason="the recipes' plots need matplotlib")


def _text(n_chars: int, seed: int = 0) -> str:
    """Pseudo-text of words from a small alphabet (deterministic)."""
    rng = np.random.default_rng(seed)
    words = ["the", "king", "shall", "not", "die", "Lord", "we", "go", "to", "sea", "and", "love"]
    out, size = [], 0
    while size < n_chars:
        w = words[int(rng.integers(len(words)))] + (",\n" if rng.random() < 0.1 else " ")
        out.append(w)
        size += len(w)
    return "".join(out)[:n_chars]


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_text.txt"
    path.write_text(_text(3000), encoding="utf-8")
    return path


@pytest.fixture
def datasets_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A $DLFS_DATASETS holding a small stand-in for the chapter's text (so no test needs the real file)."""
    root = tmp_path / "datasets"
    (root / "text").mkdir(parents=True)
    (root / "text" / GENERATED_SHAKESPEARE).write_text(_text(8000, seed=1), encoding="utf-8")
    monkeypatch.setenv("DLFS_DATASETS", str(root))
    return root


# ---- chapter 6 -----------------------------------------------------------------------------------------------


def test_ch6_both_implementations_follow_the_same_trajectory_in_float64(text_file: Path) -> None:
    text = text_file.read_text(encoding="utf-8")
    vocab = Vocabulary(text)
    result = ch6.run_experiment(
        ch6.EXPERIMENTS[3],  # RNN -> LSTM with AdaGrad: two layers, the carry, clipping and the book's AdaGrad
        vocab.encode(text),
        vocab,
        iterations=4,
        seed=11,
        dtype="float64",
        sample_every=2,
        emit=lambda _: None,
    )
    s, t = np.asarray(result.losses["scratch"]), np.asarray(result.losses["torch_impl"])
    assert s.shape == (4,)
    assert len(set(s.round(6))) == 4  # the loss moves: the steps are taken
    np.testing.assert_allclose(t, s, rtol=1e-10, atol=0)
    assert result.checkpoint_diff < 1e-10
    assert [i for i, _, _ in result.samples] == [2, 4]
    assert all(len(a) == ch6.SAMPLE_LENGTH and len(b) == ch6.SAMPLE_LENGTH for _, a, b in result.samples)


def test_ch6_same_seed_same_weights_in_both() -> None:
    model, twin = ch6.build_models(ch6.EXPERIMENTS[5], 13, seed=3, dtype=np.dtype("float64"))
    x = np.eye(13)[np.random.default_rng(0).integers(0, 13, size=(2, 6))]  # one-hot [2, 6, 13]
    expected = model.forward(x)
    with torch.no_grad():
        got = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    again, _ = ch6.build_models(ch6.EXPERIMENTS[5], 13, seed=3, dtype=np.dtype("float64"))
    for a, b in zip(model.params(), again.params(), strict=True):
        np.testing.assert_array_equal(a, b)
    gru = model.layers[0]
    assert gru.params["W_xr"]["value"].std() == pytest.approx(0.1, rel=0.1)  # the experiment's scale
    assert gru.params["W_v"]["value"].std() == pytest.approx(1.0, rel=0.1)  # the book's GRU: std 1 for W_v


def test_ch6_main_with_a_user_text_writes_plot_and_samples(
    text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ch6_out"
    code = ch6.main(
        ["--experiment", "2", "--iterations", "3", "--sample-every", "2", "--text", str(text_file), "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "parity: scratch and torch_impl agree" in printed
    assert "ms/iteration" in printed
    png = out / "loss_2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    samples = (out / "samples.txt").read_text(encoding="utf-8")
    assert "== experiment 2 LSTM ==" in samples
    assert samples.count("[scratch]") == 2  # iterations 2 and 3 (the last)
    assert samples.count("[torch_impl]") == 2


def test_ch6_exits_1_when_the_twin_differs(
    text_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = ch6.build_twin

    def off_by_a_little(experiment: ch6.Experiment, model: RNNModel) -> ti.SequentialModel:
        twin = real(experiment, model)
        with torch.no_grad():
            next(twin.parameters())[0, 0] += 1e-4
        return twin

    monkeypatch.setattr(ch6, "build_twin", off_by_a_little)
    code = ch6.main(["--experiment", "2", "--iterations", "2", "--text", str(text_file), "--out", str(tmp_path)])
    assert code == 1
    assert "DISAGREE" in capsys.readouterr().out


def test_ch6_missing_or_unusable_text_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DLFS_DATASETS", str(tmp_path / "empty"))
    assert ch6.main(["--iterations", "1"]) == 2
    assert f"{GENERATED_SHAKESPEARE!r} was not found" in capsys.readouterr().out
    assert ch6.main(["--text", str(tmp_path / "nope.txt")]) == 2
    assert "no such file" in capsys.readouterr().out
    short = tmp_path / "short.txt"
    short.write_text("abcabcabc", encoding="utf-8")
    assert ch6.main(["--experiment", "1", "--text", str(short), "--out", str(tmp_path)]) == 2
    assert "need at least 11" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--experiment", "6"], ["--iterations", "0"], ["--dtype", "float16"], ["--sample-every", "x"], ["--bogus"]],
)
def test_ch6_bad_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert ch6.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_ch6_reproduce_rows(datasets_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch6, "QUICK_ITERATIONS", 2)
    monkeypatch.setattr(ch6, "EXPERIMENTS", {2: ch6.EXPERIMENTS[2]})
    rows = ch6.reproduce(quick=True)
    assert [(r["experiment"], r["implementation"]) for r in rows] == [("2 LSTM", "scratch"), ("2 LSTM", "torch_impl")]
    for r in rows:
        assert check_row(r) == r
        assert r["chapter"] == "ch6"
        assert set(r["metrics"]) == {"final_loss_ma"}
        assert r["seconds"] > 0
    assert rows[0]["metrics"]["final_loss_ma"] == pytest.approx(rows[1]["metrics"]["final_loss_ma"], rel=1e-10)


def test_ch6_reproduce_skips_without_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parity_tests.recipes._repro import SkipRecipe

    monkeypatch.setenv("DLFS_DATASETS", str(tmp_path))
    with pytest.raises(SkipRecipe, match="was not found"):
        ch6.reproduce(quick=True)


# ---- chapter 7 -----------------------------------------------------------------------------------------------


def test_book_style_adam_matches_torch_adam_with_weight_decay() -> None:
    rng = np.random.default_rng(4)
    values = [rng.normal(size=(3, 4)), rng.normal(size=(1, 4))]
    grads = [[rng.normal(size=v.shape) * 10 ** rng.uniform(-3, 1) for v in values] for _ in range(4)]

    class Net:
        def __init__(self) -> None:
            self.values = [v.copy() for v in values]
            self.grads = [np.zeros_like(v) for v in values]

        def params(self) -> Iterator[np.ndarray]:
            return iter(self.values)

        def param_grads(self) -> Iterator[np.ndarray]:
            return iter(self.grads)

    net = Net()
    optim = ch7_lstm.Adam(lr=0.01, weight_decay=0.1)
    optim.net = net  # type: ignore[assignment]
    tensors = [torch.tensor(v, requires_grad=True) for v in values]
    t_optim = torch.optim.Adam(tensors, lr=0.01, weight_decay=0.1)
    for step in grads:
        for k, g in enumerate(step):
            net.grads[k][...] = g
            tensors[k].grad = torch.tensor(g)
        before = [g.copy() for g in net.grads]
        optim.step()
        t_optim.step()
        for g, b in zip(net.grads, before, strict=True):
            np.testing.assert_array_equal(g, b)  # the network's gradients are left alone
    for v, t in zip(net.values, tensors, strict=True):
        assert np.abs(v - values[0 if v.shape == (3, 4) else 1]).max() > 1e-3  # it moved
        np.testing.assert_allclose(v, t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_ch7_lstm_both_implementations_agree_in_float64() -> None:
    text = _text(6000, seed=2)
    vocab = Vocabulary(text)
    result = ch7_lstm.run(
        vocab.encode(text),
        vocab.size,
        epochs=1,
        max_batches=3,
        seed=5,
        dtype="float64",
        temperature=0.8,
        sample_length=30,
        decode=vocab.decode,
    )
    s, t = np.asarray(result.train_loss["scratch"]), np.asarray(result.train_loss["torch_impl"])
    assert s.shape == (3,)
    assert s[2] < s[0]  # Adam moves the weights
    np.testing.assert_allclose(t, s, rtol=1e-10, atol=0)
    assert result.test_loss["torch_impl"] == pytest.approx(result.test_loss["scratch"], rel=1e-10)
    assert result.max_rel_diff < 1e-10
    assert all(len(result.samples[k]) == 30 for k in ch7_lstm.IMPLEMENTATIONS)


def test_ch7_lstm_main_writes_plot_and_exits_2_on_bad_input(
    text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ch7_out"
    code = ch7_lstm.main(["--text", str(text_file), "--max-batches", "1", "--sample-length", "20", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "parity: scratch and torch_impl agree" in printed
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[torch_impl]" in (out / "samples.txt").read_text(encoding="utf-8")
    for name in ("samples.txt", "loss.png"):  # ordinary permissions (0644 under umask 022), not mkstemp's 0600
        assert (out / name).stat().st_mode & 0o777 == _io.default_mode(), name
    assert ch7_lstm.main(["--text", str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().out
    assert ch7_lstm.main(["--temperature", "0"]) == 2
    assert ch7_lstm.main(["--max-batches", "0"]) == 2
    short = tmp_path / "short.txt"
    short.write_text(_text(120), encoding="utf-8")
    assert ch7_lstm.main(["--text", str(short), "--out", str(out)]) == 2
    assert "must have at least 51 characters" in capsys.readouterr().out


def test_ch7_lstm_reproduce_rows(datasets_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ch7_lstm, "QUICK_BATCHES", 1)
    rows = ch7_lstm.reproduce(quick=True)
    assert [r["implementation"] for r in rows] == ["scratch", "torch_impl"]
    for r in rows:
        assert check_row(r) == r
        assert (r["chapter"], r["experiment"]) == ("ch7", "char LSTM")
        assert set(r["metrics"]) == {"test_loss", "train_loss_last"}
    assert rows[0]["metrics"]["test_loss"] == pytest.approx(rows[1]["metrics"]["test_loss"], rel=1e-10)
