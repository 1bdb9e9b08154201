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
from typing import Any

import numpy as np
import torch

from scratch import linear_regression as s_lr
from scratch import metrics as s_metrics
from scratch import one_hidden_layer as s_nn
from torch_impl import regression as t_reg

from ..book.saved import book_row, number_after, saved_text
from ..port import relative_error
from ._repro import SkipRecipe, make_curve, row

PARITY_RTOL = 1e-8


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


def _metrics_table(rows: Sequence[tuple[str, float, float]]) -> list[str]:
    lines = [f"  {'implementation':<32}{'MAE':>10}{'RMSE':>10}"]
    lines += [f"  {name:<32}{m:>10.4f}{r:>10.4f}" for name, m, r in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 2 recipe; ``argv`` defaults to the command line. Returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: report argparse's code instead of exiting
        return exc.code if isinstance(exc.code, int) else 2
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
            return 2

    try:
        from data import load_boston
    except ImportError as exc:
        print(f"error: the data package could not be imported ({exc})")
        return 1
    X_train, X_test, y_train, y_test = load_boston()
    tX_train, tX_test, ty_train, ty_test = (torch.from_numpy(a) for a in (X_train, X_test, y_train, y_test))
    n_features = X_train.shape[1]

    rng = np.random.default_rng(args.seed)
    lr_init = s_lr.init_weights(n_features, rng)
    nn_init = s_nn.init_weights(n_features, args.hidden_size, rng)

    print(
        f"Chapter 2: Boston housing ({X_train.shape[0]} train / {X_test.shape[0]} test rows, "
        f"{n_features} standardised features), seed {args.seed}"
    )
    worst = 0.0

    # ---- linear regression --------------------------------------------------------------------------
    bs, seed = args.batch_size, args.seed
    lr = args.lr_learning_rate if args.lr_learning_rate is not None else 0.001 * bs
    t0 = time.perf_counter()
    s_res = s_lr.train(
        X_train,
        y_train,
        lr_iters,
        lr,
        bs,
        return_losses=True,
        return_weights=True,
        seed=seed,
        weights=lr_init,
    )
    t1 = time.perf_counter()
    t_res = t_reg.train_linear_regression(
        tX_train,
        ty_train,
        lr_iters,
        lr,
        bs,
        return_losses=True,
        return_weights=True,
        seed=seed,
        weights=_to_torch(lr_init),
    )
    t2 = time.perf_counter()
    s_pred = s_lr.predict(X_test, s_res.weights)
    t_pred = t_reg.predict_linear_regression(tX_test, t_res.weights)
    rows = [
        ("scratch (hand-written gradients)", s_metrics.mae(s_pred, y_test), s_metrics.rmse(s_pred, y_test)),
        ("torch_impl (autograd)", t_reg.mae(t_pred, ty_test), t_reg.rmse(t_pred, ty_test)),
    ]
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError:
        sk_note = "  scikit-learn is not installed: no closed-form comparison"
    else:
        sk_pred = LinearRegression().fit(X_train, y_train).predict(X_test)
        rows.append(("scikit-learn LinearRegression", s_metrics.mae(sk_pred, y_test), s_metrics.rmse(sk_pred, y_test)))
        sk_note = ""
    loss_diff = relative_error(s_res.losses, t_res.losses)
    weight_diff = _weights_rel_diff(t_res.weights, s_res.weights)
    worst = max(worst, loss_diff, weight_diff)
    print()
    print(f"Linear regression: SGD lr {lr:g}, batch {bs}, {lr_iters} iterations")
    print("\n".join(_metrics_table(rows)))
    if sk_note:
        print(sk_note)
    print(f"  scratch vs torch_impl (max relative): losses {loss_diff:.1e}, final weights {weight_diff:.1e}")
    print(f"  time: scratch {t1 - t0:.2f} s, torch_impl {t2 - t1:.2f} s")

    # ---- one hidden layer -----------------------------------------------------------------------------
    lr = args.nn_learning_rate if args.nn_learning_rate is not None else 0.001 * bs / 2
    hidden = args.hidden_size
    t0 = time.perf_counter()
    s_net = s_nn.train(
        X_train,
        y_train,
        X_test,
        y_test,
        nn_iters,
        test_every,
        lr,
        hidden,
        bs,
        return_losses=True,
        return_weights=True,
        return_scores=True,
        seed=seed,
        weights=nn_init,
    )
    t1 = time.perf_counter()
    t_net = t_reg.train_one_hidden_layer(
        tX_train,
        ty_train,
        tX_test,
        ty_test,
        nn_iters,
        test_every,
        lr,
        hidden,
        bs,
        return_losses=True,
        return_weights=True,
        return_scores=True,
        seed=seed,
        weights=_to_torch(nn_init),
    )
    t2 = time.perf_counter()
    s_pred = s_nn.predict(X_test, s_net.weights)
    t_pred = t_reg.predict_one_hidden_layer(tX_test, t_net.weights)
    loss_diff = relative_error(s_net.losses, t_net.losses)
    weight_diff = _weights_rel_diff(t_net.weights, s_net.weights)
    score_diff = relative_error(s_net.scores, t_net.scores)
    worst = max(worst, loss_diff, weight_diff, score_diff)
    print()
    print(f"One hidden layer ({n_features} -> {hidden} sigmoid -> 1): SGD lr {lr:g}, batch {bs}, {nn_iters} iterations")
    print(f"  {'iteration':>9}  {'test loss, scratch':>20}  {'test loss, torch_impl':>22}")
    for k, (s_score, t_score) in enumerate(zip(s_net.scores, t_net.scores, strict=True), start=1):
        print(f"  {k * test_every:>9}  {s_score:>20.4f}  {t_score:>22.4f}")
    rows = [
        ("scratch (hand-written gradients)", s_metrics.mae(s_pred, y_test), s_metrics.rmse(s_pred, y_test)),
        ("torch_impl (autograd)", t_reg.mae(t_pred, ty_test), t_reg.rmse(t_pred, ty_test)),
    ]
    print("\n".join(_metrics_table(rows)))
    print(
        f"  scratch vs torch_impl (max relative): losses {loss_diff:.1e}, test losses {score_diff:.1e}, "
        f"final weights {weight_diff:.1e}"
    )
    print(f"  time: scratch {t1 - t0:.2f} s, torch_impl {t2 - t1:.2f} s")

    print()
    if worst > PARITY_RTOL:
        print(f"PARITY FAILED: scratch and torch_impl differ by {worst:.1e} (tolerance {PARITY_RTOL:g})")
        return 1
    print(f"parity: scratch and torch_impl agree to {worst:.1e} (tolerance {PARITY_RTOL:g})")
    return 0


def _curve(losses: Sequence[float]) -> dict[str, Any]:
    """The row curve of a training run: the mean squared error of every iteration's batch."""
    return make_curve(losses, label="training loss (MSE per batch)", x_label="iteration")


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: test MAE and RMSE of linear regression (scratch, torch_impl and scikit-learn's
    closed-form ``LinearRegression`` as a third implementation when installed) and of the one-hidden-layer
    network, with the defaults of ``main`` (the book's effective learning rates). ``quick`` runs a tenth of
    the iterations. The scratch and torch_impl rows carry the training loss of every iteration as their
    ``curve`` (the closed-form scikit-learn row has none). Raises ``SkipRecipe`` without mlxtend (the Boston
    data)."""
    try:
        from data import load_boston

        X_train, X_test, y_train, y_test = load_boston()
    except ImportError as exc:
        raise SkipRecipe(f"Boston housing needs mlxtend ({exc})") from None
    scale = 0.1 if quick else 1.0
    seed, bs, hidden = 1, 23, 13
    lr_iters, nn_iters, test_every = (max(1, round(n * scale)) for n in (1000, 10000, 1000))
    rng = np.random.default_rng(seed)
    lr_init = s_lr.init_weights(X_train.shape[1], rng)
    nn_init = s_nn.init_weights(X_train.shape[1], hidden, rng)
    tX_train, tX_test, ty_train = (torch.from_numpy(a) for a in (X_train, X_test, y_train))

    def metrics(pred: np.ndarray) -> dict[str, float]:
        return {"MAE": s_metrics.mae(pred, y_test), "RMSE": s_metrics.rmse(pred, y_test)}

    rows: list[dict[str, Any]] = []
    lr = 0.001 * bs
    t0 = time.perf_counter()
    lr_args = (lr_iters, lr, bs)
    s_res = s_lr.train(X_train, y_train, *lr_args, return_losses=True, return_weights=True, seed=seed, weights=lr_init)
    t1 = time.perf_counter()
    t_res = t_reg.train_linear_regression(
        tX_train, ty_train, *lr_args, return_losses=True, return_weights=True, seed=seed, weights=_to_torch(lr_init)
    )
    t2 = time.perf_counter()
    note = f"SGD lr {lr:g}, batch {bs}, {lr_iters} iterations"
    experiment = "linear regression"
    s_pred = s_lr.predict(X_test, s_res.weights)
    rows.append(row("ch2", experiment, "scratch", metrics(s_pred), t1 - t0, note, curve=_curve(s_res.losses)))
    t_pred = t_reg.predict_linear_regression(tX_test, t_res.weights).numpy()
    rows.append(row("ch2", experiment, "torch_impl", metrics(t_pred), t2 - t1, note, curve=_curve(t_res.losses)))
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError:
        rows[-1]["note"] = note + "; scikit-learn not installed (no closed-form comparison)"
    else:
        t0 = time.perf_counter()
        sk_pred = LinearRegression().fit(X_train, y_train).predict(X_test)
        rows.append(row("ch2", experiment, "sklearn", metrics(sk_pred), time.perf_counter() - t0, note))

    lr = 0.001 * bs / 2
    common = (nn_iters, test_every, lr, hidden, bs)
    t0 = time.perf_counter()
    s_net = s_nn.train(
        X_train, y_train, X_test, y_test, *common, return_losses=True, return_weights=True, seed=seed, weights=nn_init
    )
    t1 = time.perf_counter()
    t_net = t_reg.train_one_hidden_layer(
        tX_train,
        ty_train,
        tX_test,
        torch.from_numpy(y_test),
        *common,
        return_losses=True,
        return_weights=True,
        seed=seed,
        weights=_to_torch(nn_init),
    )
    t2 = time.perf_counter()
    note = f"13 -> {hidden} sigmoid -> 1; SGD lr {lr:g}, batch {bs}, {nn_iters} iterations"
    experiment = "one hidden layer"
    s_pred = s_nn.predict(X_test, s_net.weights)
    rows.append(row("ch2", experiment, "scratch", metrics(s_pred), t1 - t0, note, curve=_curve(s_net.losses)))
    t_pred = t_reg.predict_one_hidden_layer(tX_test, t_net.weights).numpy()
    rows.append(row("ch2", experiment, "torch_impl", metrics(t_pred), t2 - t1, note, curve=_curve(t_net.losses)))
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
