"""Chapter 7: the PyTorch MNIST CNN (torch_impl.MNISTConvNet) and its scratch twin, on the same batches.

The book's chapter 7 network: ConvLayer(1, 14, 5, Tanh, dropout 0.8) -> ConvLayer(14, 7, 5, Tanh, flatten,
dropout 0.8) -> DenseLayer(28*28*7, 32, Tanh, dropout 0.8) -> DenseLayer(32, 10), cross-entropy,
SGD(lr 0.01, momentum 0.9), batches of 60 from a shuffled ``torch.utils.data.DataLoader`` with
ToTensor/Normalize(0.1305, 0.3081) transforms (torchvision's when it imports, otherwise torch_impl.mnist's
equivalents), one epoch, test accuracy.

The scratch twin is the same network built from scratch layers (bias on, torch's inverted dropout), loaded
with the torch model's initial weights through the parity converters and trained on the very batches the
DataLoader yields, with the book's momentum (identical to torch's at a constant learning rate). Only the
dropout masks differ (each side draws its own).

    python -m parity_tests.recipes ch7-cnn                 # one epoch, both implementations
    python -m parity_tests.recipes ch7-cnn --limit 200 --impl torch
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import scratch
import torch_impl as ti
from data import MnistData
from data.batching import one_hot
from torch_impl.mnist import mnist_loaders, mnist_transforms, transforms_backend

from ..converters import CONV2D_BIAS, DENSE, combine
from ._cli import positive_int
from ._common import BatchLoop, mnist_main, mnist_reproduce, torch_predict

CONVERTER = combine(
    "MNISTConvNet",
    [
        CONV2D_BIAS.prefixed("0.", "conv1."),
        CONV2D_BIAS.prefixed("1.", "conv2."),
        DENSE.prefixed("2.", "dense1."),
        DENSE.prefixed("3.", "dense2."),
    ],
)
LAYER_PARAMS = (2, 2, 2, 2)  # parameters per scratch layer, in CONVERTER.book_names order


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parity_tests.recipes ch7-cnn", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with the MNIST .gz files (default: DLFS_DATASETS/...)")
    p.add_argument("--source", choices=["auto", "full", "subset"], default="auto", help="MNIST source (auto)")
    p.add_argument("--impl", choices=["both", "scratch", "torch"], default="both", help="which implementation(s)")
    p.add_argument("--limit", type=positive_int, default=None, help="stop after this many batches (default: one epoch)")
    p.add_argument("--eval-every", type=positive_int, default=200, help="batches between test-subset accuracies (200)")
    p.add_argument(
        "--test-size", type=positive_int, default=None, help="test images for the final accuracy (default: all)"
    )
    p.add_argument("--seed", type=int, default=20190703, help="seed of the initial weights and the shuffle")
    return p


def build_scratch_twin(seed: int) -> scratch.NeuralNetwork:
    """The chapter 7 CNN built from scratch layers (bias on, inverted dropout)."""

    def conv(out: int, flatten: bool = False) -> scratch.Conv2D:
        return scratch.Conv2D(
            out, 5, dropout=0.8, activation=scratch.Tanh(), flatten=flatten, bias=True, inverted_dropout=True
        )

    layers: list[scratch.Layer] = [
        conv(14),
        conv(7, flatten=True),
        scratch.Dense(32, scratch.Tanh(), dropout=0.8, inverted_dropout=True),
        scratch.Dense(10),
    ]
    return scratch.NeuralNetwork(layers, scratch.SoftmaxCrossEntropy(), seed=seed)


def load_torch_weights(net: scratch.NeuralNetwork, model: nn.Module) -> None:
    """Copy the torch model's parameters into the scratch network (book layouts via the converters)."""
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    book = CONVERTER.to_book(state)
    names = iter(CONVERTER.book_names)
    for layer, count in zip(net.layers, LAYER_PARAMS, strict=True):
        layer.load_params([book[next(names)] for _ in range(count)])


def run(
    args: argparse.Namespace,
    mnist: MnistData,
    emit: Callable[[str], None] = print,
    losses: dict[str, list[float]] | None = None,
) -> dict[str, dict[str, float]]:
    """Train the chapter 7 CNN and/or its scratch twin on ``mnist`` (``_common.MnistRun``)."""
    transform = mnist_transforms()
    generator = torch.Generator().manual_seed(args.seed)
    train_loader, test_loader = mnist_loaders(mnist, batch_size=60, generator=generator, transform=transform)
    emit(
        f"Chapter 7 CNN: MNIST ({mnist.source}: {len(mnist.y_train)} train / {len(mnist.y_test)} test images), "
        f"transforms from {transforms_backend(transform)}, seed {args.seed}"
    )

    model = ti.MNISTConvNet(generator=torch.Generator().manual_seed(args.seed))
    net = build_scratch_twin(args.seed)
    load_torch_weights(net, model)
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    s_optim = scratch.SGDMomentum(lr=0.01, momentum=0.9)
    s_optim.net = net

    # The whole test set as arrays, transformed exactly as the loader does it (for both accuracies).
    X_test = torch.cat([x for x, _ in test_loader]).numpy()  # [N, 1, 28, 28] float32
    y_test = np.asarray(mnist.y_test)
    X_check, y_check = X_test[:1000], y_test[:1000]
    X_test, y_test = X_test[: args.test_size], y_test[: args.test_size]

    predictors = {
        "scratch": lambda x: net.forward(x, inference=True),
        "torch_impl": lambda x: torch_predict(model, x),
    }

    def torch_step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        optim.zero_grad()
        value = criterion(model(xb), yb)
        value.backward()
        optim.step()
        return float(value.detach())

    def scratch_step(xb: torch.Tensor, yb: torch.Tensor) -> float:
        value = net.train_batch(xb.numpy(), one_hot(yb.numpy(), 10, dtype=np.float32))
        s_optim.step()
        return float(value)

    loop = BatchLoop(args.impl, losses)
    batches = len(train_loader) if args.limit is None else min(args.limit, len(train_loader))
    emit(f"{'batches':>8}  {'accuracy (1000 test images), scratch':>38}  {'torch_impl':>11}")
    model.train()
    for b, (xb, yb) in enumerate(train_loader, start=1):
        if b > batches:
            break
        loop.step("torch_impl", torch_step, xb, yb)
        loop.step("scratch", scratch_step, xb, yb)
        if b % args.eval_every == 0 or b == batches:
            s_acc, t_acc = loop.accuracies(predictors, X_check, y_check)
            emit(f"{b:>8}  {s_acc:>38}  {t_acc:>11}")
    return loop.results(predictors, X_test, y_test, batches, emit)


QUICK_BATCHES = 10
QUICK_TEST_SIZE = 500


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows: test accuracy per implementation after the book's one epoch (``quick``: 10 batches,
    accuracy on the first 500 test images). Needs full MNIST (``SkipRecipe`` otherwise)."""
    return mnist_reproduce(
        chapter="ch7",
        experiment="MNIST CNN (1 epoch)",
        parser=_parser(),
        run=run,
        quick_argv=["--limit", str(QUICK_BATCHES), "--test-size", str(QUICK_TEST_SIZE)],
        quick=quick,
        loss="cross-entropy",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 7 CNN recipe; returns the exit code."""
    return mnist_main(_parser(), run, argv)
