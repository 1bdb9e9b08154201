"""Unit tests of ``torch_impl.rnn`` beyond the generated parity cases (``parity_tests/specs/rnn.py`` runs every
layer twin against ``scratch.rnn`` on the same weights: outputs, all gradients, initial-state gradients and the
carried state over consecutive calls): state-dict keys, the carry's reset and detachment, dropout, initialisation,
``ResetBeforeGRU`` against a per-step reference and gradcheck, ``SequenceSoftmaxCrossEntropy`` against
``F.cross_entropy``, chapter 7's ``NextCharacterModel``/``sample_text``/``NextCharacterTrainer``, and every input
check."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

import scratch
from torch_impl.rnn import GRULayer, LSTMLayer, ResetBeforeGRU, RNNLayer
from torch_impl.rnn_model import NextCharacterModel, NextCharacterTrainer, SequenceSoftmaxCrossEntropy, sample_text

N, T, V, H, OUT = 3, 4, 5, 6, 7
KINDS = ("RNN", "LSTM", "GRU-before", "GRU-after")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------------------
# The twins' own behaviour (their parity with scratch, carried state included, is generated from
# parity_tests/specs/rnn.py: every case there runs both layers on the same weights)
# ---------------------------------------------------------------------------------------------------------


def layer(kind: str, mode: str = "zeros", **kw: Any) -> Any:
    """A float64 twin of ``kind`` (weights drawn from a seeded generator unless ``generator`` is given)."""
    cls: Any = {"RNN": RNNLayer, "LSTM": LSTMLayer}.get(kind, GRULayer)
    if kind.startswith("GRU"):
        kw["reset"] = kind.split("-")[1]
    kw.setdefault("generator", gen(0))
    return cls(None, V, H, OUT, hidden_state=mode, dtype=torch.float64, **kw)


def scratch_layer(kind: str) -> Any:
    """The scratch layer of ``kind`` (hidden size H, output size OUT)."""
    if kind == "RNN":
        return scratch.RNNLayer(H, OUT)
    if kind == "LSTM":
        return scratch.LSTMLayer(H, OUT)
    return scratch.GRULayer(H, OUT, reset=kind.split("-")[1])


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_keys_exact(kind: str) -> None:
    tl = layer(kind, "book")
    prefix = {"RNN": "rnn", "LSTM": "lstm"}.get(kind, "gru")
    keys = [f"{prefix}.{k}" for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    assert list(tl.state_dict()) == ["carry", *keys, "fc.weight", "fc.bias"]
    S = 2 if kind == "LSTM" else 1
    assert tl.state_dict()["carry"].shape == (0, H)  # no carried state yet
    tl(torch.randn(2, 3, V, dtype=torch.float64, generator=gen()))  # a carry now exists: rows h (, c)
    assert list(tl.state_dict()) == ["carry", *keys, "fc.weight", "fc.bias"]
    assert tl.state_dict()["carry"].shape == (S, H)
    assert [name for name, _ in tl.named_buffers()] == ["carry"]
    # the six parameter keys alone still load strictly (a checkpoint without the carry: none carried)
    tl.load_state_dict({k: v for k, v in tl.state_dict().items() if k != "carry"})
    assert tl.carried_state is None


@pytest.mark.parametrize("kind", KINDS)
def test_book_carry_differs_from_zeros_and_resets(kind: str) -> None:
    book = layer(kind, "book", generator=gen(3))
    zeros = layer(kind, "zeros", generator=gen(3))  # the same weights
    x = torch.randn(N, T, V, dtype=torch.float64, generator=gen(4))
    with torch.no_grad():
        first_b, first_z = book(x), zeros(x)
        torch.testing.assert_close(first_b, first_z, rtol=0, atol=0)  # both start from zeros
        second_b, second_z = book(x), zeros(x)
        torch.testing.assert_close(second_z, first_z, rtol=0, atol=0)
        assert float((second_b - first_b).abs().max()) > 1e-3  # the carry changed the second call
        book.reset_state()
        assert book.carried_state is None
        torch.testing.assert_close(book(x), first_b, rtol=0, atol=0)


def test_no_gradient_into_carry_between_calls() -> None:
    tl = layer("LSTM", "book", generator=gen(6))
    x1 = torch.randn(N, T, V, dtype=torch.float64, generator=gen(1), requires_grad=True)
    tl(x1).sum().backward()
    assert all(not s.requires_grad for s in tl.carried_state)  # the carry is a constant: (h, c), each (1, H)
    x1.grad = None
    x2 = torch.randn(N, T, V, dtype=torch.float64, generator=gen(2))
    tl(x2).sum().backward()  # would fail (graph freed) or reach x1 if the carry were not detached
    assert x1.grad is None


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_keep_prob_and_inference(kind: str) -> None:
    cls: Any = {"RNN": RNNLayer, "LSTM": LSTMLayer}.get(kind, GRULayer)
    kw: dict[str, Any] = {"reset": kind.split("-")[1]} if kind.startswith("GRU") else {}
    base = cls(None, V, H, OUT, hidden_state="zeros", dtype=torch.float64, generator=gen(7), **kw)
    drop = cls(None, V, H, OUT, 0.6, hidden_state="zeros", dtype=torch.float64, generator=gen(7), **kw)
    assert base.dropout_op is None
    assert drop.dropout_op is not None
    x = torch.randn(N, T, V, dtype=torch.float64, generator=gen(8))
    plain = base(x)
    torch.testing.assert_close(drop(x, inference=True), plain, rtol=0, atol=1e-15)  # inverted: identity
    out = drop(x)
    mask = drop.dropout_op.mask
    assert mask is not None
    assert 0 < float(mask.sum()) < mask.numel()
    torch.testing.assert_close(out, plain * mask / 0.6, rtol=0, atol=1e-14)


def test_generator_init_is_deterministic_and_dtype() -> None:
    a = GRULayer(25, V, H, OUT, generator=gen(3), dtype=torch.float32)
    b = GRULayer(25, V, H, OUT, generator=gen(3), dtype=torch.float32)
    c = GRULayer(25, V, H, OUT, generator=gen(4), dtype=torch.float32)
    for (k, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values(), strict=True):
        assert pa.dtype == torch.float32, k
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
        if k == "carry":  # the (empty) carried state, not a drawn parameter
            assert pa.shape == (0, H)
            continue
        if k == "gru.bias_hh_l0":  # single_bias (default): the summed bias_hh is 0 whatever the generator
            assert not pa.any()
            continue
        assert not torch.equal(pa, pc)
        if k.startswith("gru."):
            assert float(pa.abs().max()) <= 1 / H**0.5
    assert LSTMLayer(None, V, H, OUT).fc.weight.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("kind", KINDS)
def test_any_sequence_length_and_float32(kind: str) -> None:
    cls: Any = {"RNN": RNNLayer, "LSTM": LSTMLayer}.get(kind, GRULayer)
    kw: dict[str, Any] = {"reset": kind.split("-")[1]} if kind.startswith("GRU") else {}
    layer = cls(10, V, H, OUT, dtype=torch.float32, generator=gen(1), **kw)
    assert layer.sequence_length == 10
    for t in (1, 10, 17):
        y = layer(torch.randn(2, t, V, generator=gen(t)))
        assert y.shape == (2, t, OUT)
        assert y.dtype == torch.float32


# ---------------------------------------------------------------------------------------------------------
# ResetBeforeGRU
# ---------------------------------------------------------------------------------------------------------


def reference_reset_before(cell: ResetBeforeGRU, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """Straightforward per-step, per-gate reference of the reset-before GRU."""
    Hs = cell.hidden_size
    W_i, W_h, b_i, b_h = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0, cell.bias_hh_l0
    blk = [slice(k * Hs, (k + 1) * Hs) for k in range(3)]
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        r = torch.sigmoid(xt @ W_i[blk[0]].T + b_i[blk[0]] + h @ W_h[blk[0]].T + b_h[blk[0]])
        z = torch.sigmoid(xt @ W_i[blk[1]].T + b_i[blk[1]] + h @ W_h[blk[1]].T + b_h[blk[1]])
        n = torch.tanh(xt @ W_i[blk[2]].T + b_i[blk[2]] + (r * h) @ W_h[blk[2]].T + b_h[blk[2]])
        h = (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs, 1), h[None]


def test_reset_before_gru_matches_reference_and_shapes() -> None:
    cell = ResetBeforeGRU(V, H, dtype=torch.float64)
    cell.reset_parameters(gen(9))
    names = [(k, tuple(p.shape)) for k, p in cell.named_parameters()]
    assert names == [
        ("weight_ih_l0", (3 * H, V)),
        ("weight_hh_l0", (3 * H, H)),
        ("bias_ih_l0", (3 * H,)),
        ("bias_hh_l0", (3 * H,)),
    ]
    assert set(nn.GRU(V, H).state_dict()) == set(cell.state_dict())
    x = torch.randn(N, T, V, dtype=torch.float64, generator=gen(10))
    h0 = torch.randn(1, N, H, dtype=torch.float64, generator=gen(11))
    out, h_n = cell(x, h0)
    ref_out, ref_h = reference_reset_before(cell, x, h0[0])
    assert out.shape == (N, T, H)
    assert h_n.shape == (1, N, H)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-14)
    torch.testing.assert_close(h_n, ref_h, rtol=0, atol=1e-14)
    out0, _ = cell(x)  # h0 None = zeros
    torch.testing.assert_close(out0, reference_reset_before(cell, x, torch.zeros(N, H, dtype=torch.float64))[0])
    # reset-before is a different function from nn.GRU (reset after) with the same weights
    gru = nn.GRU(V, H, batch_first=True, dtype=torch.float64)
    gru.load_state_dict(cell.state_dict())
    assert float((gru(x, h0)[0] - out).detach().abs().max()) > 1e-3


def test_reset_before_gru_gradcheck() -> None:
    cell = ResetBeforeGRU(3, 4, dtype=torch.float64)
    cell.reset_parameters(gen(12))
    x = torch.randn(2, 3, 3, dtype=torch.float64, generator=gen(13), requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, generator=gen(14), requires_grad=True)
    params = tuple(cell.parameters())

    def fn(x: Tensor, h0: Tensor, *ps: Tensor) -> tuple[Tensor, Tensor]:
        sd = dict(zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], ps, strict=True))
        return torch.func.functional_call(cell, sd, (x, h0))

    assert torch.autograd.gradcheck(fn, (x, h0, *params), eps=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs_same_wording_as_scratch(kind: str) -> None:
    tl = layer(kind)
    name = type(tl).__name__
    with pytest.raises(ValueError, match=rf"{name} x_seq must be a 3-D tensor \[batch, time, features\]"):
        tl(torch.zeros(2, V, dtype=torch.float64))
    with pytest.raises(ValueError, match=rf"must have {V} features .*received shape \(2, 3, {V - 1}\)"):
        tl(torch.zeros(2, 3, V - 1, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"floating-point dtype"):
        tl(torch.zeros(2, 3, V, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch.Tensor of floats"):
        tl(np.zeros((2, 3, V)))
    with pytest.raises(TypeError, match=r"dtype of the layer's weights"):
        tl(torch.zeros(2, 3, V, dtype=torch.float32))
    bad = torch.zeros(2, 3, V, dtype=torch.float64)
    bad[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"finite values; received 1 NaN/inf"):
        tl(bad)
    x = torch.zeros(2, 3, V, dtype=torch.float64)
    wrong = torch.zeros(3, H, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"initial_state.* must have shape \(batch, hidden_size\) = \(2, 6\)"):
        tl(x, initial_state=(wrong, wrong) if kind == "LSTM" else wrong)
    flat = torch.zeros(2 * H, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"initial_state.* must be a 2-D tensor \[batch, hidden_size\]"):
        tl(x, initial_state=(flat, flat) if kind == "LSTM" else flat)
    f32 = torch.zeros(2, H)
    with pytest.raises(TypeError, match=r"initial_state.*dtype of the layer's weights"):
        tl(x, initial_state=(f32, f32) if kind == "LSTM" else f32)
    if kind == "LSTM":
        with pytest.raises(TypeError, match=r"LSTMLayer initial_state must be a tuple \(h0, c0\)"):
            tl(x, initial_state=torch.zeros(2, H, dtype=torch.float64))
    # the scratch layer rejects the same mistakes with the same words
    s = scratch_layer(kind)
    with pytest.raises(ValueError, match=rf"{name} x_seq must be a 3-D array \[batch, time, features\]"):
        s.forward(np.zeros((2, V)))
    w = np.zeros((3, H))
    with pytest.raises(ValueError, match=r"initial_state.* must have shape \(batch, hidden_size\) = \(2, 6\)"):
        s.forward(np.zeros((2, 3, V)), initial_state=(w, w) if kind == "LSTM" else w)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_constructor_args(kind: str) -> None:
    with pytest.raises(ValueError, match=r"hidden_size must be an integer >= 1; received 0"):
        _build(kind, hidden_size=0)
    with pytest.raises(TypeError, match=r"hidden_size must be an integer"):
        _build(kind, hidden_size=2.5)
    with pytest.raises(ValueError, match=r"input_size must be an integer >= 1"):
        _build(kind, input_size=0)
    with pytest.raises(ValueError, match=r"output_size must be an integer >= 1"):
        _build(kind, output_size=0)
    with pytest.raises(ValueError, match=r"sequence_length must be an integer >= 1; received 0"):
        _build(kind, sequence_length=0)
    with pytest.raises(ValueError, match=r"hidden_state must be one of \('book', 'zeros'\); received 'mean'"):
        layer(kind, "mean")
    with pytest.raises(ValueError, match=r"dropout must be a keep probability in \(0, 1\]"):
        _build(kind, dropout=0.0)
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        layer(kind, generator=0)


def _build(kind: str, **overrides: Any) -> Any:
    args: dict[str, Any] = {"sequence_length": None, "input_size": V, "hidden_size": H, "output_size": OUT}
    dropout = overrides.pop("dropout", 1.0)
    args.update(overrides)
    cls: Any = {"RNN": RNNLayer, "LSTM": LSTMLayer}.get(kind, GRULayer)
    kw: dict[str, Any] = {"reset": kind.split("-")[1]} if kind.startswith("GRU") else {}
    return cls(args["sequence_length"], args["input_size"], args["hidden_size"], args["output_size"], dropout, **kw)


def test_gru_reset_choice_and_cell_checks() -> None:
    with pytest.raises(ValueError, match=r"reset must be one of \('before', 'after'\); received 'middle'"):
        GRULayer(None, V, H, OUT, reset="middle")
    assert isinstance(GRULayer(None, V, H, OUT).gru, ResetBeforeGRU)
    assert type(GRULayer(None, V, H, OUT, reset="after").gru) is nn.GRU
    cell = ResetBeforeGRU(V, H)
    with pytest.raises(ValueError, match=r"ResetBeforeGRU input must have 5 features"):
        cell(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"ResetBeforeGRU h0 must have shape \(1, batch, hidden_size\)"):
        cell(torch.zeros(2, 3, V), torch.zeros(1, 3, H))
    with pytest.raises(ValueError, match=r"hidden_size must be an integer >= 1"):
        ResetBeforeGRU(V, 0)


# ---------------------------------------------------------------------------------------------------------
# SequenceSoftmaxCrossEntropy
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sequence_softmax_cross_entropy(reduction: str) -> None:
    logits = torch.randn(N, T, OUT, dtype=torch.float64, generator=gen(20), requires_grad=True)
    idx = torch.randint(0, OUT, (N, T), generator=gen(21))
    onehot = F.one_hot(idx, OUT).double()
    loss = SequenceSoftmaxCrossEntropy(reduction)(logits, onehot)
    ref = F.cross_entropy(logits.permute(0, 2, 1), idx, reduction=reduction)  # [N, T, C] -> [N, C, T]
    torch.testing.assert_close(loss, ref, rtol=0, atol=1e-13)
    upstream = 1.7
    (loss * upstream).backward()
    assert logits.grad is not None
    expected = (torch.softmax(logits, -1) - onehot).detach() * upstream
    if reduction == "mean":
        expected = expected / (N * T)
    torch.testing.assert_close(logits.grad, expected, rtol=0, atol=1e-13)


def test_sequence_softmax_cross_entropy_bad_inputs() -> None:
    loss = SequenceSoftmaxCrossEntropy()
    x = torch.randn(N, T, OUT, dtype=torch.float64, generator=gen(0))
    with pytest.raises(ValueError, match=r"reduction must be one of \('sum', 'mean'\)"):
        SequenceSoftmaxCrossEntropy("none")
    with pytest.raises(ValueError, match=r"prediction must be a 3-D tensor \[batch, time, classes\]"):
        loss(x[0], x[0])
    with pytest.raises(ValueError, match=r"target must have the same shape"):
        loss(x, x[:, :2])
    with pytest.raises(TypeError, match=r"target must have the dtype of the prediction"):
        loss(x, x.float())


# ---------------------------------------------------------------------------------------------------------
# Chapter 7: NextCharacterModel, sample_text, NextCharacterTrainer
# ---------------------------------------------------------------------------------------------------------

VOCAB = 6


def char_model(seed: int = 0, **kw: Any) -> NextCharacterModel:
    return NextCharacterModel(VOCAB, 16, 5, dtype=torch.float64, generator=gen(seed), **kw)


def test_next_character_model_layout_and_keys() -> None:
    m = char_model()
    assert m.vocab_size == VOCAB
    assert m.sequence_length == 5
    assert list(m.state_dict()) == [
        "lstm.carry",
        "lstm.lstm.weight_ih_l0",
        "lstm.lstm.weight_hh_l0",
        "lstm.lstm.bias_ih_l0",
        "lstm.lstm.bias_hh_l0",
        "lstm.fc.weight",
        "lstm.fc.bias",
    ]
    x = F.one_hot(torch.randint(0, VOCAB, (2, 5), generator=gen(1)), VOCAB).double()
    out = m(x)
    assert out.shape == (2, VOCAB, 5)
    m.reset_state()
    torch.testing.assert_close(out.permute(0, 2, 1), m.lstm(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"sequence_length must be an integer >= 1"):
        NextCharacterModel(VOCAB, 16, 0)
    with pytest.raises(ValueError, match=r"vocab_size must be an integer >= 1"):
        NextCharacterModel(0)


def test_sample_text_deterministic_and_in_range() -> None:
    m = char_model(3)
    m(F.one_hot(torch.tensor([[1, 2, 3]]), VOCAB).double())  # give the model a carried state
    carried = m.lstm.carried_state
    assert isinstance(carried, tuple)
    before = tuple(t.clone() for t in carried)
    a = sample_text(m, 2, 40, VOCAB, generator=gen(5))
    b = sample_text(m, 2, 40, VOCAB, generator=gen(5))
    c = sample_text(m, 2, 40, VOCAB, generator=gen(6))
    assert a == b
    assert a != c
    assert len(a) == 40
    assert all(0 <= i < VOCAB for i in a)
    assert len(set(a)) > 1
    after = m.lstm.carried_state
    assert isinstance(after, tuple)
    for s0, s1 in zip(before, after, strict=True):  # the caller's model is untouched
        torch.testing.assert_close(s0, s1, rtol=0, atol=0)
    # a plain layer returning [N, T, V] works too
    assert sample_text(m.lstm, 0, 5, VOCAB, generator=gen(5)) == sample_text(m, 0, 5, VOCAB, generator=gen(5))
    # a very low temperature is (almost) greedy: the argmax of the next-step distribution
    cold = sample_text(m, 1, 1, VOCAB, temperature=1e-6, generator=gen(0))
    probe = copy.deepcopy(m)
    with torch.no_grad():
        greedy = int(probe(F.one_hot(torch.tensor([[1]]), VOCAB).double(), inference=True)[0, :, -1].argmax())
    assert cold == [greedy]


def test_sample_text_bad_inputs() -> None:
    m = char_model()
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match=r"temperature must be > 0"):
            sample_text(m, 0, 3, VOCAB, temperature=bad)
    with pytest.raises(ValueError, match=r"start_index must be in \[0, 6\)"):
        sample_text(m, VOCAB, 3, VOCAB)
    with pytest.raises(ValueError, match=r"vocab_size must equal the model's vocab_size 6; received 7"):
        sample_text(m, 0, 3, VOCAB + 1)
    with pytest.raises(ValueError, match=r"model must return logits .*received shape \(1, 1, 3\)"):
        sample_text(nn.Linear(VOCAB, 3), 0, 3, VOCAB)
    with pytest.raises(TypeError, match=r"model must be an nn.Module instance"):
        sample_text(NextCharacterModel, 0, 3, VOCAB)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        sample_text(m, 0, 3, VOCAB, generator=1)  # type: ignore[arg-type]


def synthetic_text(n: int) -> np.ndarray:
    """A periodic text (0 1 2 3 4 5 0 1 ...) with a little noise: easy to learn."""
    rng = np.random.default_rng(0)
    text = np.arange(n) % VOCAB
    flip = rng.random(n) < 0.05
    text[flip] = rng.integers(0, VOCAB, flip.sum())
    return text.astype(np.int64)


def fit_once(seed: int) -> tuple[dict[str, Any], NextCharacterModel]:
    m = char_model(1)
    trainer = NextCharacterTrainer(m, torch.optim.Adam(m.parameters(), lr=0.03))
    text = synthetic_text(800)
    hist = trainer.fit(text[:600], torch.from_numpy(text[600:]), epochs=3, batch_size=8, seed=seed, max_batches=10)
    return hist, m


def test_next_character_trainer_learns_and_is_deterministic() -> None:
    m0 = char_model(1)
    text = synthetic_text(800)
    untrained = NextCharacterTrainer(m0, torch.optim.SGD(m0.parameters(), lr=0.0)).fit(
        text[:600], text[600:], batch_size=8, max_batches=1
    )
    hist, m = fit_once(0)
    assert len(hist["train_loss"]) == 30  # 3 epochs × max_batches 10
    assert np.mean(hist["train_loss"][-5:]) < 0.6 * np.mean(hist["train_loss"][:5])
    assert hist["test_loss"] < 0.6 * untrained["test_loss"]
    assert m.training  # the training flag is restored
    again, m2 = fit_once(0)
    assert again["train_loss"] == hist["train_loss"]
    assert again["test_loss"] == hist["test_loss"]
    for p, q in zip(m.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    other, _ = fit_once(1)
    assert other["train_loss"] != hist["train_loss"]


def test_next_character_trainer_test_loss_is_mean_ce_over_windows() -> None:
    m = char_model(2, hidden_state="zeros")
    text = synthetic_text(64)
    res = NextCharacterTrainer(m, torch.optim.SGD(m.parameters(), lr=0.0)).fit(
        text[:20], text, batch_size=3, max_batches=1
    )
    n = (64 - 1) // 5  # 12 non-overlapping windows of 5
    inputs = torch.from_numpy(text[: n * 5].reshape(n, 5))
    targets = torch.from_numpy(text[1 : n * 5 + 1].reshape(n, 5))
    with torch.no_grad():
        logits = m(F.one_hot(inputs, VOCAB).double(), inference=True)
    assert res["test_loss"] == pytest.approx(float(F.cross_entropy(logits, targets)), abs=1e-12)


def test_next_character_trainer_bad_inputs() -> None:
    m = char_model()
    trainer = NextCharacterTrainer(m, torch.optim.SGD(m.parameters(), lr=0.1))
    good = synthetic_text(30)
    with pytest.raises(ValueError, match=r"train_indices must hold indices in \[0, 6\); received values in \[0, 6\]"):
        trainer.fit(np.append(good, VOCAB), good)
    with pytest.raises(ValueError, match=r"test_indices must hold indices in \[0, 6\)"):
        trainer.fit(good, np.append(good, -1))
    with pytest.raises(ValueError, match=r"train_indices must hold at least 6 characters .*received 5"):
        trainer.fit(good[:5], good)
    with pytest.raises(ValueError, match=r"received 0"):
        trainer.fit(good, good[:0])
    with pytest.raises(TypeError, match=r"integer character indices"):
        trainer.fit(good.astype(np.float64), good)
    with pytest.raises(TypeError, match=r"1-D numpy.ndarray or torch.Tensor"):
        trainer.fit(list(good), good)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"must be 1-D"):
        trainer.fit(good.reshape(5, 6), good)
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1"):
        trainer.fit(good, good, batch_size=0)
    with pytest.raises(TypeError, match=r"integer sequence_length >= 1"):
        NextCharacterTrainer(LSTMLayer(None, VOCAB, 4, VOCAB), torch.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"optim must be a torch.optim.Optimizer instance"):
        NextCharacterTrainer(m, torch.optim.SGD)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_single_bias_keeps_the_summed_bias_hh_at_zero(kind: str) -> None:
    cls: Any = {"RNN": RNNLayer, "LSTM": LSTMLayer}.get(kind, GRULayer)
    kw: dict[str, Any] = {"reset": kind.split("-")[1]} if kind.startswith("GRU") else {}
    layer = cls(None, V, H, OUT, dtype=torch.float64, generator=gen(5), **kw)
    plain = cls(None, V, H, OUT, dtype=torch.float64, generator=gen(5), single_bias=False, **kw)
    core, plain_core = layer.core, plain.core
    summed = 2 * H if kind == "GRU-after" else core.bias_hh_l0.shape[0]
    optim = torch.optim.SGD([*layer.parameters(), *plain.parameters()], lr=0.5)
    for module in (layer, plain):
        module(torch.randn(3, 4, V, generator=gen(6), dtype=torch.float64)).backward(
            torch.randn(3, 4, OUT, generator=gen(7), dtype=torch.float64)
        )
    assert not core.bias_hh_l0.grad[:summed].any()
    assert plain_core.bias_hh_l0.grad[:summed].abs().max() > 1e-3
    if kind == "GRU-after":  # b_hn (the book's B_hn) still trains
        assert core.bias_hh_l0.grad[summed:].abs().max() > 1e-3
    optim.step()
    assert not core.bias_hh_l0.detach()[:summed].any()
    assert plain_core.bias_hh_l0.detach()[:summed].abs().max() > 1e-3
