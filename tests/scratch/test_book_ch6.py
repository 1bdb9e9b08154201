"""Chapter 6's ``RNN_DLFS.ipynb`` on this project: the book module ``scratch.book.ch6`` and the notebook's run.

The notebook is unseeded and indexes characters in ``set()`` order (erratum E21), so its saved samples cannot be
reproduced, not even by the book's own code. What can be checked is that the book module is the book's algorithm:
the book's own classes, executed from ``DLFS_BOOK`` (the notebook's definition cells run in a namespace; nothing
copied), with the same seed and the same (sorted) vocabulary, draw the same initial weights, take the same
training steps (every loss equal to 1e-12 relative) and print the same samples. The GRU is the exception on
purpose (errata E18, E19). Also: the summing loss, the sliding windows, the optimizers' defaults, the printed
output of the notebook itself on a short configuration, and bad input.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from collections import deque
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scratch
from parity_tests.book.manifest import MANIFEST, BookError, book_root, load_manifest
from parity_tests.book.runner import run_notebook
from scratch.book import ch6

NOTEBOOK = "06_rnns/RNN_DLFS.ipynb"
#: The notebook's definition cells (classes and functions), run as the book's code.
DEFINITION_CELLS = (7, 9, 11, 12, 14, 17, 19, 21, 23, 28, 30, 32, 35, 37)
#: A short text with its own vocabulary (27 characters), long enough for a few batches and a wrap-around.
TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak.\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\nAll:\nResolved. resolved.\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)


def _book_notebook() -> dict[str, Any] | None:
    try:
        path = book_root() / NOTEBOOK
    except BookError:
        return None
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


requires_book = pytest.mark.skipif(
    _book_notebook() is None, reason="the book's repository (DLFS_BOOK) is not available"
)


@pytest.fixture
def global_state() -> Iterator[None]:
    """The book's code draws from NumPy's global generator: restore it afterwards."""
    state = np.random.get_state()  # noqa: NPY002 - saved to be restored
    yield
    np.random.set_state(state)  # noqa: NPY002


def _global_key() -> np.ndarray:
    """NumPy's global Mersenne Twister key (read, never drawn from)."""
    return np.random.get_state(legacy=False)["state"]["key"].copy()  # noqa: NPY002


class _Ignore:
    """Stands in for ``plt`` and IPython's ``display`` in the book's namespace: every call does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _book_classes() -> dict[str, Any]:
    """The notebook's own definitions, executed in a fresh namespace holding the names its import cells give."""
    special = pytest.importorskip("scipy.special")
    notebook = _book_notebook()
    assert notebook is not None

    def same_shape(a: np.ndarray, b: np.ndarray) -> None:
        assert a.shape == b.shape

    namespace: dict[str, Any] = {
        "np": np,
        "ndarray": np.ndarray,
        "Dict": dict,
        "List": list,
        "Tuple": tuple,
        "deepcopy": deepcopy,
        "deque": deque,
        "logsumexp": special.logsumexp,
        "assert_same_shape": same_shape,
        "plt": _Ignore(),
        "display": _Ignore(),
    }
    for index in DEFINITION_CELLS:
        exec("".join(notebook["cells"][index]["source"]), namespace)
    return namespace


def _book_trainer(book: dict[str, Any], path: Path, model: Any, optim: Any, batch_size: int) -> Any:
    """The book's trainer with its vocabulary put in sorted order (the book's set() order varies: E21)."""
    trainer = book["RNNTrainer"](str(path), model, optim, batch_size=batch_size)
    trainer.chars = sorted(trainer.chars)
    trainer.char_to_idx = {c: i for i, c in enumerate(trainer.chars)}
    trainer.idx_to_char = dict(enumerate(trainer.chars))
    return trainer


def _layers(lib: dict[str, Any], kind: str, V: int) -> list[Any]:
    if kind == "rnn":
        return [lib["RNNLayer"](hidden_size=12, output_size=V)]
    if kind == "rnn+lstm":
        return [
            lib["RNNLayer"](hidden_size=12, output_size=16, weight_scale=0.1),
            lib["LSTMLayer"](hidden_size=10, output_size=V, weight_scale=0.01),
        ]
    if kind == "lstm+lstm":
        return [
            lib["LSTMLayer"](hidden_size=12, output_size=16, weight_scale=0.1),
            lib["LSTMLayer"](hidden_size=10, output_size=V, weight_scale=0.01),
        ]
    return [
        lib["GRULayer"](hidden_size=12, output_size=16, weight_scale=0.1),
        lib["LSTMLayer"](hidden_size=10, output_size=V, weight_scale=0.01),
    ]


def _train(lib: dict[str, Any], kind: str, optimizer: str, path: Path, iterations: int, seed: int) -> Any:
    """Train one of the notebook's configurations (small) with the book's classes or ours; return the printed
    output, every step's loss as the book computes it, and the initial parameters."""
    V = len(set(TEXT))
    is_book = lib is not vars(ch6)
    if is_book:
        np.random.seed(seed)  # noqa: NPY002 - the book's global stream (restored by the fixture)
    layers = _layers(lib, kind, V)
    model = lib["RNNModel"](layers=layers, vocab_size=V, sequence_length=7, loss=lib["SoftmaxCrossEntropy"]())
    lr = 0.01 if optimizer == "AdaGrad" else 0.05
    optim = lib[optimizer](lr=lr, gradient_clipping=True)
    if is_book:
        trainer = _book_trainer(lib, path, model, optim, batch_size=5)
    else:
        trainer = lib["RNNTrainer"](str(path), model, optim, batch_size=5, seed=seed)
    losses: list[float] = []
    initial: list[np.ndarray] = []
    step = model.single_step

    def recording_step(x: np.ndarray, y: np.ndarray) -> float:
        if not initial:
            model.forward(x[:1])  # builds the layers (draws the weights) on a copy of the first input...
            initial.extend(p["value"].copy() for layer in model.layers for p in layer.params.values())
            for layer in model.layers:  # ...whose carried state must not count
                if is_book:
                    layer.start_H = np.zeros((1, layer.hidden_size))
                    if hasattr(layer, "start_C"):
                        layer.start_C = np.zeros((1, layer.hidden_size))
                else:
                    layer.reset_state()
        value = step(x, y)
        losses.append(value if is_book else model.loss.book_value())
        return value

    model.single_step = recording_step
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        trainer.train(iterations, sample_every=100)
    return out.getvalue(), np.array(losses), initial


# ---------------------------------------------------------------------------------------------------------
# The book's own classes, executed: same weights, same steps, same samples
# ---------------------------------------------------------------------------------------------------------


@requires_book
@pytest.mark.parametrize(("kind", "optimizer"), [("rnn", "SGD"), ("rnn+lstm", "AdaGrad"), ("lstm+lstm", "SGD")])
def test_training_takes_the_books_steps_and_prints_its_samples(
    kind: str, optimizer: str, tmp_path: Path, global_state: None
) -> None:
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    book = _book_classes()
    iterations = 101  # samples after iterations 0 and 100; the windows wrap around the 270-character text
    book_out, book_losses, book_initial = _train(book, kind, optimizer, path, iterations, seed=7)
    ours_out, ours_losses, ours_initial = _train(vars(ch6), kind, optimizer, path, iterations, seed=7)
    # The same initial weights, in the book's draw order, bit for bit.
    assert len(ours_initial) == len(book_initial)
    for ours, theirs in zip(ours_initial, book_initial, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # The same loss (the book's value) at every step: the fused scratch layers add in another order.
    np.testing.assert_allclose(ours_losses, book_losses, rtol=1e-12, atol=0)
    assert not np.allclose(ours_losses[-10:], ours_losses[0])  # it trained
    # The book printed both samples (its display was a no-op here); ours cleared the first, as Jupyter does.
    assert len(book_out) == 2 * 201
    assert len(ours_out) == 201
    assert book_out[201:] == ours_out


@requires_book
def test_our_first_sample_is_the_books_first_sample(tmp_path: Path, global_state: None) -> None:
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    book = _book_classes()
    book_out, _, _ = _train(book, "rnn+lstm", "AdaGrad", path, 1, seed=11)
    V = len(set(TEXT))
    model = ch6.RNNModel(_layers(vars(ch6), "rnn+lstm", V), sequence_length=7, vocab_size=V,
                         loss=ch6.SoftmaxCrossEntropy())  # fmt: skip
    trainer = ch6.RNNTrainer(str(path), model, ch6.AdaGrad(), batch_size=5, seed=11)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train(1)
    assert trainer.samples == [(0, book_out[:-1])]


@requires_book
def test_gru_draws_the_books_weights_and_differs_only_by_errata_e18_e19(global_state: None) -> None:
    book = _book_classes()
    rng = np.random.default_rng(5)
    x = np.eye(6)[rng.integers(0, 6, size=(3, 4))]  # one-hot [3, 4, 6]
    np.random.seed(21)  # noqa: NPY002
    theirs = book["GRULayer"](hidden_size=5, output_size=6, weight_scale=0.1)
    theirs.forward(x)
    ch6.seed(21)
    ours = ch6.GRULayer(hidden_size=5, output_size=6, weight_scale=0.1)
    ours.forward(x)
    assert list(ours.params) == list(theirs.params)  # the book's key (and draw) order
    for name in theirs.params:
        np.testing.assert_array_equal(ours.params[name]["value"], theirs.params[name]["value"])
    assert ours.params["B_h"]["value"].std() > 0.3  # std 1, whatever weight_scale is, as in the book
    # E18: the book's update gate reads the reset gate's weights. Tie them and the forward passes agree.
    for name in ("W_xu", "W_hu"):
        tied = ours.params[name.replace("u", "r")]["value"].copy()
        ours.params[name]["value"] = tied
        theirs.params[name]["value"] = tied.copy()
    ours.reset_state()
    theirs.start_H = np.zeros((1, 5))
    np.testing.assert_allclose(ours.forward(x), theirs.forward(x), rtol=1e-12, atol=1e-14)
    # E19: the book's backward leaves every core gradient at exactly 0; ours does not.
    grad = rng.normal(size=(3, 4, 6))
    theirs._clear_gradients()
    theirs.backward(grad)
    ours.backward(grad)
    for name in ("W_xr", "W_hr", "B_r", "W_xu", "W_hu", "B_u", "W_xh", "W_hh", "B_h"):
        assert not theirs.params[name]["deriv"].any()
        assert np.abs(ours.params[name]["deriv"]).max() > 1e-6
    for name in ("W_v", "B_v"):
        np.testing.assert_allclose(ours.params[name]["deriv"], theirs.params[name]["deriv"], rtol=1e-12)


@requires_book
def test_sliding_windows_are_the_books(tmp_path: Path, global_state: None) -> None:
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    book = _book_classes()
    V, T, N = len(set(TEXT)), 9, 6
    model = book["RNNModel"]([book["RNNLayer"](4, V)], sequence_length=T, vocab_size=V, loss=None)
    theirs = _book_trainer(book, path, model, book["SGD"](), batch_size=N)
    ours = ch6.RNNTrainer(str(path), ch6.RNNModel([ch6.RNNLayer(4, V)], T, V, ch6.SoftmaxCrossEntropy()),
                          ch6.SGD(), batch_size=N)  # fmt: skip
    start = 0
    for _ in range(60):  # the book's loop: wrap, draw, advance
        if start + T + N + 1 > len(TEXT):
            start = 0
        inputs, targets = theirs._generate_inputs_targets(start)
        x, y = ours.next_batch()
        np.testing.assert_array_equal(x, theirs._generate_one_hot_array(inputs))
        np.testing.assert_array_equal(y, theirs._generate_one_hot_array(targets))
        start += N
        assert ours.position == start


@requires_book
def test_the_summing_loss_is_the_books_value_and_gradient(global_state: None) -> None:
    book = _book_classes()
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=4.0, size=(3, 5, 7))
    logits[0, 0] = [40.0, -40.0, 0, 0, 0, 0, 0]  # a saturated softmax: the book clips p to [eps, 1 - eps]
    target = np.eye(7)[rng.integers(0, 7, size=(3, 5))]
    theirs = book["SoftmaxCrossEntropy"]()
    ours = ch6.SoftmaxCrossEntropy()
    book_value = theirs.forward(logits, target)
    value = ours.forward(logits, target)
    # 1e-9: at the saturated position the book takes log(1 - (1 - eps)) of the rounded 1 - eps, ours log(eps).
    assert ours.book_value() == pytest.approx(book_value, rel=1e-9)
    np.testing.assert_allclose(ours.backward(), theirs.backward(), rtol=1e-12, atol=1e-15)
    # E2: the book's value adds -(1 - Y) log(1 - p); ours is the cross-entropy its gradient differentiates.
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    assert value == pytest.approx(-np.sum(target * log_p), rel=1e-12)
    assert book_value > value + 1.0


# ---------------------------------------------------------------------------------------------------------
# The notebook itself, on a short configuration
# ---------------------------------------------------------------------------------------------------------


def _short_manifest(tmp_path: Path) -> Path:
    """The real ch6 entry with smaller layers, batches and runs, so the whole notebook runs in a few seconds."""
    entry = json.loads(MANIFEST.read_text(encoding="utf-8"))["notebooks"]["ch6"]
    for rule in entry["cells"].values():
        if rule["kind"] != "config":
            continue
        edits = [[rule["quick_edits"][0][0], "trainer.train(3,"]]
        for size in ("128", "62"):
            edits.append([f"hidden_size=256, output_size={size}", f"hidden_size=8, output_size={size}"])
        edits.append(["batch_size=32", "batch_size=4"])
        rule["quick_edits"] = [e for e in edits if e[0] in _cell_source(rule["sha"])]
    path = tmp_path / "notebooks.json"
    path.write_text(json.dumps({"notebooks": {"ch6": entry}}), encoding="utf-8")
    return path


def _cell_source(sha: str) -> str:
    from parity_tests.book.manifest import source_sha

    notebook = _book_notebook()
    assert notebook is not None
    return next("".join(c["source"]) for c in notebook["cells"] if source_sha("".join(c["source"])) == sha)


@requires_book
def test_the_notebook_runs_and_prints_one_sample_per_training_cell(tmp_path: Path) -> None:
    manifest = _short_manifest(tmp_path)
    before = _global_key()
    run = run_notebook("ch6", manifest=manifest, quick=True)
    assert run.passed, [(c.index, c.status, c.error) for c in run.failures]
    printed = [c for c in run.cells if c.printed]
    assert [c.index for c in printed] == [24, 40, 42, 43, 44]
    for cell in printed:
        assert len(cell.ours) == 201
        assert cell.ours.endswith("\n")
        assert cell.status == "explained"
        assert cell.erratum == "E21"
    again = run_notebook("ch6", manifest=manifest, quick=True)
    assert [c.ours for c in again.cells] == [c.ours for c in run.cells]  # seeded: the same text every run
    np.testing.assert_array_equal(_global_key(), before)


def test_the_manifest_imports_every_name_the_notebook_defines() -> None:
    spec = load_manifest()["ch6"]
    assert spec.module == "scratch.book.ch6"
    assert not spec.book_code
    assert spec.book_code_reason
    assert set(spec.differences) == {24, 40, 42, 43, 44}
    assert all(d.erratum == "E21" for d in spec.differences.values())
    notebook = _book_notebook()
    if notebook is None:
        pytest.skip("the book's repository (DLFS_BOOK) is not available")
    for index in DEFINITION_CELLS:
        tree = ast.parse("".join(notebook["cells"][index]["source"]))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        rule = spec.cells[index]
        assert rule.replace is not None
        imported = {a.asname or a.name for s in ast.parse(rule.replace).body for a in s.names}  # type: ignore[attr-defined]
        assert defined <= imported, index
        assert all(hasattr(ch6, name) for name in imported)


# ---------------------------------------------------------------------------------------------------------
# The module without the book
# ---------------------------------------------------------------------------------------------------------


def _text_file(tmp_path: Path, text: str = TEXT) -> str:
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_and_api_are_the_books(tmp_path: Path) -> None:
    assert ch6.RNNLayer(8, 5).weight_scale is None
    assert ch6.LSTMLayer(8, 5).weight_scale == 0.01
    assert ch6.GRULayer(8, 5).weight_scale == 0.01
    for cls in (ch6.SGD, ch6.AdaGrad):
        optim = cls()
        assert optim.lr == 0.01
        assert optim.gradient_clipping is True
        assert optim.clip == 2.0
        assert isinstance(optim, ch6.RNNOptimizer)
    assert ch6.AdaGrad().eps == 1e-7
    assert ch6.SGD(gradient_clipping=False).clip is None
    assert ch6.SoftmaxCrossEntropy().eps == 1e-9
    V = len(set(TEXT))
    layer = ch6.RNNLayer(8, V)
    model = ch6.LSTMModel([layer], sequence_length=5, vocab_size=V, hidden_size=8, loss=ch6.SoftmaxCrossEntropy())
    assert model.hidden_size == 8
    optim = ch6.SGD()
    trainer = ch6.RNNTrainer(_text_file(tmp_path), model, optim)
    assert trainer.batch_size == 32
    assert optim.model is model
    assert trainer.chars == sorted(set(TEXT))
    assert trainer.vocab_size == V
    assert trainer.idx_to_char[trainer.char_to_idx["F"]] == "F"
    assert trainer.data == TEXT
    model.forward(np.eye(V)[None, :3])
    assert layer.weight_scale == 2 / (V + V)  # the book stores its default on the layer
    assert list(layer.params) == ["W_f", "B_f", "W_v", "B_v"]
    assert list(ch6.LSTMLayer(3, V)._param_shapes(V)) == list(ch6.LSTMLayer._ORDER)
    layer._clear_gradients()
    assert not any(p["deriv"].any() for p in layer.params.values())


def test_the_loss_sums_where_scratch_averages() -> None:
    rng = np.random.default_rng(0)
    N, T, V = 4, 6, 5
    logits = rng.normal(size=(N, T, V))
    target = np.eye(V)[rng.integers(0, V, size=(N, T))]
    summed = ch6.SoftmaxCrossEntropy()
    averaged = scratch.SoftmaxCrossEntropy()
    value = summed.forward(logits, target)
    assert value == pytest.approx(averaged.forward(logits.reshape(N * T, V), target.reshape(N * T, V)) * N * T)
    grad = summed.backward()
    np.testing.assert_allclose(grad, averaged.backward().reshape(N, T, V) * N * T, atol=1e-9)
    assert grad.shape == (N, T, V)
    assert value == pytest.approx(scratch.SequenceSoftmaxCrossEntropy("sum").forward(logits, target))


def test_the_gradient_clips_probabilities_as_the_book_does() -> None:
    logits = np.array([[[60.0, 0.0, -60.0]]])
    target = np.array([[[0.0, 1.0, 0.0]]])
    loss = ch6.SoftmaxCrossEntropy(eps=1e-6)
    loss.forward(logits, target)
    np.testing.assert_array_equal(loss.backward(), [[[1 - 1e-6, 1e-6 - 1, 1e-6]]])


def test_optimizers_clip_every_element_to_two(tmp_path: Path) -> None:
    V = len(set(TEXT))
    for cls in (ch6.SGD, ch6.AdaGrad):
        layer = ch6.RNNLayer(4, V)
        model = ch6.RNNModel([layer], 5, V, ch6.SoftmaxCrossEntropy())
        model.forward(np.eye(V)[None, :5])
        optim = cls(lr=0.1)
        optim.model = model
        assert optim.net is model
        before = layer.params["W_f"]["value"].copy()
        grad = np.full_like(before, 7.0)
        grad[0, 0] = -0.5
        layer.params["W_f"]["deriv"] = grad
        optim.step()
        step = before - layer.params["W_f"]["value"]
        if cls is ch6.SGD:
            np.testing.assert_allclose(step[1:], 0.1 * 2.0)
            assert step[0, 0] == pytest.approx(-0.05)
        else:
            np.testing.assert_allclose(step[1:], 0.1 * 2.0 / np.sqrt(1e-7 + 4.0))
            assert step[0, 0] == pytest.approx(0.1 * -0.5 / np.sqrt(1e-7 + 0.25))


def test_sliding_windows_advance_by_the_batch_and_wrap(tmp_path: Path) -> None:
    V, T, N = len(set(TEXT)), 8, 5
    model = ch6.RNNModel([ch6.RNNLayer(4, V)], T, V, ch6.SoftmaxCrossEntropy())
    trainer = ch6.RNNTrainer(_text_file(tmp_path), model, ch6.SGD(), batch_size=N)
    positions, wraps = [], 0
    for _ in range(120):
        start = trainer.position if trainer.position + T + N + 1 <= len(TEXT) else 0
        wraps += start == 0 and trainer.position != 0
        x, y = trainer.next_batch()
        positions.append(start)
        for i in range(N):
            window = TEXT[start + i : start + i + T + 1]
            assert trainer.vocab.decode(x[i].argmax(-1)) == window[:-1]
            assert trainer.vocab.decode(y[i].argmax(-1)) == window[1:]
    assert positions[:3] == [0, N, 2 * N]
    assert wraps >= 2
    assert max(positions) + T + N + 1 <= len(TEXT)


def test_train_restarts_at_the_beginning_and_is_reproducible(tmp_path: Path) -> None:
    V = len(set(TEXT))
    runs = []
    for _ in range(2):
        model = ch6.RNNModel([ch6.LSTMLayer(6, V)], 5, V, ch6.SoftmaxCrossEntropy())
        trainer = ch6.RNNTrainer(_text_file(tmp_path), model, ch6.AdaGrad(), batch_size=3, seed=4)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            trainer.train(7, sample_every=3)
        runs.append((out.getvalue(), trainer.losses, trainer.samples))
        assert trainer.position == 7 * 3
        assert [i for i, _ in trainer.samples] == [0, 3, 6]
        assert out.getvalue() == trainer.samples[-1][1] + "\n"  # cleared before each sample
        assert len(trainer.moving_average) == 7
        assert trainer.moving_average[2] == pytest.approx(np.mean(trainer.losses[:3]))
    assert runs[0] == runs[1]


def test_the_stream_is_private_and_seeded(tmp_path: Path) -> None:
    before = _global_key()
    V = len(set(TEXT))
    ch6.seed(3)
    a = ch6.RNNLayer(4, V)
    a.forward(np.eye(V)[None, :2])
    ch6.seed(3)
    b = ch6.RNNLayer(4, V)
    b.forward(np.eye(V)[None, :2])
    np.testing.assert_array_equal(a.params["W_f"]["value"], b.params["W_f"]["value"])
    c = ch6.RNNLayer(4, V)  # the stream continues: different weights
    c.forward(np.eye(V)[None, :2])
    assert not np.array_equal(a.params["W_f"]["value"], c.params["W_f"]["value"])
    expected = np.random.RandomState(3).normal(0.0, 2 / (V + V), size=(V + 4, 4))
    np.testing.assert_array_equal(a.params["W_f"]["value"], expected)  # the book's np.random.normal draw
    np.testing.assert_array_equal(_global_key(), before)


def test_clear_output_empties_only_an_in_memory_capture(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print("first sample")
        ch6.display.clear_output(wait=True)
        print("second sample")
    assert out.getvalue() == "second sample\n"
    print("kept")
    ch6.display.clear_output()
    assert capsys.readouterr().out == "kept\n"


def test_helpers() -> None:
    x = np.array([[1.0, 2.0, 3.0], [-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(ch6.logsumexp(x, axis=1), [3.40760596444438, 1000.0], rtol=1e-14)
    assert ch6.logsumexp(x, axis=1, keepdims=True).shape == (2, 1)
    assert ch6.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert float(ch6.logsumexp(np.zeros(4))) == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(ch6.softmax(x, axis=1).sum(axis=1), 1.0)
    np.testing.assert_allclose(ch6.batch_softmax(x[None]).sum(-1), 1.0)
    np.testing.assert_allclose(ch6.dsigmoid(np.array([0.0])), [0.25])
    np.testing.assert_allclose(ch6.dtanh(np.array([0.0, 1.0])), [1.0, 1 - np.tanh(1.0) ** 2])
    assert ch6.sigmoid(np.array([-1000.0]))[0] == 0.0
    special = pytest.importorskip("scipy.special")
    for axis in (None, 0, 1):
        np.testing.assert_allclose(ch6.logsumexp(x, axis=axis), special.logsumexp(x, axis=axis), rtol=1e-15)


def test_bad_input_is_named(tmp_path: Path) -> None:
    V = len(set(TEXT))
    with pytest.raises(ValueError, match=r"same shape; received \(2, 3\) and \(3, 2\)"):
        ch6.assert_same_shape(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3-D array"):
        ch6.batch_softmax(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="target must have the prediction's shape"):
        ch6.SoftmaxCrossEntropy().forward(np.zeros((1, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(TypeError, match="gradient_clipping must be a bool"):
        ch6.SGD(gradient_clipping="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        ch6.seed(-1)
    model = ch6.RNNModel([ch6.RNNLayer(4, 62)], 5, 62, ch6.SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match=rf"the text has {V} distinct characters but model.vocab_size=62"):
        ch6.RNNTrainer(_text_file(tmp_path), model, ch6.SGD())
    model = ch6.RNNModel([ch6.RNNLayer(4, V)], 50, V, ch6.SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match=r"sliding windows need a text of at least .* = 1051 characters"):
        ch6.RNNTrainer(_text_file(tmp_path, TEXT * 3), model, ch6.SGD(), batch_size=1000)
    trainer = ch6.RNNTrainer(_text_file(tmp_path), model, ch6.SGD(), batch_size=3)
    with pytest.raises(ValueError, match="num_iterations must be an integer >= 1"):
        trainer.train(0)
    with pytest.raises(TypeError, match="sample_every must be an integer"):
        trainer.train(5, sample_every=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="windows must be one of"):
        scratch.RNNTrainer(None, model, scratch.SGD(), text=TEXT, windows="shuffled")


def test_the_top_level_trainer_keeps_random_windows_by_default() -> None:
    V = len(set(TEXT))
    model = scratch.RNNModel([scratch.RNNLayer(4, V, rng=0)], 6, V)
    random = scratch.RNNTrainer(None, model, scratch.SGD(), batch_size=4, text=TEXT, seed=1)
    sliding = scratch.RNNTrainer(None, model, scratch.SGD(), batch_size=4, text=TEXT, windows="sliding")
    assert random.windows == "random"
    assert random.next_batch()[0].shape == (4, 6, V)
    x, _ = sliding.next_batch()
    assert sliding.vocab.decode(x[:, 0].argmax(-1)) == TEXT[:4]  # windows 0, 1, 2, 3 start one apart
    assert sliding.position == 4
