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
from ..tolerances import RECIPE_RTOL as PARITY_RTOL
from ._cli import parse, positive_int
from ._common import emit_validation, load_boston_or_skip, run_difference, torch_predict, validation_curve, verdict
from ._repro import SkipRecipe, row
from .ch4 import share_dropout_masks

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
    t_hist = ti.Trainer(model, optim, nn.MSELoss()).fit(
        X_train, y_train, X_test, y_test, progress=False, verbose=False, **fit
    )
    t2 = time.perf_counter()
    s_pred = net.forward(X_test, inference=True)
    t_pred = torch_predict(model, X_test)

    emit(
        "DenseLayer(13, 13, Tanh, dropout 0.8) -> DenseLayer(13, 1); MSE; SGD(0.001, momentum 0.9); "
        f"{args.epochs} epochs"
    )
    hists = {"scratch": s_hist, "torch_impl": t_hist}
    emit_validation(emit, hists)
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
    worst = run_difference(s_hist, t_hist, s_pred, t_pred)
    emit(f"  scratch vs torch_impl (max relative): {worst:.1e} (same weights, batches and dropout masks)")
    curves = {label: validation_curve(hist, "MSE") for label, hist in hists.items()}
    return {"metrics": metrics, "seconds": seconds, "worst": worst, "curves": curves}


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: best validation loss, MAE and RMSE per implementation (``quick``: 20 epochs, eval
    every 5), with the validation loss at every evaluation as the row's curve. Raises ``SkipRecipe`` without
    mlxtend (the Boston data)."""
    data = load_boston_or_skip()
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
        data = load_boston_or_skip()
    except SkipRecipe as exc:
        print(f"error: {exc.reason}")
        return 2
    print(f"Chapter 7 Boston housing ({data[0].shape[0]} train / {data[1].shape[0]} test rows), seed {args.seed}")
    return verdict(run(args, data)["worst"], PARITY_RTOL)
