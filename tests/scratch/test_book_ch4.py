"""Chapter 4's notebook and chapter 5's convolution demo on this project: the book modules ``scratch.book.ch4`` and
``scratch.book.ch5_demos``, and the loader ``data.load_mnist_book``.

The reference is the book's own ``lincoln`` library, executed from ``DLFS_BOOK`` (default ``../shared/book``;
these tests skip without it): ``<book>/lincoln`` is put on ``sys.path`` for the test's module only, with the
``exp_ratios`` shim its ``losses.py`` needs at the book's commit, and NumPy's global generator (which the book
draws from) is restored afterwards. On small problems, the book module must:

- where no erratum applies, print every line the book's code prints and end with bit-identical weights (plain
  SGD, momentum, linear and exponential decay, dropout, early stopping with ``eval_every=1``, ``conv_testing``);
- where an erratum applies, differ from the book's code in the way the erratum says, and agree with the truth
  (E1 ReLU, E5 normalised MSE, E6 Glorot scale, E7 the restored model, E15 the convolution's Glorot scale,
  E14 the convolution's weight gradient), drawing the same random numbers in the same order.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import scratch
from data import find_mnist_dir, load_mnist_book, read_idx
from data.mnist import MNIST_FILES
from parity_tests.book.manifest import BookError, book_root, load_manifest
from scratch.book import ch4, ch5_demos

SEED = 20190119


def _book_lincoln_folder() -> Path | None:
    try:
        folder = book_root() / "lincoln"
    except BookError:
        return None
    return folder if (folder / "lincoln" / "train.py").is_file() else None


requires_book = pytest.mark.skipif(
    _book_lincoln_folder() is None, reason="the book's repository (DLFS_BOOK) is not available"
)
requires_mnist = pytest.mark.skipif(
    find_mnist_dir() is None, reason="full MNIST not found (set DLFS_DATASETS to a datasets root with mnist/)"
)


@pytest.fixture(scope="module")
def book() -> Iterator[SimpleNamespace]:
    """The book's ``lincoln`` modules, importable for this test module only."""
    folder = _book_lincoln_folder()
    if folder is None:
        pytest.skip("the book's repository (DLFS_BOOK) is not available")
    pytest.importorskip("scipy.special")  # the book's softmax calls scipy's logsumexp
    state = np.random.get_state()  # noqa: NPY002 - the book's code seeds and draws the global generator
    sys.path.insert(0, str(folder))
    try:
        np_utils = importlib.import_module("lincoln.utils.np_utils")
        if not hasattr(np_utils, "exp_ratios"):  # imported by lincoln/losses.py, missing at the book's commit
            np_utils.exp_ratios = lambda *args: None  # type: ignore[attr-defined]
        names = ("layers", "losses", "optimizers", "activations", "network", "train", "utils.mnist")
        modules = {name.split(".")[-1]: importlib.import_module(f"lincoln.{name}") for name in names}
        yield SimpleNamespace(np_utils=np_utils, **modules)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "lincoln" or m.startswith("lincoln.")]:
            del sys.modules[name]
        np.random.set_state(state)  # noqa: NPY002


# --------------------------------------------------------------------------------------------------------
# A small classification problem (no dataset needed) and the two implementations side by side
# --------------------------------------------------------------------------------------------------------


def _problem(n_train: int = 360, n_test: int = 120, features: int = 30, classes: int = 10) -> tuple[np.ndarray, ...]:
    """Standardised features and one-hot labels of a noisy linear teacher (the notebook's float64 layout)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(n_train + n_test, features))
    teacher = rng.normal(size=(features, classes))
    labels = np.argmax(X @ teacher + rng.normal(scale=2.0, size=(len(X), classes)), axis=1)
    Y = np.zeros((len(X), classes))
    Y[np.arange(len(X)), labels] = 1.0
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


#: Layer recipes: (neurons, activation name, extra keyword arguments).
Recipe = list[tuple[int, str, dict[str, Any]]]


def _run(
    side: Any,
    recipe: Recipe,
    loss: Callable[[Any], Any],
    optim: Callable[[Any], Any],
    data: tuple[np.ndarray, ...],
    **fit: Any,
) -> SimpleNamespace:
    """Build and train one network with ``side`` (``ch4``, ``ch5_demos`` or the book's modules); return what the
    run printed, the network given to the trainer and the trainer."""
    is_book = not isinstance(side, type(ch4))
    layers_mod = side.layers if is_book else side
    activations = side.activations if is_book else side
    layers = []
    for neurons, activation, kwargs in recipe:
        kind = kwargs.pop("kind", "Dense")
        layer = getattr(layers_mod, kind)(neurons, activation=getattr(activations, activation)(), **kwargs)
        layers.append(layer)
        kwargs["kind"] = kind
    network = (side.network if is_book else side).NeuralNetwork(layers=layers, loss=loss(side), seed=SEED)
    trainer = (side.train if is_book else side).Trainer(network, optim(side))
    X_train, Y_train, X_test, Y_test = data
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        trainer.fit(X_train, Y_train, X_test, Y_test, seed=SEED, **fit)
    return SimpleNamespace(printed=out.getvalue(), net=network, trainer=trainer)


def _loss(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return lambda side: getattr(side.losses if hasattr(side, "losses") else side, name)(**kwargs)


def _optim(name: str, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    return lambda side: getattr(side.optimizers if hasattr(side, "optimizers") else side, name)(*args, **kwargs)


def _params(net: Any) -> list[np.ndarray]:
    return [np.array(p) for p in net.params()]


def _same_params(a: Any, b: Any) -> bool:
    pa, pb = _params(a), _params(b)
    return len(pa) == len(pb) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))


SOFTMAX = _loss("SoftmaxCrossEntropy")
NO_ERRATUM_RUNS: dict[str, tuple[Recipe, Callable[[Any], Any], Callable[[Any], Any], int, int]] = {
    # cell 17's kind: mean squared error on sigmoid outputs, plain SGD, evaluations every 5 epochs
    "mse-sgd": ([(24, "Tanh", {}), (10, "Sigmoid", {})], _loss("MeanSquaredError"), _optim("SGD", 0.1), 15, 5),
    # cell 22's kind: softmax cross-entropy, evaluations every epoch (an early stop restores the book's way)
    "softmax-sgd-every-epoch": ([(24, "Sigmoid", {}), (10, "Linear", {})], SOFTMAX, _optim("SGD", 0.1), 25, 1),
    # cells 27/28: momentum
    "momentum": ([(24, "Tanh", {}), (10, "Linear", {})], SOFTMAX, _optim("SGDMomentum", 0.1, momentum=0.9), 12, 2),
    # cells 30/31: linear and exponential decay by the book's repeated steps
    "linear-decay": (
        [(24, "Tanh", {}), (10, "Linear", {})],
        SOFTMAX,
        _optim("SGDMomentum", 0.15, momentum=0.9, final_lr=0.05, decay_type="linear"),
        12,
        3,
    ),
    "exponential-decay": (
        [(24, "Tanh", {}), (10, "Linear", {})],
        SOFTMAX,
        _optim("SGDMomentum", 0.2, momentum=0.9, final_lr=0.05, decay_type="exponential"),
        12,
        3,
    ),
    # cells 36/38 without Glorot: dropout masks from the stream, two dropout layers of equal seeds
    "dropout": (
        [(32, "Tanh", {"dropout": 0.8}), (16, "Tanh", {"dropout": 0.8}), (10, "Linear", {})],
        SOFTMAX,
        _optim("SGDMomentum", 0.2, momentum=0.9, final_lr=0.05, decay_type="exponential"),
        10,
        2,
    ),
}


@requires_book
@pytest.mark.parametrize("name", list(NO_ERRATUM_RUNS))
def test_no_erratum_runs_print_and_end_bit_identical_to_the_books_code(book: SimpleNamespace, name: str) -> None:
    recipe, loss, optim, epochs, eval_every = NO_ERRATUM_RUNS[name]
    data = _problem()
    fit = {"epochs": epochs, "eval_every": eval_every, "batch_size": 60}
    ours = _run(ch4, [(n, a, dict(k)) for n, a, k in recipe], loss, optim, data, **fit)
    theirs = _run(book, [(n, a, dict(k)) for n, a, k in recipe], loss, optim, data, **fit)
    assert ours.printed == theirs.printed
    assert ours.printed.count("Validation loss after") >= 2
    assert _same_params(ours.net, theirs.net)  # the notebook's ``model``: trained to the last epoch in both
    assert ours.trainer.optim.lr == theirs.trainer.optim.lr  # the decayed rate, to the last bit (E25 kept)


@requires_book
def test_early_stopping_every_epoch_restores_what_the_book_restores(book: SimpleNamespace) -> None:
    """With ``eval_every=1`` the book's copy is the last evaluated (best) model: no erratum; both trainers end
    bound to a copy holding it, while the network given to them keeps the last epoch's weights."""
    recipe: Recipe = [(24, "Sigmoid", {}), (10, "Linear", {})]
    data = _problem()
    fit = {"epochs": 40, "eval_every": 1, "batch_size": 60}
    ours = _run(ch4, recipe, SOFTMAX, _optim("SGDMomentum", 0.3, momentum=0.9), data, **fit)
    theirs = _run(
        book, [(n, a, {}) for n, a, _ in recipe], SOFTMAX, _optim("SGDMomentum", 0.3, momentum=0.9), data, **fit
    )
    assert "\n\nLoss increased after epoch " in ours.printed, "the configuration must stop early"
    assert ours.printed == theirs.printed
    assert ours.trainer.net is not ours.net
    assert theirs.trainer.net is not theirs.net
    assert ours.trainer.optim.net is ours.trainer.net
    assert _same_params(ours.trainer.net, theirs.trainer.net)
    assert _same_params(ours.net, theirs.net)
    assert not _same_params(ours.trainer.net, ours.net)


@requires_book
def test_erratum_e7_with_eval_every_above_1_the_restored_model_is_the_best_evaluated(book: SimpleNamespace) -> None:
    """The book's copy holds the weights of the epoch before the failing evaluation; ours, the best evaluated
    weights: those of an identical run that stops at the best epoch. The printed lines are the same."""
    recipe: Recipe = [(24, "Tanh", {}), (10, "Linear", {})]
    optim = _optim("SGDMomentum", 0.3, momentum=0.9)
    data = _problem()
    fit = {"epochs": 40, "eval_every": 3, "batch_size": 60}
    ours = _run(ch4, recipe, SOFTMAX, optim, data, **fit)
    theirs = _run(book, [(n, a, {}) for n, a, _ in recipe], SOFTMAX, optim, data, **fit)
    assert "Loss increased after epoch" in ours.printed, "the configuration must stop early"
    assert ours.printed == theirs.printed
    best_epoch = ours.trainer.history.best_epoch
    failing = ours.trainer.history.eval_epochs[-1]
    assert failing == best_epoch + 3
    to_best = _run(ch4, recipe, SOFTMAX, optim, data, **{**fit, "epochs": best_epoch})
    before_failing = _run(ch4, recipe, SOFTMAX, optim, data, **{**fit, "epochs": failing - 1, "early_stopping": False})
    assert _same_params(ours.trainer.net, to_best.net)
    assert _same_params(theirs.trainer.net, before_failing.net)  # the book's: epoch failing - 1, never evaluated
    assert not _same_params(ours.trainer.net, theirs.trainer.net)
    assert _same_params(ours.net, theirs.net)  # the notebook's ``model`` is not rolled back, in both


@requires_book
def test_erratum_e6_glorot_draws_the_same_numbers_at_the_right_scale(book: SimpleNamespace) -> None:
    recipe: Recipe = [(24, "Tanh", {"weight_init": "glorot"}), (10, "Linear", {"weight_init": "glorot"})]
    data = _problem()
    fit = {"epochs": 1, "eval_every": 1, "batch_size": 60}
    optim = _optim("SGD", 1e-300)  # one epoch of steps too small to move the initial weights
    ours = _run(ch4, [(n, a, dict(k)) for n, a, k in recipe], SOFTMAX, optim, data, **fit)
    theirs = _run(book, [(n, a, dict(k)) for n, a, k in recipe], SOFTMAX, optim, data, **fit)
    ours_params, book_params = _params(ours.net), _params(theirs.net)
    for i, n_out in enumerate((24, 10)):
        W, B = ours_params[2 * i : 2 * i + 2]
        W_book, B_book = book_params[2 * i : 2 * i + 2]
        fan = W.shape[0] + n_out
        assert np.allclose(W * (2 / fan) / np.sqrt(2 / fan), W_book, rtol=1e-14, atol=0)
        assert np.allclose(B * (2 / fan) / np.sqrt(2 / fan), B_book, rtol=1e-14, atol=0)
        assert np.std(W) == pytest.approx(np.sqrt(2 / fan), rel=0.25)


@requires_book
def test_erratum_e1_relu_masks_on_the_input_where_the_book_passes_everything(book: SimpleNamespace) -> None:
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    grad = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    ours, theirs = ch4.ReLU(), book.activations.ReLU()
    assert np.array_equal(ours.forward(x), theirs.forward(x))
    assert np.array_equal(theirs.backward(grad), grad)  # the book: every gradient through
    assert np.array_equal(ours.backward(grad), grad * (x > 0))
    recipe: Recipe = [(24, "ReLU", {}), (10, "Linear", {})]
    data = _problem()
    fit = {"epochs": 4, "eval_every": 2, "batch_size": 60}
    run_ours = _run(ch4, recipe, SOFTMAX, _optim("SGD", 0.1), data, **fit)
    run_book = _run(book, [(n, a, {}) for n, a, _ in recipe], SOFTMAX, _optim("SGD", 0.1), data, **fit)
    assert run_ours.printed != run_book.printed


@requires_book
def test_erratum_e5_normalised_mse_gradient_is_the_derivative_of_its_value(book: SimpleNamespace) -> None:
    rng = np.random.default_rng(0)
    P = rng.uniform(0.1, 1.0, size=(4, 3))
    Y = np.eye(3)[rng.integers(0, 3, size=4)]
    ours, theirs = ch4.MeanSquaredError(normalize=True), book.losses.MeanSquaredError(normalize=True)
    assert ours.forward(P, Y) == theirs.forward(P.copy(), Y)  # the same value
    central = np.zeros_like(P)
    h = 1e-6
    for index in np.ndindex(P.shape):
        up, down = P.copy(), P.copy()
        up[index] += h
        down[index] -= h
        central[index] = (
            ch4.MeanSquaredError(normalize=True).forward(up, Y) - ch4.MeanSquaredError(True).forward(down, Y)
        ) / (2 * h)
    assert np.allclose(ours.backward(), central, rtol=1e-6, atol=1e-9)
    assert not np.allclose(theirs.backward(), central, rtol=1e-3, atol=1e-6)


@requires_book
def test_softmax_cross_entropy_is_the_books_value_and_gradient_bit_for_bit(book: SimpleNamespace) -> None:
    """The printed value is the book's (erratum E2: -Σ[Y log p + (1 - Y) log(1 - p)] / N), with its clipping, and
    the gradient the book's; ``categorical_value`` is the categorical cross-entropy."""
    rng = np.random.default_rng(1)
    X = rng.normal(scale=8.0, size=(50, 10))
    X[0, 3] = 60.0  # a clipped probability
    X[1, :2] = X[1].max() + 1.0  # a tie for the maximum
    Y = np.eye(10)[rng.integers(0, 10, size=50)]
    ours, theirs = ch4.SoftmaxCrossEntropy(), book.losses.SoftmaxCrossEntropy()
    assert ours.forward(X, Y) == theirs.forward(X, Y)
    assert np.array_equal(ours.backward(), theirs.backward())
    assert ours.categorical_value() == pytest.approx(scratch.SoftmaxCrossEntropy().forward(X, Y), rel=1e-15)
    assert ours.categorical_value() < ours.output
    assert np.isfinite(ch4.SoftmaxCrossEntropy().forward(X.astype(np.float32) * 10, Y.astype(np.float32)))  # E3


def test_logsumexp_and_softmax_are_scipys_bit_for_bit() -> None:
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(2)
    X = rng.normal(scale=5.0, size=(64, 10))
    X[3, [1, 4]] = X[3].max() + 2.0  # a tie
    X[5, 2] = -np.inf
    X[6, :] = -np.inf
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            expected = special.logsumexp(X, axis=axis, keepdims=keepdims)
            got = ch4.logsumexp(X, axis=axis, keepdims=keepdims)
            assert np.shape(got) == np.shape(expected)
            assert np.array_equal(got, expected, equal_nan=True)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(
            ch4.softmax(X[:5], axis=1), np.exp(X[:5] - special.logsumexp(X[:5], axis=1, keepdims=True))
        )
    assert ch4.logsumexp([1, 2, 3]) == special.logsumexp([1, 2, 3])
    with pytest.raises(TypeError, match=r"real numeric array; received dtype <U1"):
        ch4.logsumexp(np.array(["a"]))


@requires_book
def test_conv_testing_prints_the_books_accuracy_lines(book: SimpleNamespace) -> None:
    """``conv_testing=True`` prints the accuracy every 100 batches (the book's current library also prints a loss
    every 10 batches, which the notebook's saved run lacks: the runner drops those lines, and so does this test)."""
    recipe: Recipe = [(16, "Tanh", {}), (10, "Linear", {})]
    data = _problem(n_train=404, n_test=60)
    fit = {"epochs": 2, "eval_every": 1, "batch_size": 2, "conv_testing": True}
    ours = _run(ch4, recipe, SOFTMAX, _optim("SGDMomentum", 0.01, momentum=0.9), data, **fit)
    theirs = _run(
        book, [(n, a, {}) for n, a, _ in recipe], SOFTMAX, _optim("SGDMomentum", 0.01, momentum=0.9), data, **fit
    )
    book_lines = "".join(line for line in theirs.printed.splitlines(True) if not line.startswith("batch "))
    assert ours.printed == book_lines
    assert ours.printed.count("Validation accuracy after 100 batches is ") == 2
    assert ours.printed.count("Validation accuracy after 200 batches is ") == 2
    assert _same_params(ours.net, theirs.net)


def _conv_run(side: Any, weight_init: str, batch_size: int) -> SimpleNamespace:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(24, 1, 7, 7))
    Y = np.eye(10)[rng.integers(0, 10, size=24)]
    recipe: Recipe = [
        (4, "Tanh", {"kind": "Conv2D", "param_size": 3, "dropout": 0.8, "weight_init": weight_init, "flatten": True}),
        (10, "Linear", {}),
    ]
    data = (X[:16], Y[:16], X[16:], Y[16:])
    fit = {"epochs": 2, "eval_every": 1, "batch_size": batch_size}
    return _run(side, recipe, SOFTMAX, _optim("SGDMomentum", 0.05, momentum=0.9), data, **fit)


@requires_book
def test_ch5_demos_conv_layer_draws_the_books_stream(book: SimpleNamespace) -> None:
    """With the book's N(0, 1) kernel and one sample per batch (where errata E14 and E15 do not apply), the book
    module's network takes the book's steps (its convolution adds in another order: equal to 1e-12) with the
    same random numbers: the kernel without a reseed, the dense layer's reseed, every dropout mask."""
    ours = _conv_run(ch5_demos, "normal", batch_size=1)
    theirs = _conv_run(book, "normal", batch_size=1)
    for a, b in zip(_params(ours.net), _params(theirs.net), strict=True):
        assert a.shape == b.shape
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)
    assert np.array_equal(ours.net.layers[0].operations[-1].mask, theirs.net.layers[0].operations[-1].mask)
    assert ours.printed == theirs.printed  # the loss to 3 decimals
    assert ours.printed.startswith("Validation loss after 1 epochs is ")


@requires_book
def test_errata_e14_e15_the_conv_layer_differs_from_the_books_where_they_apply(book: SimpleNamespace) -> None:
    glorot = _conv_run(ch5_demos, "glorot", batch_size=1)
    glorot_book = _conv_run(book, "glorot", batch_size=1)
    W, W_book = glorot.net.layers[0].params[0], glorot_book.net.layers[0].params[0]
    assert not np.allclose(W, W_book, rtol=1e-3)  # E15: another scale for the same draws
    batched = _conv_run(ch5_demos, "normal", batch_size=4)
    batched_book = _conv_run(book, "normal", batch_size=4)
    assert not np.allclose(_params(batched.net)[0], _params(batched_book.net)[0], rtol=1e-6)  # E14
    # ... and the book module's convolution gradient is the true one (the top-level scratch.Conv2D_Op's)
    op = batched.net.layers[0].operations[0]
    assert isinstance(op, scratch.Conv2D_Op)


# --------------------------------------------------------------------------------------------------------
# The book's API, defaults and the stream without a book
# --------------------------------------------------------------------------------------------------------


def _defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    }


def test_the_books_signatures_and_defaults() -> None:
    assert _defaults(ch4.Dense) == {"activation": None, "conv_in": False, "dropout": 1.0, "weight_init": "standard"}
    assert _defaults(ch4.NeuralNetwork) == {"seed": 1}
    assert _defaults(ch4.Trainer.fit) == {
        "epochs": 100,
        "eval_every": 10,
        "batch_size": 32,
        "seed": 1,
        "single_output": False,
        "restart": True,
        "early_stopping": True,
        "conv_testing": False,
    }
    assert _defaults(ch4.SGDMomentum) == {"lr": 0.01, "final_lr": 0, "decay_type": None, "momentum": 0.9}
    assert _defaults(ch4.SGD) == {
        "lr": 0.01,
        "final_lr": 0,
        "decay_type": None,
    }
    assert _defaults(ch4.SoftmaxCrossEntropy) == {"eps": 1e-9}
    assert _defaults(ch4.Dropout) == {"keep_prob": 0.8, "stream": None}
    assert _defaults(ch5_demos.Conv2D) == {
        "dropout": 1.0,
        "weight_init": "normal",
        "activation": None,
        "flatten": False,
    }
    layer = ch4.Dense(5)
    assert isinstance(layer.activation, scratch.Linear)
    assert layer.activation is not ch4.Dense(5).activation  # E10
    X, Y, _, _ = _problem(n_train=60, n_test=10)
    net = ch4.NeuralNetwork([ch4.Dense(8, ch4.Tanh(), dropout=0.5), ch4.Dense(10)], ch4.SoftmaxCrossEntropy(), seed=3)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ch4.Trainer(net, ch4.SGD(0.1)).fit(X, Y, X, Y, epochs=2, eval_every=1, early_stopping=False)
    assert out.getvalue().count("Validation loss after") == 2  # without early stopping: every evaluation
    assert isinstance(net.layers[0].operations[-1], ch4.Dropout)


def test_the_stream_is_the_books_and_private() -> None:
    """Without the book: the stream's draws are those of NumPy's global functions after ``np.random.seed``, every
    Dense layer reseeds it (equal-shaped layers start equal), and the global generator is never touched."""
    key = np.random.get_state(legacy=False)["state"]["key"].copy()  # noqa: NPY002 - read, never drawn from
    X, Y, _, _ = _problem(n_train=60, n_test=10, features=6)
    layers = [ch4.Dense(6, ch4.Tanh()), ch4.Dense(6, ch4.Tanh()), ch4.Dense(10)]
    net = ch4.NeuralNetwork(layers, ch4.SoftmaxCrossEntropy(), seed=7)
    with contextlib.redirect_stdout(io.StringIO()):
        ch4.Trainer(net, ch4.SGD(1e-300)).fit(X, Y, X, Y, epochs=1, eval_every=1, seed=7, batch_size=60)
    expected = np.random.RandomState(7)
    assert np.array_equal(layers[0].params[0], expected.normal(0, 1.0, size=(6, 6)))
    assert np.array_equal(layers[0].params[0], layers[1].params[0])
    assert np.array_equal(np.random.get_state(legacy=False)["state"]["key"], key)  # noqa: NPY002
    with pytest.raises(ValueError, match=r"learning-rate decay needs epochs >= 2; received epochs=1"):
        ch4.Trainer(net, ch4.SGD(0.1, final_lr=0.01, decay_type="linear")).fit(X, Y, X, Y, epochs=1)


def test_decay_is_the_books_repeated_step() -> None:
    optim = ch4.SGDMomentum(0.2, final_lr=0.05, decay_type="exponential")
    optim._setup_decay(50)
    rate, step = 0.2, np.power(0.05 / 0.2, 1.0 / 49)
    for _ in range(49):
        optim._decay_lr()
        rate *= step
    assert optim.lr == rate
    linear = ch4.SGD(0.01, final_lr=0.0, decay_type="linear")  # E8: decays although final_lr is 0
    linear._setup_decay(50)
    for _ in range(49):
        linear._decay_lr()
    assert linear.lr == pytest.approx(0.0, abs=1e-17)


def test_bad_input_raises_clear_errors() -> None:
    X, Y, _, _ = _problem(n_train=60, n_test=10)
    net = ch4.NeuralNetwork([ch4.Dense(8, ch4.Tanh()), ch4.Dense(10)], ch4.SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match=r"y_train must have 60 rows like X_train"):
        ch4.Trainer(net, ch4.SGD()).fit(X, Y[:50], X, Y)
    with pytest.raises(ValueError, match=r"same shape"):
        ch4.SoftmaxCrossEntropy().forward(X[:, :10], Y[:5])
    with pytest.raises(ValueError, match=r"same shape|must have shape"):
        ch4.MeanSquaredError().forward(X[:, :3], Y)
    layer = ch4.Dense(4)
    layer.forward(X)
    with pytest.raises(ValueError, match=r"output_grad"):
        layer.backward(np.ones((60, 5)))
    with pytest.raises(TypeError, match=r"optim must be a scratch Optimizer"):
        ch4.Trainer(net, "sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"weight_init"):
        ch5_demos.Conv2D(4, 3, weight_init="xavier")


# --------------------------------------------------------------------------------------------------------
# The loader
# --------------------------------------------------------------------------------------------------------


@requires_mnist
def test_load_mnist_book_is_the_books_arrays_from_the_idx_files() -> None:
    X_train, y_train, X_test, y_test = load_mnist_book()
    assert (X_train.shape, X_train.dtype, y_train.shape, y_train.dtype) == ((60000, 784), np.uint8, (60000,), np.uint8)
    assert (X_test.shape, X_test.dtype, y_test.shape, y_test.dtype) == ((10000, 784), np.uint8, (10000,), np.uint8)
    assert X_train.flags.c_contiguous
    assert X_test.flags.c_contiguous
    folder = find_mnist_dir()
    assert folder is not None
    assert np.array_equal(X_test, read_idx(folder / MNIST_FILES[2]).reshape(10000, 784))
    assert np.array_equal(y_train, read_idx(folder / MNIST_FILES[1]))
    assert float(np.mean(X_train)) == pytest.approx(33.318421449829934, rel=1e-15)  # the notebook's cell 11
    short = load_mnist_book(n_train=300, n_test=20)
    assert [a.shape for a in short] == [(300, 784), (300,), (20, 784), (20,)]
    assert np.array_equal(short[0], X_train[:300])
    assert np.array_equal(short[3], y_test[:20])


@requires_book
@requires_mnist
def test_load_mnist_book_equals_the_books_own_loader(book: SimpleNamespace, tmp_path: Path) -> None:
    """The book's ``save_mnist`` (run on the gzipped files) then ``load``: the same arrays, dtypes and shapes."""
    folder = find_mnist_dir()
    assert folder is not None
    for name in MNIST_FILES:
        (tmp_path / name).symlink_to(folder / name)
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            book.mnist.save_mnist()
        theirs = book.mnist.load()
    finally:
        os.chdir(previous)
    for a, b in zip(load_mnist_book(), theirs, strict=True):
        assert (a.shape, a.dtype) == (b.shape, b.dtype)
        assert np.array_equal(a, b)


def test_load_mnist_book_bad_input() -> None:
    with pytest.raises(ValueError, match=r"n_train must be at most 60000 .*received 60001"):
        load_mnist_book(n_train=60001)
    with pytest.raises(ValueError, match=r"n_test must be an int >= 1; received 0"):
        load_mnist_book(n_test=0)
    with pytest.raises(TypeError, match=r"n_train must be an int"):
        load_mnist_book(n_train=2.5)  # type: ignore[arg-type]


def test_the_manifest_entries() -> None:
    notebooks = load_manifest()
    ch4_spec, demos = notebooks["ch4"], notebooks["ch5-demos"]
    assert (ch4_spec.module, demos.module) == ("scratch.book.ch4", "scratch.book.ch5_demos")
    assert (ch4_spec.library, demos.library, ch4_spec.slow, demos.slow) == ("lincoln", "lincoln", False, False)
    assert {k: d.erratum for k, d in ch4_spec.differences.items()} == {
        19: "E5",
        24: "E1",
        33: "E6",
        34: "E6",
        36: "E6",
        38: "E6",
        39: "E6",
    }
    assert set(demos.differences) == {9, 10}
    assert demos.book_code_drops is not None
