"""Chapter 7: the PyTorch Boston housing network and its scratch twin, same weights, batches and dropout masks.

The book's chapter 7 model: DenseLayer(13, 13, Tanh, dropout keep 0.8) -> DenseLayer(13, 1); ``nn.MSELoss``
(one output per row, so it equals the book's MSE); ``torch.optim.SGD(lr 0.001, momentum 0.9)``; 100 epochs,
evaluated every 10 with early stopping; batches of 32. Layers use torch's default ``nn.Linear``
initialisation (drawn from a seeded generator) and torch's inverted dropout.

The scratch twin (``Dense(13, Tanh, dropout 0.8, inverted_dropout=True)`` -> ``Dense(1)``, ``SGDMomentum``:
identical to torch's momentum at a constant learning rate) is loaded with the torch model's initial weights,
both trainers shuffle with the same seed, and the torch model's dropout masks are injected from a copy of the
scratch layer's generator, so the two runs are the same computation and must agree to round-off. Prints the
validation losses side by side, then MAE and RMSE on the test set; exits 1 if they disagree by more than 1e-8.

    python -m parity_tests.recipes ch7-boston
    python -m parity_tests.recipes ch7-boston --epochs 20 --eval-every 5
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import scratch
import torch_impl as ti

from ..converters import dense_stack
from ..port import relative_error
from ._cli import parse, positive_int
from ._repro import SkipRecipe, make_curve, row
from .ch4 import share_dropout_masks

PARITY_RTOL = 1e-8
BOOK_SEED = 20190701


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parity_tests.recipes ch7-boston", description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=positive_int, default=100, help="epochs (100)")
    p.add_argument("--eval-every", type=positive_int, default=10, help="evaluate every N epochs (10)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="rows per batch (32)")
    p.add_argument("--seed", type=int, default=BOOK_SEED, help=f"weights, dropout and shuffling seed ({BOOK_SEED})")
    return p


def build_models(seed: int) -> tuple[ti.SequentialModel, scratch.NeuralNetwork]:
    """The chapter 7 torch model (seeded torch init) and its scratch twin with the same weights and masks."""
    gen = torch.Generator().manual_seed(seed)
    model = ti.SequentialModel(
        ti.DenseLayer(13, 13, 0.8, nn.Tanh(), generator=gen, dtype=torch.float64),
        ti.DenseLayer(13, 1, generator=gen, dtype=torch.float64),
    )
    net = scratch.NeuralNetwork(
        [scratch.Dense(13, scratch.Tanh(), dropout=0.8, inverted_dropout=True), scratch.Dense(1)],
        scratch.MeanSquaredError(),
        seed=seed,
    )
    converter = dense_stack(2)
    book = converter.to_book({k: v.detach().numpy() for k, v in model.state_dict().items()})
    names = iter(converter.book_names)
    for layer in net.layers:
        layer.load_params([book[next(names)], book[next(names)]])  # [W, B] per layer
    hidden = model[0]
    dropout = hidden.dropout_op if isinstance(hidden, ti.DenseLayer) else None
    if dropout is None:  # pragma: no cover - a generator makes DenseLayer use BookDropout
        raise RuntimeError("the chapter 7 hidden layer must use BookDropout to share masks")
    share_dropout_masks(dropout, copy.deepcopy(net.layers[0].rng))
    return model, net


def run(args: argparse.Namespace, data: tuple[np.ndarray, ...], emit: Callable[[str], None] = print) -> dict[str, Any]:
    """Train both implementations; print the comparison; return metrics, seconds, the worst difference and the
    curves (``{"metrics", "seconds", "worst", "curves"}``; each curve the validation loss at every evaluation)."""
    X_train, X_test, y_train, y_test = data
    model, net = build_models(args.seed)
    fit = {"epochs": args.epochs, "eval_every": args.eval_every, "batch_size": args.batch_size, "seed": args.seed}
    t0 = time.perf_counter()
    s_hist = scratch.Trainer(net, scratch.SGDMomentum(0.001, momentum=0.9)).fit(
        X_train, y_train, X_test, y_test, restart=False, progress=False, verbose=False, **fit
    )
    t1 = time.perf_counter()
    optim = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    t_hist = ti.PyTorchTrainer(model, optim, nn.MSELoss()).fit(
        X_train, y_train, X_test, y_test, progress=False, verbose=False, **fit
    )
    t2 = time.perf_counter()
    s_pred = net.forward(X_test, inference=True)
    model.eval()
    with torch.no_grad():
        t_pred = model(torch.from_numpy(X_test), inference=True).numpy()

    emit(
        "DenseLayer(13, 13, Tanh, dropout 0.8) -> DenseLayer(13, 1); MSE; SGD(0.001, momentum 0.9); "
        f"{args.epochs} epochs"
    )
    emit(f"  {'epoch':>6}  {'val loss, scratch':>18}  {'val loss, torch_impl':>21}")
    for epoch, s_loss, t_loss in zip(s_hist.eval_epochs, s_hist.val_losses, t_hist.val_losses, strict=False):
        emit(f"  {epoch:>6}  {s_loss:>18.4f}  {t_loss:>21.4f}")
    hists = {"scratch": s_hist, "torch_impl": t_hist}
    for label, hist in hists.items():
        if hist.stopped_early:
            emit(f"  {label}: early stopping fired; kept the model from epoch {hist.best_epoch}")
    metrics = {
        label: {
            "val loss (best)": hists[label].best_loss,
            "MAE": scratch.mae(p, y_test),
            "RMSE": scratch.rmse(p, y_test),
        }
        for label, p in (("scratch", s_pred), ("torch_impl", t_pred))
    }
    seconds = {"scratch": t1 - t0, "torch_impl": t2 - t1}
    emit(f"  {'implementation':<12}{'MAE':>10}{'RMSE':>10}{'time (s)':>10}")
    for label, m in metrics.items():
        emit(f"  {label:<12}{m['MAE']:>10.4f}{m['RMSE']:>10.4f}{seconds[label]:>10.2f}")
    worst = max(
        relative_error(np.asarray(s_hist.val_losses), np.asarray(t_hist.val_losses)),
        relative_error(np.asarray(s_hist.train_losses), np.asarray(t_hist.train_losses)),
        relative_error(s_pred, t_pred),
    )
    emit(f"  scratch vs torch_impl (max relative): {worst:.1e} (same weights, batches and dropout masks)")
    curves = {
        label: make_curve(hist.val_losses, x=hist.eval_epochs, label="validation loss (MSE)", x_label="epoch")
        for label, hist in hists.items()
    }
    return {"metrics": metrics, "seconds": seconds, "worst": worst, "curves": curves}


def _load() -> tuple[np.ndarray, ...]:
    from data import load_boston

    return load_boston()


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: best validation loss, MAE and RMSE per implementation (``quick``: 20 epochs, eval
    every 5), with the validation loss at every evaluation as the row's curve. Raises ``SkipRecipe`` without
    mlxtend (the Boston data)."""
    try:
        data = _load()
    except ImportError as exc:
        raise SkipRecipe(f"Boston housing needs mlxtend ({exc})") from None
    epochs, every = (20, 5) if quick else (100, 10)
    args = argparse.Namespace(epochs=epochs, eval_every=every, batch_size=32, seed=BOOK_SEED)
    result = run(args, data, emit=lambda _: None)
    note = f"{epochs} epochs; shared dropout masks; max rel diff {result['worst']:.0e}"
    return [
        row("ch7", "Boston (dropout 0.8)", label, m, result["seconds"][label], note, curve=result["curves"][label])
        for label, m in result["metrics"].items()
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 7 Boston recipe; returns the exit code."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        data = _load()
    except ImportError as exc:
        print(f"error: {exc}")
        return 2
    print(f"Chapter 7 Boston housing ({data[0].shape[0]} train / {data[1].shape[0]} test rows), seed {args.seed}")
    worst = run(args, data)["worst"]
    verdict = "agree" if worst <= PARITY_RTOL else "DISAGREE"
    print(f"\nparity: scratch and torch_impl {verdict} to {worst:.1e} (tolerance {PARITY_RTOL:g})")
    return 0 if worst <= PARITY_RTOL else 1
