"""Specs: the autodiff engines of chapter 6, ``NumberWithGrad`` (scalars) and ``Tensor`` (arrays), against
torch autograd on graphs in which values are reused.

Each case is one graph written once as a function of its leaves; it runs on ``scratch.autodiff.Tensor``
(or ``NumberWithGrad``) leaves and on torch leaves with ``requires_grad``. The root is Σ y ⊙ G for a random
G, so every leaf gradient is a non-trivial contraction. A value consumed by several nodes must receive
exactly the sum of its contributions: the book's recursive ``backward`` over-counted such values, and the
mutation self-test replaces the engine's reverse-topological order with a depth-first order to show that
these cases catch it. The finite-difference oracle differentiates the same scalar root.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratch.autodiff import NumberWithGrad, Tensor
from scratch.gradcheck import GradCheckResult, central_difference

from ..harness import to_numpy, to_tensor
from ..tolerances import FD_EPS
from .base import Case, ComponentSpec, ErrorCase, Problem, Results, Skip, TorchClass, normal

LEAVES = {"x": (3, 4), "w": (4, 2), "b": (2,), "col": (3, 1)}


def _sum(a: Any, axis: int) -> Any:
    """Sum over one axis keeping it (numpy-style ``axis``/``keepdims`` for scratch, ``dim``/``keepdim`` for torch)."""
    return a.sum(axis=axis, keepdims=True) if isinstance(a, Tensor) else a.sum(dim=axis, keepdim=True)


# name -> graph(leaves) -> y; every graph reuses at least one interior value.
GRAPHS: dict[str, Callable[[dict[str, Any]], Any]] = {
    # u feeds tanh and the product, v feeds the product and the sum: two diamonds sharing nodes.
    "diamond": lambda p: (lambda u: (lambda v: v * u + v)(u.tanh()))(p["x"] @ p["w"]),
    # a = x / 2 is consumed four times (three factors and a sigmoid).
    "value-used-4-times": lambda p: (lambda a: a * a * a + a.sigmoid())(p["x"] * 0.5),
    # the book's failing example generalised: c = b · b with b = 2 x.
    "c-equals-b-times-b": lambda p: (lambda b: b * b)(p["x"] * 2.0),
    # broadcasting: the (2,) bias over rows, the (3, 1) column over columns, then a reuse of the result.
    "broadcast-bias-and-column": lambda p: (lambda z: z * z.sigmoid() - z / (z * z + 1.0))(
        (p["x"] @ p["w"] + p["b"]) * p["col"]
    ),
    # a reduction (kept axis, broadcast back) and an exp/log pair on a reused value.
    "reduction-and-log": lambda p: (lambda s: (s * s + 1.0).log() + _sum(s.exp() * s, 1))(
        (p["x"] @ p["w"]).tanh() + p["b"]
    ),
}


def _graph_shape(name: str) -> tuple[int, ...]:
    if name in ("value-used-4-times", "c-equals-b-times-b"):
        return (3, 4)
    return (3, 2)


def _make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    inputs = {k: normal(rng, s, dtype, 0.7) for k, s in LEAVES.items()}
    return Problem(case, dtype, inputs, upstream=normal(rng, _graph_shape(case.name), dtype))


def _run_scratch(problem: Problem) -> Results:
    leaves = {k: Tensor(v.copy(), requires_grad=True) for k, v in problem.inputs.items()}
    y = GRAPHS[problem.case.name](leaves)
    root = (y * Tensor(problem.upstream)).sum()  # type: ignore[arg-type]
    root.backward()
    results: Results = {"output": np.array(y.value, copy=True)}
    for k, leaf in leaves.items():
        used = leaf.grad is not None
        results[f"grad:{k}"] = np.array(leaf.grad, copy=True) if used else np.zeros_like(leaf.value)
    return {k: v for k, v in results.items() if k == "output" or _uses(problem.case.name, k[5:])}


def _uses(graph: str, leaf: str) -> bool:
    needs = {
        "diamond": {"x", "w"},
        "value-used-4-times": {"x"},
        "c-equals-b-times-b": {"x"},
        "broadcast-bias-and-column": {"x", "w", "b", "col"},
        "reduction-and-log": {"x", "w", "b"},
    }
    return leaf in needs[graph]


def _run_torch(problem: Problem) -> Results:
    leaves = {k: to_tensor(v, requires_grad=True) for k, v in problem.inputs.items()}
    y = GRAPHS[problem.case.name](leaves)
    (y * to_tensor(problem.upstream)).sum().backward()  # type: ignore[arg-type]
    results: Results = {"output": to_numpy(y)}
    results.update({f"grad:{k}": to_numpy(t.grad) for k, t in leaves.items() if _uses(problem.case.name, k)})
    return results


def _fd(problem: Problem) -> GradCheckResult:
    values = {k: v.astype(np.float64) for k, v in problem.inputs.items()}
    G = np.asarray(problem.upstream, dtype=np.float64)
    results = _run_scratch(Problem(problem.case, np.dtype("float64"), values, upstream=G))
    analytic = {k.removeprefix("grad:"): v for k, v in results.items() if k.startswith("grad:")}

    def objective() -> float:
        y = GRAPHS[problem.case.name]({k: Tensor(v) for k, v in values.items()})
        return float(np.sum(y.value * G))

    numeric = {k: central_difference(objective, values[k], FD_EPS) for k in analytic}
    return GradCheckResult(analytic, numeric)


TENSOR_SPEC = ComponentSpec(
    name="Tensor (autodiff)",
    chapter=6,
    scratch_class=Tensor,
    torch_class=TorchClass("Tensor", "torch"),
    torch_detail=" (autograd)",
    cases=tuple(Case(name) for name in GRAPHS),
    make_problem=_make_problem,
    run_scratch=_run_scratch,
    run_torch=_run_torch,
    differentiable=True,
    fd_check=_fd,
    errors=(
        ErrorCase(
            "matmul-shape-mismatch",
            scratch=lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3))),
            torch=lambda: _torch_matmul_check(np.ones((2, 3)), np.ones((2, 3))),
            exc=ValueError,
            match=r"(?i)matmul|shape",
        ),
    ),
    notes="reverse topological order: a value used k times receives the sum of its k contributions "
    "(the book's recursion propagated partial sums once per path)",
)


def _torch_matmul_check(a: np.ndarray, b: np.ndarray) -> Any:
    """torch raises RuntimeError for a shape mismatch; the bridge re-raises it as the ValueError scratch gives."""
    import torch

    try:
        return torch.from_numpy(a) @ torch.from_numpy(b)
    except RuntimeError as exc:
        raise ValueError(f"matmul shape mismatch: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------
# NumberWithGrad: the chapter's scalar demo, on the book's own example and on reuse
# ---------------------------------------------------------------------------------------------------------

SCALAR_GRAPHS: dict[str, Callable[[Any], Any]] = {
    "book-example": lambda a: (lambda b: (lambda c: (b + a) * c)(b * 3 + 4))(a * 4 + 3),
    "b-plus-b": lambda a: (lambda b: b + b)(a * 2),
    "b-times-b": lambda a: (lambda b: b * b)(a * 3),
    "three-uses": lambda a: (lambda b: b * b * b + b * 5)(a * 2 + 1),
}


def _scalar_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    return Problem(case, dtype, {"a": np.array(float(rng.uniform(0.5, 2.0)), dtype=dtype)})


def _scalar_scratch(problem: Problem) -> Results:
    a = NumberWithGrad(float(problem.inputs["a"]))
    out = SCALAR_GRAPHS[problem.case.name](a)
    out.backward()
    return {"output": np.array(out.num), "grad:a": np.array(a.grad)}


def _scalar_torch(problem: Problem) -> Results:
    a = to_tensor(problem.inputs["a"], requires_grad=True)
    out = SCALAR_GRAPHS[problem.case.name](a)
    out.backward()
    return {"output": to_numpy(out), "grad:a": to_numpy(a.grad)}


def _scalar_fd(problem: Problem) -> GradCheckResult:
    a = np.array([float(problem.inputs["a"])])
    got = _scalar_scratch(problem)["grad:a"].reshape(1)
    numeric = central_difference(
        lambda: float(SCALAR_GRAPHS[problem.case.name](NumberWithGrad(float(a[0]))).num), a, FD_EPS
    )
    return GradCheckResult({"a": got}, {"a": numeric})


NUMBER_SPEC = ComponentSpec(
    name="NumberWithGrad",
    chapter=6,
    scratch_class=NumberWithGrad,
    torch_class=TorchClass("Tensor", "torch"),
    torch_detail=" (autograd, 0-d tensors)",
    cases=tuple(Case(name) for name in SCALAR_GRAPHS),
    make_problem=_scalar_problem,
    run_scratch=_scalar_scratch,
    run_torch=_scalar_torch,
    differentiable=True,
    fd_check=_scalar_fd,
    skips=(Skip("float32", "NumberWithGrad holds a Python float (float64) by design: there is no float32 variant"),),
    notes="the book's recursive backward gave 36 instead of 24 for c = b·b at a = 3 (reused node over-counted)",
)

SPECS = (NUMBER_SPEC, TENSOR_SPEC)
