"""Chapter 7: the character-level LSTM, torch_impl.NextCharacterModel and its scratch twin on the same batches.

The book's model: ``NextCharacterModel(V, hidden_size=V, sequence_length=50)`` (``nn.LSTM`` then a dense layer
per step), ``nn.CrossEntropyLoss()`` (mean over the N·T predictions), ``Adam(lr 0.001, weight_decay 1e-5)``, the
first 80% of the characters for training and the last 20% for testing, non-overlapping windows of 50 (+1 target)
characters in batches of 32, one epoch; ``torch_impl.NextCharacterTrainer`` trains it.

The scratch twin is ``RNNModel([LSTMLayer(V, V)], 50, V, SequenceSoftmaxCrossEntropy("mean"))`` (the same loss
as ``nn.CrossEntropyLoss``) loaded with the torch model's initial weights (torch's default initialisation from a
seeded generator) through the parity converters, trained with the small book-style ``Adam`` below (torch's
update rule, weight decay added to the gradient) on the very windows the trainer uses, in the same order (the
trainer's documented ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` per epoch), then
evaluated on the test windows in order (batch-size-weighted mean loss), keeping the carried state as the trainer
does. The torch model has ``single_bias=True`` (torch_impl's default) so both train the book's single bias per gate
(torch's two summed biases would otherwise both move; chapter 7's own code trains both, as
``torch_impl.book.ch7.NextCharacterModel`` does). In float64 every batch loss and the test loss must agree to 1e-8
(relative) or the recipe exits 1.

Default dtype float64: the point of the recipe is the side-by-side check; at hidden size 62 float64 costs little
(``--dtype float32`` is the chapter's torch default and reports the difference without a verdict).

    python -m parity_tests.recipes ch7-lstm                       # one epoch, both implementations
    python -m parity_tests.recipes ch7-lstm --max-batches 10 --temperature 0.7
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

import scratch
import torch_impl as ti
from scratch.optimizers import Optimizer
from scratch.rnn_model import RNNModel, SequenceSoftmaxCrossEntropy, sample

from ..converters import LSTM, state_to_book
from ..port import relative_error
from ..tolerances import RECIPE_RTOL as PARITY_RTOL
from ._cli import dtype_option, parse, positive_int
from ._common import IMPLEMENTATIONS, plot_pair, verdict
from ._repro import SkipRecipe, make_curve, pyplot, row, write_atomic
from .ch6 import TextError, load_corpus

SEQUENCE_LENGTH = 50
BATCH_SIZE = 32
LR = 0.001
WEIGHT_DECAY = 1e-5
TRAIN_FRACTION = 0.8
DEFAULT_SEED = 20190701
DEFAULT_OUT = Path("report") / "ch7_lstm"
QUICK_BATCHES = 10
#: Book names of the scratch LSTM layer <-> ``NextCharacterModel`` keys (``lstm.lstm.weight_ih_l0``, ``lstm.fc.*``).
CONVERTER = LSTM.prefixed("", "lstm.")


class Adam(Optimizer):
    """Adam (Kingma & Ba) for scratch networks, in ``torch.optim.Adam``'s form (``amsgrad=False``), with L2 weight
    decay added to the gradient as torch does. For every parameter p with gradient g, at step t = 1, 2, ...:

        g ← g + weight_decay · p
        m ← β₁ m + (1 - β₁) g              v ← β₂ v + (1 - β₂) g²          (m, v start at 0)
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + eps)

    i.e. p ← p - lr · m̂ / (√v̂ + eps) with the bias-corrected m̂ = m / (1 - β₁ᵗ), v̂ = v / (1 - β₂ᵗ). ``net`` must
    provide ``params()`` and ``param_grads()`` in the same order (``RNNModel`` does); the network's gradient
    arrays are not modified. ``clip=c`` clips g element-wise to [-c, c] before the weight decay is added.
    """

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        clip: float | None = None,
    ) -> None:
        super().__init__(lr, clip=clip)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be a number in [0, 1); received {value!r}")
        for name, value in (("eps", eps), ("weight_decay", weight_decay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0.0:
                raise ValueError(f"{name} must be a number >= 0; received {value!r}")
        self.beta1, self.beta2, self.eps, self.weight_decay = (
            float(beta1),
            float(beta2),
            float(eps),
            float(weight_decay),
        )
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def reset_state(self) -> None:
        self.t, self.m, self.v = 0, None, None

    def step(self) -> None:
        """One Adam update of every parameter of ``self.net`` (creating the zero moments on the first call)."""
        if not hasattr(self, "net"):
            raise RuntimeError("Adam.step needs .net (e.g. optim.net = model)")
        if self.m is None or self.v is None:
            self.m = [np.zeros_like(p) for p in self.net.params()]
            self.v = [np.zeros_like(p) for p in self.net.params()]
        self.t += 1
        super().step()

    def _update_rule(self, **kwargs: Any) -> None:
        if self.m is None or self.v is None:  # pragma: no cover - step() creates them first
            raise RuntimeError("Adam moments are not initialised")
        param: np.ndarray = kwargs["param"]
        grad: np.ndarray = kwargs["grad"]
        if self.weight_decay:
            grad = grad + self.weight_decay * param  # a new array: the network's gradient is left as it is
        m, v = self.m[kwargs["index"]], self.v[kwargs["index"]]
        m += (1.0 - self.beta1) * (grad - m)  # = β₁ m + (1 - β₁) g  (torch's lerp)
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        step_size = self.lr / (1.0 - self.beta1**self.t)
        denom = np.sqrt(v) / np.sqrt(1.0 - self.beta2**self.t) + self.eps
        param -= step_size * m / denom


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m parity_tests.recipes ch7-lstm", description=(__doc__ or "").splitlines()[0]
    )
    p.add_argument("--text", default=None, help="a UTF-8 text file (default: the chapter 6 text under $DLFS_DATASETS)")
    p.add_argument("--epochs", type=positive_int, default=1, help="training epochs (1, the book's)")
    p.add_argument("--max-batches", type=positive_int, default=None, help="at most this many batches per epoch")
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of weights, batch order, samples ({DEFAULT_SEED})"
    )
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (> 0; 1.0)")
    p.add_argument("--sample-length", type=positive_int, default=200, help="characters sampled from each model (200)")
    dtype_option(p, "float64 (default: the parity verdict needs it) or float32 (torch's default; no verdict)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"folder for loss.png and samples.txt ({DEFAULT_OUT})")
    return p


@dataclass
class Result:
    """Per implementation: the loss of every training batch, the test loss, seconds, a sample; and the gaps."""

    train_loss: dict[str, list[float]] = field(default_factory=dict)
    test_loss: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # training + evaluation
    samples: dict[str, str] = field(default_factory=dict)
    max_rel_diff: float = 0.0  # over every batch loss and the test loss
    batches: int = 0


def build_models(vocab_size: int, seed: int, dtype: str) -> tuple[ti.NextCharacterModel, RNNModel]:
    """The chapter's torch model (torch's init from ``torch.Generator().manual_seed(seed)``, the default
    ``single_bias=True``) and the scratch ``RNNModel`` with the very same weights (and the same, empty, carried
    state: ``state_to_book`` moves the ``lstm.carry`` buffer too)."""
    twin = ti.NextCharacterModel(
        vocab_size,
        hidden_size=vocab_size,
        sequence_length=SEQUENCE_LENGTH,
        dtype=getattr(torch, dtype),
        generator=torch.Generator().manual_seed(seed),
        single_bias=True,  # the default, spelled out: the comparison needs one trained bias per gate
    )
    state = {k: v.detach().numpy().copy() for k, v in twin.state_dict().items()}
    layer = scratch.LSTMLayer(vocab_size, vocab_size)
    layer.load_state(state_to_book(CONVERTER, state))
    model = RNNModel([layer], SEQUENCE_LENGTH, vocab_size, SequenceSoftmaxCrossEntropy("mean"))
    return twin, model


def _windows(indices: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The trainer's non-overlapping windows: inputs ``text[kT : kT+T]`` and targets shifted by one, each [n, T]."""
    n = (indices.size - 1) // T
    return indices[: n * T].reshape(n, T), indices[1 : n * T + 1].reshape(n, T)  # [n·T] -> [n, T]


def train_scratch(
    model: RNNModel,
    optim: Adam,
    train: np.ndarray,
    test: np.ndarray,
    *,
    epochs: int,
    seed: int,
    max_batches: int | None,
) -> tuple[list[float], float]:
    """``NextCharacterTrainer.fit`` for the scratch model: the same windows, batches and order; returns the loss
    of every batch and the batch-size-weighted mean test loss."""
    V, T = model.vocab_size, model.sequence_length
    eye = np.eye(V, dtype=model.dtype)
    train_x, train_y = _windows(train, T)
    test_x, test_y = _windows(test, T)
    n = train_x.shape[0]
    per_epoch = -(-n // BATCH_SIZE) if max_batches is None else min(-(-n // BATCH_SIZE), max_batches)
    g = torch.Generator().manual_seed(seed)  # the trainer's batch order, drawn the same way
    losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=g).numpy()
        for b in range(per_epoch):
            rows = order[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]
            # one-hot: [B, T] indices -> [B, T, V]
            losses.append(model.single_step(eye[train_x[rows]], eye[train_y[rows]]))
            optim.step()
    total, count = 0.0, 0
    for start in range(0, test_x.shape[0], BATCH_SIZE):
        xb, yb = eye[test_x[start : start + BATCH_SIZE]], eye[test_y[start : start + BATCH_SIZE]]
        total += model.loss.forward(model.forward(xb), yb) * xb.shape[0]
        count += xb.shape[0]
    return losses, total / count


def run(
    indices: np.ndarray,
    vocab_size: int,
    *,
    epochs: int,
    max_batches: int | None,
    seed: int,
    dtype: str,
    temperature: float,
    sample_length: int,
    decode: Callable[[list[int]], str],
) -> Result:
    """Train and evaluate both implementations; sample from each."""
    split = int(TRAIN_FRACTION * indices.size)
    train, test = indices[:split], indices[split:]
    for name, part in (("training", train), ("test", test)):
        if part.size < SEQUENCE_LENGTH + 1:
            raise TextError(
                f"the {name} part of the text must have at least {SEQUENCE_LENGTH + 1} characters (one window); "
                f"it has {part.size} (the text has {indices.size})"
            )
    twin, model = build_models(vocab_size, seed, dtype)
    result = Result()

    t0 = time.perf_counter()
    optim = torch.optim.Adam(twin.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    fit = ti.NextCharacterTrainer(twin, optim, nn.CrossEntropyLoss()).fit(
        train, test, epochs=epochs, batch_size=BATCH_SIZE, seed=seed, max_batches=max_batches
    )
    t1 = time.perf_counter()
    s_optim = Adam(lr=LR, weight_decay=WEIGHT_DECAY)
    s_optim.net = model  # type: ignore[assignment]  # RNNModel provides params() / param_grads()
    s_losses, s_test = train_scratch(model, s_optim, train, test, epochs=epochs, seed=seed, max_batches=max_batches)
    t2 = time.perf_counter()

    result.train_loss = {"scratch": s_losses, "torch_impl": list(fit["train_loss"])}
    result.test_loss = {"scratch": s_test, "torch_impl": float(fit["test_loss"])}
    result.seconds = {"scratch": t2 - t1, "torch_impl": t1 - t0}
    result.batches = len(s_losses)
    if len(s_losses) != len(fit["train_loss"]):
        raise RuntimeError(f"batch counts differ: scratch {len(s_losses)}, torch_impl {len(fit['train_loss'])}")
    diffs = [relative_error(a, b) for a, b in zip(s_losses, fit["train_loss"], strict=True)]
    result.max_rel_diff = max([*diffs, relative_error(s_test, float(fit["test_loss"]))])

    start = int(test[0])  # both continue from their state after the evaluation, after the test text's first character
    result.samples["scratch"] = decode(
        sample(model, start, sample_length, temperature=temperature, rng=np.random.default_rng(seed))
    )
    result.samples["torch_impl"] = decode(
        ti.sample_text(
            twin,
            start,
            sample_length,
            vocab_size,
            temperature=temperature,
            generator=torch.Generator().manual_seed(seed),
        )
    )
    return result


def plot_losses(plt: Any, result: Result, path: Path) -> None:
    """Top: both implementations' loss of every training batch; bottom: their raw difference."""
    raw = {k: np.asarray(result.train_loss[k]) for k in IMPLEMENTATIONS}
    shown = {f"{k} (test loss {result.test_loss[k]:.4f})": raw[k] for k in IMPLEMENTATIONS}
    plot_pair(
        plt,
        path,
        shown,
        raw,
        ylabel="cross-entropy (mean over N·T)",
        title="Chapter 7 character LSTM: training loss per batch",
        xlabel="batch",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 7 character-LSTM recipe; returns the exit code (1: float64 runs disagree; 2: bad options
    or no usable text)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    if not args.temperature > 0:
        print(f"error: --temperature must be > 0; received {args.temperature}")
        return 2
    try:
        text, vocab, indices, path = load_corpus(args.text)
        print(
            f"Chapter 7 character LSTM: {str(path)!r}, {len(text)} characters, vocabulary {vocab.size} (= hidden "
            f"size); sequence {SEQUENCE_LENGTH}, batch {BATCH_SIZE}, Adam(lr {LR:g}, weight_decay {WEIGHT_DECAY:g}), "
            f"{args.epochs} epoch(s), seed {args.seed}, {args.dtype}"
        )
        result = run(
            indices,
            vocab.size,
            epochs=args.epochs,
            max_batches=args.max_batches,
            seed=args.seed,
            dtype=args.dtype,
            temperature=args.temperature,
            sample_length=args.sample_length,
            decode=vocab.decode,
        )
    except TextError as exc:
        print(f"error: {exc}")
        return 2
    every = max(1, result.batches // 10)
    print(f"{'batch':>6}  {'train loss  scratch':>20}  {'torch_impl':>10}")
    for b in range(0, result.batches, every):
        print(f"{b + 1:>6}  {result.train_loss['scratch'][b]:>20.5f}  {result.train_loss['torch_impl'][b]:>10.5f}")
    print(f"\n  {'implementation':<14}{'last train loss':>16}{'test loss':>11}{'time (s)':>10}")
    for k in IMPLEMENTATIONS:
        print(f"  {k:<14}{result.train_loss[k][-1]:>16.5f}{result.test_loss[k]:>11.5f}{result.seconds[k]:>10.2f}")
    for k in IMPLEMENTATIONS:
        print(f"\nsample from {k} (temperature {args.temperature:g}):\n{result.samples[k]}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    samples = "".join(
        f"[{k}] temperature {args.temperature:g}, seed {args.seed}\n{result.samples[k]}\n\n" for k in IMPLEMENTATIONS
    )
    write_atomic(out / "samples.txt", samples)
    print(f"\nwrote {out / 'samples.txt'}")
    plt = pyplot()
    if plt is None:
        print("note: matplotlib is not installed; no plot written (pip install matplotlib)")
    else:
        plot_losses(plt, result, out / "loss.png")
        print(f"wrote {out / 'loss.png'}")

    return verdict(
        result.max_rel_diff,
        PARITY_RTOL,
        "every batch loss and the test loss, relative",
        dtype=args.dtype,
        measured="max relative loss difference",
    )


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows per implementation: test loss and last training-batch loss after the book's one epoch
    (``quick``: 10 batches), with the loss of every training batch as the row's curve. Raises ``SkipRecipe``
    when the text is missing."""
    try:
        _, vocab, indices, _ = load_corpus(None)
    except TextError as exc:
        raise SkipRecipe(str(exc)) from None
    result = run(
        indices,
        vocab.size,
        epochs=1,
        max_batches=QUICK_BATCHES if quick else None,
        seed=DEFAULT_SEED,
        dtype="float64",
        temperature=1.0,
        sample_length=1,
        decode=vocab.decode,
    )
    note = f"{result.batches} batches of {BATCH_SIZE}, float64; max rel loss diff {result.max_rel_diff:.0e}"
    return [
        row(
            "ch7",
            "char LSTM",
            k,
            {"test_loss": result.test_loss[k], "train_loss_last": result.train_loss[k][-1]},
            result.seconds[k],
            note,
            curve=make_curve(
                result.train_loss[k], label="training loss (mean cross-entropy per batch)", x_label="batch"
            ),
        )
        for k in IMPLEMENTATIONS
    ]
