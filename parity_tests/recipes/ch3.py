"""Chapter 3: the framework on Boston housing ("lr", "nn", "dl" models), scratch vs torch_impl.

Each model is trained with SGD (lr 0.01), mean squared error, batches of 32, 50 epochs, evaluated every
10 epochs with early stopping, as in the book. The scratch network draws its initial weights from its seed;
the torch_impl model is loaded with exactly those weights (through the parity converters), and both
trainers shuffle with the same seed, so the two runs must agree to round-off. The recipe prints the
validation losses at each evaluation side by side, then MAE and RMSE on the test set, and exits 1 if the
implementations disagree by more than 1e-8 (relative).

    python -m parity_tests.recipes ch3               # all three models
    python -m parity_tests.recipes ch3 --model dl --epochs 100
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import scratch
import torch_impl as ti

from ..book.saved import book_row, number_after, saved_text, validation_losses
from ..converters import dense_stack
from ..tolerances import RECIPE_RTOL as PARITY_RTOL
from ._cli import parse, positive_int
from ._common import (
    emit_validation,
    load_boston_or_skip,
    load_scratch_weights,
    run_difference,
    torch_predict,
    validation_curve,
    verdict,
)
from ._repro import row

BOOK_SEED = 20190501

# Hidden layers of each model (the output layer Dense(1, Linear) is added to every one).
MODELS: dict[str, tuple[int, ...]] = {"lr": (), "nn": (13,), "dl": (13, 13)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parity_tests.recipes ch3", description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=[*MODELS, "all"], default="all", help="which model (all)")
    p.add_argument("--epochs", type=positive_int, default=50, help="epochs (50)")
    p.add_argument("--eval-every", type=positive_int, default=10, help="evaluate every N epochs (10)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="rows per batch (32)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (0.01)")
    p.add_argument("--seed", type=int, default=BOOK_SEED, help=f"network and shuffling seed ({BOOK_SEED})")
    return p


def build_scratch(hidden: Sequence[int], seed: int) -> scratch.NeuralNetwork:
    """The book's chapter 3 network: Dense(h, Sigmoid) for each hidden width, then Dense(1, Linear)."""
    layers: list[scratch.Layer] = [scratch.Dense(h, scratch.Sigmoid()) for h in hidden]
    layers.append(scratch.Dense(1, scratch.Linear()))
    return scratch.NeuralNetwork(layers, scratch.MeanSquaredError(), seed=seed)


def build_torch_twin(net: scratch.NeuralNetwork, n_in: int) -> ti.SequentialModel:
    """The torch_impl twin of a set-up scratch network, loaded with the very same weights."""
    widths = [n_in] + [layer.neurons for layer in net.layers]
    layers = []
    for i, layer in enumerate(net.layers):
        if not isinstance(layer, scratch.Dense):
            raise TypeError(f"the chapter 3 twin is built from Dense layers; received {type(layer).__name__}")
        activation = ti.Sigmoid() if isinstance(layer.activation, scratch.Sigmoid) else ti.Linear()
        layers.append(ti.Dense(widths[i], widths[i + 1], activation, dtype=torch.float64))
    model = ti.SequentialModel(*layers)
    load_scratch_weights(model, net.params(), dense_stack(len(net.layers)))
    return model


def run_model(
    name: str,
    args: argparse.Namespace,
    data: tuple[np.ndarray, ...],
    emit: Callable[[str], None] = print,
    results: dict[str, Any] | None = None,
) -> float:
    """Train one model in both implementations; print the comparison; return the worst relative difference.

    ``results`` (if given) receives ``{"metrics": {impl: {name: value}}, "seconds": {impl: s}, "curves": {impl:
    curve}}``, each curve the validation loss at every evaluation (see ``make_curve``)."""
    X_train, X_test, y_train, y_test = data
    net = build_scratch(MODELS[name], args.seed)
    net.forward(X_train[:1])  # creates the weights from the network's seed
    model = build_torch_twin(net, X_train.shape[1])
    fit = {"epochs": args.epochs, "eval_every": args.eval_every, "batch_size": args.batch_size, "seed": args.seed}

    messages = io.StringIO()
    t0 = time.perf_counter()
    s_hist = scratch.Trainer(net, scratch.SGD(args.lr)).fit(
        X_train, y_train, X_test, y_test, restart=False, progress=False, verbose=False, **fit
    )
    t1 = time.perf_counter()
    trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=args.lr), ti.MeanSquaredError())
    t_hist = trainer.fit(X_train, y_train, X_test, y_test, progress=False, verbose=False, stream=messages, **fit)
    t2 = time.perf_counter()

    s_pred = net.forward(X_test, inference=True)
    t_pred = torch_predict(model, X_test)
    hists = {"scratch": s_hist, "torch_impl": t_hist}
    layout = " -> ".join(["13", *(f"{h} sigmoid" for h in MODELS[name]), "1"])
    emit(f'\nModel "{name}" ({layout}): SGD lr {args.lr:g}, batch {args.batch_size}, {args.epochs} epochs')
    emit_validation(emit, hists)
    emit(f"  {'implementation':<12}{'MAE':>10}{'RMSE':>10}{'time (s)':>10}")
    for label, pred, seconds in (("scratch", s_pred, t1 - t0), ("torch_impl", t_pred, t2 - t1)):
        emit(f"  {label:<12}{scratch.mae(pred, y_test):>10.4f}{scratch.rmse(pred, y_test):>10.4f}{seconds:>10.2f}")
    worst = run_difference(s_hist, t_hist, s_pred, t_pred)
    emit(f"  scratch vs torch_impl (max relative): {worst:.1e}")
    if results is not None:
        results["metrics"] = {
            label: {
                "val loss (last)": hist.val_losses[-1],
                "MAE": scratch.mae(p, y_test),
                "RMSE": scratch.rmse(p, y_test),
            }
            for label, hist, p in (("scratch", s_hist, s_pred), ("torch_impl", t_hist, t_pred))
        }
        results["seconds"] = {"scratch": t1 - t0, "torch_impl": t2 - t1}
        results["curves"] = {label: validation_curve(hist, "MSE") for label, hist in hists.items()}
    return worst


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows per model and implementation: last validation loss, MAE and RMSE on the test set
    (``quick``: 10 epochs, eval every 5), with the validation loss at every evaluation as the row's curve.
    Raises ``SkipRecipe`` without mlxtend (the Boston data)."""
    data = load_boston_or_skip()
    epochs, every = (10, 5) if quick else (50, 10)
    args = argparse.Namespace(epochs=epochs, eval_every=every, batch_size=32, lr=0.01, seed=BOOK_SEED)
    rows = []
    for name in MODELS:
        results: dict[str, Any] = {}
        worst = run_model(name, args, data, emit=lambda _: None, results=results)
        note = f"{epochs} epochs; max rel diff {worst:.0e}"
        for label, metrics in results["metrics"].items():
            rows.append(
                row("ch3", name, label, metrics, results["seconds"][label], note, curve=results["curves"][label])
            )
        if (book := _book_row(name, epochs)) is not None:
            rows.append(book)
    return rows


#: The notebook cell that trains each model (``03_dlfs/Code.ipynb``), for the book's printed numbers.
BOOK_CELLS = {"lr": 33, "nn": 34, "dl": 35}


def _book_row(name: str, epochs: int) -> dict[str, Any] | None:
    """The book's printed validation loss after ``epochs`` epochs (and, after the full 50, its MAE and RMSE)."""
    text = saved_text("ch3", BOOK_CELLS[name])
    if text is None:
        return None
    full = epochs == 50
    metrics = {
        "val loss (last)": validation_losses(text).get(epochs),
        "MAE": number_after(text, r"Mean absolute error:") if full else None,
        "RMSE": number_after(text, r"Root mean squared error") if full else None,
    }
    source = (
        f"03_dlfs/Code.ipynb cell {BOOK_CELLS[name]}, the book's random stream (this recipe draws its own; "
        "scratch.book.ch3 prints these numbers exactly: report/book)"
    )
    return book_row("ch3", name, metrics, source)


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 3 recipe; returns the exit code."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    from data import load_boston

    data = load_boston()
    print(f"Chapter 3: Boston housing ({data[0].shape[0]} train / {data[1].shape[0]} test rows), seed {args.seed}")
    names = list(MODELS) if args.model == "all" else [args.model]
    return verdict(max(run_model(name, args, data) for name in names), PARITY_RTOL)
