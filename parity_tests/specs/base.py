"""What a component spec is, and builders for the common kinds of component.

A ``ComponentSpec`` is everything the generated tests and the report need to know about one component:

- its scratch class and torch twin (names for the report; the builders create the objects);
- ``make_problem``: draws one random ``Problem`` for a named ``Case`` (inputs, book-layout parameters, a
  random upstream gradient, extras such as a shared dropout mask);
- ``run_scratch`` / ``run_torch``: run the problem and return named results in the BOOK's layout
  (``output``, ``grad:input``, ``grad:W`` ...), so the harness can compare them key by key;
- ``converter``: the layout map between the two (``None`` for parameter-free components);
- ``fd_check``: scratch's backward against central differences (float64), the third oracle;
- ``errors``: bad inputs, each raised in both implementations with the same exception type and message
  pattern;
- ``bench``: sizes for the paired scratch/torch benchmarks (each returns a closure doing one step);
- ``fuzz``: forward-only entry points (and constructor arguments) for the property-based bad-input suite,
  which mutates a valid problem's inputs (shapes, dtypes, NaN/inf, empty axes, non-arrays) and requires a
  clean ``ValueError``/``TypeError`` from both implementations, or the same finite result from both.

The builders below (``operation_spec``, ``loss_spec``) fill most of those fields for Operations, Layers
and Losses. Torch is imported inside the torch-side callables only, so the numpy-only sessions can
import every spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratch.gradcheck import GradCheckResult, check_gradients, check_loss_gradient

from ..converters import Converter, TensorConverter
from ..harness import to_numpy, to_tensor, torch_device
from ..port import load_arrays
from ..tolerances import FD_EPS

Results = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    """A named configuration of a component (shapes, options)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.options[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


@dataclass
class Problem:
    """One random instance of a case: everything both implementations receive."""

    case: Case
    dtype: np.dtype
    inputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray] = field(default_factory=dict)  # book layout
    upstream: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorCase:
    """A bad input: both callables must raise ``exc`` with a message matching ``match``."""

    name: str
    scratch: Callable[[], Any]
    torch: Callable[[], Any]
    exc: type[Exception]
    match: str


@dataclass(frozen=True)
class Argument:
    """A constructor argument for the fuzz suite: ``scratch(value)`` / ``torch(value)`` build the component
    with ``value`` for it. ``kind`` names its valid range (``positive_int``, ``keep_prob``, ``positive_real``,
    ``choice``); the suite draws values outside it. ``choices`` are the valid values of a ``choice`` and extra
    valid values of the other kinds (``None`` for an optional stride)."""

    name: str
    kind: str
    scratch: Callable[[Any], Any]
    torch: Callable[[Any], Any]
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Fuzz:
    """Forward-only entry points for the bad-input fuzz suite.

    ``scratch(problem)`` / ``torch(problem)`` build the component from ``problem.params`` and run its forward on
    ``problem.inputs`` (values there may be anything the suite substitutes: wrong shapes or dtypes, NaN, lists),
    returning the output as an array (torch: a tensor). ``inputs`` names the inputs a user passes.
    ``backward_scratch(problem, upstream)`` runs a valid forward, then ``backward(upstream)`` (scratch only: on
    the torch side the backward is autograd's ``Tensor.backward``). ``arguments`` are constructor arguments.
    """

    scratch: Callable[[Problem], Any]
    torch: Callable[[Problem], Any]
    inputs: tuple[str, ...]
    backward_scratch: Callable[[Problem, Any], Any] | None = None
    arguments: tuple[Argument, ...] = ()


def as_torch_input(value: Any, requires_grad: bool = False) -> Any:
    """An ndarray as a tensor on the parity device (gradients only for floating dtypes); anything else as is,
    so that a fuzzed list or ``None`` reaches the component itself."""
    if isinstance(value, np.ndarray):
        return to_tensor(value, requires_grad=requires_grad and value.dtype.kind == "f")
    return value


@dataclass(frozen=True)
class ComponentSpec:
    """Everything the generated tests and the report know about one component."""

    name: str
    chapter: int
    scratch_name: str
    torch_name: str
    cases: tuple[Case, ...]
    make_problem: Callable[[Case, np.random.Generator, np.dtype], Problem]
    run_scratch: Callable[[Problem], Results]
    run_torch: Callable[[Problem], Results]
    converter: Converter | None = None
    fd_check: Callable[[Problem], GradCheckResult] | None = None
    errors: tuple[ErrorCase, ...] = ()
    bench: tuple[Case, ...] = ()
    bench_scratch: Callable[[Problem], Callable[[], Any]] | None = None
    bench_torch: Callable[[Problem], Callable[[], Any]] | None = None
    dtypes: tuple[str, ...] = ("float64", "float32")
    notes: str = ""
    slow: bool = False  # whole-training cases: kept out of the benchmark-free quick paths
    fuzz: Fuzz | None = None

    def case(self, name: str) -> Case:
        for case in self.cases:
            if case.name == name:
                return case
        raise KeyError(f"{self.name} has no case {name!r}; cases are {[c.name for c in self.cases]}")


def normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    """Standard-normal values (times ``scale``) of ``dtype``: random, non-zero, sign-mixed."""
    return (scale * rng.standard_normal(shape)).astype(dtype)


# ---------------------------------------------------------------------------------------------------------
# Operations and layers: one input, optional parameters, forward + backward with a random upstream grad
# ---------------------------------------------------------------------------------------------------------


def operation_spec(
    *,
    name: str,
    chapter: int,
    scratch_name: str,
    torch_name: str,
    cases: tuple[Case, ...],
    shapes: Callable[[Case], tuple[tuple[int, ...], tuple[int, ...]]],
    build_scratch: Callable[[Problem], Any],
    build_torch: Callable[[Problem], Any],
    converter: TensorConverter | None = None,
    param_shapes: Callable[[Case], dict[str, tuple[int, ...]]] | None = None,
    prepare: Callable[[Problem, np.random.Generator], None] | None = None,
    input_scale: float = 1.0,
    torch_call: Callable[[Any, Any, Problem], Any] | None = None,
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[Case, ...] = (),
    notes: str = "",
    arguments: tuple[Argument, ...] = (),
) -> ComponentSpec:
    """A spec for an Operation or Layer: ``forward(x)`` then ``backward(G)`` with a random G.

    ``shapes(case)`` gives (input shape, output shape); ``param_shapes(case)`` the book-layout parameter
    shapes (names as in ``converter.book_names``, in the scratch component's parameter order);
    ``build_scratch(problem)`` returns a scratch component holding copies of ``problem.params``;
    ``build_torch(problem)`` returns an ``nn.Module`` (parameters are loaded by the spec through the
    converter); ``prepare`` may add extras (a dropout mask) to the problem; ``torch_call(module, x,
    problem)`` overrides how the module is called (default ``module(x)``). Results: ``output``,
    ``grad:input`` and ``grad:<name>`` for each parameter.
    """

    def make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        in_shape, out_shape = shapes(case)
        params = {k: normal(rng, s, dtype) for k, s in (param_shapes(case) if param_shapes else {}).items()}
        problem = Problem(case, dtype, {"x": normal(rng, in_shape, dtype, input_scale)}, params)
        problem.upstream = normal(rng, out_shape, dtype)
        if prepare is not None:
            prepare(problem, rng)
        return problem

    def scratch_param_grads(component: Any) -> dict[str, np.ndarray]:
        if converter is None:
            return {}
        grads = [component.param_grad] if hasattr(component, "param_grad") else list(component.param_grads)
        return {f"grad:{n}": g for n, g in zip(converter.book_names, grads, strict=True)}

    def run_scratch(problem: Problem) -> Results:
        component = build_scratch(problem)
        out = component.forward(problem.inputs["x"].copy(), problem.case.get("inference", False))
        if problem.upstream is None:
            raise ValueError("operation specs need an upstream gradient")
        grad_x = component.backward(problem.upstream.copy())
        return {"output": np.array(out, copy=True), "grad:input": grad_x, **scratch_param_grads(component)}

    def run_torch(problem: Problem) -> Results:
        module = build_torch(problem).to(torch_device())
        if converter is not None:
            load_arrays(module, converter.to_torch(problem.params))
        module.train(not problem.case.get("inference", False))
        x = to_tensor(problem.inputs["x"], requires_grad=True)
        out = torch_call(module, x, problem) if torch_call else module(x)
        if problem.upstream is None:
            raise ValueError("operation specs need an upstream gradient")
        out.backward(to_tensor(problem.upstream))
        results: Results = {"output": to_numpy(out), "grad:input": to_numpy(x.grad)}
        if converter is not None:
            named = dict(module.named_parameters())
            torch_grads = {k: to_numpy(named[k].grad) for k in converter.torch_names}
            results.update({f"grad:{k}": v for k, v in converter.grads_to_book(torch_grads).items()})
        return results

    def fd_check(problem: Problem) -> GradCheckResult:
        component = build_scratch(problem)
        if problem.upstream is None:
            raise ValueError("operation specs need an upstream gradient")
        return check_gradients(component, problem.inputs["x"], problem.upstream, eps=FD_EPS)

    def forward_scratch(problem: Problem) -> Any:
        return build_scratch(problem).forward(problem.inputs["x"], problem.case.get("inference", False))

    def load_torch(problem: Problem) -> Any:
        module = build_torch(problem).to(torch_device())
        if converter is not None:
            load_arrays(module, converter.to_torch(problem.params))
        module.train(not problem.case.get("inference", False))
        return module

    def forward_torch(problem: Problem) -> Any:
        module = load_torch(problem)
        x = as_torch_input(problem.inputs["x"])
        return torch_call(module, x, problem) if torch_call else module(x)

    def backward_scratch(problem: Problem, upstream: Any) -> Any:
        component = build_scratch(problem)
        component.forward(problem.inputs["x"], problem.case.get("inference", False))
        return component.backward(upstream)

    def bench_scratch(problem: Problem) -> Callable[[], Any]:
        component = build_scratch(problem)
        x, g = problem.inputs["x"], problem.upstream

        def step() -> Any:
            component.forward(x)
            return component.backward(g)

        return step

    def bench_torch(problem: Problem) -> Callable[[], Any]:
        module = build_torch(problem).to(torch_device())
        if converter is not None:
            load_arrays(module, converter.to_torch(problem.params))
        x = to_tensor(problem.inputs["x"], requires_grad=True)
        g = to_tensor(problem.upstream) if problem.upstream is not None else None

        def step() -> Any:
            x.grad = None
            module.zero_grad(set_to_none=True)
            out = torch_call(module, x, problem) if torch_call else module(x)
            out.backward(g)
            return x.grad

        return step

    return ComponentSpec(
        name=name,
        chapter=chapter,
        scratch_name=scratch_name,
        torch_name=torch_name,
        cases=cases,
        make_problem=make_problem,
        run_scratch=run_scratch,
        run_torch=run_torch,
        converter=converter,
        fd_check=fd_check,
        errors=errors,
        bench=bench,
        bench_scratch=bench_scratch,
        bench_torch=bench_torch,
        notes=notes,
        fuzz=Fuzz(forward_scratch, forward_torch, ("x",), backward_scratch, arguments),
    )


# ---------------------------------------------------------------------------------------------------------
# Losses: value and gradient with respect to the prediction
# ---------------------------------------------------------------------------------------------------------


def loss_spec(
    *,
    name: str,
    chapter: int,
    scratch_name: str,
    torch_name: str,
    cases: tuple[Case, ...],
    make_inputs: Callable[[Case, np.random.Generator, np.dtype], tuple[np.ndarray, np.ndarray]],
    build_scratch: Callable[[Case], Any],
    build_torch: Callable[[Case], Any],
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[Case, ...] = (),
    notes: str = "",
    arguments: tuple[Argument, ...] = (),
) -> ComponentSpec:
    """A spec for a Loss: results ``value`` (the loss) and ``grad:prediction`` (dL/dprediction).

    A loss is the root of the graph: its backward has no upstream gradient in the book's API.
    """

    def make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        prediction, target = make_inputs(case, rng, dtype)
        return Problem(case, dtype, {"prediction": prediction, "target": target})

    def run_scratch(problem: Problem) -> Results:
        loss = build_scratch(problem.case)
        value = loss.forward(problem.inputs["prediction"].copy(), problem.inputs["target"].copy())
        return {"value": np.array(value), "grad:prediction": loss.backward()}

    def run_torch(problem: Problem) -> Results:
        loss = build_torch(problem.case)
        p = to_tensor(problem.inputs["prediction"], requires_grad=True)
        value = loss(p, to_tensor(problem.inputs["target"]))
        value.backward()
        return {"value": to_numpy(value), "grad:prediction": to_numpy(p.grad)}

    def forward_scratch(problem: Problem) -> Any:
        return build_scratch(problem.case).forward(problem.inputs["prediction"], problem.inputs["target"])

    def forward_torch(problem: Problem) -> Any:
        loss = build_torch(problem.case)
        return loss(as_torch_input(problem.inputs["prediction"]), as_torch_input(problem.inputs["target"]))

    def fd_check(problem: Problem) -> GradCheckResult:
        return check_loss_gradient(
            build_scratch(problem.case), problem.inputs["prediction"], problem.inputs["target"], eps=FD_EPS
        )

    def bench_scratch(problem: Problem) -> Callable[[], Any]:
        loss = build_scratch(problem.case)
        p, y = problem.inputs["prediction"], problem.inputs["target"]

        def step() -> Any:
            loss.forward(p, y)
            return loss.backward()

        return step

    def bench_torch(problem: Problem) -> Callable[[], Any]:
        loss = build_torch(problem.case)
        p = to_tensor(problem.inputs["prediction"], requires_grad=True)
        y = to_tensor(problem.inputs["target"])

        def step() -> Any:
            p.grad = None
            loss(p, y).backward()
            return p.grad

        return step

    return ComponentSpec(
        name=name,
        chapter=chapter,
        scratch_name=scratch_name,
        torch_name=torch_name,
        cases=cases,
        make_problem=make_problem,
        run_scratch=run_scratch,
        run_torch=run_torch,
        fd_check=fd_check,
        errors=errors,
        bench=bench,
        bench_scratch=bench_scratch,
        bench_torch=bench_torch,
        notes=notes,
        fuzz=Fuzz(forward_scratch, forward_torch, ("prediction", "target"), None, arguments),
    )
