"""What a component spec is, and builders for the common kinds of component.

A ``ComponentSpec`` is a typed record, in the spirit of PyTorch's ``OpInfo``/``ModuleInfo``, of everything the
generated tests, the coverage test and the report know about one component:

- ``scratch_class``: the scratch class object; ``torch_class``: its twin as a ``TorchClass`` (module and
  name, resolved to the class object on demand, so that the NumPy-only sessions import every spec without
  torch). Either may be ``None`` when there is no single class on that side (a stack of layers), with the
  reason in ``no_class``. ``exercises`` lists the further public classes the cases run (a model's parts, a
  trainer's optimizer and model); the coverage test counts all of them as covered;
- ``cases``: typed ``Case`` records, one dataclass per kind of component (shapes and options as fields with
  types and defaults); ``make_problem`` draws one random ``Problem`` for a case (inputs, book-layout
  parameters, a random upstream gradient, extras such as a shared dropout mask);
- ``run_scratch`` / ``run_torch``: run the problem and return named results in the BOOK's layout
  (``output``, ``grad:input``, ``grad:W`` ...), so the harness can compare them key by key;
- ``differentiable``: whether the results hold gradients (``grad:*`` keys); every differentiable spec has
  ``fd_check``, scratch's backward against central differences (float64), the third oracle, unless a
  declared ``Skip`` says why a case has none (the coverage test enforces it);
- ``converter``: the layout map between the two (``None`` for parameter-free components), carried by the spec;
- ``skips``: declared skips, each with its reason: a dtype the component does not compute in, central
  differences on a case that sits on a kink of the function on purpose;
- ``errors``: bad inputs, each raised in both implementations with the same exception type and message
  pattern;
- ``bench``: sizes for the paired scratch/torch benchmarks (each returns a closure doing one step), and
  ``floor``: NumPy's floor for them, the least NumPy work of the same computation (``parity_tests.floors``);
  ``sweep``: further benchmark sizes along one axis (batch, hidden size, image side), for the scaling plot;
- ``fuzz``: forward-only entry points (and constructor arguments) for the property-based bad-input suite,
  which mutates a valid problem's inputs (shapes, dtypes, NaN/inf, empty axes, non-arrays) and requires a
  clean ``ValueError``/``TypeError`` from both implementations, or the same finite result from both.

The builders below (``operation_spec``, ``loss_spec``) fill most of those fields for Operations, Layers
and Losses. Torch is imported inside the torch-side callables only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields
from typing import Any, Generic, TypeVar

import numpy as np

from scratch.gradcheck import GradCheckResult, check_gradients, check_loss_gradient

from ..converters import Converter, TensorConverter
from ..floors import Floor
from ..harness import DTYPES, to_numpy, to_tensor, torch_device
from ..port import load_arrays
from ..tolerances import FD_EPS

Results = dict[str, np.ndarray]
Shape = tuple[int, ...]

#: What a ``Skip`` may name: a dtype (no generated test runs the spec in it) or ``"fd"`` (central differences).
SKIPPABLE = (*DTYPES, "fd")


@dataclass(frozen=True)
class Case:
    """A named configuration of a component. Each kind of component subclasses it with typed fields (its shapes
    and options); ``inference`` runs a layer in inference mode (dropout off, or scaled by its keep probability).
    """

    name: str
    _: KW_ONLY
    inference: bool = False

    @property
    def options(self) -> dict[str, Any]:
        """The fields other than ``name`` that differ from their defaults (what the report lists for a case)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if f.default is MISSING or value != f.default:
                out[f.name] = value
        return out

    def __getitem__(self, key: str) -> Any:
        """``case["n"]``: a field by name (the dict-style access of the earlier untyped cases)."""
        if key == "name" or key not in {f.name for f in fields(self)}:
            raise KeyError(f"{type(self).__name__} {self.name!r} has no option {key!r}")
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``case[key]``, or ``default`` when this kind of case has no such field."""
        try:
            return self[key]
        except KeyError:
            return default


@dataclass(frozen=True)
class ShapeCase(Case):
    """A component on one input of ``shape`` (element-wise, reshaping, per-channel), its values scaled by
    ``scale``."""

    shape: Shape
    scale: float = 1.0


C = TypeVar("C", bound=Case)


@dataclass
class Problem:
    """One random instance of a case: everything both implementations receive."""

    case: Case
    dtype: np.dtype
    inputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray] = field(default_factory=dict)  # book layout
    upstream: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def case_as(self, kind: type[C]) -> C:
        """The case, checked to be of the spec's case type ``kind`` (typed access to its fields)."""
        if not isinstance(self.case, kind):
            raise TypeError(f"this problem's case must be a {kind.__name__}; received {type(self.case).__name__}")
        return self.case


@dataclass(frozen=True)
class TorchClass:
    """A class of the torch side, named by module and attribute and resolved only on demand (torch is not
    imported when the specs are)."""

    name: str
    module: str = "torch_impl"

    def resolve(self) -> type:
        """The class object (imports ``module``)."""
        obj = getattr(importlib.import_module(self.module), self.name, None)
        if not isinstance(obj, type):
            raise TypeError(f"{self} must name a class; received {obj!r}")
        return obj

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


def class_path(cls: type) -> str:
    """The public path of a class: ``scratch.Dense`` when its top-level package exports it under its name,
    else its defining module (``scratch.rnn.LSTMNode``)."""
    package = cls.__module__.split(".")[0]
    if getattr(sys.modules.get(package), cls.__name__, None) is cls:
        return f"{package}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class Skip:
    """A declared skip: ``check`` (a dtype, or ``"fd"``) is not run for ``cases`` (every case when empty),
    for ``reason``."""

    check: str
    reason: str
    cases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.check not in SKIPPABLE:
            raise ValueError(f"Skip.check must be one of {SKIPPABLE}; received {self.check!r}")
        if not self.reason.strip():
            raise ValueError(f"Skip({self.check!r}) must give a reason; received an empty one")


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
class Sweep:
    """Benchmark cases along one size axis (``axis``: "batch", "hidden size", "image side"), each case's value
    on it given by ``value``: the report times them like ``bench`` and plots scratch/torch against the size."""

    axis: str
    cases: tuple[Any, ...]
    value: Callable[[Any], int]


@dataclass(frozen=True)
class ComponentSpec(Generic[C]):
    """Everything the generated tests, the coverage test and the report know about one component (see the
    module docstring for the fields)."""

    name: str
    chapter: int
    scratch_class: type | None
    torch_class: TorchClass | None
    cases: tuple[C, ...]
    make_problem: Callable[[C, np.random.Generator, np.dtype], Problem]
    run_scratch: Callable[[Problem], Results]
    run_torch: Callable[[Problem], Results]
    differentiable: bool
    converter: Converter | None = None
    fd_check: Callable[[Problem], GradCheckResult] | None = None
    errors: tuple[ErrorCase, ...] = ()
    bench: tuple[C, ...] = ()
    bench_scratch: Callable[[Problem], Callable[[], Any]] | None = None
    bench_torch: Callable[[Problem], Callable[[], Any]] | None = None
    floor: Floor | None = None  # NumPy's floor for the benchmarks (parity_tests.floors)
    sweep: Sweep | None = None  # benchmark cases along one size axis, for the report's scaling plot
    no_speed_target: str = ""  # why this component's benchmark has no speed target (a teaching reference)
    skips: tuple[Skip, ...] = ()
    exercises: tuple[type | TorchClass, ...] = ()
    scratch_detail: str = ""  # appended to the class path in reports: "(bias=True)", " + SGDMomentum"
    torch_detail: str = ""
    no_class: str = ""  # why scratch_class or torch_class is None
    notes: str = ""
    slow: bool = False  # whole-training cases: kept out of the benchmark-free quick paths
    fuzz: Fuzz | None = None

    def __post_init__(self) -> None:
        if self.scratch_class is not None and not isinstance(self.scratch_class, type):
            raise TypeError(f"{self.name}: scratch_class must be a class; received {self.scratch_class!r}")
        if self.torch_class is not None and not isinstance(self.torch_class, TorchClass):
            raise TypeError(f"{self.name}: torch_class must be a TorchClass; received {self.torch_class!r}")
        if (self.scratch_class is None or self.torch_class is None) and not self.no_class:
            raise ValueError(f"{self.name}: a spec without a scratch or torch class must say why in no_class")
        names = [c.name for c in (*self.cases, *self.bench, *(self.sweep.cases if self.sweep else ()))]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: case names must be unique; received {names}")
        unknown = sorted({n for s in self.skips for n in s.cases} - set(names))
        if unknown:
            raise ValueError(f"{self.name}: skips must name cases of the spec; received unknown cases {unknown}")

    @property
    def scratch_name(self) -> str:
        """The scratch side in words: the class path and its detail (``scratch.Conv2D(bias=True)``)."""
        return (class_path(self.scratch_class) if self.scratch_class else "") + self.scratch_detail

    @property
    def torch_name(self) -> str:
        """The torch side in words: the twin's path and its detail."""
        return (str(self.torch_class) if self.torch_class else "") + self.torch_detail

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The dtypes the spec runs in: every dtype of the harness but the skipped ones."""
        return tuple(d for d in DTYPES if self.skip_reason(d) is None)

    def skip_reason(self, check: str, case: str | None = None) -> str | None:
        """Why ``check`` is skipped (for ``case``, or for every case when ``None``); ``None`` if it runs."""
        for skip in self.skips:
            if skip.check == check and (not skip.cases or (case is not None and case in skip.cases)):
                return skip.reason
        return None

    def fd_cases(self) -> tuple[C, ...]:
        """The cases whose backward is checked against central differences."""
        if self.fd_check is None:
            return ()
        return tuple(c for c in self.cases if self.skip_reason("fd", c.name) is None)

    def classes(self) -> tuple[type | TorchClass, ...]:
        """Every class the spec runs: its scratch class, its twin and what it exercises."""
        named = (self.scratch_class, self.torch_class)
        return tuple(c for c in named if c is not None) + self.exercises

    def case(self, name: str) -> C:
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


def _upstream(problem: Problem) -> np.ndarray:
    if problem.upstream is None:
        raise ValueError("operation specs need an upstream gradient; this problem has none")
    return problem.upstream


@dataclass(frozen=True)
class _Operation(Generic[C]):
    """The callables of an operation spec (see ``operation_spec`` for the fields)."""

    shapes: Callable[[C], tuple[Shape, Shape]]
    build_scratch: Callable[[Problem], Any]
    build_torch: Callable[[Problem], Any]
    converter: TensorConverter | None
    param_shapes: Callable[[C], dict[str, Shape]] | None
    prepare: Callable[[Problem, np.random.Generator], None] | None
    input_scale: float
    torch_call: Callable[[Any, Any, Problem], Any] | None

    def make_problem(self, case: C, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        in_shape, out_shape = self.shapes(case)
        shapes = self.param_shapes(case) if self.param_shapes else {}
        params = {k: normal(rng, s, dtype) for k, s in shapes.items()}
        problem = Problem(case, dtype, {"x": normal(rng, in_shape, dtype, self.input_scale)}, params)
        problem.upstream = normal(rng, out_shape, dtype)
        if self.prepare is not None:
            self.prepare(problem, rng)
        return problem

    def _scratch_param_grads(self, component: Any) -> Results:
        if self.converter is None:
            return {}
        grads = [component.param_grad] if hasattr(component, "param_grad") else list(component.param_grads)
        return {f"grad:{n}": g for n, g in zip(self.converter.book_names, grads, strict=True)}

    def run_scratch(self, problem: Problem) -> Results:
        component = self.build_scratch(problem)
        out = component.forward(problem.inputs["x"].copy(), problem.case.inference)
        grad_x = component.backward(_upstream(problem).copy())
        return {"output": np.array(out, copy=True), "grad:input": grad_x, **self._scratch_param_grads(component)}

    def load_torch(self, problem: Problem) -> Any:
        module = self.build_torch(problem).to(torch_device())
        if self.converter is not None:
            load_arrays(module, self.converter.to_torch(problem.params))
        module.train(not problem.case.inference)
        return module

    def call_torch(self, module: Any, x: Any, problem: Problem) -> Any:
        return self.torch_call(module, x, problem) if self.torch_call else module(x)

    def run_torch(self, problem: Problem) -> Results:
        module = self.load_torch(problem)
        x = to_tensor(problem.inputs["x"], requires_grad=True)
        out = self.call_torch(module, x, problem)
        out.backward(to_tensor(_upstream(problem)))
        results: Results = {"output": to_numpy(out), "grad:input": to_numpy(x.grad)}
        if self.converter is not None:
            named = dict(module.named_parameters())
            torch_grads = {k: to_numpy(named[k].grad) for k in self.converter.torch_names}
            results.update({f"grad:{k}": v for k, v in self.converter.grads_to_book(torch_grads).items()})
        return results

    def fd_check(self, problem: Problem) -> GradCheckResult:
        return check_gradients(self.build_scratch(problem), problem.inputs["x"], _upstream(problem), eps=FD_EPS)

    def forward_scratch(self, problem: Problem) -> Any:
        return self.build_scratch(problem).forward(problem.inputs["x"], problem.case.inference)

    def forward_torch(self, problem: Problem) -> Any:
        return self.call_torch(self.load_torch(problem), as_torch_input(problem.inputs["x"]), problem)

    def backward_scratch(self, problem: Problem, upstream: Any) -> Any:
        component = self.build_scratch(problem)
        component.forward(problem.inputs["x"], problem.case.inference)
        return component.backward(upstream)

    def bench_scratch(self, problem: Problem) -> Callable[[], Any]:
        component = self.build_scratch(problem)
        x, g = problem.inputs["x"], problem.upstream

        def step() -> Any:
            component.forward(x)
            return component.backward(g)

        return step

    def bench_torch(self, problem: Problem) -> Callable[[], Any]:
        module = self.load_torch(problem)
        x = to_tensor(problem.inputs["x"], requires_grad=True)
        g = to_tensor(problem.upstream) if problem.upstream is not None else None

        def step() -> Any:
            x.grad = None
            module.zero_grad(set_to_none=True)
            self.call_torch(module, x, problem).backward(g)
            return x.grad

        return step


def operation_spec(
    *,
    name: str,
    chapter: int,
    scratch_class: type,
    torch_class: TorchClass,
    cases: tuple[C, ...],
    shapes: Callable[[C], tuple[Shape, Shape]],
    build_scratch: Callable[[Problem], Any],
    build_torch: Callable[[Problem], Any],
    converter: TensorConverter | None = None,
    param_shapes: Callable[[C], dict[str, Shape]] | None = None,
    prepare: Callable[[Problem, np.random.Generator], None] | None = None,
    input_scale: float = 1.0,
    torch_call: Callable[[Any, Any, Problem], Any] | None = None,
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[C, ...] = (),
    floor: Floor | None = None,
    sweep: Sweep | None = None,
    no_speed_target: str = "",
    skips: tuple[Skip, ...] = (),
    exercises: tuple[type | TorchClass, ...] = (),
    scratch_detail: str = "",
    torch_detail: str = "",
    notes: str = "",
    arguments: tuple[Argument, ...] = (),
) -> ComponentSpec[C]:
    """A spec for an Operation or Layer: ``forward(x)`` then ``backward(G)`` with a random G.

    ``shapes(case)`` gives (input shape, output shape); ``param_shapes(case)`` the book-layout parameter
    shapes (names as in ``converter.book_names``, in the scratch component's parameter order);
    ``build_scratch(problem)`` returns a scratch component holding copies of ``problem.params``;
    ``build_torch(problem)`` returns an ``nn.Module`` (parameters are loaded by the spec through the
    converter); ``prepare`` may add extras (a dropout mask) to the problem; ``torch_call(module, x,
    problem)`` overrides how the module is called (default ``module(x)``). Results: ``output``,
    ``grad:input`` and ``grad:<name>`` for each parameter.
    """
    op = _Operation(shapes, build_scratch, build_torch, converter, param_shapes, prepare, input_scale, torch_call)
    return differentiable_spec(
        op,
        Fuzz(op.forward_scratch, op.forward_torch, ("x",), op.backward_scratch, arguments),
        name=name,
        chapter=chapter,
        scratch_class=scratch_class,
        torch_class=torch_class,
        cases=cases,
        converter=converter,
        errors=errors,
        bench=bench,
        floor=floor,
        sweep=sweep,
        no_speed_target=no_speed_target,
        skips=skips,
        exercises=exercises,
        scratch_detail=scratch_detail,
        torch_detail=torch_detail,
        notes=notes,
    )


def differentiable_spec(runner: Any, fuzz: Fuzz, **fields: Any) -> ComponentSpec[Any]:
    """A differentiable spec run by ``runner``'s methods (``make_problem``, ``run_scratch``, ``run_torch``,
    ``fd_check``, ``bench_scratch``, ``bench_torch``) with the fuzz record ``fuzz``; ``fields`` are the rest of
    the record (name, chapter, classes, cases, ...)."""
    return ComponentSpec(
        make_problem=runner.make_problem,
        run_scratch=runner.run_scratch,
        run_torch=runner.run_torch,
        differentiable=True,
        fd_check=runner.fd_check,
        bench_scratch=runner.bench_scratch,
        bench_torch=runner.bench_torch,
        fuzz=fuzz,
        **fields,
    )


# ---------------------------------------------------------------------------------------------------------
# Losses: value and gradient with respect to the prediction
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loss(Generic[C]):
    """The callables of a loss spec (see ``loss_spec``)."""

    make_inputs: Callable[[C, np.random.Generator, np.dtype], tuple[np.ndarray, np.ndarray]]
    build_scratch: Callable[[C], Any]
    build_torch: Callable[[C], Any]

    def make_problem(self, case: C, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        prediction, target = self.make_inputs(case, rng, dtype)
        return Problem(case, dtype, {"prediction": prediction, "target": target})

    def scratch_loss(self, problem: Problem) -> Any:
        return self.build_scratch(problem.case)  # type: ignore[arg-type]  # the problems carry this spec's cases

    def torch_loss(self, problem: Problem) -> Any:
        return self.build_torch(problem.case)  # type: ignore[arg-type]

    def run_scratch(self, problem: Problem) -> Results:
        loss = self.scratch_loss(problem)
        value = loss.forward(problem.inputs["prediction"].copy(), problem.inputs["target"].copy())
        return {"value": np.array(value), "grad:prediction": loss.backward()}

    def run_torch(self, problem: Problem) -> Results:
        p = to_tensor(problem.inputs["prediction"], requires_grad=True)
        value = self.torch_loss(problem)(p, to_tensor(problem.inputs["target"]))
        value.backward()
        return {"value": to_numpy(value), "grad:prediction": to_numpy(p.grad)}

    def forward_scratch(self, problem: Problem) -> Any:
        return self.scratch_loss(problem).forward(problem.inputs["prediction"], problem.inputs["target"])

    def forward_torch(self, problem: Problem) -> Any:
        p, y = (as_torch_input(problem.inputs[k]) for k in ("prediction", "target"))
        return self.torch_loss(problem)(p, y)

    def fd_check(self, problem: Problem) -> GradCheckResult:
        p, y = problem.inputs["prediction"], problem.inputs["target"]
        return check_loss_gradient(self.scratch_loss(problem), p, y, eps=FD_EPS)

    def bench_scratch(self, problem: Problem) -> Callable[[], Any]:
        loss = self.scratch_loss(problem)
        p, y = problem.inputs["prediction"], problem.inputs["target"]

        def step() -> Any:
            loss.forward(p, y)
            return loss.backward()

        return step

    def bench_torch(self, problem: Problem) -> Callable[[], Any]:
        loss = self.torch_loss(problem)
        p = to_tensor(problem.inputs["prediction"], requires_grad=True)
        y = to_tensor(problem.inputs["target"])

        def step() -> Any:
            p.grad = None
            loss(p, y).backward()
            return p.grad

        return step


def loss_spec(
    *,
    name: str,
    chapter: int,
    scratch_class: type,
    torch_class: TorchClass,
    cases: tuple[C, ...],
    make_inputs: Callable[[C, np.random.Generator, np.dtype], tuple[np.ndarray, np.ndarray]],
    build_scratch: Callable[[C], Any],
    build_torch: Callable[[C], Any],
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[C, ...] = (),
    notes: str = "",
    arguments: tuple[Argument, ...] = (),
) -> ComponentSpec[C]:
    """A spec for a Loss: results ``value`` (the loss) and ``grad:prediction`` (dL/dprediction).

    A loss is the root of the graph: its backward has no upstream gradient in the book's API.
    """
    loss = _Loss(make_inputs, build_scratch, build_torch)
    return differentiable_spec(
        loss,
        Fuzz(loss.forward_scratch, loss.forward_torch, ("prediction", "target"), None, arguments),
        name=name,
        chapter=chapter,
        scratch_class=scratch_class,
        torch_class=torch_class,
        cases=cases,
        errors=errors,
        bench=bench,
        notes=notes,
    )
