"""Spec: whole-model training of recurrent stacks (chapter 6), ``scratch.RNNModel`` + book optimizers vs a
``torch_impl.SequentialModel`` of the twins + torch optimizers, step for step.

Both start from the same book-layout weights, see the same one-hot next-character batches (drawn once from
a seeded generator over a random "text") and take the same steps: the chapter's loss (softmax cross-entropy
summed over N·T, no division), element-wise gradient clipping to [-2, 2] and SGD or the book's AdaGrad. The
summed loss makes gradients far larger than 2, so clipping is active at every step. The hidden state is
the book's carry (batch mean of the previous call's last state), as in the chapter's trainer. The torch
layers use ``single_bias=True``: torch's two summed biases would otherwise both take the step, moving their
sum twice as far as the book's one bias. Results: the
loss of every step (``traj:loss``) and every final weight (``traj:<layer>.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import scratch
from scratch.rnn_model import RNNModel, SequenceSoftmaxCrossEntropy

from ..converters import StackConverter, recurrent_stack
from ..harness import to_numpy
from ..port import load_arrays
from ._inputs import torch_dtype
from .base import Case, ComponentSpec, Problem, Results, TorchClass, normal
from .rnn import KINDS, H, book_shapes, build_scratch_layer, build_torch_layer

VOCAB, SEQ, BATCH, STEPS, CLIP = 7, 5, 4, 6, 2.0
MODELS: dict[str, tuple[str, ...]] = {
    "LSTM": ("LSTM",),
    "RNN>LSTM": ("RNN", "LSTM"),
    "GRU-before>LSTM": ("GRU-before", "LSTM"),
    "GRU-after>RNN": ("GRU-after", "RNN"),
}
HIDDEN_OUT = 5  # the first layer's output size in two-layer models

#: Each model's converter: layer i's book names ``"{i}.W_f"`` <-> the twin ``SequentialModel``'s ``layers.{i}.*``.
MODEL_CONVERTERS: dict[str, StackConverter] = {
    label: recurrent_stack([KINDS[k][2] for k in kinds]) for label, kinds in MODELS.items()
}


@dataclass(frozen=True)
class RNNTrainCase(Case):
    """``STEPS`` training steps of the model ``model`` (a key of ``MODELS``) with ``optim`` (``"SGD"`` or
    ``"AdaGrad"``) at learning rate ``lr``."""

    model: str
    optim: str
    lr: float


def _widths(kinds: tuple[str, ...]) -> list[int]:
    return [VOCAB] + [HIDDEN_OUT] * (len(kinds) - 1) + [VOCAB]


def _make_problem(case: RNNTrainCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    kinds = MODELS[case.model]
    widths = _widths(kinds)
    params = {}
    for i, kind in enumerate(kinds):
        for k, shape in book_shapes(kind, widths[i], H, widths[i + 1]).items():
            params[f"{i}.{k}"] = normal(rng, shape, dtype, 0.5)
    text = rng.integers(0, VOCAB, size=200)
    starts = rng.integers(0, text.size - SEQ - 1, size=(STEPS, BATCH))
    offsets = starts[..., None] + np.arange(SEQ)  # [STEPS, BATCH, SEQ] character positions
    eye = np.eye(VOCAB, dtype=dtype)
    inputs = {"x": eye[text[offsets]], "y": eye[text[offsets + 1]]}  # one-hot [STEPS, BATCH, SEQ, VOCAB]
    return Problem(case, dtype, inputs, params)


def _run_scratch(problem: Problem) -> Results:
    case = problem.case_as(RNNTrainCase)
    kinds = MODELS[case.model]
    widths = _widths(kinds)
    layers = []
    for i, kind in enumerate(kinds):
        own = {k.split(".", 1)[1]: v for k, v in problem.params.items() if k.startswith(f"{i}.")}
        layers.append(build_scratch_layer(kind, H, widths[i + 1], "book", own))
    model = RNNModel(layers, SEQ, VOCAB, SequenceSoftmaxCrossEntropy("sum"))
    lr = case.lr
    optim: scratch.Optimizer
    if case.optim == "AdaGrad":
        optim = scratch.AdaGrad(lr=lr, gradient_clipping=True)
    else:
        optim = scratch.SGD(lr=lr, gradient_clipping=True)
    # the book's trainer sets .net the same way (Optimizer.net is typed as a NeuralNetwork)
    optim.net = model  # type: ignore[assignment]
    losses = []
    for step in range(STEPS):
        losses.append(model.single_step(problem.inputs["x"][step], problem.inputs["y"][step]))
        optim.step()
    results: Results = {"traj:loss": np.array(losses)}
    for i, layer in enumerate(layers):
        results.update({f"traj:{i}.{k}": v["value"].copy() for k, v in layer.params.items()})
    return results


def _run_torch(problem: Problem) -> Results:
    import torch

    import torch_impl as ti

    case = problem.case_as(RNNTrainCase)
    kinds = MODELS[case.model]
    widths = _widths(kinds)
    converter = MODEL_CONVERTERS[case.model]
    layers = [build_torch_layer(k, widths[i], H, widths[i + 1], "book", problem.dtype) for i, k in enumerate(kinds)]
    model = ti.SequentialModel(*layers)
    load_arrays(model, converter.to_torch(problem.params))
    lr = case.lr
    optim: torch.optim.Optimizer
    if case.optim == "AdaGrad":
        optim = ti.AdaGrad(model.parameters(), lr=lr)
    else:
        optim = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = ti.SequenceSoftmaxCrossEntropy("sum")
    losses = []
    for step in range(STEPS):
        optim.zero_grad()
        x = torch.from_numpy(problem.inputs["x"][step]).to(torch_dtype(problem.dtype))
        y = torch.from_numpy(problem.inputs["y"][step]).to(torch_dtype(problem.dtype))
        loss = loss_fn(model(x), y)
        loss.backward()
        ti.clip_grads_(model.parameters(), CLIP)
        optim.step()
        losses.append(float(loss.detach()))
    state = {k: to_numpy(v) for k, v in model.state_dict().items()}
    results: Results = {"traj:loss": np.array(losses)}
    results.update({f"traj:{k}": v for k, v in converter.to_book(state).items()})
    return results


SPECS = (
    ComponentSpec(
        name="RNNModelTraining",
        chapter=6,
        scratch_class=RNNModel,
        torch_class=TorchClass("SequentialModel"),
        scratch_detail=" + SGD/AdaGrad(gradient_clipping=True)",
        torch_detail=" + SGD/AdaGrad + clip_grads_",
        exercises=(
            scratch.SGD,
            scratch.AdaGrad,
            SequenceSoftmaxCrossEntropy,
            TorchClass("AdaGrad"),
            TorchClass("SequenceSoftmaxCrossEntropy"),
        ),
        cases=tuple(
            RNNTrainCase(f"{model}-{optim}", model, optim, lr)
            for model in MODELS
            for optim, lr in (("SGD", 0.01), ("AdaGrad", 0.05))
        ),
        make_problem=_make_problem,
        run_scratch=_run_scratch,
        run_torch=_run_torch,
        differentiable=False,
        notes=f"{STEPS} steps, batch {BATCH}, sequence {SEQ}, vocabulary {VOCAB}; loss summed over N*T, "
        "element-wise clipping to [-2, 2], book-carried hidden state",
        slow=True,
    ),
)
