"""Unit tests of every ``torch_impl`` component on its own (torch only; test_parity compares with scratch)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import nn

from torch_impl import (
    BiasAdd,
    Dense,
    DenseLayer,
    Dropout,
    Linear,
    MeanSquaredError,
    PyTorchLayer,
    PyTorchTrainer,
    ReLU,
    SequentialModel,
    SGDMomentum,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    TrainingHistory,
    WeightMultiply,
    book_glorot_std,
    book_lr_scheduler,
    glorot_normal_,
    standard_normal_,
)

DTYPES = [torch.float32, torch.float64]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype, generator=gen(seed))


def one_hot(labels: list[int], classes: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return F.one_hot(torch.tensor(labels), classes).to(dtype)


# --------------------------------------------------------------------------------------------------------
# Activations and parameter operations
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("module", "fn"),
    [(Sigmoid(), torch.sigmoid), (Tanh(), torch.tanh), (ReLU(), torch.relu), (Linear(), lambda x: x)],
)
def test_activations_match_torch_functions(
    module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype
) -> None:
    x = randn(4, 3, dtype=dtype)
    out = module(x)
    assert out.dtype == dtype
    assert out.shape == x.shape
    assert torch.equal(out, fn(x))


def test_relu_gradient_is_zero_at_and_below_zero() -> None:
    x = torch.tensor([[-2.0, -0.5, 0.0, 0.5, 2.0]], dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([[0.7, -1.3, 2.1, -0.4, 1.9]], dtype=torch.float64)  # arbitrary, non-zero
    ReLU()(x).backward(upstream)
    assert x.grad is not None
    assert x.grad.tolist() == [[0.0, 0.0, 0.0, -0.4, 1.9]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_multiply_and_bias_add_equal_nn_linear(dtype: torch.dtype) -> None:
    lin = nn.Linear(3, 2, dtype=dtype)
    wm, ba = WeightMultiply(3, 2, dtype=dtype), BiasAdd(2, dtype=dtype)
    assert wm.weight.shape == (2, 3)
    assert ba.bias.shape == (2,)
    wm.load_state_dict({"weight": lin.weight.detach()})
    ba.load_state_dict({"bias": lin.bias.detach()})
    x = randn(5, 3, dtype=dtype)
    torch.testing.assert_close(ba(wm(x)), lin(x), rtol=0, atol=0)


# --------------------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------------------
def test_dropout_mask_statistics_and_means() -> None:
    keep = 0.8
    x = torch.ones(400, 500, dtype=torch.float64)
    book = Dropout(keep, generator=gen(1))
    out = book(x)
    assert book.mask is not None
    assert set(torch.unique(book.mask).tolist()) <= {0.0, 1.0}
    n = x.numel()
    tol = 5 * math.sqrt(keep * (1 - keep) / n)  # 5 standard errors of the mean of n Bernoulli draws
    assert abs(book.mask.mean().item() - keep) < tol
    assert abs(out.mean().item() - keep) < tol  # E[book] = keep * x
    inv = Dropout(keep, inverted=True, generator=gen(2))
    assert abs(inv(x).mean().item() - 1.0) < tol / keep  # E[inverted] = x


def test_dropout_generator_is_reproducible_and_leaves_global_rng_alone() -> None:
    x = torch.ones(30, 40)
    state = torch.get_rng_state()
    a, b = Dropout(0.5, generator=gen(7)), Dropout(0.5, generator=gen(7))
    a(x)
    b(x)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.mask is not None
    assert b.mask is not None
    assert torch.equal(a.mask, b.mask)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_injected_mask_book_is_keep_times_inverted(dtype: torch.dtype) -> None:
    keep = 0.75
    x = randn(6, 5, dtype=dtype).requires_grad_(True)
    mask = (randn(6, 5, seed=3) > 0).to(dtype)
    book, inv = Dropout(keep), Dropout(keep, inverted=True)
    book.set_mask(mask)
    inv.set_mask(mask)
    yb, yi = book(x), inv(x)
    torch.testing.assert_close(yb, x * mask, rtol=0, atol=0)
    torch.testing.assert_close(yb, keep * yi)
    assert book.mask is not None
    assert torch.equal(book.mask, mask)
    (gb,) = torch.autograd.grad(yb.sum(), x)
    (gi,) = torch.autograd.grad(yi.sum(), x)
    torch.testing.assert_close(gb, mask)  # book gradient: mask, not mask / keep
    torch.testing.assert_close(gi, mask / keep)
    # eval mode and inference=True: book multiplies by keep, inverted is the identity
    book.eval()
    inv.eval()
    torch.testing.assert_close(book(x), keep * x)
    assert torch.equal(inv(x), x)
    book.train()
    torch.testing.assert_close(book(x, inference=True), keep * x)
    assert book.training


def test_dropout_mask_is_used_once_unless_persistent() -> None:
    x = torch.ones(2, 3, dtype=torch.float64)
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    d = Dropout(0.5, generator=gen(0))
    d.set_mask(mask, persistent=True)
    assert torch.equal(d(x), mask)
    assert torch.equal(d(x), mask)
    d.set_mask(mask)
    assert torch.equal(d(x), mask)
    d(torch.ones(50, 60, dtype=torch.float64))  # a fresh draw: the injected mask is gone
    assert d.mask is not None
    assert d.mask.shape == (50, 60)


def test_dropout_bad_inputs() -> None:
    for keep in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"keep_prob must be a keep probability in \(0, 1\]"):
            Dropout(keep)
    d = Dropout(0.5)
    with pytest.raises(ValueError, match="only 0 and 1"):
        d.set_mask(torch.full((2, 2), 0.5))
    with pytest.raises(TypeError, match="mask must be a floating-point or bool"):
        d.set_mask(np.ones((2, 2)))  # type: ignore[arg-type]
    d.set_mask(torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"mask must have the input's shape \(2, 2\)"):
        d(torch.ones(2, 2))


# --------------------------------------------------------------------------------------------------------
# DenseLayer and Dense
# --------------------------------------------------------------------------------------------------------
def test_dense_layer_structure_and_dropout_kinds() -> None:
    layer = DenseLayer(4, 3, dropout=0.8, activation=Tanh())
    assert isinstance(layer, PyTorchLayer)
    assert isinstance(layer.linear, nn.Linear)
    assert layer.linear.weight.shape == (3, 4)
    assert isinstance(layer.activation, Tanh)
    assert isinstance(layer.dropout_module, nn.Dropout)
    assert layer.dropout_module.p == pytest.approx(0.2)
    with_gen = DenseLayer(4, 3, dropout=0.8, generator=gen())
    assert isinstance(with_gen.dropout_module, Dropout)
    assert with_gen.dropout_module.inverted
    book = Dense(4, 3, Sigmoid(), dropout=0.8)
    assert isinstance(book.dropout_module, Dropout)
    assert not book.dropout_module.inverted
    assert book.dropout_op is book.dropout_module
    assert DenseLayer(4, 3).dropout_module is None
    assert list(book.state_dict()) == ["linear.weight", "linear.bias"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer_cls", [DenseLayer, Dense])
def test_dense_forward_and_inference_flag(layer_cls: type[DenseLayer], dtype: torch.dtype) -> None:
    layer = layer_cls(5, 4, activation=Tanh(), dropout=0.6, generator=gen(3), dtype=dtype)
    x = randn(8, 5, dtype=dtype)
    pre = torch.tanh(x @ layer.linear.weight.T + layer.linear.bias)
    out = layer(x)
    assert out.dtype == dtype
    assert out.shape == (8, 4)
    assert isinstance(layer.dropout_module, Dropout)
    mask = layer.dropout_module.mask
    assert mask is not None
    scale = 1 / 0.6 if layer_cls is DenseLayer else 1.0
    torch.testing.assert_close(out, pre * mask * scale)
    expected_eval = pre if layer_cls is DenseLayer else 0.6 * pre
    torch.testing.assert_close(layer(x, inference=True), expected_eval)
    assert layer.training  # inference=True does not switch modes
    layer.eval()
    torch.testing.assert_close(layer(x), expected_eval)


def test_dense_layer_inference_skips_nn_dropout() -> None:
    layer = DenseLayer(5, 4, dropout=0.5)
    x = randn(6, 5, dtype=torch.float32)
    torch.testing.assert_close(layer(x, inference=True), layer.linear(x), rtol=0, atol=0)


def test_dense_init_schemes() -> None:
    std = book_glorot_std(300, 200)
    assert std == pytest.approx(math.sqrt(2 / 500))
    glorot = Dense(300, 200, weight_init="glorot", generator=gen(0))
    assert glorot.linear.weight.std().item() == pytest.approx(std, rel=0.02)
    assert glorot.linear.bias.std().item() == pytest.approx(std, rel=0.2)  # the book draws B like W
    standard = Dense(300, 200, generator=gen(0))
    assert standard.linear.weight.std().item() == pytest.approx(1.0, rel=0.02)
    torch.manual_seed(11)
    reference = nn.Linear(7, 3)
    default = DenseLayer(7, 3, generator=gen(11))
    assert torch.equal(default.linear.weight, reference.weight)  # nn.Linear's init, from our generator
    assert torch.equal(default.linear.bias, reference.bias)


def test_dense_generator_reproducible_and_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    a = Dense(6, 4, weight_init="glorot", generator=gen(5))
    b = Dense(6, 4, weight_init="glorot", generator=gen(5))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.linear.weight, b.linear.weight)
    assert torch.equal(a.linear.bias, b.linear.bias)


@pytest.mark.parametrize("dtype", DTYPES)
def test_init_functions(dtype: torch.dtype) -> None:
    w = torch.empty(400, 600, dtype=dtype)
    glorot_normal_(w, gen(1))
    assert w.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    standard_normal_(w, gen(2))
    assert w.std().item() == pytest.approx(1.0, rel=0.02)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        glorot_normal_(torch.empty(5))


def test_dense_bad_inputs() -> None:
    layer = Dense(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"must be a 2-D tensor \[batch, features\]; received shape \(3,\)"):
        layer(torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"must have 3 features .*received shape \(2, 4\)"):
        layer(torch.ones(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"floating-point dtype .*received dtype torch.int64"):
        layer(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"finite values; received 1 NaN/inf"):
        layer(torch.tensor([[1.0, float("nan"), 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"non-empty batch; received shape \(0, 3\)"):
        layer(torch.ones(0, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"dtype of the layer's weight \(torch.float64\)"):
        layer(torch.ones(2, 3, dtype=torch.float32))
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        layer(np.ones((2, 3)))
    with pytest.raises(TypeError, match="received the class Tanh itself"):
        Dense(3, 2, Tanh)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"dropout must be a keep probability in \(0, 1\]; received 0"):
        Dense(3, 2, dropout=0)
    with pytest.raises(ValueError, match="weight_init must be one of"):
        Dense(3, 2, weight_init="xavier")
    with pytest.raises(ValueError, match="neurons must be an integer >= 1"):
        DenseLayer(3, 0)
    with pytest.raises(ValueError, match=r"WeightMultiply input must have 3 features"):
        WeightMultiply(3, 2)(torch.ones(2, 4))


def test_sequential_model_passes_inference_and_plain_modules() -> None:
    model = SequentialModel(Dense(4, 3, Tanh(), dropout=0.5, generator=gen()), nn.Identity(), Dense(3, 1))
    x = randn(5, 4, dtype=torch.float32)
    first, last = model.layers[0], model.layers[2]
    assert isinstance(first, Dense)
    assert isinstance(last, Dense)
    hidden = torch.tanh(first.linear(x))
    torch.testing.assert_close(model(x, inference=True), last.linear(0.5 * hidden))  # book dropout: keep * x
    assert model.training
    assert next(iter(model.state_dict())) == "layers.0.linear.weight"
    with pytest.raises(ValueError, match="at least one"):
        SequentialModel()
    with pytest.raises(TypeError, match=r"layers\[0\] must be an nn\.Module instance"):
        SequentialModel("dense")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_relations_to_torch(dtype: torch.dtype) -> None:
    p = randn(6, 4, dtype=dtype, seed=1).requires_grad_(True)
    y = randn(6, 4, dtype=dtype, seed=2)
    loss = MeanSquaredError()(p, y)
    assert loss.dim() == 0
    assert loss.dtype == dtype
    torch.testing.assert_close(loss, F.mse_loss(p, y, reduction="sum") / 6)
    torch.testing.assert_close(loss, 4 * nn.MSELoss()(p, y))  # ratio = elements per row
    (grad,) = torch.autograd.grad(loss, p)
    torch.testing.assert_close(grad, 2 * (p - y).detach() / 6)


def test_mse_normalize_true_gradient() -> None:
    p = (randn(4, 3, seed=3).abs() + 0.5).requires_grad_(True)
    y = randn(4, 3, seed=4)
    loss = MeanSquaredError(normalize=True)
    q = p.detach() / p.detach().sum(1, keepdim=True)
    torch.testing.assert_close(loss(p, y), ((q - y) ** 2).sum() / 4)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (p,))
    with pytest.raises(ValueError, match="row 1 sums to 0"):
        loss(torch.tensor([[1.0, 1.0], [1.0, -1.0]]), torch.zeros(2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_equals_torch(dtype: torch.dtype) -> None:
    x = randn(5, 4, dtype=dtype, seed=5).requires_grad_(True)
    labels = [0, 3, 1, 1, 2]
    y = one_hot(labels, 4, dtype)
    sce = SoftmaxCrossEntropy()
    loss = sce(x, y)
    torch.testing.assert_close(loss, F.cross_entropy(x, y))
    torch.testing.assert_close(loss, F.cross_entropy(x, torch.tensor(labels)))
    (grad,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(grad, (torch.softmax(x, 1) - y).detach() / 5)


def test_book_value_is_bce_of_softmax() -> None:
    x = randn(5, 4, seed=6)
    y = one_hot([0, 3, 1, 1, 2], 4)
    expected = F.binary_cross_entropy(torch.softmax(x, 1), y, reduction="sum") / 5
    torch.testing.assert_close(SoftmaxCrossEntropy().book_value(x, y), expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_finite_for_huge_logits(dtype: torch.dtype) -> None:
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [1e4, -1e4, -1e4]], dtype=dtype, requires_grad=True)
    y = one_hot([0, 0, 2], 3, dtype)
    sce = SoftmaxCrossEntropy()
    loss = sce(x, y)
    loss.backward()
    assert x.grad is not None
    assert torch.isfinite(loss)
    assert torch.isfinite(x.grad).all()
    assert loss.item() == pytest.approx(4e4 / 3)
    assert torch.isfinite(sce.book_value(x, y))
    assert torch.isfinite(MeanSquaredError()(x, y))


def test_loss_bad_inputs() -> None:
    sce, mse = SoftmaxCrossEntropy(), MeanSquaredError()
    x = randn(3, 3)
    with pytest.raises(ValueError, match=r"must be one-hot .*target\[1\] is \[0.5, 0.5, 0.0\]"):
        sce(x, torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0, 0, 1]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"target\[0\] is"):
        sce(x, torch.tensor([[1.0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 2 classes"):
        sce(randn(3, 1), torch.ones(3, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"target must have the same shape as .* \(3, 3\); received shape \(3, 2\)"):
        mse(x, randn(3, 2))
    with pytest.raises(TypeError, match="target must have a floating-point dtype"):
        sce(x, torch.eye(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="prediction must contain only finite values"):
        mse(torch.full((2, 2), float("nan")), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="eps must be > 0"):
        SoftmaxCrossEntropy(eps=0)


# --------------------------------------------------------------------------------------------------------
# Optimizer and schedulers
# --------------------------------------------------------------------------------------------------------
def _quadratic_run(
    make_opt: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    lrs_per_step: list[float] | None = None,
    steps: int = 6,
) -> torch.Tensor:
    """Minimise 0.5 Σ a p² from a fixed start; return the parameter after ``steps`` steps."""
    a = torch.tensor([1.0, 3.0, 0.5], dtype=torch.float64)
    p = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64, requires_grad=True)
    opt = make_opt([p])
    for t in range(steps):
        if lrs_per_step is not None:
            opt.param_groups[0]["lr"] = lrs_per_step[t]
        opt.zero_grad()
        (0.5 * (a * p * p).sum()).backward()
        opt.step()
    return p.detach()


def test_book_momentum_hand_computed_three_steps() -> None:
    lr, mu = 0.1, 0.9
    p = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    opt = SGDMomentum([p], lr=lr, momentum=mu)
    grads = [[1.0, -2.0], [0.5, 0.25], [-3.0, 1.0]]
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    # v1 = lr g1; v2 = mu v1 + lr g2; v3 = mu v2 + lr g3; p3 = p0 - v1 - v2 - v3
    expected = []
    for i, p0 in enumerate([2.0, -1.0]):
        v1 = lr * grads[0][i]
        v2 = mu * v1 + lr * grads[1][i]
        v3 = mu * v2 + lr * grads[2][i]
        expected.append(p0 - v1 - v2 - v3)
    assert p.detach().tolist() == pytest.approx(expected, abs=1e-15)


def test_book_momentum_equals_torch_sgd_at_constant_lr_and_differs_under_decay() -> None:
    book = _quadratic_run(lambda ps: SGDMomentum(ps, lr=0.05, momentum=0.9))
    torch_sgd = _quadratic_run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9))
    assert (book - torch_sgd).abs().max().item() <= 1e-15
    decayed = [0.05 - e * (0.05 - 0.01) / 5 for e in range(6)]  # the book's linear decay over 6 steps
    book_d = _quadratic_run(lambda ps: SGDMomentum(ps, lr=0.05, momentum=0.9), decayed)
    torch_d = _quadratic_run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), decayed)
    assert (book_d - torch_d).abs().max().item() > 1e-3


def test_book_momentum_driven_by_linear_lr_scheduler_differs_from_torch_sgd() -> None:
    def run(opt_cls: Any) -> torch.Tensor:
        p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt = opt_cls([p], lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=4)
        for _ in range(5):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
            sched.step()
        return p.detach()

    assert (run(SGDMomentum) - run(torch.optim.SGD)).abs().max().item() > 1e-3


@pytest.mark.parametrize("decay_type", ["linear", "exponential"])
def test_book_lr_scheduler_closed_forms(decay_type: str) -> None:
    lr0, lrf, epochs = 0.2, 0.05, 6
    opt = SGDMomentum([nn.Parameter(torch.zeros(1))], lr=lr0)
    sched = book_lr_scheduler(opt, decay_type, lrf, epochs)
    assert sched is not None
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    if decay_type == "linear":
        expected = [lr0 - e * (lr0 - lrf) / (epochs - 1) for e in range(epochs)]
    else:
        expected = [lr0 * (lrf / lr0) ** (e / (epochs - 1)) for e in range(epochs)]
    assert lrs == pytest.approx(expected, rel=1e-14, abs=1e-16)
    assert lrs[-1] == pytest.approx(lrf, rel=1e-14)


def test_book_lr_scheduler_none_and_bad_inputs() -> None:
    opt = SGDMomentum([nn.Parameter(torch.zeros(1))], lr=0.1)
    assert book_lr_scheduler(opt, None, 0.0, 1) is None
    with pytest.raises(ValueError, match=r"decay_type must be one of .*received 'cosine'"):
        book_lr_scheduler(opt, "cosine", 0.01, 5)
    with pytest.raises(ValueError, match=r"final_lr must be <= lr for decay \(lr=0.1\); received final_lr=0.2"):
        book_lr_scheduler(opt, "linear", 0.2, 5)
    with pytest.raises(ValueError, match="final_lr must be > 0 for exponential decay"):
        book_lr_scheduler(opt, "exponential", 0, 5)
    with pytest.raises(ValueError, match="epochs must be >= 2 for learning-rate decay; received epochs=1"):
        book_lr_scheduler(opt, "linear", 0.01, 1)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; received 0"):
        book_lr_scheduler(opt, "linear", 0.01, 0)
    with pytest.raises(ValueError, match="final_lr must be >= 0"):
        book_lr_scheduler(opt, "linear", -0.01, 5)


def test_book_momentum_bad_inputs() -> None:
    params = [nn.Parameter(torch.zeros(2))]
    for lr in (0, -0.1):
        with pytest.raises(ValueError, match=f"lr must be > 0; received {lr}"):
            SGDMomentum(params, lr=lr)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\); received 1.0"):
        SGDMomentum(params, lr=0.1, momentum=1.0)
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGDMomentum(params, lr="0.1")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# PyTorchTrainer
# --------------------------------------------------------------------------------------------------------
def _regression_data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.05 * rng.normal(size=(n, 1))
    return X[:40], y[:40], X[40:], y[40:]


def _mlp(seed: int, dropout: float = 1.0, dtype: torch.dtype = torch.float64) -> SequentialModel:
    g = gen(seed)
    return SequentialModel(
        Dense(3, 8, Tanh(), dropout=dropout, weight_init="glorot", generator=g, dtype=dtype),
        Dense(8, 1, weight_init="glorot", generator=g, dtype=dtype),
    )


def _train(model: nn.Module, lr: float = 0.05, **kwargs: Any) -> tuple[PyTorchTrainer, TrainingHistory]:
    trainer = PyTorchTrainer(model, SGDMomentum(model.parameters(), lr=lr), MeanSquaredError())
    options: dict[str, Any] = {
        "epochs": 20,
        "eval_every": 5,
        "batch_size": 8,
        "seed": 3,
        "verbose": False,
        "progress": False,
    }
    options.update(kwargs)
    history = trainer.fit(*_regression_data(), **options)
    return trainer, history


def test_trainer_loss_decreases_and_history() -> None:
    _, history = _train(_mlp(0))
    assert history.train_losses[-1] < 0.2 * history.train_losses[0]
    assert history.eval_epochs == [5, 10, 15, 20]
    assert len(history.lrs) == len(history.train_losses) == 20
    assert history.best_epoch == 20
    assert not history.stopped_early
    assert history.best_loss == history.val_losses[-1]


def test_trainer_same_seed_gives_bit_identical_weights() -> None:
    a, b = _mlp(4, dropout=0.8), _mlp(4, dropout=0.8)
    _train(a, epochs=6)
    _train(b, epochs=6)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    c = _mlp(4, dropout=0.8)
    _train(c, epochs=6, seed=99)
    assert not torch.equal(c.state_dict()["layers.0.linear.weight"], a.state_dict()["layers.0.linear.weight"])


def test_trainer_early_stopping_restores_best_evaluated_weights(capsys: pytest.CaptureFixture[str]) -> None:
    # Full-batch gradient descent with lr far above 2 / curvature: every step overshoots further, so the
    # first evaluation (epoch 1) is the best and the second one (epoch 2) triggers early stopping.
    X, y, Xv, yv = _regression_data()
    kwargs: dict[str, Any] = {"epochs": 10, "eval_every": 1, "batch_size": 40, "seed": 0, "progress": False}

    def make() -> tuple[SequentialModel, PyTorchTrainer]:
        model = SequentialModel(Dense(3, 1, generator=gen(2), dtype=torch.float64))
        return model, PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=1.5), MeanSquaredError())

    model, trainer = make()
    history = trainer.fit(X, y, Xv, yv, **kwargs)
    assert history.stopped_early
    assert history.best_epoch == 1
    assert history.eval_epochs == [1, 2]
    assert history.val_losses[1] > history.val_losses[0]
    out = capsys.readouterr().out
    assert f"Validation loss after 1 epochs is {history.val_losses[0]:.3f}" in out
    best = f"{history.val_losses[0]:.3f}"
    assert f"Loss increased after epoch 2, final loss was {best}, using the model from epoch 1" in out
    reference, ref_trainer = make()
    ref_trainer.fit(X, y, Xv, yv, **{**kwargs, "epochs": 1, "verbose": False})
    for name, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    # without early stopping the run goes on to the end and keeps its (worse) weights
    _model2, trainer2 = make()
    history2 = trainer2.fit(X, y, Xv, yv, **{**kwargs, "early_stopping": False, "verbose": False})
    assert not history2.stopped_early
    assert history2.eval_epochs == list(range(1, 11))


class _ModeRecorder(PyTorchLayer):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1, dtype=torch.float64)
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x: torch.Tensor, inference: bool = False) -> torch.Tensor:
        self.seen.append((self.training, inference, torch.is_grad_enabled()))
        return self.linear(x)


def test_trainer_modes_scheduler_and_lrs() -> None:
    model = SequentialModel(_ModeRecorder())
    model.eval()
    opt = SGDMomentum(model.parameters(), lr=0.1)
    sched = book_lr_scheduler(opt, "linear", 0.02, 4)
    trainer = PyTorchTrainer(model, opt, MeanSquaredError())
    X, y, Xv, yv = _regression_data()
    history = trainer.fit(X, y, Xv, yv, epochs=4, eval_every=2, batch_size=20, scheduler=sched, progress=False)
    assert history.lrs == pytest.approx([0.1, 0.1 - 0.08 / 3, 0.1 - 0.16 / 3, 0.02])
    recorder = model.layers[0]
    assert isinstance(recorder, _ModeRecorder)
    per_epoch = [(True, False, True)] * 2
    evaluation = [(False, True, False)]
    assert recorder.seen == per_epoch * 2 + evaluation + per_epoch * 2 + evaluation
    assert not model.training  # the mode it had before fit


def test_trainer_accepts_tensors_float32_and_class_labels() -> None:
    X, y, Xv, yv = _regression_data()
    model = _mlp(1, dtype=torch.float32)
    trainer = PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.01), MeanSquaredError())
    Xt, yvt = torch.from_numpy(X), torch.from_numpy(yv)
    history = trainer.fit(Xt, y, Xv, yvt, epochs=2, eval_every=1, verbose=False, progress=False)
    assert len(history.val_losses) == 2
    assert all(math.isfinite(v) for v in history.val_losses)
    labels = (X[:, 0] > 0).astype(np.int64)
    clf = SequentialModel(Dense(3, 2, generator=gen(0)))
    clf_trainer = PyTorchTrainer(clf, torch.optim.SGD(clf.parameters(), lr=0.1), nn.CrossEntropyLoss())
    stream = io.StringIO()
    val_labels = (Xv[:, 0] > 0).astype(np.int64)
    clf_trainer.fit(X, labels, Xv, val_labels, epochs=2, eval_every=1, verbose=False, stream=stream, progress=True)
    assert "epoch 2/2" in stream.getvalue()


def test_trainer_bad_inputs() -> None:
    X, y, Xv, yv = _regression_data()
    model = _mlp(0)
    trainer = PyTorchTrainer(model, SGDMomentum(model.parameters(), lr=0.1), MeanSquaredError())
    for name in ("epochs", "eval_every", "batch_size"):
        bad_option: dict[str, Any] = {name: 0}
        with pytest.raises(ValueError, match=f"{name} must be an integer >= 1; received 0"):
            trainer.fit(X, y, Xv, yv, **bad_option)
    with pytest.raises(TypeError, match="epochs must be an integer"):
        trainer.fit(X, y, Xv, yv, epochs=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"y_train must have 40 rows like X_train; received shape \(39, 1\)"):
        trainer.fit(X, y[:39], Xv, yv)
    with pytest.raises(TypeError, match="X_train must have a floating-point dtype; received dtype int64"):
        trainer.fit(X.astype(np.int64), y, Xv, yv)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_train must contain only finite values"):
        trainer.fit(bad, y, Xv, yv)
    with pytest.raises(ValueError, match=r"X_test must be a non-empty batch; received shape \(0, 3\)"):
        trainer.fit(X, y, Xv[:0], yv[:0])
    with pytest.raises(TypeError, match=r"X_train must be a numpy\.ndarray or a torch\.Tensor; received list"):
        trainer.fit(X.tolist(), y, Xv, yv)
    with pytest.raises(TypeError, match=r"criterion must be a loss instance such as MeanSquaredError\(\)"):
        PyTorchTrainer(model, trainer.optim, MeanSquaredError)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"optim must be a torch\.optim\.Optimizer instance"):
        PyTorchTrainer(model, "sgd", MeanSquaredError())  # type: ignore[arg-type]
