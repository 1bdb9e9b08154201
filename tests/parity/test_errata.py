"""Errata of the book's code (chapters 1-5) and the behavioural differences the porting guide states.

Every ``test_erratum_*`` test does two things:

1. it re-implements the book's flawed formula inline, in a few lines (from the defect's description in the
   porting guide), and shows that it disagrees with the truth;
2. it shows that ``scratch`` (and, where there is one, its ``torch_impl`` twin) agrees with the truth, where
   the truth is torch autograd, central differences or a statistical expectation.

``test_difference_*`` tests pin the guide's statements about places where the book and torch legitimately
differ (conventions, not bugs): learning-rate scale in chapter 2, momentum under decay, MSE normalisation,
dropout scaling, the chapter 7 schedule, max-pool ties (the book has no pooling code).

The porting guide (docs/porting-guide.md, "Errata") links to each test here by name;
``tests/scratch/test_guide.py`` checks that every linked test exists. Everything runs in float64
(the float32 erratum excepted) with explicit seeds, and the whole file takes a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

import scratch
import torch_impl as ti
from parity_tests.converters import dense_stack
from parity_tests.port import relative_error
from parity_tests.tolerances import FD_EPS, FD_TOLERANCE, TOLERANCES
from scratch import linear_regression as s_lr
from scratch import one_hidden_layer as s_nn

from .schedules import torch_lrs

TOL = TOLERANCES["float64"]["gradient"]  # 1e-12
TRAJ_TOL = TOLERANCES["float64"]["trajectory"]  # 1e-10
DEFECT = 1e-2  # a book formula "differs from the truth" when its error is at least this large


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want|, with ``port.relative_error``, refusing a near-zero reference."""
    return relative_error(got, want, min_scale=1e-8)


def central_diff(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = FD_EPS) -> np.ndarray:
    """Central differences of the scalar function ``f`` at ``x`` (float64, one entry at a time)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (f(plus) - f(minus)) / (2.0 * eps)
    return grad


def one_hot(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    return np.eye(c)[rng.integers(0, c, size=n)]


def t64(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


def as_np(t: torch.Tensor | None) -> np.ndarray:
    assert t is not None
    return t.detach().cpu().numpy().copy()


# ---------------------------------------------------------------------------------------------------------
# Guide E1. ReLU backward
# ---------------------------------------------------------------------------------------------------------


def test_erratum_relu_backward_masks_on_input() -> None:
    rng = np.random.default_rng(101)
    x = rng.standard_normal((5, 7))
    x[0, :3] = [0.0, -2.0, -0.5]  # exactly zero and clearly negative entries
    g = rng.standard_normal(x.shape)
    off = x <= 0
    assert off.sum() >= 3

    # The book: the mask is taken on the clipped OUTPUT with >=, which is always true.
    book_out = np.clip(x, 0, None)
    book_grad = g * (book_out >= 0)

    # Truth: torch autograd (0 where x <= 0, including exactly 0).
    xt = t64(x, requires_grad=True)
    torch.relu(xt).backward(t64(g))
    truth = as_np(xt.grad)
    assert np.all(truth[off] == 0)
    assert np.max(np.abs(book_grad - truth)) >= np.min(np.abs(g[off])) > 0  # the book passes g through

    # scratch: exact, and equal to central differences away from the kink.
    relu = scratch.ReLU()
    relu.forward(x.copy())
    got = relu.backward(g.copy())
    np.testing.assert_array_equal(got, truth)
    far = np.abs(x) > 1e-3
    fd = central_diff(lambda z: float(np.sum(np.maximum(z, 0) * g)), x)
    assert np.max(np.abs(got[far] - fd[far])) < FD_TOLERANCE

    # torch_impl twin.
    xt2 = t64(x, requires_grad=True)
    ti.ReLU()(xt2).backward(t64(g))
    np.testing.assert_array_equal(as_np(xt2.grad), truth)


# ---------------------------------------------------------------------------------------------------------
# Guide E2-E4. SoftmaxCrossEntropy: its value, its float32 clip, a single column
# ---------------------------------------------------------------------------------------------------------


def _book_sce_value(logits: np.ndarray, target: np.ndarray, eps: float = 1e-9) -> float:
    """The book's printed value: clipped softmax, then BCE-style sum over every entry, divided by N."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = np.clip(e / e.sum(axis=1, keepdims=True), eps, 1 - eps)
    return float(np.sum(-target * np.log(p) - (1 - target) * np.log(1 - p)) / logits.shape[0])


def test_erratum_softmax_cross_entropy_value_matches_its_gradient() -> None:
    rng = np.random.default_rng(202)
    x = rng.standard_normal((6, 4)) * 1.5
    y = one_hot(rng, 6, 4)

    loss = scratch.SoftmaxCrossEntropy()
    value = loss.forward(x.copy(), y)
    grad = loss.backward()

    def scratch_value(z: np.ndarray) -> float:
        return scratch.SoftmaxCrossEntropy().forward(z, y)

    # scratch's value is the function its gradient differentiates...
    assert rel_err(grad, central_diff(scratch_value, x)) < FD_TOLERANCE
    # ...the book's value is not (its gradient is the same (p - y)/N).
    assert rel_err(grad, central_diff(lambda z: _book_sce_value(z, y), x)) > DEFECT
    assert abs(_book_sce_value(x, y) - value) > DEFECT
    assert loss.book_value() == pytest.approx(_book_sce_value(x, y), rel=1e-12)

    # Truth: torch's categorical cross-entropy (mean over rows) and its autograd gradient.
    xt = t64(x, requires_grad=True)
    ce = F.cross_entropy(xt, t64(y))
    ce.backward()
    assert value == pytest.approx(ce.item(), rel=TOL)
    assert rel_err(grad, as_np(xt.grad)) < TOL

    # torch_impl twin: the same value and gradient.
    xt2 = t64(x, requires_grad=True)
    twin = ti.SoftmaxCrossEntropy()(xt2, t64(y))
    twin.backward()
    assert twin.item() == pytest.approx(ce.item(), rel=TOL)
    assert rel_err(as_np(xt2.grad), as_np(xt.grad)) < TOL


def test_erratum_softmax_cross_entropy_float32_clip_is_not_finite() -> None:
    rng = np.random.default_rng(203)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x[0, 1] = 40.0  # row 0: the target class saturates (p rounds to 1 in float32)
    x[1, 2] = 40.0  # row 1: a wrong class saturates
    y = np.zeros((3, 4), dtype=np.float32)
    y[0, 1] = y[1, 0] = y[2, 3] = 1.0

    # The book in float32: 1 - 1e-9 rounds to 1.0, so log(1 - p) is log(0).
    assert np.float32(1 - 1e-9) == np.float32(1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        book = _book_sce_value(x, y)
    assert not math.isfinite(book)

    # scratch and the torch twin stay finite and equal torch's cross-entropy.
    value = scratch.SoftmaxCrossEntropy().forward(x, y)
    reference = float(F.cross_entropy(torch.from_numpy(x).double(), torch.from_numpy(y).double()))
    assert math.isfinite(value)
    assert value == pytest.approx(reference, rel=1e-5)
    twin = float(ti.SoftmaxCrossEntropy()(torch.from_numpy(x), torch.from_numpy(y)))
    assert math.isfinite(twin)
    assert twin == pytest.approx(reference, rel=1e-5)


def test_erratum_softmax_cross_entropy_single_column_is_rejected() -> None:
    rng = np.random.default_rng(204)
    y = (rng.random((5, 1)) < 0.5).astype(np.float64)
    y[0, 0], y[1, 0] = 0.0, 1.0
    x1, x2 = rng.standard_normal((5, 1)), 3.0 * rng.standard_normal((5, 1))

    # The book: its single-class branch tests target.shape[1] == 0, so a 1-column target is softmaxed over
    # one column: p == 1 whatever the logits, and the value carries no information about them.
    assert y.shape[1] != 0
    v1, v2 = _book_sce_value(x1, y), _book_sce_value(x2, y)
    assert v1 == v2
    assert np.all(central_diff(lambda z: _book_sce_value(z, y), x1) == 0)

    # scratch and the torch twin refuse the input instead of training on a constant.
    with pytest.raises(ValueError, match="at least 2 classes"):
        scratch.SoftmaxCrossEntropy().forward(x1, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ti.SoftmaxCrossEntropy()(t64(x1), t64(y))


# ---------------------------------------------------------------------------------------------------------
# Guide E5. MeanSquaredError(normalize=True) gradient
# ---------------------------------------------------------------------------------------------------------


def test_erratum_mse_normalize_gradient_includes_the_normalisation() -> None:
    rng = np.random.default_rng(303)
    p = rng.uniform(0.5, 2.0, size=(5, 3))  # positive rows: the row sums are far from 0
    y = rng.uniform(0.0, 1.0, size=(5, 3))
    n = p.shape[0]

    # The book: normalise in the forward pass, but differentiate as if there were no normalisation.
    q = p / p.sum(axis=1, keepdims=True)
    book_grad = 2.0 * (q - y) / n

    loss = scratch.MeanSquaredError(normalize=True)
    loss.forward(p.copy(), y)
    grad = loss.backward()

    fd = central_diff(lambda z: scratch.MeanSquaredError(normalize=True).forward(z, y), p)
    assert rel_err(grad, fd) < FD_TOLERANCE
    assert rel_err(book_grad, fd) > DEFECT

    # Truth by autograd of the same formula, and the torch_impl twin.
    pt = t64(p, requires_grad=True)
    qt = pt / pt.sum(dim=1, keepdim=True)
    ((qt - t64(y)) ** 2).sum().div(n).backward()
    assert rel_err(grad, as_np(pt.grad)) < TOL
    pt2 = t64(p, requires_grad=True)
    ti.MeanSquaredError(normalize=True)(pt2, t64(y)).backward()
    assert rel_err(as_np(pt2.grad), as_np(pt.grad)) < TOL


# ---------------------------------------------------------------------------------------------------------
# Guide E6. Glorot scale
# ---------------------------------------------------------------------------------------------------------


def assert_normal_sample(sample: np.ndarray, std: float, n_se: float = 5.0) -> None:
    """The sample's mean is 0 and its standard deviation is ``std``, each within ``n_se`` standard errors
    (for n normal draws: se(mean) = std / sqrt(n), se(std) ~ std / sqrt(2 n))."""
    flat = np.asarray(sample, dtype=np.float64).reshape(-1)
    n = flat.size
    assert abs(flat.mean()) < n_se * std / math.sqrt(n), f"mean {flat.mean():.3g} is not 0 (std {std:.3g})"
    assert abs(flat.std(ddof=1) - std) < n_se * std / math.sqrt(2 * n), (
        f"sample std {flat.std(ddof=1):.5g} is not {std:.5g} (n = {n})"
    )


def test_erratum_glorot_std_is_the_square_root_of_2_over_fan_sum() -> None:
    n_in, n_out = 300, 500
    truth = math.sqrt(2.0 / (n_in + n_out))  # 0.05
    book_std = 2.0 / (n_in + n_out)  # 0.0025: the variance used as a standard deviation
    assert truth / book_std > 10

    # The checker can fail: a book-scaled sample is rejected.
    book_sample = np.random.default_rng(404).normal(0.0, book_std, size=(n_in, n_out))
    with pytest.raises(AssertionError):
        assert_normal_sample(book_sample, truth)

    # scratch.Dense(weight_init="glorot"): W and B.
    layer = scratch.Dense(n_out, weight_init="glorot", rng=np.random.default_rng(405))
    layer.forward(np.random.default_rng(406).standard_normal((2, n_in)))
    W, B = layer.params
    assert W.shape == (n_in, n_out)
    assert_normal_sample(W, truth)
    assert_normal_sample(B, truth)
    assert W.std() > 10 * book_std

    # torch_impl: the init function and the Dense twin (weight [out, in]; bias drawn like the book's B).
    w = ti.glorot_normal_(torch.empty(n_out, n_in, dtype=torch.float64), generator=torch.Generator().manual_seed(407))
    assert_normal_sample(as_np(w), truth)
    assert ti.book_glorot_std(n_in, n_out) == pytest.approx(truth, rel=1e-15)
    dense = ti.Dense(
        n_in, n_out, weight_init="glorot", generator=torch.Generator().manual_seed(408), dtype=torch.float64
    )
    assert_normal_sample(as_np(dense.linear.weight), truth)
    assert_normal_sample(as_np(dense.linear.bias), truth)
    # torch's own xavier_normal_ has the same scale.
    xavier = nn.init.xavier_normal_(
        torch.empty(n_out, n_in, dtype=torch.float64), generator=torch.Generator().manual_seed(409)
    )
    assert_normal_sample(as_np(xavier), truth)


# ---------------------------------------------------------------------------------------------------------
# Guide E7. Early stopping
# ---------------------------------------------------------------------------------------------------------

ES_EPOCHS, ES_EVAL_EVERY, ES_LR, ES_SEED = 30, 3, 0.01, 5
# The fit arguments both trainers get in the early-stopping scenario (the data comes first, positionally).
ES_FIT: dict[str, Any] = {"epochs": ES_EPOCHS, "eval_every": ES_EVAL_EVERY, "batch_size": 16, "seed": ES_SEED}


def _early_stopping_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Train and validation targets that disagree in one direction, so the validation loss first falls
    and then rises; the start weights point away from both."""
    rng = np.random.default_rng(2024)
    X_train = rng.standard_normal((64, 2))
    y_train = X_train @ np.array([[1.0], [1.0]]) + 0.1 * rng.standard_normal((64, 1))
    X_test = rng.standard_normal((40, 2))
    y_test = X_test @ np.array([[1.0], [-1.0]]) + 0.1 * rng.standard_normal((40, 1))
    start = [np.array([[-1.0], [-1.2]]), np.array([[0.3]])]
    return X_train, y_train, X_test, y_test, start


class _SnapshotSGD(scratch.SGD):
    """SGD that records the network's parameters after every epoch (the Trainer calls ``_decay_lr`` once at
    the end of each epoch that is not cut short by early stopping)."""

    def __init__(self, lr: float) -> None:
        super().__init__(lr)
        self.snapshots: list[list[np.ndarray]] = []

    def _decay_lr(self) -> None:
        self.snapshots.append([p.copy() for p in self.net.params()])
        super()._decay_lr()


def _scratch_es_run(early_stopping: bool) -> tuple[scratch.NeuralNetwork, _SnapshotSGD, Any]:
    X_train, y_train, X_test, y_test, start = _early_stopping_data()
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=3)
    net.layers[0].load_params(start)
    optim = _SnapshotSGD(ES_LR)
    fit = scratch.Trainer(net, optim).fit
    history = fit(
        X_train, y_train, X_test, y_test, **ES_FIT, restart=False, early_stopping=early_stopping, progress=False
    )
    return net, optim, history


def test_erratum_early_stopping_restores_the_best_evaluated_model(capsys: pytest.CaptureFixture[str]) -> None:
    # Weights after every epoch, from a run without early stopping (identical up to the stop).
    _, recorder, _ = _scratch_es_run(early_stopping=False)
    after = recorder.snapshots  # after[k - 1] = parameters after k epochs

    net, _, history = _scratch_es_run(early_stopping=True)
    printed = capsys.readouterr().out
    assert history.stopped_early
    assert len(history.eval_epochs) >= 3, "the scenario must improve at least twice before it stops"
    stop = history.eval_epochs[-1]
    best = history.eval_epochs[int(np.argmin(history.val_losses))]
    assert history.best_epoch == best == history.eval_epochs[-2]

    # The book: it restores the copy taken at the start of the failing evaluation's epoch (the weights after
    # stop - 1 epochs) and prints stop - eval_every. With eval_every > 1 the two are different epochs.
    book_restored, book_printed = stop - 1, stop - ES_EVAL_EVERY
    assert book_restored != book_printed
    assert max(rel_err(a, b) for a, b in zip(after[book_restored - 1], after[best - 1], strict=True)) > DEFECT

    # scratch: the kept weights ARE the weights after the best evaluation, and the message names that epoch.
    for own, want in zip(net.params(), after[best - 1], strict=True):
        np.testing.assert_array_equal(own, want)
    assert f"using the model from epoch {best}" in printed

    # torch_impl twin: same stop, same epoch, same weights (the batches are shared through data.batching).
    X_train, y_train, X_test, y_test, start = _early_stopping_data()
    converter = dense_stack(1)
    state = {k: torch.from_numpy(v) for k, v in converter.to_torch({"0.W": start[0], "0.B": start[1]}).items()}

    def torch_run(early_stopping: bool) -> tuple[ti.SequentialModel, list[dict[str, np.ndarray]], Any]:
        model = ti.SequentialModel(ti.Dense(2, 1, dtype=torch.float64))
        model.load_state_dict(state)
        snapshots: list[dict[str, np.ndarray]] = []

        class Recorder:
            def step(self) -> None:
                snapshots.append({k: as_np(v) for k, v in model.state_dict().items()})

        trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=ES_LR), ti.MeanSquaredError())
        data = (X_train, y_train, X_test, y_test)
        hist = trainer.fit(*data, **ES_FIT, early_stopping=early_stopping, scheduler=Recorder(), progress=False)
        return model, snapshots, hist

    _, torch_after, _ = torch_run(early_stopping=False)
    model, _, torch_history = torch_run(early_stopping=True)
    assert capsys.readouterr().out.count(f"using the model from epoch {best}") == 1
    assert torch_history.eval_epochs == history.eval_epochs
    assert torch_history.best_epoch == best
    final = {k: as_np(v) for k, v in model.state_dict().items()}
    for key, value in final.items():
        np.testing.assert_array_equal(value, torch_after[best - 1][key])
    book_final = converter.to_book(final)
    for name, own in zip(converter.book_names, net.params(), strict=True):
        assert rel_err(own, book_final[name]) < TRAJ_TOL


# ---------------------------------------------------------------------------------------------------------
# Guide E8. Learning-rate decay: final_lr = 0 and epochs = 1
# ---------------------------------------------------------------------------------------------------------


def _book_linear_lrs(lr: float, final_lr: float, epochs: int) -> list[float]:
    """The book's per-epoch linear decay, including its ``if final_lr:`` guard."""
    decay = (lr - final_lr) / (epochs - 1)
    lrs = []
    for _ in range(epochs):
        lrs.append(lr)
        if final_lr:
            lr -= decay
    return lrs


def test_erratum_final_lr_zero_still_decays() -> None:
    lr, epochs = 0.08, 5
    truth = [lr * (1 - e / (epochs - 1)) for e in range(epochs)]  # 0.08, 0.06, 0.04, 0.02, 0.0

    book = _book_linear_lrs(lr, 0.0, epochs)
    assert book == [lr] * epochs  # the decay is silently switched off

    got = scratch.SGD(lr, final_lr=0.0, decay_type="linear").lr_schedule(epochs)
    np.testing.assert_allclose(got, truth, rtol=0, atol=1e-15)

    # Through the Trainer (the lr actually used in each epoch), and the torch twin's scheduler.
    rng = np.random.default_rng(606)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=1)
    history = scratch.Trainer(net, scratch.SGD(lr, 0.0, "linear")).fit(
        X, y, X, y, epochs=epochs, eval_every=epochs, batch_size=4, early_stopping=False, verbose=False, progress=False
    )
    np.testing.assert_allclose(history.lrs, truth, rtol=0, atol=1e-15)

    np.testing.assert_allclose(torch_lrs("linear", lr, 0.0, epochs), truth, rtol=0, atol=1e-15)


def test_erratum_decay_with_one_epoch_raises_value_error() -> None:
    with pytest.raises(ZeroDivisionError):
        _book_linear_lrs(0.1, 0.01, 1)  # the book: (lr - final_lr) / (epochs - 1)

    rng = np.random.default_rng(607)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError(), seed=1)
    trainer = scratch.Trainer(net, scratch.SGD(0.1, 0.01, "linear"))
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(X, y, X, y, epochs=1, eval_every=1, verbose=False, progress=False)
    # Without decay one epoch is fine.
    scratch.Trainer(net, scratch.SGD(0.1)).fit(X, y, X, y, epochs=1, eval_every=1, verbose=False, progress=False)

    optim = torch.optim.SGD([nn.Parameter(torch.zeros(2, dtype=torch.float64))], lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        ti.book_lr_scheduler(optim, "linear", 0.01, 1)


# ---------------------------------------------------------------------------------------------------------
# Guide E9. restart, loaded weights and the global RNG
# ---------------------------------------------------------------------------------------------------------


class _FirstStepSGD(scratch.SGD):
    """SGD that records the parameters the first update starts from (the weights training really used)."""

    first: list[np.ndarray] | None = None

    def step(self) -> None:
        if self.first is None:
            self.first = [p.copy() for p in self.net.params()]
        super().step()


def _two_layer_net(seed: int) -> scratch.NeuralNetwork:
    return scratch.NeuralNetwork([scratch.Dense(4, scratch.Tanh()), scratch.Dense(1)], scratch.MeanSquaredError(), seed)


def _first_weights(net: scratch.NeuralNetwork, restart: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(707)
    X, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 1))
    optim = _FirstStepSGD(0.01)
    scratch.Trainer(net, optim).fit(
        X, y, X, y, epochs=1, eval_every=1, batch_size=4, restart=restart, verbose=False, progress=False
    )
    assert optim.first is not None
    return optim.first


def test_erratum_restart_false_keeps_loaded_weights() -> None:
    rng = np.random.default_rng(708)
    loaded = [
        rng.standard_normal((3, 4)),
        rng.standard_normal((1, 4)),
        rng.standard_normal((4, 1)),
        rng.standard_normal((1, 1)),
    ]

    def loaded_net() -> scratch.NeuralNetwork:
        net = _two_layer_net(seed=7)
        net.layers[0].load_params(loaded[:2])
        net.layers[1].load_params(loaded[2:])
        return net

    # restart=False trains from the loaded weights.
    for got, want in zip(_first_weights(loaded_net(), restart=False), loaded, strict=True):
        np.testing.assert_array_equal(got, want)
    # restart=True (the book's default) would re-initialise, silently discarding the loaded weights: refused.
    with pytest.raises(ValueError, match=r"loaded with load_params into layer\(s\) \[0, 1\]"):
        _first_weights(loaded_net(), restart=True)
    # After an explicit reset the loaded weights are discarded on purpose and restart re-initialises...
    discarded = loaded_net()
    discarded.reset()
    assert discarded.loaded_layers() == []
    fresh = _first_weights(discarded, restart=True)
    assert all(not np.array_equal(a, b) for a, b in zip(fresh, loaded, strict=True))
    # ...and the re-initialisation is reproducible: it is the seed's own initialisation every time.
    for a, b in zip(fresh, _first_weights(_two_layer_net(seed=7), restart=True), strict=True):
        np.testing.assert_array_equal(a, b)
    other = _first_weights(_two_layer_net(seed=8), restart=True)
    assert not np.array_equal(fresh[0], other[0])


def test_erratum_same_shape_layers_get_different_weights() -> None:
    # The book reseeds NumPy's global generator in every layer's setup; the test does the same on a private
    # legacy RandomState, which behaves exactly like the global one.
    def book_setup(shape: tuple[int, int], seed: int, state: np.random.RandomState) -> np.ndarray:
        state.seed(seed)
        return state.normal(0.0, 1.0, size=shape)

    legacy = np.random.RandomState()
    np.testing.assert_array_equal(book_setup((5, 5), 1, legacy), book_setup((5, 5), 1, legacy))

    # scratch: an independent generator per layer, and NumPy's global generator is never touched (the
    # draws after training are those right after seeding). The global state is restored afterwards.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(12345)  # noqa: NPY002
        net = scratch.NeuralNetwork([scratch.Dense(5, scratch.Tanh()) for _ in range(3)], scratch.MeanSquaredError())
        first = _first_weights_5(net)
        after = np.random.random(4)  # noqa: NPY002
        np.random.seed(12345)  # noqa: NPY002
        np.testing.assert_array_equal(after, np.random.random(4))  # noqa: NPY002
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    W0, W1, W2 = first[0], first[2], first[4]
    assert W0.shape == W1.shape == W2.shape == (5, 5)
    assert not np.array_equal(W0, W1)
    assert not np.array_equal(W1, W2)
    assert rel_err(W0, W1) > DEFECT


def _first_weights_5(net: scratch.NeuralNetwork) -> list[np.ndarray]:
    rng = np.random.default_rng(709)
    X, y = rng.standard_normal((10, 5)), rng.standard_normal((10, 5))
    optim = _FirstStepSGD(0.01)
    scratch.Trainer(net, optim).fit(X, y, X, y, epochs=1, eval_every=1, batch_size=5, verbose=False, progress=False)
    assert optim.first is not None
    return optim.first


# ---------------------------------------------------------------------------------------------------------
# Guide E10. The shared default activation
# ---------------------------------------------------------------------------------------------------------


def test_erratum_default_activation_is_not_shared() -> None:
    # The book: a default argument evaluated once, so every default layer holds the same object.
    book_default = scratch.Linear()

    def book_dense_activation(activation: scratch.Operation = book_default) -> scratch.Operation:
        return activation

    shared = book_dense_activation()
    assert book_dense_activation() is shared
    rng = np.random.default_rng(808)
    g3 = rng.standard_normal((4, 3))
    shared.forward(rng.standard_normal((4, 3)))  # layer of width 3
    shared.forward(rng.standard_normal((4, 5)))  # layer of width 5 overwrites the stored state
    with pytest.raises(ValueError, match="shape"):
        shared.backward(g3)  # backward through the first layer now fails

    # scratch: every layer owns its activation, even when one instance is passed to several layers.
    assert scratch.Dense(3).activation is not scratch.Dense(5).activation
    tanh = scratch.Tanh()
    a, b = scratch.Dense(3, tanh), scratch.Dense(5, tanh)
    assert a.activation is not b.activation
    assert a.activation is not tanh

    # A network of default-activation layers of different widths trains, with torch's gradients.
    X, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    book_params = {
        "0.W": rng.standard_normal((4, 3)),
        "0.B": rng.standard_normal((1, 3)),
        "1.W": rng.standard_normal((3, 5)),
        "1.B": rng.standard_normal((1, 5)),
        "2.W": rng.standard_normal((5, 2)),
        "2.B": rng.standard_normal((1, 2)),
    }
    net = scratch.NeuralNetwork([scratch.Dense(3), scratch.Dense(5), scratch.Dense(2)], scratch.MeanSquaredError())
    for i, layer in enumerate(net.layers):
        layer.load_params([book_params[f"{i}.W"], book_params[f"{i}.B"]])
    net.train_batch(X, y)
    converter = dense_stack(3)
    model = ti.SequentialModel(*(ti.Dense(i, o, dtype=torch.float64) for i, o in ((4, 3), (3, 5), (5, 2))))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in converter.to_torch(book_params).items()})
    ti.MeanSquaredError()(model(t64(X)), t64(y)).backward()
    named = dict(model.named_parameters())
    torch_grads = converter.grads_to_book({k: as_np(named[k].grad) for k in converter.torch_names})
    for name, got in zip(converter.book_names, net.param_grads(), strict=True):
        assert rel_err(got, torch_grads[name]) < TOL, name


# ---------------------------------------------------------------------------------------------------------
# Guide E11. NeuralNetwork(loss=<class>)
# ---------------------------------------------------------------------------------------------------------


def test_erratum_loss_class_is_rejected_at_construction() -> None:
    rng = np.random.default_rng(909)
    p, y = rng.standard_normal((4, 1)), rng.standard_normal((4, 1))

    # The book's default is the class itself: the first loss call fails, far from the cause.
    book_loss: Any = scratch.MeanSquaredError
    with pytest.raises(TypeError):
        book_loss.forward(p, y)

    with pytest.raises(TypeError, match="instance"):
        scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError)  # type: ignore[arg-type]
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError())
    assert isinstance(net.loss, scratch.MeanSquaredError)

    model = ti.SequentialModel(ti.Dense(1, 1, dtype=torch.float64))
    with pytest.raises(TypeError, match="instance"):
        ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), ti.MeanSquaredError)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Chapter 5: convolution (guide errata E13-E17)
#
# Shared set-up: x [N, C_in, H, W], the book's kernel W [C_in, C_out, k, k], an upstream gradient G
# [N, C_out, H, W]; the truth is torch autograd through F.conv2d with weight = W.transpose(1, 0, 2, 3) and
# the book's padding k // 2 (odd k, stride 1: the output keeps the input's size).
# ---------------------------------------------------------------------------------------------------------


def _conv_case(
    seed: int, n: int = 4, c_in: int = 2, c_out: int = 3, size: int = 6, k: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random x, asymmetric W (book layout) and random G, in float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, size, size))
    W = rng.standard_normal((c_in, c_out, k, k))
    G = rng.standard_normal((n, c_out, size, size))
    assert not np.allclose(W, W[:, :, ::-1, ::-1])  # the kernel is not 180°-symmetric
    return x, W, G


def _torch_conv_grads(x: np.ndarray, W: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dL/dx, dL/dW in the book's layout) by autograd through F.conv2d with the book's padding k // 2."""
    xt = t64(x, requires_grad=True)
    weight = t64(np.ascontiguousarray(W.transpose(1, 0, 2, 3)), requires_grad=True)  # [C_out, C_in, k, k]
    F.conv2d(xt, weight, padding=W.shape[2] // 2).backward(t64(G))
    return as_np(xt.grad), as_np(weight.grad).transpose(1, 0, 2, 3)


def _scratch_conv_grads(op: scratch.ParamOperation, x: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    op.forward(x.copy())
    dx = op.backward(G.copy())
    return dx, op.param_grad


def _book_conv_input_grad(G: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The book's ``_input_grad``: pad G by k // 2 and correlate it with the kernel AS IT IS (no rotation):
    dx[n, c, h, w] = Σ_{o, i, j} G_pad[n, o, h + i, w + j] · W[c, o, i, j]."""
    k = W.shape[2]
    p = k // 2
    G_pad = np.pad(G, ((0, 0), (0, 0), (p, p), (p, p)))
    windows = sliding_window_view(G_pad, (k, k), axis=(2, 3))  # [N, C_out, H, W, k, k]
    return np.einsum("nohwij,coij->nchw", windows, W)


def _input_patches(x: np.ndarray, k: int) -> np.ndarray:
    """Every k x k patch of x padded by k // 2: ``[N, H, W, C_in·k·k]`` (sample, pixel, patch)."""
    p = k // 2
    windows = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), (k, k), axis=(2, 3))
    n, c, h, w = x.shape
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h, w, c * k * k)


def _book_conv_param_grad(x: np.ndarray, W: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The book's ``_param_grad``: patch rows ordered (pixel, sample), gradient rows (sample, pixel)."""
    c_in, c_out, k, _ = W.shape
    patches = _input_patches(x, k)  # [N, H, W, K]
    rows_pixel_sample = patches.transpose(1, 2, 0, 3).reshape(-1, c_in * k * k)  # the book: no sample-first transpose
    grad_rows = G.transpose(0, 2, 3, 1).reshape(-1, c_out)  # [(sample, pixel), C_out]
    dW = rows_pixel_sample.T @ grad_rows  # [K, C_out]
    return dW.reshape(c_in, k, k, c_out).transpose(0, 3, 1, 2)


def _book_conv_forward(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """The book's ``Conv2D_Op._output`` geometry: k // 2 zeros on each side, where the zero rows above and
    below are as wide as the image's HEIGHT plus padding; patches at range(H_pad - k + 1) on both axes; the
    result reshaped to [N, H·W, ...] and then [N, H, H, C_out]."""
    n, c, h, w = x.shape
    k = W.shape[2]
    p = k // 2
    rows = np.pad(x, ((0, 0), (0, 0), (0, 0), (p, p)))  # [N, C, H, W + 2p]
    band = np.zeros((n, c, p, h + 2 * p))  # the book builds the zero rows from the height
    x_pad = np.concatenate([band, rows, band], axis=2)  # a ValueError unless H == W
    m = x_pad.shape[2] - k + 1  # patches per axis, counted on the height
    patches = np.stack([x_pad[:, :, i : i + k, j : j + k] for i in range(m) for j in range(m)])
    flat = patches.transpose(1, 0, 2, 3, 4).reshape(n, h * w, -1)  # only fits when m == H, i.e. k is odd
    out = flat @ W.transpose(0, 2, 3, 1).reshape(c * k * k, -1)
    return out.reshape(n, h, h, -1).transpose(0, 3, 1, 2)


def test_erratum_conv_input_grad_rotates_the_kernel() -> None:
    x, W, G = _conv_case(1301)
    true_dx, _ = _torch_conv_grads(x, W, G)

    # The book: correlation with the unrotated kernel is wrong for an asymmetric kernel...
    assert rel_err(_book_conv_input_grad(G, W), true_dx) > DEFECT
    # ...and the missing 180° rotation is the whole defect: rotate the kernel and the formula is right.
    assert rel_err(_book_conv_input_grad(G, W[:, :, ::-1, ::-1]), true_dx) < TOL

    # torch computes this gradient as a transposed convolution with the same weight.
    weight = t64(np.ascontiguousarray(W.transpose(1, 0, 2, 3)))
    assert rel_err(as_np(F.conv_transpose2d(t64(G), weight, padding=W.shape[2] // 2)), true_dx) < TOL

    # It is right only for kernels that equal their own 180° rotation.
    symmetric = W + W[:, :, ::-1, ::-1]
    true_symmetric, _ = _torch_conv_grads(x, symmetric, G)
    assert rel_err(_book_conv_input_grad(G, symmetric), true_symmetric) < TOL

    # scratch (vectorised and loop) and the torch twin give the true gradient.
    for op in (scratch.Conv2D_Op(W.copy()), scratch.Conv2D_OpLoop(W.copy())):
        dx, _ = _scratch_conv_grads(op, x, G)
        assert rel_err(dx, true_dx) < TOL, type(op).__name__
    twin = ti.Conv2D_Op(2, 3, 3, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(t64(np.ascontiguousarray(W.transpose(1, 0, 2, 3))))
    xt = t64(x, requires_grad=True)
    twin(xt).backward(t64(G))
    assert rel_err(as_np(xt.grad), true_dx) < TOL


def test_erratum_conv_param_grad_keeps_samples_apart() -> None:
    x, W, G = _conv_case(1302, n=4)
    _, true_dW = _torch_conv_grads(x, W, G)

    # The book, batch of 4: each patch row is paired with a gradient row of another sample (or pixel).
    assert rel_err(_book_conv_param_grad(x, W, G), true_dW) > DEFECT
    # With the patch rows put in (sample, pixel) order, the same product is right.
    c_in, c_out, k, _ = W.shape
    fixed = _input_patches(x, k).reshape(-1, c_in * k * k).T @ G.transpose(0, 2, 3, 1).reshape(-1, c_out)
    assert rel_err(fixed.reshape(c_in, k, k, c_out).transpose(0, 3, 1, 2), true_dW) < TOL
    # With one sample both orders coincide, so the book is right for N = 1, and the sum of its per-sample
    # gradients is the batch gradient.
    per_sample = [_book_conv_param_grad(x[i : i + 1], W, G[i : i + 1]) for i in range(len(x))]
    for i, book_one in enumerate(per_sample):
        _, true_one = _torch_conv_grads(x[i : i + 1], W, G[i : i + 1])
        assert rel_err(book_one, true_one) < TOL
    assert rel_err(np.sum(per_sample, axis=0), true_dW) < TOL

    # scratch (vectorised and loop) sums over samples and pixels correctly.
    for op in (scratch.Conv2D_Op(W.copy()), scratch.Conv2D_OpLoop(W.copy())):
        _, dW = _scratch_conv_grads(op, x, G)
        assert rel_err(dW, true_dW) < TOL, type(op).__name__


@pytest.mark.parametrize(("c_in", "c_out", "k"), [(16, 32, 3), (1, 16, 5)])
def test_erratum_conv_glorot_counts_the_receptive_field(c_in: int, c_out: int, k: int) -> None:
    truth = math.sqrt(2.0 / ((c_in + c_out) * k * k))  # xavier_normal_ on [C_out, C_in, k, k]
    book_std = 2.0 / (c_in + c_out)  # the variance used as a std, and no k²
    assert abs(book_std - truth) > 0.25 * truth  # 0.042 vs 0.068 (too small); 0.118 vs 0.069 (too large)

    # The checker rejects a book-scaled sample of the same size.
    size = (c_in, c_out, k, k)
    with pytest.raises(AssertionError):
        assert_normal_sample(np.random.default_rng(1303).normal(0.0, book_std, size=size), truth)

    # scratch.Conv2D(weight_init="glorot"): several layers, for a sample of a few thousand weights.
    weights = []
    for seed in range(4):
        layer = scratch.Conv2D(c_out, k, weight_init="glorot", rng=np.random.default_rng(1310 + seed))
        layer.forward(np.random.default_rng(1320).standard_normal((1, c_in, k, k)))
        assert layer.params[0].shape == size
        assert layer.init_scale(c_in) == pytest.approx(truth, rel=1e-15)
        weights.append(layer.params[0])
    assert_normal_sample(np.stack(weights), truth)

    # torch: xavier_normal_ has this scale, and so does the torch twin's "glorot".
    assert ti.conv_glorot_std(c_in, c_out, k) == pytest.approx(truth, rel=1e-15)
    generator = torch.Generator().manual_seed(1330)
    xavier = [
        as_np(nn.init.xavier_normal_(torch.empty(c_out, c_in, k, k, dtype=torch.float64), generator=generator))
        for _ in range(4)
    ]
    assert_normal_sample(np.stack(xavier), truth)
    twins = [
        ti.Conv2D(
            c_in, c_out, k, weight_init="glorot", generator=torch.Generator().manual_seed(1340 + s), dtype=torch.float64
        ).conv.weight
        for s in range(4)
    ]
    assert_normal_sample(np.stack([as_np(w) for w in twins]), truth)


def test_erratum_conv_book_geometry_is_odd_square_stride_one_without_bias() -> None:
    rng = np.random.default_rng(1304)

    def torch_out(x: np.ndarray, W: np.ndarray, bias: np.ndarray | None = None, **kw: Any) -> np.ndarray:
        weight = t64(np.ascontiguousarray(W.transpose(1, 0, 2, 3)))
        return as_np(F.conv2d(t64(x), weight, None if bias is None else t64(bias), **kw))

    # Where the book works (odd k, square image, stride 1) its forward is torch's cross-correlation with
    # padding k // 2, not a flipped (true) convolution.
    for k in (1, 3, 5):
        x, W = rng.standard_normal((2, 2, 7, 7)), rng.standard_normal((2, 3, k, k))
        assert rel_err(_book_conv_forward(x, W), torch_out(x, W, padding=k // 2)) < TOL
        assert scratch.Conv2D_Op(W.copy()).forward(x.copy()).shape == (2, 3, 7, 7)
    assert rel_err(_book_conv_forward(x, W), torch_out(x, W[:, :, ::-1, ::-1], padding=2)) > DEFECT

    # Outside that, the book's code fails: even kernels and non-square images raise ValueError.
    # (NumPy's messages: "cannot reshape", "dimensions ... must match", "mismatch in its core dimension")
    for shape, k in (((2, 2, 6, 6), 2), ((2, 2, 5, 5), 4), ((2, 2, 5, 6), 3)):
        with pytest.raises(ValueError, match=r"reshape|match"):
            _book_conv_forward(rng.standard_normal(shape), rng.standard_normal((2, 3, k, k)))

    # scratch takes even kernels (the book's k // 2, or torch's asymmetric "same"), non-square images, a
    # stride, and a per-channel bias, each equal to torch.
    x = rng.standard_normal((2, 2, 5, 6))
    W2, W3 = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 3, 3))
    got = scratch.Conv2D_Op(W2.copy()).forward(x.copy())
    assert got.shape == (2, 3, 6, 7)  # k // 2 = 1 zero per side: one more row and column than the input
    assert rel_err(got, torch_out(x, W2, padding=1)) < TOL
    got = scratch.Conv2D_Op(W2.copy(), padding="same").forward(x.copy())
    assert got.shape == (2, 3, 5, 6)
    assert rel_err(got, torch_out(x, W2, padding="same")) < TOL
    got = scratch.Conv2D_Op(W3.copy(), padding=1, stride=2).forward(x.copy())
    assert got.shape == (2, 3, 3, 3)  # floor((5 + 2 - 3) / 2) + 1, floor((6 + 2 - 3) / 2) + 1
    assert rel_err(got, torch_out(x, W3, padding=1, stride=2)) < TOL
    B = rng.standard_normal((1, 3, 1, 1))
    layer = scratch.Conv2D(3, 3, bias=True)
    layer.load_params([W3.copy(), B.copy()])
    assert rel_err(layer.forward(x.copy()), torch_out(x, W3, B.reshape(-1), padding=1)) < TOL


@pytest.mark.parametrize("k", [3, 5])
def test_erratum_conv_ones_upstream_gradient_hides_the_bugs(k: int) -> None:
    x, W, G = _conv_case(1305 + k, k=k, size=8)
    p = k // 2
    interior = (slice(None), slice(None), slice(p, -p), slice(p, -p))  # every window inside the image
    border = np.ones(x.shape, dtype=bool)
    border[interior] = False
    ones = np.ones_like(G)
    true_ones, true_dW_ones = _torch_conv_grads(x, W, ones)

    # With G = ones, the unrotated and the rotated kernel give the same input gradient in the interior
    # (each pixel sums the whole kernel, in whatever order), and different ones at the border only.
    unflipped = _book_conv_input_grad(ones, W)
    flipped = _book_conv_input_grad(ones, W[:, :, ::-1, ::-1])
    assert np.max(np.abs(unflipped[interior] - flipped[interior])) < 1e-12
    assert np.max(np.abs(unflipped[border] - flipped[border])) > DEFECT
    assert rel_err(flipped, true_ones) < TOL
    # With G = ones every gradient row is the same, so the book's mispairing of rows is invisible too.
    assert rel_err(_book_conv_param_grad(x, W, ones), true_dW_ones) < TOL

    # With a random G the two input gradients differ at every pixel, and the book's weight gradient is wrong.
    difference = _book_conv_input_grad(G, W) - _book_conv_input_grad(G, W[:, :, ::-1, ::-1])
    assert np.min(np.abs(difference)) > 1e-6
    true_dx, true_dW = _torch_conv_grads(x, W, G)
    assert rel_err(_book_conv_param_grad(x, W, G), true_dW) > DEFECT

    # scratch is right with both upstream gradients.
    for upstream, want_dx, want_dW in ((ones, true_ones, true_dW_ones), (G, true_dx, true_dW)):
        dx, dW = _scratch_conv_grads(scratch.Conv2D_Op(W.copy()), x, upstream)
        assert rel_err(dx, want_dx) < TOL
        assert rel_err(dW, want_dW) < TOL


# ---------------------------------------------------------------------------------------------------------
# Behavioural differences the guide states (not defects)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows", [23, 9])  # a full batch of 23, and the 9-row last batch of 354 rows
def test_difference_ch2_book_gradients_are_scaled(n_rows: int) -> None:
    rng = np.random.default_rng(1000 + n_rows)
    X, y = rng.standard_normal((n_rows, 13)), rng.standard_normal((n_rows, 1))

    # Linear regression. The book: dL/dP = -2 (y - P), without the 1/n of the mean it reports.
    w = {"W": rng.standard_normal((13, 1)), "B": rng.standard_normal((1, 1))}
    loss, info = s_lr.forward_linear_regression(X, y, w)
    exact = s_lr.loss_gradients(info, w)
    dLdP = -2.0 * (y - info["P"])
    book = {"W": X.T @ dLdP, "B": dLdP.sum(axis=0, keepdims=True)}
    for key in w:
        np.testing.assert_allclose(book[key], n_rows * exact[key], rtol=1e-12)

        def lr_loss(v: np.ndarray, key: str = key) -> float:
            return s_lr.forward_linear_regression(X, y, {**w, key: v})[0]

        assert rel_err(exact[key], central_diff(lr_loss, w[key])) < FD_TOLERANCE

    # One hidden layer. The book: dL/dP = -(y - P), without the 2/n.
    v = {
        "W1": rng.standard_normal((13, 13)),
        "B1": rng.standard_normal((1, 13)),
        "W2": rng.standard_normal((13, 1)),
        "B2": rng.standard_normal((1, 1)),
    }
    info_nn, _ = s_nn.forward_loss(X, y, v)
    exact_nn = s_nn.loss_gradients(info_nn, v)
    dLdP = -(y - info_nn["P"])
    O1 = info_nn["O1"]
    dN1 = (dLdP @ v["W2"].T) * O1 * (1 - O1)
    book_nn = {
        "W2": O1.T @ dLdP,
        "B2": dLdP.sum(axis=0, keepdims=True),
        "W1": X.T @ dN1,
        "B1": dN1.sum(axis=0, keepdims=True),
    }
    for key in v:
        np.testing.assert_allclose(book_nn[key], n_rows / 2 * exact_nn[key], rtol=1e-12)
    for key in ("W1", "B2"):

        def nn_loss(u: np.ndarray, key: str = key) -> float:
            return s_nn.forward_loss(X, y, {**v, key: u})[1]

        assert rel_err(exact_nn[key], central_diff(nn_loss, v[key])) < FD_TOLERANCE

    # So one book step with lr 0.001 is one exact step with lr 0.001 * n (or * n / 2).
    step_book = w["W"] - 0.001 * book["W"]
    step_exact = w["W"] - 0.001 * n_rows * exact["W"]
    np.testing.assert_allclose(step_book, step_exact, rtol=1e-12)
    assert loss > 0


class _Holder:
    """A one-parameter stand-in for a network: what scratch's optimizers read (``params``, ``param_grads``)."""

    def __init__(self, start: np.ndarray) -> None:
        self.value = start.copy()
        self.grad = np.zeros_like(start)

    def params(self) -> Any:
        yield self.value

    def param_grads(self) -> Any:
        yield self.grad


def _momentum_scratch(start: np.ndarray, grads: np.ndarray, epochs: int, mu: float, decay: str | None) -> np.ndarray:
    """scratch's SGDMomentum over ``grads`` (``[epochs * steps, ...]``), decaying the learning rate per epoch."""
    steps = grads.shape[0] // epochs
    holder = _Holder(start)
    optim = scratch.SGDMomentum(0.15, final_lr=0.05 if decay else 0, decay_type=decay, momentum=mu)
    optim.net = holder  # type: ignore[assignment]
    optim._setup_decay(epochs)
    for e in range(epochs):
        for s in range(steps):
            holder.grad[...] = grads[e * steps + s]
            optim.step()
        optim._decay_lr()
    return holder.value


def _momentum_torch(
    start: np.ndarray, grads: np.ndarray, epochs: int, mu: float, decay: str | None, kind: str
) -> np.ndarray:
    """The same in torch: ``kind`` "torch" (torch.optim.SGD), "book" (BookSGDMomentum) or "rescaled" (SGD with
    its momentum buffer rescaled by old_lr / new_lr at each decay, so that lr * buffer stays continuous)."""
    steps = grads.shape[0] // epochs
    p = nn.Parameter(t64(start))
    book = kind == "book"
    optim = ti.SGDMomentum([p], lr=0.15, momentum=mu) if book else torch.optim.SGD([p], lr=0.15, momentum=mu)
    scheduler = ti.book_lr_scheduler(optim, decay, 0.05, epochs)
    for e in range(epochs):
        for s in range(steps):
            p.grad = t64(grads[e * steps + s])
            optim.step()
        if scheduler is None:
            continue
        old = optim.param_groups[0]["lr"]
        scheduler.step()
        if kind == "rescaled":
            optim.state[p]["momentum_buffer"].mul_(old / optim.param_groups[0]["lr"])
    return as_np(p)


def test_difference_momentum_lr_placement_under_decay() -> None:
    rng = np.random.default_rng(1100)
    start = rng.standard_normal((3, 2))
    epochs, steps, mu = 4, 3, 0.9
    grads = rng.standard_normal((epochs * steps, 3, 2))

    def run_scratch(decay: str | None) -> np.ndarray:
        return _momentum_scratch(start, grads, epochs, mu, decay)

    def run_torch(decay: str | None, kind: str) -> np.ndarray:
        return _momentum_torch(start, grads, epochs, mu, decay, kind)

    # Constant lr: all forms agree.
    const = run_scratch(None)
    assert rel_err(run_torch(None, "torch"), const) < TRAJ_TOL
    # Decay: torch.optim.SGD differs; BookSGDMomentum or a rescaled momentum_buffer match the book form.
    decayed = run_scratch("linear")
    assert rel_err(run_torch("linear", "torch"), decayed) > DEFECT
    assert rel_err(run_torch("linear", "book"), decayed) < TRAJ_TOL
    assert rel_err(run_torch("linear", "rescaled"), decayed) < TRAJ_TOL
    assert rel_err(run_torch("exponential", "rescaled"), run_scratch("exponential")) < TRAJ_TOL


def test_difference_chapter7_schedule_is_not_the_numpy_schedule() -> None:
    lr0, lrf, epochs = 0.08, 0.01, 5
    numpy_book = scratch.SGD(lr0, lrf, "exponential").lr_schedule(epochs)
    np.testing.assert_allclose(numpy_book, [lr0 * (lrf / lr0) ** (e / (epochs - 1)) for e in range(epochs)])
    assert numpy_book[0] == lr0
    assert numpy_book[-1] == pytest.approx(lrf, rel=1e-12)

    # The book's chapter 7 torch trainer: gamma = (lrf/lr0)^(1/(E+1)), stepped at the START of each epoch.
    gamma, lr, ch7 = (lrf / lr0) ** (1 / (epochs + 1)), lr0, []
    for _ in range(epochs):
        lr *= gamma
        ch7.append(lr)
    np.testing.assert_allclose(ch7, [0.0566, 0.04, 0.0283, 0.02, 0.0141], atol=1e-4)
    assert rel_err(np.array(ch7), np.array(numpy_book)) > DEFECT

    # torch_impl's scheduler, stepped after each epoch, reproduces the NumPy book.
    assert rel_err(np.array(torch_lrs("exponential", lr0, lrf, epochs)), np.array(numpy_book)) < TRAJ_TOL


@pytest.mark.parametrize("d", [1, 4, 16])
def test_difference_mse_normalisation_factor_d(d: int) -> None:
    rng = np.random.default_rng(1200 + d)
    p, y = rng.standard_normal((5, d)), rng.standard_normal((5, d))
    loss = scratch.MeanSquaredError()
    value = loss.forward(p.copy(), y)
    grad = loss.backward()
    pt = t64(p, requires_grad=True)
    torch_mean = nn.MSELoss()(pt, t64(y))
    torch_mean.backward()
    assert value == pytest.approx(d * torch_mean.item(), rel=TOL)
    assert rel_err(grad, d * as_np(pt.grad)) < TOL
    pt2 = t64(p, requires_grad=True)
    F.mse_loss(pt2, t64(y), reduction="sum").div(5).backward()
    assert rel_err(grad, as_np(pt2.grad)) < TOL


def test_difference_dropout_keep_prob_and_scaling() -> None:
    keep = 0.8
    rng = np.random.default_rng(1300)
    x = rng.standard_normal((50, 40))
    mask = (rng.random(x.shape) < keep).astype(np.float64)
    assert 0 < mask.mean() < 1

    book = scratch.Dropout(keep)
    book.set_mask(mask)
    out = book.forward(x.copy())
    np.testing.assert_array_equal(out, x * mask)  # no rescaling in training
    np.testing.assert_array_equal(book.backward(np.ones_like(x)), mask)
    np.testing.assert_allclose(book.forward(x.copy(), inference=True), keep * x, rtol=1e-15)

    # torch's nn.Dropout(p = 1 - keep) is the inverted form: x * mask / keep in training, identity in eval.
    inverted = ti.Dropout(keep, inverted=True)
    inverted.set_mask(torch.from_numpy(mask))
    np.testing.assert_allclose(out, keep * as_np(inverted(t64(x))), rtol=1e-15)
    drop = nn.Dropout(p=1 - keep)
    with torch.random.fork_rng():  # nn.Dropout draws from the global generator; leave it as it was
        torch.manual_seed(1301)
        ratio = as_np(drop(t64(x))) / x
    assert np.all(np.isclose(ratio, 0.0) | np.isclose(ratio, 1 / keep))
    assert abs(float(np.isclose(ratio, 0.0).mean()) - (1 - keep)) < 0.05
    drop.eval()
    np.testing.assert_array_equal(as_np(drop(t64(x))), x)


def test_difference_book_conv_layout_is_the_conv_transpose_layout_not_its_function() -> None:
    rng = np.random.default_rng(1400)
    x, W = rng.standard_normal((2, 2, 6, 7)), rng.standard_normal((2, 3, 3, 3))  # W: [C_in, C_out, k, k]
    op = scratch.Conv2D_Op(W.copy())
    out = op.forward(x.copy())

    # nn.Conv2d needs the axes swapped; then it is the book's (and scratch's) operation.
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(t64(np.ascontiguousarray(W.transpose(1, 0, 2, 3))))
        assert rel_err(out, as_np(conv(t64(x)))) < TOL
    # nn.ConvTranspose2d(C_in, C_out, k) takes W's shape as it is, but computes another function: with
    # padding k // 2 and stride 1 it is the true (kernel-rotated) convolution, not the cross-correlation.
    transposed = nn.ConvTranspose2d(2, 3, 3, padding=1, bias=False, dtype=torch.float64)
    assert tuple(transposed.weight.shape) == W.shape
    with torch.no_grad():
        transposed.weight.copy_(t64(W))
        assert rel_err(as_np(transposed(t64(x))), out) > DEFECT
        rotated = scratch.Conv2D_Op(np.ascontiguousarray(W[:, :, ::-1, ::-1])).forward(x.copy())
        assert rel_err(as_np(transposed(t64(x))), rotated) < TOL


def test_difference_maxpool_ties_go_to_the_first_maximum() -> None:
    # Windows of 2x2 (stride 2) on a 5x5 image: the last row and column are dropped (floor). Window (0, 0)
    # has no tie, window (0, 1) ties 4 at offsets 1 and 2, window (1, 0) ties 0 at all four offsets (as after a
    # ReLU), window (1, 1) ties 7 at offsets 0 and 3.
    x = np.array(
        [
            [1.0, 2.0, 3.0, 4.0, 9.0],
            [0.5, 1.5, 4.0, 2.0, 9.0],
            [0.0, 0.0, 7.0, 1.0, 9.0],
            [0.0, 0.0, 6.0, 7.0, 9.0],
            [9.0, 9.0, 9.0, 9.0, 9.0],
        ]
    )[None, None]
    g = np.array([[2.0, 3.0], [5.0, 7.0]])[None, None]
    pool = scratch.MaxPool2D(2)
    out = pool.forward(x.copy())
    np.testing.assert_array_equal(out, [[[[2.0, 4.0], [0.0, 7.0]]]])

    # A mask of every entry equal to its window's maximum sends the gradient to every tied entry.
    window_max = np.kron(out[0, 0], np.ones((2, 2)))
    mask_grad = np.zeros_like(x)
    mask_grad[0, 0, :4, :4] = (x[0, 0, :4, :4] == window_max) * np.kron(g[0, 0], np.ones((2, 2)))

    # torch sends each window's gradient to its first maximum in row-major window order (CPU).
    xt = t64(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(t64(g))
    truth = as_np(xt.grad)
    expected = np.zeros_like(x)
    for (r, c), value in zip(((0, 1), (0, 3), (2, 0), (2, 2)), g.reshape(-1), strict=True):
        expected[0, 0, r, c] = value
    np.testing.assert_array_equal(truth, expected)
    assert np.sum(mask_grad) == np.sum(g) + 3 * 5.0 + 3.0 + 7.0  # the tied windows pass G on several times
    assert rel_err(mask_grad, truth) > DEFECT

    # scratch and its torch twin agree with torch exactly; average pooling shares G / k² with every entry.
    np.testing.assert_array_equal(pool.backward(g.copy()), truth)
    xt2 = t64(x, requires_grad=True)
    ti.MaxPool2D(2)(xt2).backward(t64(g))
    np.testing.assert_array_equal(as_np(xt2.grad), truth)
    avg = scratch.AvgPool2D(2)
    np.testing.assert_allclose(avg.forward(x.copy()), as_np(F.avg_pool2d(t64(x), 2)), rtol=1e-15)
    np.testing.assert_allclose(avg.backward(g.copy())[0, 0, :4, :4], np.kron(g[0, 0], np.full((2, 2), 0.25)))


def test_helpers_detect_differences() -> None:
    """The helpers used above can fail: rel_err sees a difference and refuses a zero reference."""
    assert rel_err(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="near zero"):
        rel_err(np.zeros(2), np.zeros(2))
    fd = central_diff(lambda z: float(np.sum(z**3)), np.array([1.0, -2.0]))
    np.testing.assert_allclose(fd, [3.0, 12.0], rtol=1e-8)
