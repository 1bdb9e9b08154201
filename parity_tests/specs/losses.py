"""Specs: MeanSquaredError and SoftmaxCrossEntropy (chapters 3-4), with the book's row normalisation."""

from __future__ import annotations

from typing import Any

import numpy as np

import scratch

from ._inputs import nan_array, seq, tensor
from .base import Argument, Case, ErrorCase, loss_spec


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


def _mse_inputs(case: Case, rng: np.random.Generator, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    shape = case["shape"]
    if case.get("normalize"):
        # Positive predictions with row sums far from zero, targets that look like distributions.
        p = rng.uniform(0.5, 2.0, shape)
        y = rng.dirichlet(np.ones(shape[1]), size=shape[0])
        return p.astype(dtype), y.astype(dtype)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _sce_inputs(case: Case, rng: np.random.Generator, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    n, c = case["shape"]
    logits = case.get("scale", 1.0) * rng.standard_normal((n, c))
    target = np.eye(c)[rng.integers(0, c, n)]
    return logits.astype(dtype), target.astype(dtype)


def _one_hot_rows(n: int, c: int) -> np.ndarray:
    return np.eye(c)[np.arange(n) % c]


MSE = loss_spec(
    name="MeanSquaredError",
    chapter=3,
    scratch_name="scratch.MeanSquaredError",
    torch_name="torch_impl.MeanSquaredError",
    cases=(
        Case("N8x1", {"shape": (8, 1)}),
        Case("N6x4", {"shape": (6, 4)}),
        Case("N5x3-normalize", {"shape": (5, 3), "normalize": True}),
    ),
    make_inputs=_mse_inputs,
    build_scratch=lambda c: scratch.MeanSquaredError(normalize=c.get("normalize", False)),
    build_torch=lambda c: _torch_impl().MeanSquaredError(normalize=c.get("normalize", False)),
    bench=(Case("N256x10", {"shape": (256, 10)}),),
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
    scratch_name="scratch.SoftmaxCrossEntropy",
    torch_name="torch_impl.SoftmaxCrossEntropy",
    cases=(
        Case("N8x10", {"shape": (8, 10)}),
        Case("N3x2", {"shape": (3, 2)}),
        Case("N6x5-logits1e4", {"shape": (6, 5), "scale": 1e4}),
        Case("N7x4-logits40", {"shape": (7, 4), "scale": 40.0}),
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
    bench=(Case("N256x10", {"shape": (256, 10)}),),
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

SPECS = (MSE, SCE)
