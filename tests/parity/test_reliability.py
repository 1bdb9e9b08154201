"""Reliability fixes found by an adversarial pass: each test reproduces the defect and fails without its fix,
in both implementations where both have the path.

Training control (early stopping at any loss scale, the closed-form decay schedule, loaded weights and
``restart``), extreme values (softmax cross-entropy and the book's value), labels out of range, the two
sequence losses agreeing on bad targets.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import scratch
import torch_impl as ti

from .schedules import torch_lrs

# ---------------------------------------------------------------------------------------------------------
# 1. Early stopping at any loss scale (the best loss used to start at 1e9)
# ---------------------------------------------------------------------------------------------------------


def _huge_regression(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A linear target scaled by 1e6: validation MSE of about 1e12 at the start."""
    X = rng.standard_normal((64, 4))
    y = (X @ rng.standard_normal((4, 1)) + 0.1) * 1e6
    return X, y


def test_scratch_early_stopping_keeps_going_at_loss_scale_1e12() -> None:
    X, y = _huge_regression(np.random.default_rng(1301))
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=3)
    out = io.StringIO()
    trainer = scratch.Trainer(net, scratch.SGD(lr=0.01))
    history = trainer.fit(X, y, X, y, epochs=30, eval_every=5, batch_size=16, seed=2, stream=out, progress=False)
    assert history.val_losses[0] > 1e9  # the scale the old start value could not see
    assert history.best_epoch is not None
    assert history.best_epoch >= 5
    assert "epoch None" not in out.getvalue()
    assert len(history.train_losses) == 30  # a decreasing loss never stops early
    assert history.val_losses == sorted(history.val_losses, reverse=True)


def test_torch_early_stopping_keeps_going_at_loss_scale_1e12() -> None:
    X, y = _huge_regression(np.random.default_rng(1301))
    model = ti.SequentialModel(ti.Dense(4, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    out = io.StringIO()
    trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), ti.MeanSquaredError())
    history = trainer.fit(X, y, X, y, epochs=30, eval_every=5, batch_size=16, seed=2, stream=out, progress=False)
    assert history.val_losses[0] > 1e9
    assert history.best_epoch is not None
    assert "epoch None" not in out.getvalue()
    assert len(history.train_losses) == 30
    assert history.val_losses == sorted(history.val_losses, reverse=True)


# ---------------------------------------------------------------------------------------------------------
# 4. The decay schedule in closed form: the last epoch's lr is exactly final_lr
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decay", "lr", "final_lr", "epochs"),
    [("linear", 0.01, 0.0, 50), ("linear", 0.01, 0.002, 50), ("exponential", 0.01, 0.002, 50), ("linear", 0.1, 0.0, 7)],
)
def test_decay_ends_at_exactly_final_lr_and_never_below(decay: str, lr: float, final_lr: float, epochs: int) -> None:
    got = scratch.SGD(lr, final_lr, decay).lr_schedule(epochs)
    assert got[0] == lr
    assert got[-1] == final_lr  # exactly: repeated subtraction ended at -3.47e-18 / 0.0020000000000000018
    assert min(got) >= final_lr
    assert got == sorted(got, reverse=True)
    fraction = np.arange(epochs) / (epochs - 1)
    closed = lr - fraction * (lr - final_lr) if decay == "linear" else lr * (final_lr / lr) ** fraction
    np.testing.assert_allclose(got, closed, rtol=1e-14, atol=1e-16)
    assert torch_lrs(decay, lr, final_lr, epochs) == got  # bit-identical rates in both packages


def test_trainer_last_epoch_uses_exactly_final_lr() -> None:
    rng = np.random.default_rng(1304)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=1)
    history = scratch.Trainer(net, scratch.SGD(0.01, 0.0, "linear")).fit(
        X, y, X, y, epochs=50, eval_every=50, batch_size=4, early_stopping=False, verbose=False, progress=False
    )
    assert history.lrs[-1] == 0.0
    assert min(history.lrs) == 0.0


# ---------------------------------------------------------------------------------------------------------
# 3. and 5. Softmax cross-entropy: finite for every finite input; the book's value finite in float32
# ---------------------------------------------------------------------------------------------------------


def test_book_value_is_finite_in_float32_and_matches_the_torch_twin() -> None:
    # A confident prediction: p = 1 - 1e-13 rounds to 1 in float32, the book's formula gave 0 * log 0 = NaN.
    x = np.array([[30.0, 0.0, -2.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    y = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)
    loss = scratch.SoftmaxCrossEntropy()
    loss.forward(x, y)
    value = loss.book_value()
    want = float(ti.SoftmaxCrossEntropy().book_value(torch.from_numpy(x), torch.from_numpy(y)))
    assert np.isfinite(value)
    assert value == pytest.approx(want, rel=1e-6)
    loss.forward(x.astype(np.float64), y.astype(np.float64))
    assert value == pytest.approx(loss.book_value(), rel=1e-6)  # float64 agrees: no precision lost


def test_sequence_book_value_is_finite_in_float32() -> None:
    x = np.array([[[40.0, 0.0, -3.0], [0.1, 0.2, 0.3]]], dtype=np.float32)
    y = np.array([[[1, 0, 0], [0, 1, 0]]], dtype=np.float32)
    loss = scratch.SequenceSoftmaxCrossEntropy()
    loss.forward(x, y)
    value32 = loss.book_value()
    loss.forward(x.astype(np.float64), y.astype(np.float64))
    assert np.isfinite(value32)
    assert value32 == pytest.approx(loss.book_value(), rel=1e-6)


SPREADS = [
    pytest.param(np.float32, 3e38, id="float32-3e38"),
    pytest.param(np.float64, 1.7e308, id="float64-1.7e308"),
]


@pytest.mark.parametrize(("dtype", "big"), SPREADS)
def test_softmax_cross_entropy_finite_when_the_logit_spread_overflows(dtype: np.dtype, big: float) -> None:
    x: np.ndarray = np.array([[big, -big, 0.0], [0.5, -big, big], [1.0, 2.0, 3.0]], dtype=dtype)
    y: np.ndarray = np.array([[0, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=dtype)
    labels = torch.tensor([2, 2, 0])
    want = torch.nn.functional.cross_entropy(torch.from_numpy(x), labels)
    assert torch.isfinite(want)

    s = scratch.SoftmaxCrossEntropy()
    value = s.forward(x, y)
    grad = s.backward()
    xt = torch.from_numpy(x).requires_grad_(True)
    t_value = ti.SoftmaxCrossEntropy()(xt, torch.from_numpy(y))
    t_value.backward()
    assert xt.grad is not None
    assert np.isfinite(value)
    assert torch.isfinite(t_value)
    assert value == pytest.approx(float(want), rel=1e-6)
    assert float(t_value.detach()) == pytest.approx(float(want), rel=1e-6)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert np.isfinite(s.book_value())


@pytest.mark.parametrize(("dtype", "big"), SPREADS)
def test_sequence_cross_entropy_finite_when_the_logit_spread_overflows(dtype: np.dtype, big: float) -> None:
    x: np.ndarray = np.array([[[big, -big, 0.0], [0.5, -big, big]], [[1.0, 2.0, 3.0], [-big, big, 0.0]]], dtype=dtype)
    y = np.zeros_like(x)
    y[0, 0, 2] = y[0, 1, 2] = y[1, 0, 0] = y[1, 1, 1] = 1
    for reduction in ("sum", "mean"):
        s = scratch.SequenceSoftmaxCrossEntropy(reduction)
        value = s.forward(x, y)
        xt = torch.from_numpy(x).requires_grad_(True)
        t_value = ti.SequenceSoftmaxCrossEntropy(reduction)(xt, torch.from_numpy(y))
        t_value.backward()
        assert xt.grad is not None
        assert np.isfinite(value)
        assert value == pytest.approx(float(t_value.detach()), rel=1e-6)
        np.testing.assert_allclose(s.backward(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# 8. The two sequence losses validate targets the same way
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_row",
    [[2.0, -1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]],
    ids=["2,-1", "probabilities", "all-zero", "two-ones"],
)
def test_sequence_losses_reject_the_same_bad_targets(bad_row: list[float]) -> None:
    rng = np.random.default_rng(1308)
    x = rng.standard_normal((2, 3, 4))
    y = np.zeros((2, 3, 4))
    y[..., 0] = 1
    y[1, 2] = bad_row
    pattern = r"SequenceSoftmaxCrossEntropy target must be one-hot on its last axis .*target\[1, 2\] is"
    with pytest.raises(ValueError, match=pattern):
        scratch.SequenceSoftmaxCrossEntropy().forward(x, y)
    with pytest.raises(ValueError, match=pattern):
        ti.SequenceSoftmaxCrossEntropy()(torch.from_numpy(x), torch.from_numpy(y))


# ---------------------------------------------------------------------------------------------------------
# 6. Integer labels out of range: a clear ValueError, not a bare IndexError or a silent 0 accuracy
# ---------------------------------------------------------------------------------------------------------


def _classifier() -> nn.Module:
    linear = nn.Linear(4, 3, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(3, 4, generator=generator, dtype=torch.float64))
        linear.bias.copy_(torch.randn(3, generator=generator, dtype=torch.float64))
    return nn.Sequential(linear)


@pytest.mark.parametrize("bad_label", [3, 7, -1])
def test_torch_trainer_rejects_labels_out_of_range(bad_label: int) -> None:
    rng = np.random.default_rng(1306)
    X = rng.standard_normal((20, 4))
    y = rng.integers(0, 3, 20)
    y[5] = bad_label
    model = _classifier()
    trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"y_train \(a shuffled batch\) must be class labels in \[0, 3\) .* is "):
        trainer.fit(X, y, X, y, epochs=2, eval_every=1, verbose=False, progress=False)


def test_torch_trainer_allows_cross_entropy_ignore_index() -> None:
    rng = np.random.default_rng(1307)
    X = rng.standard_normal((20, 4))
    y = rng.integers(0, 3, 20)
    y[5] = -100  # nn.CrossEntropyLoss's ignore_index: a legal label
    model = _classifier()
    trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    history = trainer.fit(X, y, X, y, epochs=2, eval_every=1, verbose=False, progress=False)
    assert np.isfinite(history.train_losses).all()


@pytest.mark.parametrize("bad_label", [3, -2])
def test_accuracy_rejects_labels_out_of_range(bad_label: int) -> None:
    rng = np.random.default_rng(1306)
    X = rng.standard_normal((20, 4))
    y = rng.integers(0, 3, 20)
    assert 0.0 <= ti.accuracy(_classifier(), X, y) <= 1.0
    y[7] = bad_label
    with pytest.raises(ValueError, match=r"y must be class labels in \[0, 3\) for 3 classes; y\[7\] is "):
        ti.accuracy(_classifier(), X, y)


# ---------------------------------------------------------------------------------------------------------
# 7. Weights loaded with load_params are never silently discarded by fit(restart=True)
# ---------------------------------------------------------------------------------------------------------


def test_fit_refuses_to_discard_loaded_weights_and_restart_false_trains_from_them() -> None:
    rng = np.random.default_rng(1307)
    X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    W, B = rng.standard_normal((3, 1)), rng.standard_normal((1, 1))

    def loaded() -> scratch.NeuralNetwork:
        net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=5)
        net.layers[0].load_params([W, B])
        return net

    net = loaded()
    with pytest.raises(ValueError, match=r"restart=True.*layer\(s\) \[0\].*restart=False.*net.reset\(\)"):
        scratch.Trainer(net, scratch.SGD(0.01)).fit(X, y, X, y, epochs=1, eval_every=1, verbose=False)
    np.testing.assert_array_equal(net.layers[0].params[0], W)  # untouched by the refused call

    # restart=False trains from exactly the loaded weights: the first epoch's loss is theirs.
    net = loaded()
    first = float(np.sum((X @ W + B - y) ** 2) / len(X))
    history = scratch.Trainer(net, scratch.SGD(1e-12)).fit(
        X, y, X, y, epochs=1, eval_every=1, batch_size=16, restart=False, verbose=False
    )
    assert history.train_losses[0] == pytest.approx(first, rel=1e-12)

    # reset() discards the loaded weights on purpose; then restart=True is allowed.
    net.reset()
    scratch.Trainer(net, scratch.SGD(0.01)).fit(X, y, X, y, epochs=1, eval_every=1, verbose=False)


# ---------------------------------------------------------------------------------------------------------
# 2. One dtype policy: float32 or float64, never cast silently, refused with both dtypes named
# ---------------------------------------------------------------------------------------------------------


def _f64(*shape: int) -> np.ndarray:
    return np.random.default_rng(1302).standard_normal(shape)


def _dense_built_f64() -> scratch.Dense:
    layer = scratch.Dense(3)
    layer.forward(_f64(4, 5))
    return layer


def _lstm_built_f64() -> scratch.LSTMLayer:
    layer = scratch.LSTMLayer(hidden_size=4, output_size=3)
    layer.forward(_f64(2, 3, 5))
    return layer


def _net_built_f32() -> scratch.NeuralNetwork:
    net = scratch.NeuralNetwork([scratch.Dense(3), scratch.Dense(1)], scratch.MeanSquaredError())
    net.forward(_f64(4, 5).astype(np.float32))
    return net


SCRATCH_DTYPE_CASES = [
    pytest.param(lambda: _dense_built_f64().forward(_f64(4, 5).astype(np.float32)), id="Dense-f32-into-f64"),
    pytest.param(
        lambda: scratch.Conv2D_Op(_f64(2, 3, 3, 3)).forward(_f64(2, 2, 5, 5).astype(np.float32)), id="Conv2D_Op-f32"
    ),
    pytest.param(lambda: _lstm_built_f64().forward(_f64(2, 3, 5).astype(np.float32)), id="LSTM-f32-into-f64"),
    pytest.param(lambda: _net_built_f32().train_batch(_f64(4, 5), _f64(4, 1)), id="f32-net-trained-on-f64"),
    pytest.param(lambda: scratch.MeanSquaredError().forward(_f64(4, 1), _f64(4, 1).astype(np.float32)), id="MSE"),
    pytest.param(lambda: _dense_built_f64().backward(_f64(4, 3).astype(np.float32)), id="Dense-f32-output_grad"),
    pytest.param(
        lambda: _dense_built_f64().load_params([_f64(5, 3).astype(np.float32), _f64(1, 3).astype(np.float32)]),
        id="load_params-f32-into-f64",
    ),
]


@pytest.mark.parametrize("call", SCRATCH_DTYPE_CASES)
def test_scratch_refuses_mixed_dtypes(call: Callable[[], object]) -> None:
    pattern = r"must have the dtype of .* \((float64|float32)\); received dtype float(32|64) \(convert with \.astype"
    with pytest.raises(TypeError, match=pattern):
        call()


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_both_refuse_dtypes_other_than_float32_and_float64(dtype: type) -> None:
    x: np.ndarray = _f64(4, 5).astype(dtype)
    with pytest.raises(TypeError, match=r"Dense input_ must have a floating-point dtype \(float32 or float64\)"):
        scratch.Dense(3).forward(x)
    if dtype is np.float16:
        layer = ti.Dense(5, 3, dtype=torch.float64)
        with pytest.raises(TypeError, match=r"Dense input must have a floating-point dtype \(torch.float32 or"):
            layer(torch.from_numpy(x))
        with pytest.raises(TypeError, match=r"Dense input must have a floating-point dtype"):
            layer(torch.from_numpy(x).to(torch.bfloat16))


def test_torch_refuses_the_same_mixed_dtypes() -> None:
    layer = ti.Dense(5, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"must have the dtype of the layer's weight \(torch.float64\); received"):
        layer(torch.from_numpy(_f64(4, 5).astype(np.float32)))
    with pytest.raises(TypeError, match=r"target must have the dtype of the prediction \(torch.float64\)"):
        ti.MeanSquaredError()(torch.from_numpy(_f64(4, 1)), torch.from_numpy(_f64(4, 1).astype(np.float32)))


# ---------------------------------------------------------------------------------------------------------
# 9. and 10. Validation before use, messages that name the right thing
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [[[1.0, 2.0, 3.0]] * 4, None, "grad"], ids=["list", "None", "str"])
def test_layer_backward_validates_output_grad_before_reading_it(bad: object) -> None:
    layer = _dense_built_f64()
    with pytest.raises(TypeError, match=r"Dense output_grad must be a numpy.ndarray of floats; received"):
        layer.backward(bad)  # type: ignore[arg-type]


def test_empty_time_axis_is_named_in_both() -> None:
    pattern = r"x_seq must have at least one entry along every axis; received shape \(2, 0, 5\): its time axis"
    with pytest.raises(ValueError, match=pattern):
        scratch.LSTMLayer(hidden_size=4, output_size=3).forward(np.zeros((2, 0, 5)))
    layer = ti.LSTMLayer(None, 5, 4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"at least one entry along every axis; received shape \(2, 0, 5\): its time"):
        layer(torch.zeros(2, 0, 5, dtype=torch.float64))


def test_empty_feature_axis_is_named_in_both() -> None:
    with pytest.raises(ValueError, match=r"Dense input_ .* received shape \(4, 0\): its features axis \(axis 1\)"):
        scratch.Dense(3).forward(np.zeros((4, 0)))
    with pytest.raises(ValueError, match=r"received shape \(4, 0\): its features axis \(axis 1\) is empty"):
        ti.Dense(5, 3, dtype=torch.float64)(torch.zeros(4, 0, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"must be a non-empty batch; received shape \(0, 5\): its batch axis"):
        scratch.Dense(3).forward(np.zeros((0, 5)))


def test_a_nan_weight_is_reported_as_the_weight_in_both() -> None:
    x = _f64(4, 5)
    net = scratch.NeuralNetwork([scratch.Dense(3, scratch.Sigmoid()), scratch.Dense(1)], scratch.MeanSquaredError())
    net.forward(x)
    net.layers[0].params[0][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"Dense parameter W must contain only finite values; received 1 NaN/inf"):
        net.forward(x)

    model = ti.SequentialModel(ti.Dense(5, 3, ti.Sigmoid(), dtype=torch.float64), ti.Dense(3, 1, dtype=torch.float64))
    first = model.layers[0]
    assert isinstance(first, ti.Dense)
    with torch.no_grad():
        first.linear.weight[2, 1] = float("nan")
    pattern = r"SequentialModel parameter layers.0.linear.weight must contain only finite values; received 1 NaN/inf"
    with pytest.raises(ValueError, match=pattern):
        model(torch.from_numpy(x))
    with pytest.raises(ValueError, match=r"^Dense parameter linear.weight must contain only finite values"):
        first(torch.from_numpy(x))  # called on its own, the layer is the boundary


@pytest.mark.filterwarnings("ignore:overflow encountered in matmul:RuntimeWarning")  # NumPy's own note, then ours
def test_an_overflow_inside_is_reported_as_an_overflow_in_both() -> None:
    x = np.full((2, 3), 3e38, dtype=np.float32)
    W, B = np.ones((3, 2), np.float32), np.ones((1, 2), np.float32)
    layer = scratch.Dense(2)
    layer.load_params([W, B])
    with pytest.raises(ValueError, match=r"Dense output must be finite for finite inputs and parameters.*overflowed"):
        layer.forward(x)
    twin = ti.Dense(3, 2, dtype=torch.float32)
    twin.load_state_dict({"linear.weight": torch.from_numpy(W.T.copy()), "linear.bias": torch.from_numpy(B[0])})
    with pytest.raises(ValueError, match=r"Dense output must be finite for finite inputs and parameters.*overflowed"):
        twin(torch.from_numpy(x))


# ---------------------------------------------------------------------------------------------------------
# 11. Finiteness is read at the boundary a user calls, not once per nested layer (a GPU sync each)
# ---------------------------------------------------------------------------------------------------------


def _count_finite_reads(monkeypatch: pytest.MonkeyPatch, call: Callable[[], object]) -> int:
    count = [0]
    original = torch.isfinite

    def counting(t: torch.Tensor) -> torch.Tensor:
        count[0] += 1
        return original(t)

    monkeypatch.setattr(torch, "isfinite", counting)
    with torch.no_grad():
        call()
    monkeypatch.setattr(torch, "isfinite", original)
    return count[0]


def test_a_deep_model_reads_finiteness_twice_per_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(11)
    layers = [ti.Dense(8, 8, ti.Tanh(), dtype=torch.float64, generator=g) for _ in range(6)]
    model = ti.SequentialModel(*layers, ti.Dense(8, 1, dtype=torch.float64, generator=g))
    x = torch.randn(16, 8, dtype=torch.float64, generator=g)
    # 7 layers and 6 activations: 14 components, each used to read once; now the input and the output.
    assert _count_finite_reads(monkeypatch, lambda: model(x)) == 2
    assert _count_finite_reads(monkeypatch, lambda: layers[0](x)) == 2  # a layer called alone is a boundary
    x_bad = x.clone()
    x_bad[3, 4] = float("inf")
    with pytest.raises(ValueError, match=r"SequentialModel input must contain only finite values; received 1"):
        model(x_bad)
