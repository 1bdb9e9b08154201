"""Chapter 7: the convolutional autoencoder on MNIST, torch_impl.Autoencoder and scratch.Autoencoder side by side.

The book's model (encoder Conv(1->14, k5, tanh) -> Conv(14->7, k5, tanh, flatten) -> Dense(5488->28, tanh);
decoder Dense(28->5488, tanh) -> reshape (7, 28, 28) -> Conv(7->14) -> Conv(14->1), tanh everywhere), images
scaled to [-1, 1] with the training set's min/max, nn.MSELoss() (mean over pixels), SGD(lr 0.01, momentum 0.9),
batches of 60, one epoch; then reconstructions of test images and a 2-D t-SNE of the test encodings.

Both implementations start from the same weights (torch's default initialisation, copied into scratch through
the parity converters) and see the same batches (a seeded NumPy permutation per epoch). Scratch trains with
``mse="mean"`` (the same loss as nn.MSELoss) and its book-form momentum, identical to torch's at a constant lr.

    python -m parity_tests.recipes ch7-autoencoder                         # one epoch, plots in --out
    python -m parity_tests.recipes ch7-autoencoder --limit 600 --no-tsne   # a quick look
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import torch_impl.autoencoder as tae
from data import load_mnist
from data.mnist import scale_to_minus_one_one
from scratch.autoencoder import Autoencoder as ScratchAutoencoder
from scratch.optimizers import SGDMomentum

from ..specs.autoencoder import AUTOENCODER_CONVERTER
from ._cli import parse, positive_int
from ._common import IMPLEMENTATIONS
from ._repro import SkipRecipe, first_sentence, make_curve, pyplot, row, save_figure_atomic

BATCH_SIZE = 60
LR = 0.01
MOMENTUM = 0.9
DEFAULT_SEED = 20190703
DEFAULT_OUT = Path("report") / "ch7_autoencoder"
QUICK_LIMIT = 1200  # training images for reproduce(quick=True)
QUICK_TEST_LIMIT = 1000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m parity_tests.recipes ch7-autoencoder", description=(__doc__ or "").splitlines()[0]
    )
    p.add_argument("--data", default=None, help="folder with the MNIST .gz files (default: DLFS_DATASETS/...)")
    p.add_argument("--source", choices=["auto", "full", "subset"], default="auto", help="MNIST source (auto)")
    p.add_argument("--epochs", type=positive_int, default=1, help="training epochs (1, the book's)")
    p.add_argument("--limit", type=positive_int, default=None, help="train on the first N training images only")
    p.add_argument("--test-limit", type=positive_int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the initial weights and the batch order")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"folder for the PNG files (default: {DEFAULT_OUT})")
    p.add_argument("--no-tsne", action="store_true", help="skip the t-SNE plot (the slowest part)")
    p.add_argument(
        "--tsne-points", type=positive_int, default=2000, help="test encodings in the t-SNE plot (default 2000)"
    )
    return p


@dataclass
class Result:
    """What one run produced, per implementation ("scratch", "torch_impl")."""

    train_mse: dict[str, float] = field(default_factory=dict)  # mean batch loss of the last epoch
    batch_losses: dict[str, list[float]] = field(default_factory=dict)  # the loss of every batch, all epochs
    test_mse: dict[str, float] = field(default_factory=dict)  # nn.MSELoss over the test images
    seconds: dict[str, float] = field(default_factory=dict)  # training time
    reconstructions: dict[str, np.ndarray] = field(default_factory=dict)  # test reconstructions [N, 1, 28, 28]
    encodings: dict[str, np.ndarray] = field(default_factory=dict)  # test encodings [N, 28]
    max_recon_diff: float = float("nan")  # max |scratch - torch| over the test reconstructions
    n_train: int = 0
    n_test: int = 0
    batches: int = 0


def load_scaled(data: str | None, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """MNIST scaled to [-1, 1] with the training min/max: X_train ``[N, 1, 28, 28]``, X_test, y_test, source.

    Raises ``FileNotFoundError`` / ``ImportError`` when no data source is available."""
    mnist = load_mnist(data, source=source)
    train, test = scale_to_minus_one_one(mnist.X_train, mnist.X_test)  # [N, 28, 28] float64
    # [N, 28, 28] -> [N, 1, 28, 28] (one channel), float32 like the book's tensors
    X_train = train[:, None].astype(np.float32)
    X_test = test[:, None].astype(np.float32)
    return X_train, X_test, np.asarray(mnist.y_test), mnist.source


def load_torch_weights(model: ScratchAutoencoder, twin: nn.Module) -> None:
    """Copy the torch model's parameters into the scratch model (book layouts through the converter)."""
    state = {k: v.detach().cpu().numpy() for k, v in twin.state_dict().items()}
    model.load_params(AUTOENCODER_CONVERTER.to_book(state))


def _mse(reconstruction: np.ndarray, images: np.ndarray) -> float:
    """nn.MSELoss (the mean over every pixel), in float64."""
    diff = reconstruction.astype(np.float64) - images.astype(np.float64)
    return float(np.mean(diff * diff))


def train_and_evaluate(
    X_train: np.ndarray,
    X_test: np.ndarray,
    *,
    epochs: int,
    seed: int,
    emit: Callable[[str], None] = print,
) -> Result:
    """Train both implementations from the same weights on the same batches; evaluate on ``X_test``."""
    torch_model = tae.Autoencoder(generator=torch.Generator().manual_seed(seed))  # float32, torch's default init
    scratch_model = ScratchAutoencoder(mse="mean", seed=seed)
    load_torch_weights(scratch_model, torch_model)
    t_optim = torch.optim.SGD(torch_model.parameters(), lr=LR, momentum=MOMENTUM)
    criterion = nn.MSELoss()
    s_optim = SGDMomentum(lr=LR, momentum=MOMENTUM)
    # the scratch optimizers read .net.params() / .net.param_grads(), which Autoencoder provides
    s_optim.net = scratch_model  # type: ignore[assignment]

    result = Result(n_train=len(X_train), n_test=len(X_test))
    result.seconds = dict.fromkeys(IMPLEMENTATIONS, 0.0)
    rng = np.random.default_rng(seed)
    n_batches = -(-len(X_train) // BATCH_SIZE)
    emit(f"{'epoch':>5}  {'batches':>7}  {'train MSE  scratch':>18}  {'torch_impl':>10}")
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        losses: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
        for b in range(n_batches):
            xb = X_train[order[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]]  # [<=60, 1, 28, 28], a fresh copy
            t0 = time.perf_counter()
            x = torch.from_numpy(xb)
            t_optim.zero_grad()
            loss = criterion(torch_model(x)[0], x)
            loss.backward()
            t_optim.step()
            losses["torch_impl"].append(float(loss.detach()))
            t1 = time.perf_counter()
            losses["scratch"].append(scratch_model.train_batch(xb))
            s_optim.step()
            t2 = time.perf_counter()
            result.seconds["torch_impl"] += t1 - t0
            result.seconds["scratch"] += t2 - t1
            result.batches += 1
            if (b + 1) % 200 == 0 or b + 1 == n_batches:
                recent = {k: float(np.mean(v[-200:])) for k, v in losses.items()}
                emit(f"{epoch:>5}  {b + 1:>7}  {recent['scratch']:>18.5f}  {recent['torch_impl']:>10.5f}")
        result.train_mse = {k: float(np.mean(v)) for k, v in losses.items()}
        for k, v in losses.items():
            result.batch_losses.setdefault(k, []).extend(v)

    torch_model.eval()
    with torch.no_grad():
        outs = [torch_model(torch.from_numpy(X_test[i : i + 500]), inference=True) for i in range(0, len(X_test), 500)]
    result.reconstructions["torch_impl"] = torch.cat([r for r, _ in outs]).numpy()
    result.encodings["torch_impl"] = torch.cat([z for _, z in outs]).numpy()
    result.reconstructions["scratch"] = scratch_model.reconstruct(X_test)
    result.encodings["scratch"] = scratch_model.encode(X_test)
    result.test_mse = {k: _mse(v, X_test) for k, v in result.reconstructions.items()}
    result.max_recon_diff = float(
        np.max(np.abs(result.reconstructions["scratch"] - result.reconstructions["torch_impl"]))
    )
    return result


# ---- plots ----------------------------------------------------------------------------------------------------


def plot_reconstructions(plt: Any, X_test: np.ndarray, result: Result, path: Path, count: int = 10) -> None:
    """Rows: test images, scratch reconstructions, torch reconstructions; one column per image."""
    count = min(count, len(X_test))
    rows = (("test image", X_test), *((f"{k} reconstruction", result.reconstructions[k]) for k in IMPLEMENTATIONS))
    fig, axes = plt.subplots(len(rows), count, figsize=(1.2 * count, 1.4 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(count):
            ax = axes[r][c]
            ax.imshow(images[c, 0], cmap="gray", vmin=-1.0, vmax=1.0)  # [1, 28, 28] -> [28, 28]
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=7)
    fig.suptitle("Chapter 7 autoencoder: MNIST test images and reconstructions")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


def plot_tsne(plt: Any, result: Result, labels: np.ndarray, path: Path, points: int, seed: int) -> bool:
    """2-D t-SNE of the first ``points`` test encodings of each implementation, coloured by digit.

    Returns False (and writes nothing) when scikit-learn is missing."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        return False
    points = min(points, len(labels))
    fig, axes = plt.subplots(1, len(IMPLEMENTATIONS), figsize=(12, 5.5), squeeze=False)
    for ax, name in zip(axes[0], IMPLEMENTATIONS, strict=True):
        codes = result.encodings[name][:points].astype(np.float64)
        embedded = TSNE(
            n_components=2, init="pca", random_state=seed, perplexity=min(30.0, points - 1.0)
        ).fit_transform(codes)
        scatter = ax.scatter(embedded[:, 0], embedded[:, 1], c=labels[:points], cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{name}: t-SNE of {points} test encodings")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(scatter, ax=axes[0].tolist(), ticks=range(10), label="digit")
    save_figure_atomic(fig, path)
    plt.close(fig)
    return True


# ---- entry points ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 7 autoencoder recipe; returns the exit code (2: bad options or no MNIST data)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        X_train, X_test, y_test, source = load_scaled(args.data, args.source)
    except (FileNotFoundError, ImportError) as exc:
        print(f"error: no MNIST data: {exc}")
        return 2
    X_train = X_train[: args.limit] if args.limit else X_train
    X_test, y_test = (X_test[: args.test_limit], y_test[: args.test_limit]) if args.test_limit else (X_test, y_test)
    print(
        f"Chapter 7 autoencoder: MNIST ({source}) scaled to [-1, 1], {len(X_train)} training / {len(X_test)} test "
        f"images, batch {BATCH_SIZE}, SGD lr {LR} momentum {MOMENTUM}, {args.epochs} epoch(s), seed {args.seed}"
    )
    result = train_and_evaluate(X_train, X_test, epochs=args.epochs, seed=args.seed)
    print(f"\nAfter {result.batches} batches (MSE = nn.MSELoss, the mean over pixels):")
    print(f"  {'implementation':<14}{'train MSE':>10}{'test MSE':>10}{'time (s)':>10}")
    for name in IMPLEMENTATIONS:
        print(f"  {name:<14}{result.train_mse[name]:>10.5f}{result.test_mse[name]:>10.5f}{result.seconds[name]:>10.1f}")
    print(f"  max |scratch - torch_impl| over the test reconstructions: {result.max_recon_diff:.2e}")

    plt = pyplot()
    if plt is None:
        print("note: matplotlib is not installed; no plots written (pip install matplotlib)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_reconstructions(plt, X_test, result, out / "reconstructions.png")
    print(f"wrote {out / 'reconstructions.png'}")
    if args.no_tsne:
        return 0
    if plot_tsne(plt, result, y_test, out / "tsne.png", args.tsne_points, args.seed):
        print(f"wrote {out / 'tsne.png'}")
    else:
        print("note: scikit-learn is not installed; no t-SNE plot written (pip install scikit-learn)")
    return 0


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: test MSE (nn.MSELoss) and training seconds per implementation after one epoch
    (``quick``: the first 1200 training and 1000 test images), with the loss of every training batch as the
    row's curve. Raises ``SkipRecipe`` without MNIST data."""
    try:
        X_train, X_test, _, source = load_scaled(None, "auto")
    except (FileNotFoundError, ImportError) as exc:
        raise SkipRecipe(f"no MNIST data ({first_sentence(exc)})") from None
    if quick:
        X_train, X_test = X_train[:QUICK_LIMIT], X_test[:QUICK_TEST_LIMIT]
    result = train_and_evaluate(X_train, X_test, epochs=1, seed=DEFAULT_SEED, emit=lambda _: None)
    note = (
        f"MNIST {source}, {result.n_train} train / {result.n_test} test images, 1 epoch; "
        f"max recon diff {result.max_recon_diff:.0e}"
    )
    return [
        row(
            "ch7",
            "autoencoder",
            name,
            {"test_mse": result.test_mse[name], "train_mse": result.train_mse[name]},
            result.seconds[name],
            note,
            curve=make_curve(result.batch_losses[name], label="training loss (MSE per batch)", x_label="batch"),
        )
        for name in IMPLEMENTATIONS
    ]
