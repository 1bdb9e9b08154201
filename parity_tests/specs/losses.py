"""Specs: MeanSquaredError and SoftmaxCrossEntropy (chapters 3-4), with the book's row normalisation, and
chapter 6's SequenceSoftmaxCrossEntropy (summed or averaged over batch and time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch

from ._inputs import nan_array, seq, tensor
from .base import Argument, Case, ErrorCase, Shape, TorchClass, loss_spec


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


@dataclass(frozen=True)
class LossCase(Case):
    """Predictions and targets of ``shape``: ``scale`` multiplies the logits of the softmax losses, ``normalize``
    is the book's row normalisation of MeanSquaredError, ``reduction`` the sequence loss's ``"sum"``/``"mean"``."""

    shape: Shape
    scale: float = 1.0
    normalize: bool = False
    reduction: str = "sum"


def _mse_inputs(case: LossCase, rng: np.random.Generator, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    shape = case.shape
    if case.normalize:
        # Positive predictions with row sums far from zero, targets that look like distributions.
        p = rng.uniform(0.5, 2.0, shape)
        y = rng.dirichlet(np.ones(shape[1]), size=shape[0])
        return p.astype(dtype), y.astype(dtype)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _sce_inputs(case: LossCase, rng: np.random.Generator, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Logits of ``case.shape`` ([N, C] or [N, T, C]) times ``case.scale`` and one-hot targets (last axis)."""
    *rows, c = case.shape
    logits = case.scale * rng.standard_normal(case.shape)
    target = np.eye(c)[rng.integers(0, c, tuple(rows))]  # [N(, T)] class indices -> [N(, T), C]
    return logits.astype(dtype), target.astype(dtype)


def _one_hot_rows(n: int, c: int) -> np.ndarray:
    return np.eye(c)[np.arange(n) % c]


MSE = loss_spec(
    name="MeanSquaredError",
    chapter=3,
    scratch_class=scratch.MeanSquaredError,
    torch_class=TorchClass("MeanSquaredError"),
    cases=(LossCase("N8x1", (8, 1)), LossCase("N6x4", (6, 4)), LossCase("N5x3-normalize", (5, 3), normalize=True)),
    make_inputs=_mse_inputs,
    build_scratch=lambda c: scratch.MeanSquaredError(normalize=c.normalize),
    build_torch=lambda c: _torch_impl().MeanSquaredError(normalize=c.normalize),
    bench=(LossCase("N256x10", (256, 10)),),
    errors=(
        ErrorCase(
            "shape-mismatch",
            scratch=lambda: scratch.MeanSquaredError().forward(seq((4, 1)), seq((4, 2))),
            torch=lambda: _torch_impl().MeanSquaredError()(tensor(seq((4, 1))), tensor(seq((4, 2)))),
            exc=ValueError,
            match=r"shape",
        ),
        ErrorCase(
            "nan-prediction",
            scratch=lambda: scratch.MeanSquaredError().forward(nan_array((4, 1)), seq((4, 1))),
            torch=lambda: _torch_impl().MeanSquaredError()(tensor(nan_array((4, 1))), tensor(seq((4, 1)))),
            exc=ValueError,
            match=r"(?i)finite|nan",
        ),
        ErrorCase(
            "int-target",
            scratch=lambda: scratch.MeanSquaredError().forward(seq((4, 1)), np.ones((4, 1), dtype=int)),
            torch=lambda: _torch_impl().MeanSquaredError()(tensor(seq((4, 1))), tensor(np.ones((4, 1), dtype=int))),
            exc=TypeError,
            match=r"float",
        ),
    ),
    notes="book: sum((p-y)^2)/N over rows N; nn.MSELoss(mean) divides by N*D",
)

SCE = loss_spec(
    name="SoftmaxCrossEntropy",
    chapter=4,
    scratch_class=scratch.SoftmaxCrossEntropy,
    torch_class=TorchClass("SoftmaxCrossEntropy"),
    cases=(
        LossCase("N8x10", (8, 10)),
        LossCase("N3x2", (3, 2)),
        LossCase("N6x5-logits1e4", (6, 5), 1e4),
        LossCase("N7x4-logits40", (7, 4), 40.0),
    ),
    make_inputs=_sce_inputs,
    arguments=(
        Argument(
            "eps",
            "positive_real",
            lambda v: scratch.SoftmaxCrossEntropy(v),
            lambda v: _torch_impl().SoftmaxCrossEntropy(v),
        ),
    ),
    build_scratch=lambda c: scratch.SoftmaxCrossEntropy(),
    build_torch=lambda c: _torch_impl().SoftmaxCrossEntropy(),
    bench=(LossCase("N256x10", (256, 10)),),
    errors=(
        ErrorCase(
            "not-one-hot",
            scratch=lambda: scratch.SoftmaxCrossEntropy().forward(seq((3, 4)), np.full((3, 4), 0.25)),
            torch=lambda: _torch_impl().SoftmaxCrossEntropy()(tensor(seq((3, 4))), tensor(np.full((3, 4), 0.25))),
            exc=ValueError,
            match=r"one-hot",
        ),
        ErrorCase(
            "two-ones",
            scratch=lambda: scratch.SoftmaxCrossEntropy().forward(seq((2, 3)), np.array([[1.0, 1, 0], [0, 0, 1]])),
            torch=lambda: _torch_impl().SoftmaxCrossEntropy()(
                tensor(seq((2, 3))), tensor(np.array([[1.0, 1, 0], [0, 0, 1]]))
            ),
            exc=ValueError,
            match=r"one-hot",
        ),
        ErrorCase(
            "shape-mismatch",
            scratch=lambda: scratch.SoftmaxCrossEntropy().forward(seq((3, 4)), _one_hot_rows(3, 5)),
            torch=lambda: _torch_impl().SoftmaxCrossEntropy()(tensor(seq((3, 4))), tensor(_one_hot_rows(3, 5))),
            exc=ValueError,
            match=r"shape",
        ),
        ErrorCase(
            "one-class",
            scratch=lambda: scratch.SoftmaxCrossEntropy().forward(seq((3, 1)), np.ones((3, 1))),
            torch=lambda: _torch_impl().SoftmaxCrossEntropy()(tensor(seq((3, 1))), tensor(np.ones((3, 1)))),
            exc=ValueError,
            match=r"2 classes|classes",
        ),
        ErrorCase(
            "empty-batch",
            scratch=lambda: scratch.SoftmaxCrossEntropy().forward(np.zeros((0, 3)), np.zeros((0, 3))),
            torch=lambda: _torch_impl().SoftmaxCrossEntropy()(tensor(np.zeros((0, 3))), tensor(np.zeros((0, 3)))),
            exc=ValueError,
            match=r"(?i)empty",
        ),
    ),
    notes="value = standard categorical CE (the function its gradient differentiates), not the book's value",
)


def _seq_loss(reduction: str = "sum") -> Any:
    return scratch.SequenceSoftmaxCrossEntropy(reduction)


def _torch_seq_loss(reduction: str = "sum") -> Any:
    return _torch_impl().SequenceSoftmaxCrossEntropy(reduction)


SEQUENCE_SCE = loss_spec(
    name="SequenceSoftmaxCrossEntropy",
    chapter=6,
    scratch_class=scratch.SequenceSoftmaxCrossEntropy,
    torch_class=TorchClass("SequenceSoftmaxCrossEntropy"),
    cases=(
        LossCase("N4-T6-V7-sum", (4, 6, 7)),
        LossCase("N3-T5-V4-mean", (3, 5, 4), reduction="mean"),
        LossCase("N1-T9-V2-sum", (1, 9, 2)),
        LossCase("N2-T3-V5-logits40-sum", (2, 3, 5), 40.0),
    ),
    make_inputs=_sce_inputs,
    build_scratch=lambda c: _seq_loss(c.reduction),
    build_torch=lambda c: _torch_seq_loss(c.reduction),
    arguments=(Argument("reduction", "choice", _seq_loss, _torch_seq_loss, choices=("sum", "mean")),),
    bench=(LossCase("N32-T25-V62-sum", (32, 25, 62)),),
    errors=(
        ErrorCase(
            "not-3d",
            scratch=lambda: _seq_loss().forward(seq((3, 4)), _one_hot_rows(3, 4)),
            torch=lambda: _torch_seq_loss()(tensor(seq((3, 4))), tensor(_one_hot_rows(3, 4))),
            exc=ValueError,
            match=r"3-D",
        ),
        ErrorCase(
            "not-one-hot",
            scratch=lambda: _seq_loss().forward(seq((2, 3, 4)), np.full((2, 3, 4), 0.25)),
            torch=lambda: _torch_seq_loss()(tensor(seq((2, 3, 4))), tensor(np.full((2, 3, 4), 0.25))),
            exc=ValueError,
            match=r"one-hot",
        ),
        ErrorCase(
            "one-class",
            scratch=lambda: _seq_loss().forward(seq((2, 3, 1)), np.ones((2, 3, 1))),
            torch=lambda: _torch_seq_loss()(tensor(seq((2, 3, 1))), tensor(np.ones((2, 3, 1)))),
            exc=ValueError,
            match=r"2 classes",
        ),
        ErrorCase(
            "unknown-reduction",
            scratch=lambda: _seq_loss("none"),
            torch=lambda: _torch_seq_loss("none"),
            exc=ValueError,
            match=r"reduction",
        ),
    ),
    notes="chapter 6's loss over [N, T, V]: sum over N*T (the book's notebook) or mean (nn.CrossEntropyLoss); "
    "value = categorical CE, not the notebook's printed value",
)

SPECS = (MSE, SCE, SEQUENCE_SCE)
