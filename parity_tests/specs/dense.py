"""Specs: WeightMultiply, BiasAdd, Dense and the activations (chapters 3-4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch

from .. import floors
from ..converters import BIAS_ADD, DENSE, WEIGHT_MULTIPLY
from ..harness import to_tensor
from ._inputs import nan_array, seq, tensor, torch_dtype
from .base import (
    Argument,
    Case,
    ComponentSpec,
    ErrorCase,
    Problem,
    Shape,
    ShapeCase,
    Sweep,
    TorchClass,
    operation_spec,
)

ACTIVATIONS = ("Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU")
ACTIVATION_NOTES = {"LeakyReLU": "chapter 1's leaky_relu: slope 0.2 (the book's) by default, nn.LeakyReLU's is 0.01"}


@dataclass(frozen=True)
class MatmulCase(Case):
    """A batch of ``n`` rows of ``fin`` features mapped to ``fout`` features."""

    n: int
    fin: int
    fout: int


@dataclass(frozen=True)
class DenseCase(MatmulCase):
    """A Dense layer: its activation (a class name of both packages) and its dropout (keep probability, and
    the inverted convention of chapter 7's ``DenseLayer``)."""

    act: str = "Linear"
    keep: float = 1.0
    inverted: bool = False


@dataclass(frozen=True)
class BiasCase(Case):
    """A batch of ``n`` rows of ``f`` features."""

    n: int
    f: int


def _wm_shapes(case: MatmulCase) -> tuple[Shape, Shape]:
    return (case.n, case.fin), (case.n, case.fout)


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


WEIGHT_MULTIPLY_SPEC = operation_spec(
    name="WeightMultiply",
    chapter=3,
    scratch_class=scratch.WeightMultiply,
    torch_class=TorchClass("WeightMultiply"),
    cases=(MatmulCase("N8-13x5", 8, 13, 5), MatmulCase("N3-4x9", 3, 4, 9), MatmulCase("N5-6x6", 5, 6, 6)),
    shapes=_wm_shapes,
    param_shapes=lambda c: {"W": (c.fin, c.fout)},
    converter=WEIGHT_MULTIPLY,
    build_scratch=lambda p: scratch.WeightMultiply(p.params["W"].copy()),
    build_torch=lambda p: _torch_impl().WeightMultiply(
        p.case_as(MatmulCase).fin, p.case_as(MatmulCase).fout, dtype=torch_dtype(p.dtype)
    ),
    errors=(
        ErrorCase(
            "features-mismatch",
            scratch=lambda: scratch.WeightMultiply(seq((4, 3))).forward(seq((2, 5))),
            torch=lambda: _torch_impl().WeightMultiply(4, 3, dtype=torch_dtype(np.float64))(tensor(seq((2, 5)))),
            exc=ValueError,
            match=r"4",
        ),
        ErrorCase(
            "wrong-ndim",
            scratch=lambda: scratch.WeightMultiply(seq((4, 3))).forward(seq((2, 4, 1))),
            torch=lambda: _torch_impl().WeightMultiply(4, 3, dtype=torch_dtype(np.float64))(tensor(seq((2, 4, 1)))),
            exc=ValueError,
            match=r"2-D",
        ),
    ),
)

BIAS_ADD_SPEC = operation_spec(
    name="BiasAdd",
    chapter=3,
    scratch_class=scratch.BiasAdd,
    torch_class=TorchClass("BiasAdd"),
    cases=(BiasCase("N8-5", 8, 5), BiasCase("N3-11", 3, 11)),
    shapes=lambda c: ((c.n, c.f), (c.n, c.f)),
    param_shapes=lambda c: {"B": (1, c.f)},
    converter=BIAS_ADD,
    build_scratch=lambda p: scratch.BiasAdd(p.params["B"].copy()),
    build_torch=lambda p: _torch_impl().BiasAdd(p.case_as(BiasCase).f, dtype=torch_dtype(p.dtype)),
    errors=(
        ErrorCase(
            "features-mismatch",
            scratch=lambda: scratch.BiasAdd(seq((1, 3))).forward(seq((2, 5))),
            torch=lambda: _torch_impl().BiasAdd(3, dtype=torch_dtype(np.float64))(tensor(seq((2, 5)))),
            exc=ValueError,
            match=r"3",
        ),
    ),
)


def _scratch_dense(problem: Problem) -> scratch.Dense:
    case = problem.case_as(DenseCase)
    layer = scratch.Dense(case.fout, getattr(scratch, case.act)(), dropout=case.keep, inverted_dropout=case.inverted)
    layer.load_params([problem.params["W"].copy(), problem.params["B"].copy()])
    if "mask" in problem.extras:
        op = layer.dropout_op
        if op is None:
            raise RuntimeError("a dropout case needs a Dense layer with dropout < 1")
        op.set_mask(problem.extras["mask"], persistent=True)
    return layer


def _torch_dense(problem: Problem) -> Any:
    ti = _torch_impl()
    case = problem.case_as(DenseCase)
    if case.inverted:
        # The chapter 7 layer with torch's (inverted) dropout; a generator makes its mask injectable.
        import torch

        layer = ti.DenseLayer(
            case.fin,
            case.fout,
            dropout=case.keep,
            activation=getattr(ti, case.act)(),
            inverted_dropout=True,
            generator=torch.Generator().manual_seed(0),
            dtype=torch_dtype(problem.dtype),
        )
    else:
        layer = ti.Dense(
            case.fin, case.fout, getattr(ti, case.act)(), dropout=case.keep, dtype=torch_dtype(problem.dtype)
        )
    if "mask" in problem.extras:
        layer.dropout_module.set_mask(to_tensor(problem.extras["mask"]), persistent=True)
    return layer


def _dense_mask(problem: Problem, rng: np.random.Generator) -> None:
    case = problem.case_as(DenseCase)
    if case.keep < 1.0:
        problem.extras["mask"] = (rng.random((case.n, case.fout)) < case.keep).astype(problem.dtype)


DENSE_SPEC = operation_spec(
    name="Dense",
    chapter=3,
    scratch_class=scratch.Dense,
    torch_class=TorchClass("Dense"),
    exercises=(TorchClass("DenseLayer"),),  # the inverted-dropout cases run chapter 7's DenseLayer
    cases=(
        DenseCase("sigmoid-N8-13x5", 8, 13, 5, "Sigmoid"),
        DenseCase("tanh-N16-7x3", 16, 7, 3, "Tanh"),
        DenseCase("relu-N6-10x20", 6, 10, 20, "ReLU"),
        DenseCase("linear-N4-5x5", 4, 5, 5, "Linear"),
        DenseCase("tanh-dropout0.7-train", 9, 6, 8, "Tanh", keep=0.7),
        DenseCase("tanh-dropout0.7-inference", 9, 6, 8, "Tanh", keep=0.7, inference=True),
        DenseCase("tanh-inverted-dropout0.7-train", 9, 6, 8, "Tanh", keep=0.7, inverted=True),
        DenseCase("tanh-inverted-dropout0.7-inference", 9, 6, 8, "Tanh", keep=0.7, inverted=True, inference=True),
    ),
    shapes=_wm_shapes,
    param_shapes=lambda c: {"W": (c.fin, c.fout), "B": (1, c.fout)},
    converter=DENSE,
    build_scratch=_scratch_dense,
    build_torch=_torch_dense,
    prepare=_dense_mask,
    torch_call=lambda module, x, problem: module(x, inference=problem.case.inference),
    arguments=(
        Argument("neurons", "positive_int", lambda v: scratch.Dense(v), lambda v: _torch_impl().Dense(5, v)),
        Argument(
            "dropout",
            "keep_prob",
            lambda v: scratch.Dense(3, dropout=v),
            lambda v: _torch_impl().Dense(5, 3, dropout=v),
        ),
        Argument(
            "weight_init",
            "choice",
            lambda v: scratch.Dense(3, weight_init=v),
            lambda v: _torch_impl().Dense(5, 3, weight_init=v),
            choices=("standard", "glorot", "torch"),
        ),
    ),
    bench=(DenseCase("N64-784x256", 64, 784, 256), DenseCase("N256-1024x1024", 256, 1024, 1024)),
    floor=floors.dense_floor(),
    sweep=Sweep(
        "batch", tuple(DenseCase(f"sweep-N{n}-784x256", n, 784, 256) for n in (1, 4, 16, 64, 256)), lambda c: c.n
    ),
    errors=(
        ErrorCase(
            "wrong-ndim",
            scratch=lambda: scratch.Dense(3).forward(seq((2, 4, 1))),
            torch=lambda: _torch_impl().Dense(4, 3, dtype=torch_dtype(np.float64))(tensor(seq((2, 4, 1)))),
            exc=ValueError,
            match=r"2-D",
        ),
        ErrorCase(
            "features-changed",
            scratch=lambda: [
                layer := scratch.Dense(3),
                layer.forward(seq((2, 4))),
                layer.forward(seq((2, 5))),
            ],
            torch=lambda: _torch_impl().Dense(4, 3, dtype=torch_dtype(np.float64))(tensor(seq((2, 5)))),
            exc=ValueError,
            match=r"4",
        ),
        ErrorCase(
            "int-input",
            scratch=lambda: scratch.Dense(3).forward(np.arange(8).reshape(2, 4)),
            torch=lambda: _torch_impl().Dense(4, 3)(tensor(np.arange(8).reshape(2, 4))),
            exc=TypeError,
            match=r"float",
        ),
        ErrorCase(
            "nan-input",
            scratch=lambda: scratch.Dense(3).forward(nan_array((2, 4))),
            torch=lambda: _torch_impl().Dense(4, 3, dtype=torch_dtype(np.float64))(tensor(nan_array((2, 4)))),
            exc=ValueError,
            match=r"(?i)finite|nan",
        ),
        ErrorCase(
            "inf-input",
            scratch=lambda: scratch.Dense(3).forward(np.full((2, 4), np.inf)),
            torch=lambda: _torch_impl().Dense(4, 3, dtype=torch_dtype(np.float64))(tensor(np.full((2, 4), np.inf))),
            exc=ValueError,
            match=r"(?i)finite|inf",
        ),
        ErrorCase(
            "object-input",
            scratch=lambda: scratch.Dense(3).forward(np.array([[1.0, 2.0], [3.0, None]], dtype=object)),
            torch=lambda: _torch_impl().Dense(2, 3, dtype=torch_dtype(np.float64))(
                np.array([[1.0, 2.0], [3.0, None]], dtype=object)
            ),
            exc=TypeError,
            match=r"(?i)float|tensor",
        ),
        ErrorCase(
            "empty-batch",
            scratch=lambda: scratch.Dense(3).forward(np.zeros((0, 4))),
            torch=lambda: _torch_impl().Dense(4, 3, dtype=torch_dtype(np.float64))(tensor(np.zeros((0, 4)))),
            exc=ValueError,
            match=r"(?i)empty",
        ),
        ErrorCase(
            "keep-prob-zero",
            scratch=lambda: scratch.Dense(3, dropout=0.0),
            torch=lambda: _torch_impl().Dense(4, 3, dropout=0.0),
            exc=ValueError,
            match=r"dropout|keep",
        ),
        ErrorCase(
            "unknown-weight-init",
            scratch=lambda: scratch.Dense(3, weight_init="he"),
            torch=lambda: _torch_impl().Dense(4, 3, weight_init="he"),
            exc=ValueError,
            match=r"weight_init",
        ),
    ),
)


def _activation_spec(name: str) -> ComponentSpec[ShapeCase]:
    return operation_spec(
        name=name,
        chapter=3,
        scratch_class=getattr(scratch, name),
        torch_class=TorchClass(name),
        cases=(
            ShapeCase("N8x6", (8, 6)),
            ShapeCase("N3x17", (3, 17)),
            # Large magnitudes: saturation, and sigmoid's overflow-free branch for very negative x.
            ShapeCase("N5x4-scale30", (5, 4), 30.0),
        ),
        shapes=lambda c: (c.shape, c.shape),
        build_scratch=lambda p: getattr(scratch, name)(),
        build_torch=lambda p: getattr(_torch_impl(), name)(),
        prepare=_scale_input,
        bench=(ShapeCase("N256x1024", (256, 1024)),),
        floor=floors.activation_floor(name) if name in ("Sigmoid", "Tanh", "ReLU", "LeakyReLU") else None,
        notes=ACTIVATION_NOTES.get(name, ""),
        errors=(
            *_slope_errors(name),
            ErrorCase(
                "int-input",
                scratch=lambda: getattr(scratch, name)().forward(np.arange(6).reshape(2, 3)),
                torch=lambda: getattr(_torch_impl(), name)()(tensor(np.arange(6).reshape(2, 3))),
                exc=TypeError,
                match=r"float",
            ),
            ErrorCase(
                "nan-input",
                scratch=lambda: getattr(scratch, name)().forward(nan_array((2, 3))),
                torch=lambda: getattr(_torch_impl(), name)()(tensor(nan_array((2, 3)))),
                exc=ValueError,
                match=r"(?i)finite|nan",
            ),
        ),
    )


def _slope_errors(name: str) -> tuple[ErrorCase, ...]:
    """LeakyReLU's own argument: a negative slope is refused in both implementations."""
    if name != "LeakyReLU":
        return ()
    return (
        ErrorCase(
            "negative-slope",
            scratch=lambda: scratch.LeakyReLU(-0.1),
            torch=lambda: _torch_impl().LeakyReLU(-0.1),
            exc=ValueError,
            match=r"negative_slope",
        ),
    )


def _scale_input(problem: Problem, rng: np.random.Generator) -> None:
    scale = problem.case_as(ShapeCase).scale
    if scale != 1.0:
        problem.inputs["x"] = (problem.inputs["x"] * scale).astype(problem.dtype)


SPECS = (WEIGHT_MULTIPLY_SPEC, BIAS_ADD_SPEC, DENSE_SPEC, *(_activation_spec(a) for a in ACTIVATIONS))
