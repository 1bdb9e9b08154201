"""Reliability fixes found by an adversarial pass: each test reproduces the defect and fails without its fix,
in both implementations where both have the path.

Training control (early stopping at any loss scale, the closed-form decay schedule, loaded weights and
``restart``), extreme values (softmax cross-entropy and the book's value), labels out of range, the two
sequence losses agreeing on bad targets.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

import scratch
import torch_impl as ti

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
    trainer = ti.PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.01), ti.MeanSquaredError())
    history = trainer.fit(X, y, X, y, epochs=30, eval_every=5, batch_size=16, seed=2, stream=out, progress=False)
    assert history.val_losses[0] > 1e9
    assert history.best_epoch is not None
    assert "epoch None" not in out.getvalue()
    assert len(history.train_losses) == 30
    assert history.val_losses == sorted(history.val_losses, reverse=True)


# ---------------------------------------------------------------------------------------------------------
# 4. The decay schedule in closed form: the last epoch's lr is exactly final_lr
# ---------------------------------------------------------------------------------------------------------


def _torch_lrs(decay: str, lr: float, final_lr: float, epochs: int) -> list[float]:
    optim = torch.optim.SGD([nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=lr)
    scheduler = ti.book_lr_scheduler(optim, decay, final_lr, epochs)
    assert scheduler is not None
    lrs = []
    for _ in range(epochs):
        lrs.append(optim.param_groups[0]["lr"])
        optim.step()
        scheduler.step()
    return lrs


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
    assert _torch_lrs(decay, lr, final_lr, epochs) == got  # bit-identical rates in both packages


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
def test_softmax_cross_entropy_finite_when_the_logit_spread_overflows(dtype: type, big: float) -> None:
    x = np.array([[big, -big, 0.0], [0.5, -big, big], [1.0, 2.0, 3.0]], dtype=dtype)
    y = np.array([[0, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=dtype)
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
def test_sequence_cross_entropy_finite_when_the_logit_spread_overflows(dtype: type, big: float) -> None:
    x = np.array([[[big, -big, 0.0], [0.5, -big, big]], [[1.0, 2.0, 3.0], [-big, big, 0.0]]], dtype=dtype)
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
    trainer = ti.PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"y_train \(a shuffled batch\) must be class labels in \[0, 3\) .* is "):
        trainer.fit(X, y, X, y, epochs=2, eval_every=1, verbose=False, progress=False)


def test_torch_trainer_allows_cross_entropy_ignore_index() -> None:
    rng = np.random.default_rng(1307)
    X = rng.standard_normal((20, 4))
    y = rng.integers(0, 3, 20)
    y[5] = -100  # nn.CrossEntropyLoss's ignore_index: a legal label
    model = _classifier()
    trainer = ti.PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
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
