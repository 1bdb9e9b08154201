"""Chapter 2: linear regression and a one-hidden-layer network on Boston housing, scratch vs torch_impl.

Both implementations start from the same initial weights (drawn with ``np.random.default_rng(seed)``: the
linear model's ``W``, ``B``, then the network's ``W1``, ``B1``, ``W2``, ``B2``) and see the same batches
(each ``train`` shuffles with its own ``np.random.default_rng(seed)``). scratch uses the hand-written
gradients, torch_impl autograd and ``torch.optim.SGD``. The recipe prints MAE and RMSE on the test set for
each implementation side by side, the network's test loss every ``test_every`` iterations, and
scikit-learn's closed-form ``LinearRegression`` on the same split. It returns 1 if the two implementations'
loss histories or final weights differ by more than 1e-8 (relative), else 0.

The gradients here are the exact derivatives of the mean squared error the book reports. The book's code
differentiated the SUM of squared errors instead (it omitted the ``1/n``, and for the network also the
factor 2), so its learning rate of 0.001 took steps n (network: n/2) times larger than the exact gradient
would. By default this recipe therefore uses the book's *effective* rates, 0.001 * batch_size for linear
regression and 0.001 * batch_size / 2 for the network (0.023 and 0.0115 for batches of 23), which take the
very steps the book took; pass ``--lr-learning-rate 0.001`` to apply 0.001 to the exact gradients.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from scratch import linear_regression as s_lr
from scratch import metrics as s_metrics
from scratch import one_hidden_layer as s_nn
from torch_impl import regression as t_reg

from ..book.saved import book_row, number_after, saved_text
from ..port import relative_error
from ..tolerances import RECIPE_RTOL as PARITY_RTOL
from ._cli import parse
from ._common import load_boston_or_skip, verdict
from ._repro import make_curve, row


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m parity_tests.recipes ch2",
        description="Chapter 2 (Boston housing): linear regression and a one-hidden-layer network trained "
        "with hand-written gradients (scratch) and autograd (torch_impl) from the same weights and batches.",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for the initial weights and the shuffles (1)")
    p.add_argument(
        "--scale",
        "--iterations-scale",
        dest="scale",
        type=float,
        default=1.0,
        help="multiply every iteration count and test_every by this factor, for quick runs (1.0)",
    )
    p.add_argument("--lr-iterations", type=int, default=None, help="linear regression iterations (1000)")
    p.add_argument("--nn-iterations", type=int, default=None, help="network iterations (10000)")
    p.add_argument("--test-every", type=int, default=None, help="network: test every N iterations (1000)")
    p.add_argument(
        "--lr-learning-rate",
        type=float,
        default=None,
        help="linear regression SGD rate (default 0.001 * batch_size: the book's step, see above)",
    )
    p.add_argument(
        "--nn-learning-rate",
        type=float,
        default=None,
        help="network SGD rate (default 0.001 * batch_size / 2: the book's step, see above)",
    )
    p.add_argument("--batch-size", type=int, default=23, help="rows per batch (23)")
    p.add_argument("--hidden-size", type=int, default=13, help="hidden sigmoid units (13)")
    return p


def _scaled(explicit: int | None, default: int, scale: float) -> int:
    return explicit if explicit is not None else max(1, round(default * scale))


def _weights_rel_diff(torch_w: Mapping[str, torch.Tensor], scratch_w: Mapping[str, np.ndarray]) -> float:
    return max(relative_error(value, torch_w[key].numpy()) for key, value in scratch_w.items())


def _to_torch(weights: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(value.copy()) for key, value in weights.items()}


@dataclass
class Pair:
    """One model trained by both implementations: their results (losses, weights, test losses), predictions on
    the test set, training seconds, and the largest relative differences (``losses``, ``weights``, ``scores``)."""

    scratch: Any
    torch: Any
    predictions: dict[str, np.ndarray]
    seconds: dict[str, float]
    differences: dict[str, float] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max(self.differences.values())


def _pair(
    s_res: Any,
    t_res: Any,
    s_pred: np.ndarray,
    t_pred: np.ndarray,
    times: tuple[float, float, float],
    scores: bool = False,
) -> Pair:
    """The ``Pair`` of two finished runs (``times``: before scratch, between, after torch_impl), with the largest
    relative differences of the per-iteration losses, the test losses (``scores``) and the final weights."""
    t0, t1, t2 = times
    pair = Pair(s_res, t_res, {"scratch": s_pred, "torch_impl": t_pred}, {"scratch": t1 - t0, "torch_impl": t2 - t1})
    pair.differences["losses"] = relative_error(s_res.losses, t_res.losses)
    if scores:
        pair.differences["test losses"] = relative_error(s_res.scores, t_res.scores)
    pair.differences["final weights"] = _weights_rel_diff(t_res.weights, s_res.weights)
    return pair


def train_linear(data: Sequence[np.ndarray], iterations: int, lr: float, bs: int, seed: int, init: Any) -> Pair:
    """Linear regression in both implementations from the weights ``init`` on the same batches."""
    X_train, X_test, y_train, _ = data
    t0 = time.perf_counter()
    s_res = s_lr.train(
        X_train, y_train, iterations, lr, bs, return_losses=True, return_weights=True, seed=seed, weights=init
    )
    t1 = time.perf_counter()
    t_res = t_reg.train_linear_regression(
        torch.from_numpy(X_train),
        torch.from_numpy(y_train),
        iterations,
        lr,
        bs,
        return_losses=True,
        return_weights=True,
        seed=seed,
        weights=_to_torch(init),
    )
    t2 = time.perf_counter()
    s_pred = s_lr.predict(X_test, s_res.weights)
    t_pred = t_reg.predict_linear_regression(torch.from_numpy(X_test), t_res.weights).numpy()
    return _pair(s_res, t_res, s_pred, t_pred, (t0, t1, t2))


def train_network(
    data: Sequence[np.ndarray], iterations: int, test_every: int, lr: float, hidden: int, bs: int, seed: int, init: Any
) -> Pair:
    """The one-hidden-layer network in both implementations from the weights ``init`` on the same batches, with
    the test loss every ``test_every`` iterations."""
    X_train, X_test, y_train, y_test = data
    common = (iterations, test_every, lr, hidden, bs)
    t0 = time.perf_counter()
    s_net = s_nn.train(
        X_train,
        y_train,
        X_test,
        y_test,
        *common,
        return_losses=True,
        return_weights=True,
        return_scores=True,
        seed=seed,
        weights=init,
    )
    t1 = time.perf_counter()
    t_net = t_reg.train_one_hidden_layer(
        torch.from_numpy(X_train),
        torch.from_numpy(y_train),
        torch.from_numpy(X_test),
        torch.from_numpy(y_test),
        *common,
        return_losses=True,
        return_weights=True,
        return_scores=True,
        seed=seed,
        weights=_to_torch(init),
    )
    t2 = time.perf_counter()
    s_pred = s_nn.predict(X_test, s_net.weights)
    t_pred = t_reg.predict_one_hidden_layer(torch.from_numpy(X_test), t_net.weights).numpy()
    return _pair(s_net, t_net, s_pred, t_pred, (t0, t1, t2), scores=True)


def _sklearn_predictions(data: Sequence[np.ndarray]) -> tuple[np.ndarray, float] | None:
    """scikit-learn's closed-form ``LinearRegression`` on the same split: test predictions and seconds (None
    when scikit-learn is not installed)."""
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError:
        return None
    X_train, X_test, y_train, _ = data
    t0 = time.perf_counter()
    predictions = LinearRegression().fit(X_train, y_train).predict(X_test)
    return predictions, time.perf_counter() - t0


NAMES = {"scratch": "scratch (hand-written gradients)", "torch_impl": "torch_impl (autograd)"}


def _print_pair(pair: Pair, y_test: np.ndarray, extra: Sequence[tuple[str, np.ndarray]] = ()) -> None:
    """The MAE/RMSE table of both implementations (and ``extra`` predictions), their differences and times."""
    rows = [(NAMES[k], pred) for k, pred in pair.predictions.items()] + list(extra)
    print(f"  {'implementation':<32}{'MAE':>10}{'RMSE':>10}")
    for name, pred in rows:
        print(f"  {name:<32}{s_metrics.mae(pred, y_test):>10.4f}{s_metrics.rmse(pred, y_test):>10.4f}")


def _print_differences(pair: Pair) -> None:
    shown = ", ".join(f"{what} {diff:.1e}" for what, diff in pair.differences.items())
    print(f"  scratch vs torch_impl (max relative): {shown}")
    print(f"  time: scratch {pair.seconds['scratch']:.2f} s, torch_impl {pair.seconds['torch_impl']:.2f} s")


def _counts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, int, int] | None:
    """The iteration counts (scaled unless given) after checking every count option is >= 1 (else None, with
    the usage error printed)."""
    lr_iters = _scaled(args.lr_iterations, 1000, args.scale)
    nn_iters = _scaled(args.nn_iterations, 10000, args.scale)
    test_every = _scaled(args.test_every, 1000, args.scale)
    counts = {
        "--lr-iterations": lr_iters,
        "--nn-iterations": nn_iters,
        "--test-every": test_every,
        "--batch-size": args.batch_size,
        "--hidden-size": args.hidden_size,
    }
    for name, value in counts.items():
        if value < 1:
            parser.print_usage()
            print(f"error: {name} must be >= 1; received {value}")
            return None
    return lr_iters, nn_iters, test_every


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 2 recipe; ``argv`` defaults to the command line. Returns the exit code."""
    parser = _parser()
    args = parse(parser, argv)
    if isinstance(args, int):  # --help or a usage error: argparse's code
        return args
    if (counts := _counts(parser, args)) is None:
        return 2
    lr_iters, nn_iters, test_every = counts
    try:
        from data import load_boston
    except ImportError as exc:
        print(f"error: the data package could not be imported ({exc})")
        return 1
    data = load_boston()
    X_train, X_test, _, y_test = data
    n_features = X_train.shape[1]
    rng = np.random.default_rng(args.seed)
    lr_init = s_lr.init_weights(n_features, rng)
    nn_init = s_nn.init_weights(n_features, args.hidden_size, rng)
    print(
        f"Chapter 2: Boston housing ({X_train.shape[0]} train / {X_test.shape[0]} test rows, "
        f"{n_features} standardised features), seed {args.seed}"
    )

    bs, seed, hidden = args.batch_size, args.seed, args.hidden_size
    lr = args.lr_learning_rate if args.lr_learning_rate is not None else 0.001 * bs
    linear = train_linear(data, lr_iters, lr, bs, seed, lr_init)
    sklearn = _sklearn_predictions(data)
    print()
    print(f"Linear regression: SGD lr {lr:g}, batch {bs}, {lr_iters} iterations")
    _print_pair(linear, y_test, [] if sklearn is None else [("scikit-learn LinearRegression", sklearn[0])])
    if sklearn is None:
        print("  scikit-learn is not installed: no closed-form comparison")
    _print_differences(linear)

    lr = args.nn_learning_rate if args.nn_learning_rate is not None else 0.001 * bs / 2
    network = train_network(data, nn_iters, test_every, lr, hidden, bs, seed, nn_init)
    print()
    print(f"One hidden layer ({n_features} -> {hidden} sigmoid -> 1): SGD lr {lr:g}, batch {bs}, {nn_iters} iterations")
    print(f"  {'iteration':>9}  {'test loss, scratch':>20}  {'test loss, torch_impl':>22}")
    scores = zip(network.scratch.scores, network.torch.scores, strict=True)
    for k, (s_score, t_score) in enumerate(scores, start=1):
        print(f"  {k * test_every:>9}  {s_score:>20.4f}  {t_score:>22.4f}")
    _print_pair(network, y_test)
    _print_differences(network)
    return verdict(max(linear.worst, network.worst), PARITY_RTOL)


def _curve(losses: Sequence[float]) -> dict[str, Any]:
    """The row curve of a training run: the mean squared error of every iteration's batch."""
    return make_curve(losses, label="training loss (MSE per batch)", x_label="iteration")


def _rows(experiment: str, pair: Pair, y_test: np.ndarray, note: str) -> list[dict[str, Any]]:
    """The scratch and torch_impl rows of one model: test MAE and RMSE, seconds, the training loss curve."""
    return [
        row(
            "ch2",
            experiment,
            label,
            {"MAE": s_metrics.mae(pred, y_test), "RMSE": s_metrics.rmse(pred, y_test)},
            pair.seconds[label],
            note,
            curve=_curve(result.losses),
        )
        for (label, pred), result in zip(pair.predictions.items(), (pair.scratch, pair.torch), strict=True)
    ]


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: test MAE and RMSE of linear regression (scratch, torch_impl and scikit-learn's
    closed-form ``LinearRegression`` as a third implementation when installed) and of the one-hidden-layer
    network, with the defaults of ``main`` (the book's effective learning rates). ``quick`` runs a tenth of
    the iterations. The scratch and torch_impl rows carry the training loss of every iteration as their
    ``curve`` (the closed-form scikit-learn row has none). Raises ``SkipRecipe`` without mlxtend (the Boston
    data)."""
    data = load_boston_or_skip()
    y_test = data[3]
    scale = 0.1 if quick else 1.0
    seed, bs, hidden = 1, 23, 13
    lr_iters, nn_iters, test_every = (max(1, round(n * scale)) for n in (1000, 10000, 1000))
    rng = np.random.default_rng(seed)
    lr_init = s_lr.init_weights(data[0].shape[1], rng)
    nn_init = s_nn.init_weights(data[0].shape[1], hidden, rng)

    lr = 0.001 * bs
    note = f"SGD lr {lr:g}, batch {bs}, {lr_iters} iterations"
    rows = _rows("linear regression", train_linear(data, lr_iters, lr, bs, seed, lr_init), y_test, note)
    sklearn = _sklearn_predictions(data)
    if sklearn is None:
        rows[-1]["note"] = note + "; scikit-learn not installed (no closed-form comparison)"
    else:
        metrics = {"MAE": s_metrics.mae(sklearn[0], y_test), "RMSE": s_metrics.rmse(sklearn[0], y_test)}
        rows.append(row("ch2", "linear regression", "sklearn", metrics, sklearn[1], note))

    lr = 0.001 * bs / 2
    network = train_network(data, nn_iters, test_every, lr, hidden, bs, seed, nn_init)
    note = f"13 -> {hidden} sigmoid -> 1; SGD lr {lr:g}, batch {bs}, {nn_iters} iterations"
    rows += _rows("one hidden layer", network, y_test, note)
    if not quick:  # the book printed its errors after the full 1000 / 10000 iterations only
        rows += _book_rows()
    return rows


def _book_rows() -> list[dict[str, Any]]:
    """The book's printed MAE and RMSE of both models (``02_fundamentals/Code.ipynb`` cells 35 and 77)."""
    out = []
    for experiment, cell, extra in (
        ("linear regression", 35, ""),
        ("one hidden layer", 77, "; its hidden bias gradient is wrong (guide erratum E22)"),
    ):
        text = saved_text("ch2", cell)
        if text is None:
            continue
        metrics = {
            "MAE": number_after(text, r"Mean absolute error:"),
            "RMSE": number_after(text, r"Root mean squared error:"),
        }
        source = f"02_fundamentals/Code.ipynb cell {cell}, the book's stream, lr 0.001 on its scaled gradients{extra}"
        if (book := book_row("ch2", experiment, metrics, source)) is not None:
            out.append(book)
    return out
