"""Chapter 6: next-character RNN, LSTM and GRU stacks, scratch vs torch_impl, iteration for iteration.

The five experiments of the chapter (experiments.md), each trained twice from the same initial weights on the
same batches:

    1 RNN         RNNLayer(256, V) (std 2/(V+V), the book's default); sequence 10, batch 32; SGD(0.001); 1000 it.
    2 LSTM        LSTMLayer(256, V, 0.01); sequence 25, batch 3; AdaGrad(0.01); 1000 iterations
    3 RNN>LSTM    RNNLayer(256, 128, 0.1) -> LSTMLayer(256, V, 0.01); sequence 25, batch 32; AdaGrad(0.01); 2000
    4 LSTM>LSTM   LSTMLayer(256, 128, 0.1) -> LSTMLayer(256, V, 0.01); sequence 25, batch 32; SGD(0.01); 2000
    5 GRU>LSTM    GRULayer(256, 128, 0.1) -> LSTMLayer(256, V, 0.01); sequence 25, batch 32; AdaGrad(0.01); 2000

(V = 62 for the book's text.) The chapter's loss is the softmax cross-entropy SUMMED over the N·T predictions;
every gradient element is clipped to [-2, 2] before the update (SGD or the book's AdaGrad, eps inside the
accumulator); every layer carries the batch mean of its last hidden (and cell) state to the next call (the
book's carry). The GRU is the book's (reset gate before the recurrent matmul, correct update gate).

Same start, same data: the scratch layers draw their weights with the book's scales from one seeded
``numpy.random.Generator``; the torch_impl twins (``single_bias=True``: one trained bias, as the book's) are
loaded with exactly those weights through the parity converters. One seeded generator draws every batch
(``data.text.next_char_batch``: windows uniformly with replacement), and each batch is fed to both. The loss
of every iteration is compared and reported (largest relative difference, first iteration beyond 1e-8).

Parity verdict (float64; exit 1 if it fails). The chapter's training is chaotic in float64 round-off for some
seeds: in experiment 3 (seed 20190601) scratch against ITSELF with every initial weight scaled by (1 + 1e-15)
reaches a 1e-8 relative loss difference by iteration ~13 and 1e-3 by iteration ~22 (the RNN with std 0.1 weights
and AdaGrad's normalised steps amplify any rounding difference, as does the carried state). Two correct
implementations, which round differently, therefore cannot stay within 1e-8 for 2000 iterations. The verdict is:

* the first ``EARLY_ITERATIONS`` (5) free-running losses agree to 1e-8 (this covers the optimizer steps, the
  clipping and the carried state); and
* lock-step checks at iteration 1, every ``--sample-every`` iterations and at the end: a copy of the scratch
  model and a twin loaded with the scratch run's CURRENT weights, both from a zero state, agree on that
  iteration's batch to 1e-8 in the loss and in every parameter gradient (book layout).
Sampled strings use each implementation's own generator (numpy ``choice`` vs ``torch.multinomial``), so they
differ even where the models are equal.

Default dtype float64: the recipe's purpose is the side-by-side check, which only float64 can make tight, and
the book's NumPy code runs in float64. ``--dtype float32`` is faster (see the timings printed) and still
reports the difference, without the pass/fail verdict.

    python -m parity_tests.recipes ch6                          # all five experiments, the book's lengths
    python -m parity_tests.recipes ch6 --experiment 3 --iterations 200 --out report/ch6
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import scratch
import torch_impl as ti
from data.text import GENERATED_SHAKESPEARE, Vocabulary, find_text, load_text, next_char_batch
from scratch.rnn_model import RNNModel, SequenceSoftmaxCrossEntropy, moving_average, sample

from ..converters import GRU_BEFORE, LSTM, RNN, RecurrentConverter, StackConverter, recurrent_stack
from ..port import load_arrays, relative_error
from ..tolerances import RECIPE_RTOL as PARITY_RTOL
from ._cli import dtype_option, parse, positive_int
from ._common import IMPLEMENTATIONS, plot_pair, verdict
from ._repro import SkipRecipe, make_curve, pyplot, row, write_atomic

EARLY_ITERATIONS = 5  # free-running iterations covered by the float64 verdict (see the module docstring)
CLIP = 2.0
HIDDEN = 256
MIDDLE = 128  # output size of the first layer of the two-layer experiments
MA_WINDOW = 100  # the book's moving-average window
SAMPLE_LENGTH = 100
DEFAULT_SEED = 20190601
DEFAULT_OUT = Path("report") / "ch6"
QUICK_ITERATIONS = 50


@dataclass(frozen=True)
class LayerSpec:
    """One recurrent layer: kind ("RNN", "LSTM", "GRU"), output size (None: the vocabulary) and weight scale
    (None: the book's RNN default 2/(V + O))."""

    kind: str
    output: int | None
    weight_scale: float | None


@dataclass(frozen=True)
class Experiment:
    """One chapter 6 experiment."""

    number: int
    name: str
    layers: tuple[LayerSpec, ...]
    sequence_length: int
    batch_size: int
    optimizer: str  # "SGD" or "AdaGrad"
    lr: float
    iterations: int

    @property
    def label(self) -> str:
        return f"{self.number} {self.name}"


EXPERIMENTS: dict[int, Experiment] = {
    e.number: e
    for e in (
        Experiment(1, "RNN", (LayerSpec("RNN", None, None),), 10, 32, "SGD", 0.001, 1000),
        Experiment(2, "LSTM", (LayerSpec("LSTM", None, 0.01),), 25, 3, "AdaGrad", 0.01, 1000),
        Experiment(
            3, "RNN>LSTM", (LayerSpec("RNN", MIDDLE, 0.1), LayerSpec("LSTM", None, 0.01)), 25, 32, "AdaGrad", 0.01, 2000
        ),
        Experiment(
            4, "LSTM>LSTM", (LayerSpec("LSTM", MIDDLE, 0.1), LayerSpec("LSTM", None, 0.01)), 25, 32, "SGD", 0.01, 2000
        ),
        Experiment(
            5, "GRU>LSTM", (LayerSpec("GRU", MIDDLE, 0.1), LayerSpec("LSTM", None, 0.01)), 25, 32, "AdaGrad", 0.01, 2000
        ),
    )
}

_CONVERTERS: dict[str, RecurrentConverter] = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU_BEFORE}


class TextError(Exception):
    """The text could not be found, read, or used (too short, fewer than 2 distinct characters)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m parity_tests.recipes ch6", description=(__doc__ or "").splitlines()[0])
    p.add_argument(
        "--experiment", choices=[*(str(k) for k in EXPERIMENTS), "all"], default="all", help="which experiment (all)"
    )
    p.add_argument(
        "--iterations", type=positive_int, default=None, help="training iterations (default: the book's 1000 / 2000)"
    )
    p.add_argument(
        "--text",
        default=None,
        help=f"a UTF-8 text file to train on (default: {GENERATED_SHAKESPEARE} under $DLFS_DATASETS/text)",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of weights, batches, samples ({DEFAULT_SEED})")
    p.add_argument("--sample-every", type=positive_int, default=100, help="iterations between sampled strings (100)")
    dtype_option(
        p, "float64 (default: the parity verdict needs it; the book's NumPy dtype) or float32 (faster, no verdict)"
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"folder for loss_<n>.png and samples.txt ({DEFAULT_OUT})")
    return p


# ---- data -----------------------------------------------------------------------------------------------------


def load_corpus(path: str | None) -> tuple[str, Vocabulary, np.ndarray, Path]:
    """The text at ``path`` (default: the chapter's file under ``$DLFS_DATASETS``), its sorted vocabulary and
    its indices. Raises ``TextError`` with a message saying what is missing or wrong."""
    if path is None:
        found = find_text(GENERATED_SHAKESPEARE)
        if found is None:
            raise TextError(
                f"the chapter 6 text {GENERATED_SHAKESPEARE!r} was not found under $DLFS_DATASETS/text "
                f"(DLFS_DATASETS={os.environ.get('DLFS_DATASETS', '')!r}); set DLFS_DATASETS or pass --text FILE"
            )
    else:
        found = Path(path).expanduser()
        if not found.is_file():
            raise TextError(f"--text {path!r}: no such file; expected a UTF-8 text file")
    try:
        text = load_text(found)
    except (FileNotFoundError, ValueError) as exc:
        raise TextError(str(exc)) from None
    vocab = Vocabulary(text) if text else None
    if vocab is None or vocab.size < 2:
        raise TextError(f"{str(found)!r} must contain at least 2 distinct characters; received {len(text)} chars")
    return text, vocab, vocab.encode(text), found


# ---- models ---------------------------------------------------------------------------------------------------


def _scratch_layer(spec: LayerSpec, vocab_size: int, rng: np.random.Generator) -> Any:
    out = vocab_size if spec.output is None else spec.output
    if spec.kind == "RNN":
        return scratch.RNNLayer(HIDDEN, out, spec.weight_scale, rng=rng)
    if spec.kind == "LSTM":
        return scratch.LSTMLayer(HIDDEN, out, spec.weight_scale or 0.01, rng=rng)
    return scratch.GRULayer(HIDDEN, out, spec.weight_scale or 0.01, reset="before", rng=rng)


def _torch_layer(spec: LayerSpec, n_in: int, vocab_size: int, dtype: torch.dtype) -> Any:
    out = vocab_size if spec.output is None else spec.output
    kw: dict[str, Any] = {"hidden_state": "book", "dtype": dtype, "single_bias": True}
    if spec.kind == "RNN":
        return ti.RNNLayer(None, n_in, HIDDEN, out, **kw)
    if spec.kind == "LSTM":
        return ti.LSTMLayer(None, n_in, HIDDEN, out, **kw)
    return ti.GRULayer(None, n_in, HIDDEN, out, reset="before", **kw)


def converter_for(experiment: Experiment) -> StackConverter:
    """Book names ``"{i}.W_f"`` ... <-> the twin's ``layers.{i}.`` keys, for the experiment's stack."""
    return recurrent_stack([_CONVERTERS[s.kind] for s in experiment.layers])


def build_scratch(experiment: Experiment, vocab_size: int, seed: int, dtype: np.dtype[Any]) -> RNNModel:
    """The scratch ``RNNModel``, weights drawn with the book's scales from ``default_rng(seed)`` in ``dtype``."""
    rng = np.random.default_rng(seed)
    layers = [_scratch_layer(spec, vocab_size, rng) for spec in experiment.layers]
    model = RNNModel(layers, experiment.sequence_length, vocab_size, SequenceSoftmaxCrossEntropy("sum"))
    model.forward(np.zeros((1, 1, vocab_size), dtype=dtype))  # builds every layer's weights in ``dtype``
    model.reset_state()  # ... and forgets the carry that call left
    return model


def build_twin(experiment: Experiment, model: RNNModel) -> ti.SequentialModel:
    """The torch_impl twin (a ``SequentialModel`` of the twins, keys ``layers.{i}.``, ``single_bias=True``,
    no carried state yet) loaded with ``model``'s current weights, in its dtype."""
    V = model.vocab_size
    widths = [V] + [V if s.output is None else s.output for s in experiment.layers]
    t_dtype = getattr(torch, model.dtype.name)
    twin = ti.SequentialModel(*(_torch_layer(s, widths[i], V, t_dtype) for i, s in enumerate(experiment.layers)))
    book = {
        f"{i}.{name}": entry["value"].copy()
        for i, layer in enumerate(model.layers)
        for name, entry in layer.params.items()
    }
    load_arrays(twin, converter_for(experiment).to_torch(book))
    return twin


def build_models(
    experiment: Experiment, vocab_size: int, seed: int, dtype: np.dtype[Any]
) -> tuple[RNNModel, ti.SequentialModel]:
    """The scratch model and its twin with the very same initial weights."""
    model = build_scratch(experiment, vocab_size, seed, dtype)
    return model, build_twin(experiment, model)


def checkpoint_diff(experiment: Experiment, model: RNNModel, x: np.ndarray, y: np.ndarray) -> float:
    """Lock-step check at the scratch run's current weights: a copy of ``model`` and a twin loaded with the same
    weights, both from a zero state, run forward and backward on the batch ``x, y``; return the largest relative
    difference over the loss and every parameter gradient (book layout). ``model`` itself is untouched."""
    probe = copy.deepcopy(model)
    probe.reset_state()
    s_loss = probe.single_step(x, y)
    twin = build_twin(experiment, probe)  # single_step does not change the weights
    loss = ti.SequenceSoftmaxCrossEntropy("sum")(twin(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    grads = {k: p.grad.detach().numpy() for k, p in twin.named_parameters() if p.grad is not None}
    book = converter_for(experiment).grads_to_book(grads)
    worst = relative_error(s_loss, float(loss.detach()))
    for i, layer in enumerate(probe.layers):
        for name, entry in layer.params.items():
            worst = max(worst, relative_error(entry["deriv"], book[f"{i}.{name}"]))
    return worst


# ---- training -------------------------------------------------------------------------------------------------


@dataclass
class ExperimentResult:
    """Losses of every iteration, training seconds and samples per implementation, and their largest gap."""

    experiment: Experiment
    iterations: int
    losses: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in IMPLEMENTATIONS})
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(IMPLEMENTATIONS, 0.0))
    samples: list[tuple[int, str, str]] = field(default_factory=list)  # (iteration, scratch text, torch text)
    max_rel_diff: float = 0.0  # largest relative loss difference of the two free-running trainings
    early_rel_diff: float = 0.0  # ... over their first EARLY_ITERATIONS iterations
    first_beyond: int | None = None  # first iteration whose losses differ by more than PARITY_RTOL
    checkpoint_diff: float = 0.0  # largest lock-step difference (loss and gradients at the same weights)

    @property
    def verdict_diff(self) -> float:
        """What the float64 verdict compares with PARITY_RTOL: the early free-run losses and the lock-step checks."""
        return max(self.early_rel_diff, self.checkpoint_diff)

    def final_loss_ma(self, implementation: str) -> float:
        """Mean of the last ``MA_WINDOW`` losses (the book's moving average at the end of training)."""
        return float(np.mean(self.losses[implementation][-MA_WINDOW:]))

    def ms_per_iteration(self, implementation: str) -> float:
        return 1000.0 * self.seconds[implementation] / max(self.iterations, 1)


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n")


def run_experiment(
    experiment: Experiment,
    indices: np.ndarray,
    vocab: Vocabulary,
    *,
    iterations: int,
    seed: int,
    dtype: str,
    sample_every: int,
    emit: Callable[[str], None] = print,
) -> ExperimentResult:
    """Train ``experiment`` in both implementations, iteration for iteration; print the progress and samples."""
    V, T, N = vocab.size, experiment.sequence_length, experiment.batch_size
    if indices.size < T + 1:
        raise TextError(f"the text must have at least sequence_length + 1 = {T + 1} characters; it has {indices.size}")
    np_dtype = np.dtype(dtype)
    model, twin = build_models(experiment, V, seed, np_dtype)
    if experiment.optimizer == "SGD":
        optim: scratch.Optimizer = scratch.SGD(lr=experiment.lr, gradient_clipping=True)
        t_optim: torch.optim.Optimizer = torch.optim.SGD(twin.parameters(), lr=experiment.lr)
    else:
        optim = scratch.AdaGrad(lr=experiment.lr, gradient_clipping=True)
        t_optim = ti.AdaGrad(twin.parameters(), lr=experiment.lr)
    # the book's trainer hands the model to its optimizer; RNNModel provides params() / param_grads()
    optim.net = model  # type: ignore[assignment]
    t_loss = ti.SequenceSoftmaxCrossEntropy("sum")
    batch_rng = np.random.default_rng([seed, 1])  # the only source of batches, shared by both
    sample_rng = np.random.default_rng([seed, 2])  # scratch's samples
    sample_gen = torch.Generator().manual_seed(seed)  # torch_impl's samples

    result = ExperimentResult(experiment, iterations)
    layout = " -> ".join(f"{s.kind}({HIDDEN}, {V if s.output is None else s.output})" for s in experiment.layers)
    emit(
        f"\nExperiment {experiment.label}: {layout}; sequence {T}, batch {N}, {experiment.optimizer}"
        f"({experiment.lr:g}) with clipping to [-{CLIP:g}, {CLIP:g}], {iterations} iterations, {dtype}"
    )
    for i in range(1, iterations + 1):
        x, y = next_char_batch(indices, V, T, N, rng=batch_rng, dtype=np_dtype)
        checkpoint = i == 1 or i % sample_every == 0 or i == iterations
        if checkpoint:
            result.checkpoint_diff = max(result.checkpoint_diff, checkpoint_diff(experiment, model, x, y))
        t0 = time.perf_counter()
        s_value = model.single_step(x, y)
        optim.step()
        t1 = time.perf_counter()
        t_optim.zero_grad()
        loss = t_loss(twin(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        ti.clip_grads_(twin.parameters(), CLIP)
        t_optim.step()
        t_value = float(loss.detach())
        t2 = time.perf_counter()
        if not (np.isfinite(s_value) and np.isfinite(t_value)):
            raise FloatingPointError(
                f"experiment {experiment.label}: the loss became non-finite at iteration {i} "
                f"(scratch {s_value}, torch_impl {t_value})"
            )
        result.seconds["scratch"] += t1 - t0
        result.seconds["torch_impl"] += t2 - t1
        result.losses["scratch"].append(s_value)
        result.losses["torch_impl"].append(t_value)
        rel = relative_error(s_value, t_value)
        result.max_rel_diff = max(result.max_rel_diff, rel)
        if i <= EARLY_ITERATIONS:
            result.early_rel_diff = max(result.early_rel_diff, rel)
        if result.first_beyond is None and rel > PARITY_RTOL:
            result.first_beyond = i
        if i % sample_every == 0 or i == iterations:
            start = int(np.argmax(y[0, -1]))  # the last target character of the batch's first window
            s_text = vocab.decode(sample(model, start, SAMPLE_LENGTH, rng=sample_rng))
            t_text = vocab.decode(ti.sample_text(twin, start, SAMPLE_LENGTH, V, generator=sample_gen))
            result.samples.append((i, s_text, t_text))
            ma = {k: result.final_loss_ma(k) for k in IMPLEMENTATIONS}
            emit(
                f"  iteration {i}: loss (mean of the last {min(MA_WINDOW, i)}) scratch {ma['scratch']:.4f}, "
                f"torch_impl {ma['torch_impl']:.4f}; relative difference: this iteration {rel:.1e}, "
                f"lock-step check {result.checkpoint_diff:.1e}"
            )
            emit(f"    scratch:    {_one_line(s_text)}")
            emit(f"    torch_impl: {_one_line(t_text)}")
    emit(
        "  wall time: "
        + ", ".join(
            f"{k} {result.seconds[k]:.2f} s ({result.ms_per_iteration(k):.1f} ms/iteration)" for k in IMPLEMENTATIONS
        )
    )
    return result


# ---- output ---------------------------------------------------------------------------------------------------


def plot_losses(plt: Any, result: ExperimentResult, path: Path) -> None:
    """Top: both implementations' moving-average loss; bottom: the raw per-iteration difference."""
    raw = {k: np.asarray(result.losses[k]) for k in IMPLEMENTATIONS}
    plot_pair(
        plt,
        path,
        {k: moving_average(raw[k], MA_WINDOW) for k in IMPLEMENTATIONS},
        raw,
        ylabel=f"loss (sum over N·T), moving average of {MA_WINDOW}",
        title=f"Chapter 6, experiment {result.experiment.label}",
        xlabel="iteration",
    )


def samples_text(results: list[ExperimentResult], header: str) -> str:
    lines = [header, ""]
    for r in results:
        lines.append(f"== experiment {r.experiment.label} ==")
        for i, s_text, t_text in r.samples:
            lines += [f"-- iteration {i} --", "[scratch]", s_text, "[torch_impl]", t_text, ""]
    return "\n".join(lines) + "\n"


# ---- entry points ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the chapter 6 recipe; returns the exit code (1: float64 runs disagree; 2: bad options or no text)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        text, vocab, indices, path = load_corpus(args.text)
    except TextError as exc:
        print(f"error: {exc}")
        return 2
    numbers = list(EXPERIMENTS) if args.experiment == "all" else [int(args.experiment)]
    need = max(EXPERIMENTS[n].sequence_length for n in numbers) + 1
    if indices.size < need:
        print(f"error: {str(path)!r} has {indices.size} characters; the experiments need at least {need}")
        return 2
    print(f"Chapter 6: {str(path)!r}, {len(text)} characters, vocabulary {vocab.size}; seed {args.seed}, {args.dtype}")
    results = [
        run_experiment(
            EXPERIMENTS[n],
            indices,
            vocab,
            iterations=args.iterations or EXPERIMENTS[n].iterations,
            seed=args.seed,
            dtype=args.dtype,
            sample_every=args.sample_every,
            emit=lambda line: print(line, flush=True),
        )
        for n in numbers
    ]
    print(
        f"\n{'experiment':<14}{'loss MA scratch':>16}{'torch_impl':>12}{'ms/it scratch':>15}{'torch_impl':>12}"
        f"{'free-run max diff':>19}{'first > 1e-8':>14}{'lock-step diff':>16}"
    )
    for r in results:
        first = "-" if r.first_beyond is None else str(r.first_beyond)
        print(
            f"{r.experiment.label:<14}{r.final_loss_ma('scratch'):>16.4f}{r.final_loss_ma('torch_impl'):>12.4f}"
            f"{r.ms_per_iteration('scratch'):>15.1f}{r.ms_per_iteration('torch_impl'):>12.1f}"
            f"{r.max_rel_diff:>19.1e}{first:>14}{r.checkpoint_diff:>16.1e}"
        )
    worst = max(r.verdict_diff for r in results)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = f"Chapter 6 samples: {path}, seed {args.seed}, {args.dtype}, {SAMPLE_LENGTH} characters per sample"
    write_atomic(out / "samples.txt", samples_text(results, header))
    print(f"wrote {out / 'samples.txt'}")
    plt = pyplot()
    if plt is None:
        print("note: matplotlib is not installed; no plots written (pip install matplotlib)")
    else:
        for r in results:
            plot_losses(plt, r, out / f"loss_{r.experiment.number}.png")
            print(f"wrote {out / f'loss_{r.experiment.number}.png'}")

    return verdict(
        worst,
        PARITY_RTOL,
        f"relative; the first {EARLY_ITERATIONS} free-running losses and every lock-step check",
        dtype=args.dtype,
        measured="lock-step and early difference",
    )


def reproduce(quick: bool) -> list[dict[str, Any]]:
    """Reproduction rows per experiment and implementation: the final moving-average loss (mean of the last 100
    iterations) and training seconds (``quick``: 50 iterations each, the book's architectures), with the raw loss
    of every iteration as the row's curve. Raises ``SkipRecipe`` when the chapter's text is missing."""
    try:
        _, vocab, indices, _ = load_corpus(None)
    except TextError as exc:
        raise SkipRecipe(str(exc)) from None
    rows = []
    for experiment in EXPERIMENTS.values():
        iterations = QUICK_ITERATIONS if quick else experiment.iterations
        r = run_experiment(
            experiment,
            indices,
            vocab,
            iterations=iterations,
            seed=DEFAULT_SEED,
            dtype="float64",
            sample_every=iterations,
            emit=lambda _: None,
        )
        note = f"{iterations} iterations, float64; max rel loss diff {r.max_rel_diff:.0e}"
        for k in IMPLEMENTATIONS:
            curve = make_curve(r.losses[k], label="training loss (cross-entropy summed over N·T)", x_label="iteration")
            metrics = {"final_loss_ma": r.final_loss_ma(k)}
            rows.append(row("ch6", experiment.label, k, metrics, r.seconds[k], note, curve=curve))
    return rows
