"""Spec: Dropout with a shared mask (chapter 4), in the book's and in the inverted convention."""

from __future__ import annotations

from typing import Any

import numpy as np

import scratch

from ..harness import to_tensor
from ._inputs import seq, tensor
from .base import Argument, Case, ErrorCase, Problem, operation_spec


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


def _mask(problem: Problem, rng: np.random.Generator) -> None:
    problem.extras["mask"] = (rng.random(problem.case["shape"]) < problem.case["keep"]).astype(problem.dtype)


def _scratch(problem: Problem) -> scratch.Dropout:
    op = scratch.Dropout(problem.case["keep"], inverted=problem.case["inverted"])
    op.set_mask(problem.extras["mask"], persistent=True)
    return op


def _torch(problem: Problem) -> Any:
    module = _torch_impl().BookDropout(problem.case["keep"], inverted=problem.case["inverted"])
    module.set_mask(to_tensor(problem.extras["mask"]), persistent=True)
    return module


def _cases() -> tuple[Case, ...]:
    cases = []
    for inverted in (False, True):
        for inference in (False, True):
            style = "inverted" if inverted else "book"
            mode = "inference" if inference else "train"
            cases.append(
                Case(
                    f"{style}-{mode}-keep0.8",
                    {"shape": (12, 7), "keep": 0.8, "inverted": inverted, "inference": inference},
                )
            )
    cases.append(Case("book-train-keep0.5", {"shape": (5, 30), "keep": 0.5, "inverted": False}))
    return tuple(cases)


SPECS = (
    operation_spec(
        name="Dropout",
        chapter=4,
        scratch_name="scratch.Dropout",
        torch_name="torch_impl.BookDropout",
        cases=_cases(),
        shapes=lambda c: (c["shape"], c["shape"]),
        build_scratch=_scratch,
        build_torch=_torch,
        prepare=_mask,
        bench=(Case("N256x1024", {"shape": (256, 1024), "keep": 0.8, "inverted": False}),),
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
