"""What several recipes do the same way: loading the twin's weights, predicting, comparing two training runs,
printing their validation losses, the MNIST recipes' batch loop and entry points, the loss plot of two runs.

Every recipe trains a scratch network and its torch_impl twin side by side; these helpers are the shared steps,
so that a recipe module shows only what is particular to its chapter.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from data import MnistData, load_mnist
from data.progress import TrainingHistory as History  # what both trainers' fit returns

from ..converters import TensorConverter
from ..port import load_arrays, relative_error
from ..report.recipes import IMPLEMENTATIONS
from ._cli import parse
from ._repro import SkipRecipe, first_sentence, make_curve, row, save_figure_atomic

Emit = Callable[[str], None]


def quiet(_: str) -> None:
    """An ``emit`` that prints nothing (the reproduction table runs the recipes silently)."""
    return None


# ---- models -------------------------------------------------------------------------------------------------


def load_scratch_weights(model: torch.nn.Module, params: Iterable[np.ndarray], converter: TensorConverter) -> None:
    """Load a scratch network's parameters (``net.params()``, in ``converter.book_names`` order) into its twin."""
    book = dict(zip(converter.book_names, (p.copy() for p in params), strict=True))
    load_arrays(model, converter.to_torch(book))


def torch_predict(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """The twin's inference output for ``x`` (eval mode, no gradients); the model's training mode is restored."""
    training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x), inference=True).numpy()
    model.train(training)
    return out


def accuracy(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, labels: np.ndarray, chunk: int = 500) -> float:
    """Fraction of ``X`` classified as ``labels``, predicting ``chunk`` images at a time (bounded memory)."""
    hits = 0
    for start in range(0, X.shape[0], chunk):
        hits += int(np.sum(np.argmax(predict(X[start : start + chunk]), axis=1) == labels[start : start + chunk]))
    return hits / X.shape[0]


# ---- comparing two training runs ----------------------------------------------------------------------------


def run_difference(s_hist: History, t_hist: History, s_pred: np.ndarray, t_pred: np.ndarray) -> float:
    """The largest relative difference of two runs: validation losses, training losses and test predictions."""
    return max(
        relative_error(np.asarray(s_hist.val_losses), np.asarray(t_hist.val_losses)),
        relative_error(np.asarray(s_hist.train_losses), np.asarray(t_hist.train_losses)),
        relative_error(s_pred, t_pred),
    )


def emit_validation(emit: Emit, hists: Mapping[str, History], *, last_epoch: int | None = None) -> None:
    """The validation loss at every evaluation of both runs side by side (``-`` where a run stopped earlier),
    then which model each run kept (``last_epoch``: also say so when a run did not stop early)."""
    s_hist, t_hist = hists["scratch"], hists["torch_impl"]
    emit(f"  {'epoch':>6}  {'val loss, scratch':>18}  {'val loss, torch_impl':>21}")
    s_epochs, t_epochs = s_hist.eval_epochs, t_hist.eval_epochs
    for i in range(max(len(s_epochs), len(t_epochs))):
        epoch = s_epochs[i] if i < len(s_epochs) else t_epochs[i]
        s_val = f"{s_hist.val_losses[i]:.4f}" if i < len(s_epochs) else "-"
        t_val = f"{t_hist.val_losses[i]:.4f}" if i < len(t_epochs) else "-"
        emit(f"  {epoch:>6}  {s_val:>18}  {t_val:>21}")
    for label, hist in hists.items():
        if hist.stopped_early:
            emit(f"  {label}: early stopping fired; kept the model from epoch {hist.best_epoch}")
        elif last_epoch is not None:
            emit(f"  {label}: no early stopping; kept the last model (epoch {last_epoch})")


def validation_curve(hist: History, loss: str) -> dict[str, Any]:
    """A row curve: the validation loss (``loss`` names it) at every evaluation."""
    return make_curve(hist.val_losses, x=hist.eval_epochs, label=f"validation loss ({loss})", x_label="epoch")


def verdict(worst: float, tolerance: float, what: str = "", *, dtype: str = "float64", measured: str = "") -> int:
    """Print whether the float64 runs agree within ``tolerance`` (``what``: which differences were compared);
    return the exit code (0 agree, 1 disagree). Other dtypes get no verdict: the difference (``measured``
    names it) is printed and the exit code is 0."""
    if dtype != "float64":
        print(f"\nscratch vs torch_impl: {measured or 'max relative difference'} {worst:.1e} ({dtype}: no verdict)")
        return 0
    agree = worst <= tolerance
    detail = f"{what}; " if what else ""
    print(
        f"\nparity: scratch and torch_impl {'agree' if agree else 'DISAGREE'} to {worst:.1e} "
        f"({detail}tolerance {tolerance:g})"
    )
    return 0 if agree else 1


def load_boston_or_skip() -> tuple[np.ndarray, ...]:
    """The Boston housing split (``data.load_boston``), or ``SkipRecipe`` when mlxtend is missing."""
    try:
        from data import load_boston

        return load_boston()
    except ImportError as exc:
        raise SkipRecipe(f"Boston housing needs mlxtend ({exc})") from None


# ---- the MNIST recipes (chapter 5's CNN, chapter 7's CNN) -------------------------------------------------


class BatchLoop:
    """Both implementations' training steps over the same batches, timed and with every batch loss kept, and
    the final accuracies."""

    def __init__(self, impl: str, losses: dict[str, list[float]] | None) -> None:
        """``impl``: ``--impl`` (``both``, ``scratch``, ``torch``); ``losses`` receives every batch loss."""
        self.enabled = {"scratch": impl in ("both", "scratch"), "torch_impl": impl in ("both", "torch")}
        self.seconds = dict.fromkeys(IMPLEMENTATIONS, 0.0)
        self.losses = losses

    def step(self, implementation: str, train: Callable[..., float], *batch: Any) -> None:
        """Run one training step ``train(*batch)`` of ``implementation`` (it returns the batch loss) if enabled."""
        if not self.enabled[implementation]:
            return
        t0 = time.perf_counter()
        value = train(*batch)
        self.seconds[implementation] += time.perf_counter() - t0
        if self.losses is not None:
            self.losses.setdefault(implementation, []).append(float(value))

    def accuracies(
        self, predictors: Mapping[str, Callable[[np.ndarray], np.ndarray]], X: np.ndarray, y: np.ndarray
    ) -> list[str]:
        """Each implementation's accuracy on ``(X, y)`` as a table cell (``-`` for one not run)."""
        return [f"{accuracy(p, X, y):.1%}" if self.enabled[k] else "-" for k, p in predictors.items()]

    def results(
        self,
        predictors: Mapping[str, Callable[[np.ndarray], np.ndarray]],
        X: np.ndarray,
        y: np.ndarray,
        batches: int,
        emit: Emit,
    ) -> dict[str, dict[str, float]]:
        """The final test accuracy of each implementation run: ``{impl: {"test accuracy", "seconds", "batches"}}``."""
        emit(f"\nTest accuracy on all {len(y)} test images after {batches} batches:")
        results: dict[str, dict[str, float]] = {}
        for label, predict in predictors.items():
            if self.enabled[label]:
                acc = accuracy(predict, X, y)
                results[label] = {"test accuracy": acc, "seconds": self.seconds[label], "batches": float(batches)}
                emit(f"  {label:<10}  {acc:.2%}  (training {self.seconds[label]:.1f} s)")
        return results


class MnistRun(Protocol):
    """An MNIST recipe's ``run``: train the implementations ``args.impl`` names on ``mnist``, print progress and
    the accuracies through ``emit``, and return ``{impl: {"test accuracy": ..., "seconds": ..., "batches": ...}}``
    for each implementation run; ``losses`` (if given) receives each implementation's training loss of every
    batch under its name."""

    def __call__(
        self,
        args: argparse.Namespace,
        mnist: MnistData,
        emit: Emit = ...,
        losses: dict[str, list[float]] | None = None,
    ) -> dict[str, dict[str, float]]: ...


def mnist_reproduce(
    *,
    chapter: str,
    experiment: str,
    parser: argparse.ArgumentParser,
    run: MnistRun,
    quick_argv: Sequence[str],
    quick: bool,
    loss: str,
) -> list[dict[str, Any]]:
    """Reproduction rows of an MNIST recipe: the test accuracy per implementation after one epoch (``quick``:
    with ``quick_argv`` added), each with the loss of every training batch as its curve. Needs full MNIST
    (``SkipRecipe`` otherwise)."""
    try:
        mnist = load_mnist(None, source="full")
    except FileNotFoundError as exc:
        raise SkipRecipe(f"full MNIST not found ({first_sentence(exc)})") from None
    argv = ["--source", "full", "--eval-every", "1000000", *(quick_argv if quick else ())]
    args = parser.parse_args(argv)
    losses: dict[str, list[float]] = {}
    results = run(args, mnist, emit=quiet, losses=losses)
    dtype = getattr(args, "dtype", "float32")
    note = f"{int(results['scratch']['batches'])} batches of 60, {dtype}; own dropout masks per implementation"
    if args.test_size is not None:
        note += f"; accuracy on the first {args.test_size} test images"
    curve_label = f"training loss ({loss} per batch)"
    return [
        row(
            chapter,
            experiment,
            label,
            {"test accuracy": r["test accuracy"]},
            r["seconds"],
            note,
            curve=make_curve(losses[label], label=curve_label, x_label="batch"),
        )
        for label, r in results.items()
    ]


def mnist_main(parser: argparse.ArgumentParser, run: MnistRun, argv: list[str] | None) -> int:
    """The entry point of an MNIST recipe: parse, load MNIST (exit 1 with the reason when missing), run."""
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    mnist: MnistData
    try:
        mnist = load_mnist(args.data, source=args.source)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 1
    run(args, mnist, emit=lambda line: print(line, flush=True))
    return 0


# ---- plots --------------------------------------------------------------------------------------------------


def plot_pair(
    plt: Any,
    path: Path,
    shown: Mapping[str, np.ndarray],
    raw: Mapping[str, np.ndarray],
    *,
    ylabel: str,
    title: str,
    xlabel: str,
) -> None:
    """Top: the two implementations' curves ``shown`` (scratch solid and wide, torch_impl dashed; the keys are
    the legend labels, scratch's first); bottom: the raw per-step difference torch_impl - scratch of ``raw``."""
    s, t = (np.asarray(raw[k]) for k in IMPLEMENTATIONS)
    steps = np.arange(1, s.size + 1)
    fig, (ax, ax_diff) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(3, 1))
    (s_label, s_shown), (t_label, t_shown) = shown.items()
    ax.plot(steps, s_shown, label=s_label, linewidth=2.5, alpha=0.6)
    ax.plot(steps, t_shown, label=t_label, linewidth=1.0, linestyle="--")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax_diff.plot(steps, t - s, color="tab:red", linewidth=0.8)
    ax_diff.set_ylabel("torch_impl - scratch")
    ax_diff.set_xlabel(xlabel)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)
