"""Chapter 6's model in scratch: sequence loss, ``RNNModel``, ``RNNTrainer``, ``sample``, book-style clipping.

NumPy only (this file must not import torch or torch_impl). Everything in float64. The oracles:

* the loss against a naive per-(n, t) loop and its gradient against central differences (eps 1e-6);
* stacked models (RNN -> LSTM, GRU -> LSTM) against central differences of the loss for every parameter
  and the input, relative tolerance 1e-6, both with a stateless layer mode and with the book's carry
  reset inside the closure;
* sampling against a replay: the drawn characters fed as ONE sequence through a copy of the model must
  give, step by step, the distributions that reproduce the draws from the same seed (so the carry really
  links the one-character steps);
* the optimizers' ``gradient_clipping=True`` against ``clip=2.0`` and the clipped update written out.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from parity_tests.port import relative_error
from scratch.gradcheck import central_difference
from scratch.losses import MeanSquaredError, SoftmaxCrossEntropy
from scratch.optimizers import SGD, AdaGrad
from scratch.rnn import GRULayer, LSTMLayer, RNNLayer
from scratch.rnn_model import RNNModel, RNNTrainer, SequenceSoftmaxCrossEntropy, moving_average, sample

EPS = 1e-6
FD_RTOL = 1e-6
TEXT = "the cat sat on the mat. " * 20  # 11 distinct characters, 480 long
TEXT_V = len(set(TEXT))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (``port.relative_error``)."""
    return relative_error(a, b)


def numeric_grad(objective: Callable[[], float], array: np.ndarray) -> np.ndarray:
    """Central differences of ``objective`` w.r.t. every entry of ``array`` (perturbed in place)."""
    return central_difference(objective, array, EPS)


def one_hot(rng: np.random.Generator, n: int, t: int, c: int) -> np.ndarray:
    return np.eye(c)[rng.integers(0, c, size=(n, t))]  # [N, T] indices -> [N, T, C]


def stacked(kind: str, vocab: int, hidden_state: str = "zeros") -> list[RNNLayer | LSTMLayer | GRULayer]:
    """Two layers with random non-zero weights and biases (std 0.5; the GRU's B_h, W_v, B_v std 1)."""
    first: RNNLayer | LSTMLayer | GRULayer
    if kind == "rnn_lstm":
        first = RNNLayer(3, 4, 0.5, hidden_state=hidden_state, rng=1)
    elif kind == "gru_lstm":
        first = GRULayer(3, 4, 0.5, hidden_state=hidden_state, rng=2)
    else:
        first = GRULayer(3, 4, 0.5, reset="after", hidden_state=hidden_state, rng=3)
    return [first, LSTMLayer(3, vocab, 0.5, hidden_state=hidden_state, rng=4)]


def tiny_model(seed: int = 1, hidden_state: str = "book") -> RNNModel:
    return RNNModel([RNNLayer(16, TEXT_V, 0.1, hidden_state=hidden_state, rng=seed)], 8, TEXT_V)


# --------------------------------------------------------------------------------------------------------
# SequenceSoftmaxCrossEntropy
# --------------------------------------------------------------------------------------------------------


def naive_ce(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Σ_{n,t} CE, Σ_{n,t} book value) by a loop over (n, t), log-sum-exp written out."""
    total = book = 0.0
    N, T, C = z.shape
    for n in range(N):
        for t in range(T):
            m = max(z[n, t])
            lse = m + np.log(sum(np.exp(z[n, t, c] - m) for c in range(C)))
            p = np.exp(z[n, t] - lse)
            total -= sum(y[n, t, c] * (z[n, t, c] - lse) for c in range(C))
            pc = np.clip(p, 1e-9, 1 - 1e-9)
            book -= sum(y[n, t, c] * np.log(pc[c]) + (1 - y[n, t, c]) * np.log(1 - pc[c]) for c in range(C))
    return total, book


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sequence_loss_value_and_book_value_match_a_naive_loop(reduction: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2.0, size=(3, 4, 5))
    y = one_hot(rng, 3, 4, 5)
    loss = SequenceSoftmaxCrossEntropy(reduction)
    value = loss.forward(z, y)
    total, book = naive_ce(z, y)
    div = 1 if reduction == "sum" else 12
    assert value == pytest.approx(total / div, rel=1e-13)
    assert loss.book_value() == pytest.approx(book / div, rel=1e-13)
    assert loss.book_value() > value  # the extra -(1-Y)log(1-p) term is positive


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_sequence_loss_gradient_matches_central_differences(reduction: str) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, size=(2, 3, 4))
    y = one_hot(rng, 2, 3, 4)
    loss = SequenceSoftmaxCrossEntropy(reduction)
    loss.forward(z, y)
    analytic = loss.backward()
    numeric = numeric_grad(lambda: SequenceSoftmaxCrossEntropy(reduction).forward(z, y), z)
    assert rel_err(analytic, numeric) < FD_RTOL
    p = np.exp(z) / np.exp(z).sum(axis=2, keepdims=True)
    expected = p - y if reduction == "sum" else (p - y) / 6
    np.testing.assert_allclose(analytic, expected, rtol=1e-12, atol=1e-15)


def test_sum_is_n_t_times_mean_and_mean_is_the_2d_loss_on_flattened_rows() -> None:
    rng = np.random.default_rng(2)
    N, T, C = 4, 3, 6
    z = rng.normal(0, 1.0, size=(N, T, C))
    y = one_hot(rng, N, T, C)
    s, m, flat = SequenceSoftmaxCrossEntropy("sum"), SequenceSoftmaxCrossEntropy("mean"), SoftmaxCrossEntropy()
    vs, vm = s.forward(z, y), m.forward(z, y)
    vf = flat.forward(z.reshape(N * T, C), y.reshape(N * T, C))
    assert vs == pytest.approx(N * T * vm, rel=1e-13)
    assert vm == pytest.approx(vf, rel=1e-13)
    np.testing.assert_allclose(s.backward(), N * T * m.backward(), rtol=1e-13)
    np.testing.assert_allclose(m.backward(), flat.backward().reshape(N, T, C), rtol=1e-13)
    assert s.book_value() == pytest.approx(N * T * m.book_value(), rel=1e-13)


def test_sequence_loss_is_stable_for_huge_logits() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1.0, size=(2, 2, 3))
    y = one_hot(rng, 2, 2, 3)
    base = SequenceSoftmaxCrossEntropy().forward(z, y)
    shifted = z + 1e4 * rng.standard_normal((2, 2, 1))  # a per-(n, t) constant: softmax unchanged
    loss = SequenceSoftmaxCrossEntropy()
    assert loss.forward(shifted, y) == pytest.approx(base, rel=1e-9)
    assert np.isfinite(loss.backward()).all()


def test_sequence_loss_errors() -> None:
    rng = np.random.default_rng(4)
    z, y = rng.normal(size=(2, 3, 4)), one_hot(rng, 2, 3, 4)
    loss = SequenceSoftmaxCrossEntropy()
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()
    with pytest.raises(RuntimeError, match="before forward"):
        loss.book_value()
    with pytest.raises(ValueError, match="reduction"):
        SequenceSoftmaxCrossEntropy("average")
    with pytest.raises(ValueError, match="3-D"):
        loss.forward(z[0], y[0])
    with pytest.raises(ValueError, match="shape"):
        loss.forward(z, y[:, :2])
    bad = y.copy()
    bad[1, 2] = 0.25
    with pytest.raises(ValueError, match=r"one-hot.*target\[1, 2\]"):
        loss.forward(z, bad)
    with pytest.raises(ValueError, match="2 classes"):
        loss.forward(z[..., :1], np.ones((2, 3, 1)))
    with pytest.raises(TypeError, match="floating-point"):
        loss.forward(z, y.astype(np.int64))


# --------------------------------------------------------------------------------------------------------
# RNNModel
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn_lstm", "gru_lstm", "gru_after_lstm"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_stacked_model_gradients_match_central_differences(kind: str, reduction: str) -> None:
    rng = np.random.default_rng(5)
    N, T, V = 2, 4, 5
    model = RNNModel(stacked(kind, V), T, V, SequenceSoftmaxCrossEntropy(reduction))
    x = rng.normal(0, 1.0, size=(N, T, V))  # not one-hot: every input entry matters for dL/dx
    y = one_hot(rng, N, T, V)
    model.single_step(x, y)  # builds the layers and fills every deriv
    analytic = [g.copy() for g in model.param_grads()]
    dx = model.backward(model.loss.backward())
    params = list(model.params())
    assert len(params) == len(analytic) > 0

    def objective() -> float:
        return model.loss.forward(model.forward(x), y)

    for p, g in zip(params, analytic, strict=True):
        assert np.any(g != 0)
        assert rel_err(g, numeric_grad(objective, p)) < FD_RTOL
    assert rel_err(dx, numeric_grad(objective, x)) < FD_RTOL


def test_book_carry_model_gradients_match_central_differences_with_reset_in_the_closure() -> None:
    rng = np.random.default_rng(6)
    N, T, V = 3, 3, 4
    model = RNNModel(stacked("rnn_lstm", V, hidden_state="book"), T, V)
    x, y = one_hot(rng, N, T, V), one_hot(rng, N, T, V)
    model.single_step(x, y)  # leaves a non-zero carry
    carry = [copy.deepcopy(layer._carry) for layer in model.layers]
    assert all(c is not None and np.any(c[0] != 0) for c in carry)

    def restore() -> None:
        for layer, c in zip(model.layers, carry, strict=True):
            layer._carry = copy.deepcopy(c)

    restore()
    model.single_step(x, y)  # starts from the carry, a constant
    analytic = [g.copy() for g in model.param_grads()]

    def objective() -> float:
        restore()
        return model.loss.forward(model.forward(x), y)

    for p, g in zip(list(model.params()), analytic, strict=True):
        assert rel_err(g, numeric_grad(objective, p)) < FD_RTOL


def test_model_with_2d_softmax_cross_entropy_is_the_mean_over_n_t() -> None:
    rng = np.random.default_rng(7)
    N, T, V = 3, 4, 5
    x, y = one_hot(rng, N, T, V), one_hot(rng, N, T, V)
    flat = RNNModel(stacked("gru_lstm", V), T, V, SoftmaxCrossEntropy())
    mean = RNNModel(stacked("gru_lstm", V), T, V, SequenceSoftmaxCrossEntropy("mean"))
    total = RNNModel(stacked("gru_lstm", V), T, V)  # default: the notebook's sum
    v_flat, v_mean, v_sum = flat.single_step(x, y), mean.single_step(x, y), total.single_step(x, y)
    assert v_flat == pytest.approx(v_mean, rel=1e-13)
    assert v_sum == pytest.approx(N * T * v_mean, rel=1e-13)
    for gf, gm, gs in zip(flat.param_grads(), mean.param_grads(), total.param_grads(), strict=True):
        np.testing.assert_allclose(gf, gm, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gs, N * T * gm, rtol=1e-12, atol=1e-14)


def test_model_passes_3d_arrays_to_other_losses() -> None:
    rng = np.random.default_rng(8)
    x, y = one_hot(rng, 2, 3, 4), one_hot(rng, 2, 3, 4)
    model = RNNModel([RNNLayer(3, 4, 0.5, hidden_state="zeros", rng=0)], 3, 4, MeanSquaredError())
    value = model.single_step(x, y)
    out = model.forward(x)
    assert value == pytest.approx(float(np.sum((out - y) ** 2) / 2), rel=1e-13)


def test_params_and_param_grads_are_live_and_in_layer_then_key_order() -> None:
    rng = np.random.default_rng(9)
    V = 5
    model = RNNModel(stacked("gru_after_lstm", V), 3, V)
    assert list(model.params()) == []
    assert list(model.param_grads()) == []
    x, y = one_hot(rng, 2, 3, V), one_hot(rng, 2, 3, V)
    model.single_step(x, y)
    expected = [(layer, name) for layer in model.layers for name in layer.params]
    names = [name for _, name in expected]
    assert names[:4] == ["W_xr", "W_xu", "W_xh", "W_hr"]
    assert "B_hn" in names
    assert names[-2:] == ["W_v", "B_v"]
    params, grads = list(model.params()), list(model.param_grads())
    assert len(params) == len(grads) == len(expected)
    for (layer, name), p, g in zip(expected, params, grads, strict=True):
        assert p is layer.params[name]["value"]
        assert g is layer.params[name]["deriv"]
    before = [p.copy() for p in params]
    optim = SGD(lr=0.1)
    optim.net = model  # type: ignore[assignment]  # duck-typed, as RNNTrainer does
    optim.step()
    for (layer, name), b, g in zip(expected, before, grads, strict=True):
        np.testing.assert_array_equal(layer.params[name]["value"], b - 0.1 * g)
        assert np.any(layer.params[name]["value"] != b)


def test_forward_accepts_any_sequence_length_and_reset_state_restarts_the_carry() -> None:
    rng = np.random.default_rng(10)
    V = 4
    model = RNNModel(stacked("rnn_lstm", V, hidden_state="book"), 3, V)
    x7 = one_hot(rng, 2, 7, V)
    first = model.forward(x7)
    assert first.shape == (2, 7, V)
    assert model.forward(x7[:, :1]).shape == (2, 1, V)
    assert not np.allclose(model.forward(x7), first)  # the carry changes the start
    model.reset_state()
    assert all(layer._carry is None for layer in model.layers)
    np.testing.assert_array_equal(model.forward(x7), first)
    assert model.dtype == np.float64


def test_model_errors() -> None:
    V = 4
    with pytest.raises(ValueError, match="at least one"):
        RNNModel([], 3, V)
    with pytest.raises(TypeError, match="list"):
        RNNModel(RNNLayer(3, V), 3, V)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        RNNModel([RNNLayer(3, 5), object()], 3, V)
    with pytest.raises(ValueError, match=r"vocab_size=4.*output_size=5"):
        RNNModel([RNNLayer(3, 5)], 3, V)
    built = RNNLayer(3, V)
    built.forward(np.zeros((1, 2, 6)))
    with pytest.raises(ValueError, match=r"built for 6 input features but receives 4 \(vocab_size\)"):
        RNNModel([built], 3, V)
    with pytest.raises(TypeError, match="instance"):
        RNNModel([RNNLayer(3, V)], 3, V, SequenceSoftmaxCrossEntropy)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Loss"):
        RNNModel([RNNLayer(3, V)], 3, V, "sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sequence_length"):
        RNNModel([RNNLayer(3, V)], 0, V)
    model = RNNModel([RNNLayer(3, V)], 3, V)
    with pytest.raises(ValueError, match="3-D"):
        model.forward(np.zeros((2, V)))
    with pytest.raises(ValueError, match=r"vocab_size=4.*5 features"):
        model.forward(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="y_batch must have the output's shape"):
        model.single_step(np.zeros((2, 3, V)), np.zeros((2, 2, V)))


# --------------------------------------------------------------------------------------------------------
# Book-style gradient clipping
# --------------------------------------------------------------------------------------------------------


class Holder:
    """params()/param_grads() over fixed arrays, gradients with entries far beyond ±2."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.p = [rng.normal(size=(3, 4)), rng.normal(size=(1, 4))]
        self.g = [rng.normal(0, 4.0, size=(3, 4)), rng.normal(0, 4.0, size=(1, 4))]
        assert np.abs(self.g[0]).max() > 2
        assert np.abs(self.g[0]).min() < 2

    def params(self) -> Iterator[np.ndarray]:
        yield from self.p

    def param_grads(self) -> Iterator[np.ndarray]:
        yield from self.g


@pytest.mark.parametrize("cls", [SGD, AdaGrad])
def test_gradient_clipping_true_equals_clip_2_and_clips(cls: type[SGD] | type[AdaGrad]) -> None:
    runs = {}
    for label, optim in {
        "flag": cls(lr=0.1, gradient_clipping=True),
        "clip": cls(lr=0.1, clip=2.0),
        "both": cls(lr=0.1, clip=2.0, gradient_clipping=True),
        "none": cls(lr=0.1),
    }.items():
        holder = Holder(11)
        optim.net = holder  # type: ignore[assignment]
        for _ in range(3):
            optim.step()
        runs[label] = holder.p
    assert cls(gradient_clipping=True).clip == 2.0
    assert cls().clip is None
    for a, b, c in zip(runs["flag"], runs["clip"], runs["both"], strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert any(np.any(a != b) for a, b in zip(runs["flag"], runs["none"], strict=True))
    # the update written out with clipped gradients (3 steps, constant gradients)
    fresh = Holder(11)
    for p0, g, got in zip(fresh.p, fresh.g, runs["flag"], strict=True):
        gc = np.clip(g, -2.0, 2.0)
        if cls is SGD:
            expected = p0 - 3 * 0.1 * gc
        else:
            expected = p0.copy()
            s = np.zeros_like(g)
            for _ in range(3):
                s += 1e-7 + gc * gc
                expected -= 0.1 * gc / np.sqrt(s)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(Holder(11).g[0], fresh.g[0])  # the network's gradients are not modified


@pytest.mark.parametrize("cls", [SGD, AdaGrad])
def test_gradient_clipping_errors(cls: type[SGD] | type[AdaGrad]) -> None:
    with pytest.raises(ValueError, match=r"gradient_clipping=True.*clip=1\.0"):
        cls(lr=0.1, clip=1.0, gradient_clipping=True)
    with pytest.raises(TypeError, match="gradient_clipping must be a bool"):
        cls(lr=0.1, gradient_clipping="yes")  # type: ignore[arg-type]
    assert cls(clip=1.5, gradient_clipping=False).clip == 1.5


# --------------------------------------------------------------------------------------------------------
# sample, moving_average
# --------------------------------------------------------------------------------------------------------


def trained_model(hidden_state: str = "book") -> RNNModel:
    model = RNNModel([GRULayer(8, 6, 0.5, rng=1), LSTMLayer(8, TEXT_V, 0.5, rng=2)], 8, TEXT_V)
    for layer in model.layers:
        layer.hidden_state = hidden_state
    model.forward(one_hot(np.random.default_rng(0), 3, 5, TEXT_V))  # builds it; leaves a carry in "book"
    return model


def softmax(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    e = np.exp((z - z.max()) / temperature)
    return e / e.sum()


@pytest.mark.parametrize("hidden_state", ["book", "zeros"])
def test_sample_replays_as_one_sequence_from_the_models_state(hidden_state: str) -> None:
    model = trained_model(hidden_state)
    snapshot = [p.copy() for p in model.params()]
    carry = [copy.deepcopy(layer._carry) for layer in model.layers]
    drawn = sample(model, 3, 12, temperature=0.8, rng=np.random.default_rng(42))
    assert len(drawn) == 12
    assert all(0 <= d < TEXT_V for d in drawn)
    # the model itself is untouched: parameters, carries and modes
    for p, s in zip(model.params(), snapshot, strict=True):
        np.testing.assert_array_equal(p, s)
    for layer, c in zip(model.layers, carry, strict=True):
        assert layer.hidden_state == hidden_state
        if c is None:
            assert layer._carry is None
        else:
            assert layer._carry is not None
            assert all(np.array_equal(a, b) for a, b in zip(c, layer._carry, strict=True))
    # replay: [start, drawn[:-1]] as ONE [1, L, V] sequence from the same starting state
    replay = copy.deepcopy(model)
    for layer in replay.layers:
        layer.hidden_state = "book"
    seq = np.eye(TEXT_V)[[3, *drawn[:-1]]][None]  # [L] -> [1, L, V]
    logits = replay.forward(seq)[0]  # [L, V]
    rng = np.random.default_rng(42)
    assert [int(rng.choice(TEXT_V, p=softmax(row, 0.8))) for row in logits] == drawn


def test_sample_is_deterministic_and_temperature_controls_spread() -> None:
    model = trained_model()
    a = sample(model, 0, 40, rng=np.random.default_rng(1))
    assert a == sample(model, 0, 40, rng=np.random.default_rng(1))
    assert a != sample(model, 0, 40, rng=np.random.default_rng(2))
    # very low temperature: greedy decoding, whatever the seed
    cold = [sample(model, 0, 30, temperature=1e-8, rng=np.random.default_rng(s)) for s in (1, 2, 3)]
    assert cold[0] == cold[1] == cold[2]
    greedy, current = [], 0
    copy_ = copy.deepcopy(model)
    for _ in range(30):
        current = int(np.argmax(copy_.forward(np.eye(TEXT_V)[current][None, None])[0, -1]))
        greedy.append(current)
    assert cold[0] == greedy
    assert sample(model, 0, 5, temperature=1e-300, rng=np.random.default_rng(0)) == greedy[:5]
    # very high temperature: close to uniform (deterministic draw; 2000 samples, expected 182 each)
    hot = sample(model, 0, 2000, temperature=1e6, rng=np.random.default_rng(4))
    counts = np.bincount(hot, minlength=TEXT_V)
    assert counts.min() > 120
    assert counts.max() < 250


def test_sample_errors() -> None:
    model = trained_model()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(model, 0, 5, temperature=0.0, rng=rng)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(model, 0, 5, temperature=-1.0, rng=rng)
    with pytest.raises(ValueError, match=r"start_index must be in \[0, vocab_size=11\)"):
        sample(model, 11, 5, rng=rng)
    with pytest.raises(ValueError, match="length"):
        sample(model, 0, 0, rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        sample(model, 0, 5, rng=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RNNModel"):
        sample(model.layers[0], 0, 5, rng=rng)  # type: ignore[arg-type]


def test_moving_average_is_the_trailing_mean() -> None:
    values = np.random.default_rng(12).normal(size=25)
    for window in (1, 4, 100):
        expected = [values[max(0, i - window + 1) : i + 1].mean() for i in range(25)]
        np.testing.assert_allclose(moving_average(values, window), expected, rtol=1e-12)
    np.testing.assert_array_equal(moving_average(list(values), 1), values)
    assert moving_average([], 3).shape == (0,)
    with pytest.raises(ValueError, match="window"):
        moving_average(values, 0)
    with pytest.raises(ValueError, match="1-D"):
        moving_average(values.reshape(5, 5), 2)


# --------------------------------------------------------------------------------------------------------
# RNNTrainer
# --------------------------------------------------------------------------------------------------------


def run(seed: int, iterations: int = 30, **train_kw: object) -> RNNTrainer:
    trainer = RNNTrainer(None, tiny_model(), AdaGrad(lr=0.05, gradient_clipping=True), 8, text=TEXT, seed=seed)
    trainer.train(iterations, sample_every=10, sample_length=15, **train_kw)  # type: ignore[arg-type]
    return trainer


def test_trainer_is_deterministic_for_a_seed_and_independent_of_printing() -> None:
    messages: list[str] = []
    a = run(5, print_fn=messages.append)
    b = run(5, print_fn=None)
    assert a.losses == b.losses
    assert a.samples == b.samples
    assert len(messages) == 3
    assert messages[0].startswith("iteration 10: loss ")
    assert messages[-1].endswith(a.samples[-1][1])
    assert [i for i, _ in a.samples] == [10, 20, 30]
    assert all(len(text) == 15 and set(text) <= set(TEXT) for _, text in a.samples)
    c = run(6, print_fn=None)
    assert c.losses != a.losses
    for pa, pb in zip(a.model.params(), b.model.params(), strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_trainer_setup_matches_the_book() -> None:
    optim = SGD(lr=0.01, gradient_clipping=True)
    model = tiny_model()
    trainer = RNNTrainer(None, model, optim, text=TEXT)
    assert optim.net is model
    assert trainer.batch_size == 32
    assert "".join(trainer.vocab.chars) == "".join(sorted(set(TEXT)))
    assert trainer.indices.dtype == np.int64
    assert trainer.vocab.decode(trainer.indices) == TEXT


def test_trainer_reads_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    from_file = RNNTrainer(path, tiny_model(), SGD(lr=0.01), 4, seed=2)
    from_text = RNNTrainer(None, tiny_model(), SGD(lr=0.01), 4, text=TEXT, seed=2)
    assert from_file.train(5, print_fn=None) == from_text.train(5, print_fn=None)


@pytest.mark.parametrize(
    ("label", "layers", "optim"),
    [
        ("rnn_sgd", lambda: [RNNLayer(16, TEXT_V, 0.1, rng=1)], lambda: SGD(lr=0.01, gradient_clipping=True)),
        (
            "gru_lstm_adagrad",
            lambda: [GRULayer(12, 8, 0.1, rng=1), LSTMLayer(12, TEXT_V, 0.1, rng=2)],
            lambda: AdaGrad(lr=0.05, gradient_clipping=True),
        ),
    ],
    ids=["rnn_sgd", "gru_lstm_adagrad"],
)
def test_training_lowers_the_loss(label: str, layers: Callable[[], list], optim: Callable[[], object]) -> None:
    model = RNNModel(layers(), 8, TEXT_V)
    trainer = RNNTrainer(None, model, optim(), 8, text=TEXT, seed=3)  # type: ignore[arg-type]
    losses = trainer.train(200, sample_every=200, sample_length=24, print_fn=None)
    assert len(losses) == 200
    assert all(np.isfinite(losses))
    smooth = moving_average(losses, 20)
    assert smooth[-1] < 0.35 * smooth[19], (label, smooth[19], smooth[-1])
    # the initial loss is about N·T·log V (uniform predictions), the final far below it
    assert losses[0] == pytest.approx(8 * 8 * np.log(TEXT_V), rel=0.15)


def test_sample_output_accepts_a_character_or_its_index() -> None:
    trainer = RNNTrainer(None, tiny_model(), SGD(lr=0.01), 4, text=TEXT, seed=9)
    by_char = trainer.sample_output("t", 20)
    trainer.rng = np.random.default_rng(9)
    by_index = trainer.sample_output(trainer.vocab.char_to_index["t"], 20)
    assert by_char == by_index
    assert len(by_char) == 20
    with pytest.raises(ValueError, match="'z' is not in the text's vocabulary"):
        trainer.sample_output("z", 5)
    with pytest.raises(TypeError, match="one character"):
        trainer.sample_output("th", 5)
    with pytest.raises(ValueError, match=r"in \[0, 11\)"):
        trainer.sample_output(11, 5)
    with pytest.raises(ValueError, match="temperature"):
        trainer.sample_output("t", 5, temperature=0)


def test_trainer_errors(tmp_path: Path) -> None:
    model, optim = tiny_model(), SGD(lr=0.01)
    with pytest.raises(ValueError, match="exactly one"):
        RNNTrainer(None, model, optim)
    with pytest.raises(ValueError, match="exactly one"):
        RNNTrainer("x.txt", model, optim, text=TEXT)
    with pytest.raises(ValueError, match="non-empty"):
        RNNTrainer(None, model, optim, text="")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="non-empty"):
        RNNTrainer(empty, model, optim)
    with pytest.raises(ValueError, match=r"at least sequence_length \+ 1 = 9 characters.*received 8"):
        RNNTrainer(None, model, optim, text=TEXT[:8])  # checked before the vocabulary size
    with pytest.raises(ValueError, match=r"12 distinct characters but model\.vocab_size=11"):
        RNNTrainer(None, model, optim, text=TEXT + "!")
    with pytest.raises(TypeError, match="RNNModel"):
        RNNTrainer(None, model.layers[0], optim, text=TEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Optimizer"):
        RNNTrainer(None, model, object(), text=TEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be a str"):
        RNNTrainer(None, model, optim, text=b"abc")  # type: ignore[arg-type]
    trainer = RNNTrainer(None, model, optim, text=TEXT)
    with pytest.raises(ValueError, match="num_iterations"):
        trainer.train(0)
    with pytest.raises(ValueError, match="sample_every"):
        trainer.train(5, sample_every=0)
    with pytest.raises(TypeError, match="print_fn"):
        trainer.train(5, print_fn="print")  # type: ignore[arg-type]
