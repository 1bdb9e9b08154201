"""Chapter 7 checkpoints: the book's ``state_dict`` files load into this project's models and back; the
book-mode carried recurrent state is saved and loaded with the weights (torch_impl's ``carry`` buffer, scratch's
``state()``/``load_state()``, the converters between them); one ``single_bias`` default across the twins.

The book's classes are executed from ``DLFS_BOOK`` (default ``../shared/book``): ``lincoln.pytorch`` from
``<book>/lincoln`` and the notebook's definition cells from ``07_PyTorch/Code.ipynb`` (these tests skip cleanly
without it). Every model gets random non-zero weights (biases included), its ``state_dict`` goes through
``torch.save``/``torch.load`` as a checkpoint would, and the two sides are compared on random batches over two
consecutive calls (so the LSTM's carried state takes part): bit for bit where the computation is the same, to
round-off where ``single_bias`` folded the book's second LSTM bias into the first.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import scratch
import torch_impl as ti
from parity_tests.converters import (
    GRU_AFTER,
    GRU_BEFORE,
    LSTM,
    RNN,
    CarryConverter,
    RecurrentConverter,
    recurrent_stack,
    state_to_book,
    state_to_torch,
)
from scratch.rnn_model import RNNModel
from torch_impl.book import ch7
from torch_impl.network import BookCheckpoint

from .book_ch7_code import book_cells, book_missing

#: The notebook's imports (and seed) and the definition cells of BostonModel, ConvLayer, MNIST_ConvNet,
#: LSTMLayer, NextCharacterModel and Autoencoder.
CELLS = (1, 6, 21, 22, 41, 44, 54)
V, H, OUT, T = 7, 5, 3, 4


_book_missing = book_missing


@pytest.fixture(autouse=True)
def _torch_global_state() -> Iterator[None]:
    """The book's code draws from torch's global generator; every test leaves it (and the dtype) as it was."""
    state, dtype = torch.get_rng_state(), torch.get_default_dtype()
    try:
        yield
    finally:
        torch.set_rng_state(state)
        torch.set_default_dtype(dtype)


@pytest.fixture(scope="module")
def book() -> Iterator[dict[str, Any]]:
    """The notebook's imports and model definitions, executed with the book's ``lincoln`` (a namespace)."""
    reason = _book_missing()
    if reason is not None:
        pytest.skip(f"the book is not available: {reason}")
    with book_cells(CELLS, "book_ch7_checkpoints") as namespace:
        yield namespace


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Build the book's models in ``dtype`` (they take none; the LSTM's carried state is created in it too)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def checkpoint(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """``state`` through ``torch.save`` and ``torch.load(weights_only=True)``, as a file on disk would go."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded: dict[str, Tensor] = torch.load(buffer, weights_only=True)
    return loaded


def randomize(model: nn.Module, seed: int) -> None:
    """Random non-zero parameters, every bias included, LOADED (so a ``single_bias`` layer folds its bias_hh)."""
    g = gen(seed)
    state = {}
    for name, p in model.named_parameters():
        scale = 0.5 if p.dim() == 1 else 1.0 / (p[0].numel() ** 0.5)  # weights: ~1 / sqrt(fan-in)
        state[name] = (torch.randn(p.shape, generator=g, dtype=torch.float64) * scale).to(p.dtype)
    model.load_state_dict(state)  # strict: every parameter named (a missing carry is "none yet")


def outputs(model: nn.Module, x: Tensor) -> tuple[Tensor, ...]:
    with torch.no_grad():
        out = model(x)
    return tuple(out) if isinstance(out, tuple) else (out,)


# ---------------------------------------------------------------------------------------------------------
# The book's models, their key tables and inputs
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    book: str  # the notebook's class
    args: tuple[Any, ...]
    ours: tuple[Callable[[], nn.Module], ...]  # the book module's class, then the top-level twin
    inputs: Callable[[torch.Generator], Tensor]
    folded: tuple[bool, ...] = (False, False)  # per model: single_bias folds the book's bias_hh (round-off)


def _one_hot(g: torch.Generator) -> Tensor:
    return torch.eye(V, dtype=torch.float64)[torch.randint(0, V, (3, T), generator=g)]  # [3, T, V]


CASES = {
    "NextCharacterModel": Case(
        "NextCharacterModel",
        (V, H, T),
        (lambda: ch7.NextCharacterModel(V, H, T), lambda: ti.NextCharacterModel(V, H, T)),
        _one_hot,
        (False, True),
    ),
    "LSTMLayer": Case(
        "LSTMLayer",
        (T, V, H, OUT),
        (lambda: ch7.LSTMLayer(T, V, H, OUT), lambda: ti.LSTMLayer(T, V, H, OUT)),
        lambda g: torch.randn(3, T, V, generator=g, dtype=torch.float64),
        (False, True),
    ),
    "Autoencoder": Case(
        "Autoencoder",
        (6,),
        (lambda: ch7.Autoencoder(hidden_dim=6), lambda: ti.Autoencoder(encoding_size=6)),
        lambda g: torch.randn(2, 1, 28, 28, generator=g, dtype=torch.float64),
    ),
    "MNIST_ConvNet": Case(
        "MNIST_ConvNet",
        (),
        (lambda: ch7.MNIST_ConvNet(), lambda: ti.MNISTConvNet()),
        lambda g: torch.randn(2, 1, 28, 28, generator=g, dtype=torch.float64),
    ),
    "BostonModel": Case(
        "BostonModel",
        (13, 0.8),
        (
            lambda: ch7.BostonModel(13, 0.8),
            lambda: ti.SequentialModel(ti.DenseLayer(13, 13, 0.8, ti.Tanh()), ti.DenseLayer(13, 1)),
        ),
        lambda g: torch.randn(5, 13, generator=g, dtype=torch.float64),
    ),
}
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _book_model(book: dict[str, Any], case: Case, dtype: torch.dtype) -> nn.Module:
    with default_dtype(dtype):
        model: nn.Module = book[case.book](*case.args)
    return model


def _assert_same(got: tuple[Tensor, ...], expected: tuple[Tensor, ...], folded: bool, dtype: torch.dtype) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype == dtype
        assert float(b.abs().max()) > 1e-3  # a reference far from zero
        if folded:  # b_ih + b_hh added once on load instead of at every step: round-off only
            tol = 1e-12 if dtype == torch.float64 else 1e-5
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_the_books_checkpoints_load_into_our_models(book: dict[str, Any], name: str, dtype: str) -> None:
    """The book's model with random weights, saved; loaded (``strict=True``) into the book module's class and
    the top-level twin: the same outputs over two consecutive calls (the book's LSTM carries its state from
    the first into the second; its checkpoint has no carried state: ours starts from none, as the book's)."""
    case, dt = CASES[name], DTYPES[dtype]
    theirs = _book_model(book, case, dt)
    randomize(theirs, seed=1)
    saved = checkpoint(theirs.state_dict())
    theirs.eval()
    g = gen(2)
    batches = [case.inputs(g).to(dt) for _ in range(2)]
    expected = [outputs(theirs, x) for x in batches]
    for make, folded in zip(case.ours, case.folded, strict=True):
        ours = make().to(dt)
        assert isinstance(ours, BookCheckpoint)
        assert set(ours.book_keys()) == set(saved)  # the table names exactly the book's keys
        ours.load_state_dict(saved)
        ours.eval()
        for x, want in zip(batches, expected, strict=True):
            _assert_same(outputs(ours, x), want, folded, dt)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_our_weights_load_into_the_books_models(book: dict[str, Any], name: str, dtype: str) -> None:
    """``book_state_dict()`` of our models (random weights) loads into the book's own class with
    ``strict=True`` and gives the same outputs over two calls, bit for bit."""
    case, dt = CASES[name], DTYPES[dtype]
    g = gen(3)
    batches = [case.inputs(g).to(dt) for _ in range(2)]
    for seed, make in enumerate(case.ours):
        ours = make().to(dt)
        assert isinstance(ours, BookCheckpoint)
        randomize(ours, seed=10 + seed)
        exported = checkpoint(ours.book_state_dict())
        theirs = _book_model(book, case, dt)
        assert set(exported) == set(theirs.state_dict())
        theirs.load_state_dict(exported)
        ours.eval(), theirs.eval()
        for x in batches:
            _assert_same(outputs(ours, x), outputs(theirs, x), False, dt)


def test_book_keys_keep_strict_loading_strict() -> None:
    """Renaming the book's keys does not weaken ``load_state_dict``: an unknown key, a missing one or a
    checkpoint mixing both key sets is still an error; ``strict=False`` loads a partial book checkpoint."""
    model = ti.NextCharacterModel(V, H, T, dtype=torch.float64)
    randomize(model, seed=4)
    book_state = model.book_state_dict()
    assert "lstm.fc.linear.weight" in book_state
    assert "lstm.fc.weight" not in book_state
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "lstm.bogus"'):
        model.load_state_dict(book_state | {"lstm.bogus": torch.zeros(1)})
    partial = {k: v for k, v in book_state.items() if k != "lstm.fc.linear.bias"}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "lstm.fc.bias"'):
        model.load_state_dict(partial)
    with pytest.raises(ValueError, match=r"either the book's keys or this model's.*'lstm.fc.linear.weight'"):
        model.load_state_dict(book_state | {"lstm.fc.weight": model.lstm.fc.weight.detach()})
    other = ti.NextCharacterModel(V, H, T, dtype=torch.float64)
    result = other.load_state_dict({"lstm.fc.linear.weight": book_state["lstm.fc.linear.weight"]}, strict=False)
    assert torch.equal(other.lstm.fc.weight, model.lstm.fc.weight)
    assert "lstm.fc.bias" in result.missing_keys
    assert not result.unexpected_keys
    auto = ti.Autoencoder(encoding_size=4, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        auto.load_state_dict(auto.book_state_dict() | {"conv5.conv.weight": torch.zeros(1)})


def test_sequential_model_book_keys_count_dense_and_conv_layers() -> None:
    """``SequentialModel``: the k-th dense layer is the book's ``dense{k}``, the k-th convolution ``conv{k}``;
    a parameter with no book name makes ``book_state_dict`` fail clearly."""
    model = ti.SequentialModel(
        ti.ConvLayer(1, 2, 3, activation=ti.Tanh(), flatten=True), ti.DenseLayer(2 * 4 * 4, 3), ti.DenseLayer(3, 1)
    )
    assert model.book_keys() == {
        "conv1.conv.weight": "layers.0.conv.weight",
        "conv1.conv.bias": "layers.0.conv.bias",
        "dense1.linear.weight": "layers.1.linear.weight",
        "dense1.linear.bias": "layers.1.linear.bias",
        "dense2.linear.weight": "layers.2.linear.weight",
        "dense2.linear.bias": "layers.2.linear.bias",
    }
    with pytest.raises(ValueError, match=r"needs a book key for every parameter.*layers\.1\.lstm\.weight_ih_l0"):
        ti.SequentialModel(ti.DenseLayer(3, 3), ti.LSTMLayer(None, 3, 2, 1)).book_state_dict()


# ---------------------------------------------------------------------------------------------------------
# The carried state in the saved state (torch_impl)
# ---------------------------------------------------------------------------------------------------------

KINDS: dict[str, tuple[RecurrentConverter, Callable[..., Any], Callable[..., Any]]] = {
    "RNN": (RNN, lambda **kw: ti.RNNLayer(None, V, H, OUT, **kw), lambda: scratch.RNNLayer(H, OUT, 0.3, rng=1)),
    "LSTM": (LSTM, lambda **kw: ti.LSTMLayer(None, V, H, OUT, **kw), lambda: scratch.LSTMLayer(H, OUT, 0.3, rng=1)),
    "GRU-before": (
        GRU_BEFORE,
        lambda **kw: ti.GRULayer(None, V, H, OUT, reset="before", **kw),
        lambda: scratch.GRULayer(H, OUT, 0.3, reset="before", rng=1),
    ),
    "GRU-after": (
        GRU_AFTER,
        lambda **kw: ti.GRULayer(None, V, H, OUT, reset="after", **kw),
        lambda: scratch.GRULayer(H, OUT, 0.3, reset="after", rng=1),
    ),
}


def _x(g: torch.Generator, n: int = 3, steps: int = T) -> Tensor:
    return torch.randn(n, steps, V, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_carry_is_saved_and_loaded_with_the_weights(kind: str) -> None:
    """After a few calls the ``carry`` buffer holds the batch-mean state ((1, H); LSTM (2, H): h, c); a fresh
    layer loaded from the checkpoint continues exactly as the original; a checkpoint without ``carry`` (the
    book's, or one saved before the buffer existed) loads as "no carried state yet"."""
    _, make, _ = KINDS[kind]
    layer = make(dtype=torch.float64, generator=gen(5))
    S = 2 if kind == "LSTM" else 1
    g = gen(6)
    for n in (3, 2):
        layer(_x(g, n))
    saved = checkpoint(layer.state_dict())
    assert saved["carry"].shape == (S, H)
    carried = layer.carried_state
    rows = carried if isinstance(carried, tuple) else (carried,)
    torch.testing.assert_close(saved["carry"], torch.cat(rows), rtol=0, atol=0)
    fresh = make(dtype=torch.float64, generator=gen(99))
    assert fresh.carried_state is None
    fresh.load_state_dict(saved)
    x = _x(g, 4, 3)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), layer(x), rtol=0, atol=0)
    # a carry-less checkpoint resets the carry: the next call starts from zeros, as a reset layer's does
    fresh.load_state_dict({k: v for k, v in saved.items() if k != "carry"})
    assert fresh.carried_state is None
    reset = copy.deepcopy(layer)
    reset.reset_state()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), reset(x), rtol=0, atol=0)
    # the buffer follows the module's dtype
    assert layer.float().state_dict()["carry"].dtype == torch.float32


def test_torch_carry_bad_checkpoint_and_zeros_mode() -> None:
    layer = ti.LSTMLayer(None, V, H, OUT, dtype=torch.float64, generator=gen(1))
    state = layer.state_dict()
    with pytest.raises(
        ValueError, match=r"carry'\] \(the carried state\) must have shape \(0, 5\) \(none\) or \(2, 5\)"
    ):
        layer.load_state_dict(state | {"carry": torch.zeros(1, H, dtype=torch.float64)})
    with pytest.raises(TypeError, match=r"carry'\] must be a floating-point tensor"):
        layer.load_state_dict(state | {"carry": torch.zeros(2, H, dtype=torch.long)})
    zeros = ti.LSTMLayer(None, V, H, OUT, hidden_state="zeros", dtype=torch.float64)
    zeros(_x(gen(2)))
    assert zeros.state_dict()["carry"].shape == (0, H)  # "zeros" mode never carries


def test_next_character_model_carry_and_sampling() -> None:
    """``NextCharacterModel``'s ``lstm.carry`` round-trips, and ``sample_text`` from the reloaded model draws
    the same characters as from the original."""
    model = ti.NextCharacterModel(V, H, T, dtype=torch.float64, generator=gen(7))
    model(_one_hot(gen(8)))
    saved = checkpoint(model.state_dict())
    assert saved["lstm.carry"].shape == (2, H)
    again = ti.NextCharacterModel(V, H, T, dtype=torch.float64)
    again.load_state_dict(saved)
    assert ti.sample_text(again, 1, 20, V, generator=gen(9)) == ti.sample_text(model, 1, 20, V, generator=gen(9))


# ---------------------------------------------------------------------------------------------------------
# The carried state in the saved state (scratch) and across the two implementations
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_scratch_state_round_trip(kind: str) -> None:
    """``state()`` holds the parameters and ``start_H`` (and ``start_C``); ``load_state`` into a fresh layer
    continues exactly; without ``start_*`` the carry is gone; partial or malformed carries are errors."""
    _, _, make = KINDS[kind]
    layer = make()
    rng = np.random.default_rng(1)
    for n in (3, 2):
        layer.forward(rng.normal(size=(n, T, V)))
    state = layer.state()
    names = ("start_H", "start_C") if kind == "LSTM" else ("start_H",)
    assert all(state[n].shape == (1, H) for n in names)
    assert set(state) == set(layer.params) | set(names)
    fresh = make()
    fresh.load_state(state)
    x = rng.normal(size=(4, 3, V))
    np.testing.assert_array_equal(fresh.forward(x), layer.forward(x))
    fresh.load_state({k: v for k, v in state.items() if k not in names})
    assert fresh._carry is None
    assert "start_H" not in fresh.state()
    if kind == "LSTM":
        with pytest.raises(ValueError, match=r"all of \['start_H', 'start_C'\] \(the carried state\) or none"):
            fresh.load_state({k: v for k, v in state.items() if k != "start_C"})
    with pytest.raises(ValueError, match=r"load_state\['start_H'\] \(the carried state\) must have shape \(1, 5\)"):
        fresh.load_state(state | {"start_H": np.zeros((2, H))})
    with pytest.raises(TypeError, match=r"load_state\['start_H'\] must have the dtype of the parameters"):
        fresh.load_state(state | {"start_H": state["start_H"].astype(np.float32)})
    with pytest.raises(TypeError, match="mapping"):
        fresh.load_state([1, 2])


def _scratch_step(layer: Any, x: np.ndarray, lr: float = 0.1) -> None:
    """One book-style training step: forward, backward of a fixed upstream gradient, p -= lr · dp."""
    y = layer.forward(x)
    layer.backward(np.cos(y))
    for p in layer.params.values():
        p["value"] -= lr * p["deriv"]


def _torch_step(layer: nn.Module, x: Tensor, lr: float = 0.1) -> None:
    optim = torch.optim.SGD(layer.parameters(), lr=lr)
    optim.zero_grad()
    y = layer(x)
    (torch.sin(y).sum()).backward()  # d/dy = cos(y), the same upstream gradient as the scratch step
    optim.step()


@pytest.mark.parametrize("kind", KINDS)
def test_weights_and_carry_move_from_scratch_to_torch(kind: str) -> None:
    """Trained a few steps in scratch (book mode), moved with ``state_to_torch``: torch's next call gives
    scratch's next outputs (float64, round-off)."""
    conv, make_torch, make_scratch = KINDS[kind]
    s = make_scratch()
    rng = np.random.default_rng(2)
    for n in (3, 2, 4):
        _scratch_step(s, rng.normal(size=(n, T, V)))
    arrays = state_to_torch(conv, s.state())
    assert arrays["carry"].shape == (2 if kind == "LSTM" else 1, H)
    t = make_torch(dtype=torch.float64)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    x = rng.normal(size=(3, 5, V))
    with torch.no_grad():
        np.testing.assert_allclose(t(torch.from_numpy(x)).numpy(), s.forward(x), rtol=0, atol=1e-12)
    assert float(np.abs(s._carry[0]).max()) > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_weights_and_carry_move_from_torch_to_scratch(kind: str) -> None:
    """Trained a few SGD steps in torch_impl (book mode), moved with ``state_to_book``: scratch's next call
    gives torch's next outputs (float64, round-off)."""
    conv, make_torch, make_scratch = KINDS[kind]
    t = make_torch(dtype=torch.float64, generator=gen(3))
    g = gen(4)
    for n in (3, 2, 4):
        _torch_step(t, _x(g, n))
    book = state_to_book(conv, {k: v.numpy() for k, v in t.state_dict().items()})
    assert book["start_H"].shape == (1, H)
    s = make_scratch()
    s.load_state(book)
    x = _x(g, 3, 5)
    with torch.no_grad():
        np.testing.assert_allclose(s.forward(x.numpy()), t(x).numpy(), rtol=0, atol=1e-12)


def test_stacked_models_move_both_ways_with_their_carries() -> None:
    """``SequentialModel(RNNLayer, LSTMLayer)`` <-> ``RNNModel([RNNLayer, LSTMLayer])`` with
    ``recurrent_stack([RNN, LSTM])``, and ``NextCharacterModel`` <-> ``RNNModel([LSTMLayer])`` with
    ``LSTM.prefixed("0.", "lstm.")``: after calls on one side the other continues identically."""
    conv = recurrent_stack([RNN, LSTM])
    torch_model = ti.SequentialModel(
        ti.RNNLayer(None, V, 4, 6, dtype=torch.float64, generator=gen(1)),
        ti.LSTMLayer(None, 6, H, V, dtype=torch.float64, generator=gen(2)),
    )
    g = gen(3)
    for n in (2, 3):
        torch_model(_x(g, n))
    scratch_model = RNNModel([scratch.RNNLayer(4, 6, 0.3), scratch.LSTMLayer(H, V, 0.3)], T, V)
    scratch_model.load_state(state_to_book(conv, {k: v.numpy() for k, v in torch_model.state_dict().items()}))
    assert {"0.start_H", "1.start_H", "1.start_C"} <= set(scratch_model.state())
    x = _x(g, 3, 5)
    with torch.no_grad():
        np.testing.assert_allclose(scratch_model.forward(x.numpy()), torch_model(x).numpy(), rtol=0, atol=1e-12)
    # and back: scratch's state (after that call) into a fresh torch model
    back = ti.SequentialModel(
        ti.RNNLayer(None, V, 4, 6, dtype=torch.float64), ti.LSTMLayer(None, 6, H, V, dtype=torch.float64)
    )
    back.load_state_dict({k: torch.from_numpy(v) for k, v in state_to_torch(conv, scratch_model.state()).items()})
    x2 = _x(g, 2, 3)
    with torch.no_grad():
        np.testing.assert_allclose(back(x2).numpy(), scratch_model.forward(x2.numpy()), rtol=0, atol=1e-12)

    char_conv = LSTM.prefixed("0.", "lstm.")
    chars = ti.NextCharacterModel(V, H, T, dtype=torch.float64, generator=gen(4))
    chars(_one_hot(gen(5)))
    twin = RNNModel([scratch.LSTMLayer(H, V)], T, V)
    twin.load_state(state_to_book(char_conv, {k: v.numpy() for k, v in chars.state_dict().items()}))
    x3 = _one_hot(gen(6))
    with torch.no_grad():
        logits = chars(x3).permute(0, 2, 1).numpy()  # [N, V, T] -> [N, T, V]
    np.testing.assert_allclose(twin.forward(x3.numpy()), logits, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"'<layer index>\.<name>' with an index below 1; received 'W_f'"):
        twin.load_state({"W_f": np.zeros(1)})


def test_carry_converter_layouts_and_errors() -> None:
    """``CarryConverter``: (S, H) <-> S x (1, H); no carry is no entry; the parameter converters accept a
    state_dict holding the ``carry`` buffer (and leave it to the carry converter)."""
    lstm = CarryConverter(2)
    h, c = np.arange(5.0)[None], -np.arange(5.0)[None]
    arrays = lstm.to_torch({"start_H": h, "start_C": c, "W_f": np.zeros(1)})
    np.testing.assert_array_equal(arrays["carry"], np.concatenate([h, c]))
    back = lstm.to_book(arrays)
    np.testing.assert_array_equal(back["start_H"], h)
    np.testing.assert_array_equal(back["start_C"], c)
    assert lstm.to_torch({}) == {}  # no carried state: no entry, either way
    assert lstm.to_book({"carry": np.zeros((0, 5))}) == {}
    assert lstm.to_book({}) == {}
    with pytest.raises(ValueError, match="all of"):
        lstm.to_torch({"start_H": h})
    with pytest.raises(ValueError, match=r"shape \(0, H\) or \(2, H\)"):
        lstm.to_book({"carry": np.zeros((1, 5))})
    with pytest.raises(ValueError, match=r"shape \(1, H\)"):
        CarryConverter(1).to_torch({"start_H": np.zeros(5)})
    layer = ti.GRULayer(None, V, H, OUT, dtype=torch.float64, generator=gen(1))
    layer(_x(gen(2)))
    state = {k: v.numpy() for k, v in layer.state_dict().items()}
    assert set(GRU_BEFORE.to_book(state)) == set(GRU_BEFORE.book_names)  # the carry is not a parameter
    with pytest.raises(ValueError, match="exactly the keys"):
        GRU_BEFORE.to_book(state | {"extra": np.zeros(1)})


# ---------------------------------------------------------------------------------------------------------
# One single_bias default
# ---------------------------------------------------------------------------------------------------------


def test_single_bias_is_the_default_of_every_top_level_recurrent_class() -> None:
    """torch_impl's recurrent layers and ``NextCharacterModel`` all default to ``single_bias=True`` (scratch's
    one bias per gate); the book module keeps chapter 7's two trained biases explicitly."""
    for cls in (ti.RNNLayer, ti.LSTMLayer, ti.GRULayer, ti.NextCharacterModel):
        assert inspect.signature(cls).parameters["single_bias"].default is True, cls
    assert ti.NextCharacterModel(V, H, T).lstm.single_bias
    assert not ch7.NextCharacterModel(V, H, T).lstm.single_bias
    assert not ch7.LSTMLayer(T, V, H, OUT).single_bias


@pytest.mark.parametrize("kind", KINDS)
def test_loading_two_biases_into_a_single_bias_layer_folds_them(kind: str) -> None:
    """A checkpoint whose summed ``bias_hh`` is non-zero (torch's plain layers train both) loads into a
    ``single_bias`` layer as ``bias_ih + bias_hh`` and 0 (the reset-after GRU's n block, the book's separate
    ``B_hn``, stays in ``bias_hh``): the same outputs to round-off, and the layer keeps training one bias."""
    _, make, _ = KINDS[kind]
    plain = make(dtype=torch.float64, generator=gen(1), single_bias=False)
    core = {"RNN": "rnn", "LSTM": "lstm"}.get(kind, "gru")
    state = plain.state_dict()
    assert state[f"{core}.bias_hh_l0"].abs().min() > 0
    single = make(dtype=torch.float64)
    single.load_state_dict(state)
    rows = 2 * H if kind == "GRU-after" else state[f"{core}.bias_hh_l0"].shape[0]
    b_ih, b_hh = single.state_dict()[f"{core}.bias_ih_l0"], single.state_dict()[f"{core}.bias_hh_l0"]
    assert not b_hh[:rows].any()
    torch.testing.assert_close(b_hh[rows:], state[f"{core}.bias_hh_l0"][rows:], rtol=0, atol=0)
    expected = state[f"{core}.bias_ih_l0"].clone()
    expected[:rows] += state[f"{core}.bias_hh_l0"][:rows]
    torch.testing.assert_close(b_ih, expected, rtol=0, atol=0)
    x = _x(gen(2))
    with torch.no_grad():
        torch.testing.assert_close(single(x), plain(x), rtol=1e-13, atol=1e-13)
    _torch_step(single, _x(gen(3)))
    assert not single.state_dict()[f"{core}.bias_hh_l0"][:rows].any()
