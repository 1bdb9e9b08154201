"""Spec: Dropout with a shared mask (chapter 4), in the book's and in the inverted convention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch

from ..harness import to_tensor
from ._inputs import seq, tensor
from .base import Argument, Case, ErrorCase, Problem, Shape, TorchClass, operation_spec


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


@dataclass(frozen=True)
class DropoutCase(Case):
    """Dropout with keep probability ``keep`` on an input of ``shape``, the book's or the inverted convention."""

    shape: Shape
    keep: float
    inverted: bool = False


def _mask(problem: Problem, rng: np.random.Generator) -> None:
    case = problem.case_as(DropoutCase)
    problem.extras["mask"] = (rng.random(case.shape) < case.keep).astype(problem.dtype)


def _scratch(problem: Problem) -> scratch.Dropout:
    case = problem.case_as(DropoutCase)
    op = scratch.Dropout(case.keep, inverted=case.inverted)
    op.set_mask(problem.extras["mask"], persistent=True)
    return op


def _torch(problem: Problem) -> Any:
    case = problem.case_as(DropoutCase)
    module = _torch_impl().BookDropout(case.keep, inverted=case.inverted)
    module.set_mask(to_tensor(problem.extras["mask"]), persistent=True)
    return module


def _cases() -> tuple[DropoutCase, ...]:
    cases = []
    for inverted in (False, True):
        for inference in (False, True):
            style = "inverted" if inverted else "book"
            mode = "inference" if inference else "train"
            cases.append(DropoutCase(f"{style}-{mode}-keep0.8", (12, 7), 0.8, inverted, inference=inference))
    cases.append(DropoutCase("book-train-keep0.5", (5, 30), 0.5))
    return tuple(cases)


SPECS = (
    operation_spec(
        name="Dropout",
        chapter=4,
        scratch_class=scratch.Dropout,
        torch_class=TorchClass("Dropout"),
        cases=_cases(),
        shapes=lambda c: (c.shape, c.shape),
        build_scratch=_scratch,
        build_torch=_torch,
        prepare=_mask,
        bench=(DropoutCase("N256x1024", (256, 1024), 0.8),),
        arguments=(
            Argument("keep_prob", "keep_prob", lambda v: scratch.Dropout(v), lambda v: _torch_impl().BookDropout(v)),
        ),
        errors=(
            ErrorCase(
                "keep-prob-zero",
                scratch=lambda: scratch.Dropout(0.0),
                torch=lambda: _torch_impl().BookDropout(0.0),
                exc=ValueError,
                match=r"keep_prob",
            ),
            ErrorCase(
                "keep-prob-above-one",
                scratch=lambda: scratch.Dropout(1.5),
                torch=lambda: _torch_impl().BookDropout(1.5),
                exc=ValueError,
                match=r"keep_prob",
            ),
            ErrorCase(
                "mask-shape",
                scratch=lambda: _bad_mask_scratch(),
                torch=lambda: _bad_mask_torch(),
                exc=ValueError,
                match=r"mask",
            ),
        ),
        notes="book: train x*mask, inference x*keep; inverted (= nn.Dropout(1-keep)): train x*mask/keep, inference x",
    ),
)


def _bad_mask_scratch() -> Any:
    op = scratch.Dropout(0.8)
    op.set_mask(np.ones((2, 2)))
    return op.forward(seq((3, 3)))


def _bad_mask_torch() -> Any:
    module = _torch_impl().BookDropout(0.8)
    module.set_mask(tensor(np.ones((2, 2))))
    return module(tensor(seq((3, 3))))
