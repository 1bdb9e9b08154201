"""Specs: RNNLayer, LSTMLayer, GRULayer (reset before and after), stacked recurrent layers (chapter 6).

Every case runs ``forward`` then backpropagation through time with a random upstream gradient on every
step's output, in both implementations, from the same book-layout weights (all non-zero, biases included)
loaded into torch through the recurrent converters. Cases cover one and several time steps, batch 1 and
> 1, a given initial state (its gradient is compared too), and the book's carried state over two
consecutive calls (the second call starts from the batch mean of the first call's last state, whatever its
batch size; its output and gradients are compared under the ``@call2`` keys, and the carried state itself
after every call under ``carry:*``), and a second call from zeros. Input size V = 5, hidden H = 6, output
O = 4, so a transposed or mis-split weight cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch
from scratch.gradcheck import GradCheckResult, central_difference

from .. import floors
from ..converters import GRU_AFTER, GRU_BEFORE, LSTM, RNN, RecurrentConverter, StackConverter, recurrent_stack
from ..harness import to_numpy, to_tensor, torch_device
from ..port import load_arrays
from ..tolerances import FD_EPS
from ._inputs import nan_array, seq, tensor, torch_dtype
from .base import (
    Argument,
    Case,
    ComponentSpec,
    ErrorCase,
    Fuzz,
    Problem,
    Results,
    Sweep,
    TorchClass,
    as_torch_input,
    differentiable_spec,
    normal,
)

V, H, OUT = 5, 6, 4  # input features, hidden size, output size
PARAM_SCALE = 0.5  # keeps tanh/sigmoid away from saturation so every gradient is well away from zero

# kind -> (scratch factory, torch factory name, converter)
KINDS: dict[str, tuple[Callable[..., Any], str, RecurrentConverter]] = {
    "RNN": (lambda h, o, **kw: scratch.RNNLayer(h, o, **kw), "RNNLayer", RNN),
    "LSTM": (lambda h, o, **kw: scratch.LSTMLayer(h, o, **kw), "LSTMLayer", LSTM),
    "GRU-before": (lambda h, o, **kw: scratch.GRULayer(h, o, reset="before", **kw), "GRULayer", GRU_BEFORE),
    "GRU-after": (lambda h, o, **kw: scratch.GRULayer(h, o, reset="after", **kw), "GRULayer", GRU_AFTER),
}


def _trnn() -> Any:
    import torch_impl.rnn as trnn

    return trnn


def book_shapes(kind: str, v: int, h: int, o: int) -> dict[str, tuple[int, int]]:
    """Book parameter shapes of one layer, in the scratch ``params`` order."""
    if kind == "RNN":
        return {"W_f": (v + h, h), "B_f": (1, h), "W_v": (h, o), "B_v": (1, o)}
    if kind == "LSTM":
        shapes = {f"W_{g}": (v + h, h) for g in "fico"}
        shapes.update({f"B_{g}": (1, h) for g in "fico"})
        return {**shapes, "W_v": (h, o), "B_v": (1, o)}
    shapes = {f"W_x{g}": (v, h) for g in "ruh"}
    shapes.update({f"W_h{g}": (h, h) for g in "ruh"})
    shapes.update({f"B_{g}": (1, h) for g in "ruh"})
    shapes.update({"W_v": (h, o), "B_v": (1, o)})
    if kind == "GRU-after":
        shapes["B_hn"] = (1, h)
    return shapes


def build_scratch_layer(kind: str, h: int, o: int, hidden_state: str, params: dict[str, np.ndarray]) -> Any:
    layer = KINDS[kind][0](h, o, hidden_state=hidden_state)
    layer.load_params({k: v.copy() for k, v in params.items()})
    return layer


def build_torch_layer(kind: str, v: int, h: int, o: int, hidden_state: str, dtype: np.dtype) -> Any:
    cls = getattr(_trnn(), KINDS[kind][1])
    kw: dict[str, Any] = {"hidden_state": hidden_state, "dtype": torch_dtype(dtype)}
    if kind.startswith("GRU"):
        kw["reset"] = kind.split("-")[1]
    return cls(None, v, h, o, **kw)


def _states(kind: str, n: int, h: int, rng: np.random.Generator, dtype: np.dtype) -> list[np.ndarray]:
    return [normal(rng, (n, h), dtype, 0.5) for _ in range(_n_states(kind))]


def _as_initial(kind: str, states: list[np.ndarray] | list[Any]) -> Any:
    if not states:
        return None
    return tuple(states) if kind == "LSTM" else states[0]


# ---------------------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecurrentCase(Case):
    """Consecutive calls of one recurrent layer: ``calls`` holds each call's (batch, time steps); ``mode`` is the
    hidden state a call starts from without an initial state (``"zeros"``, or ``"book"``: the batch mean of the
    previous call's last state); ``given`` passes a random initial state to the first call (its gradient is
    compared too); ``one_hot`` feeds one-hot characters; ``sizes`` are the input, hidden and output sizes and
    ``param_scale`` the std of the random weights."""

    calls: tuple[tuple[int, int], ...]
    mode: str = "zeros"
    given: bool = False
    one_hot: bool = False
    sizes: tuple[int, int, int] = (V, H, OUT)
    param_scale: float = PARAM_SCALE


def _layer_cases() -> tuple[RecurrentCase, ...]:
    R = RecurrentCase
    return (
        R("N3-T1-given-state", ((3, 1),), given=True),  # from zeros some grads are 0
        R("N3-T4", ((3, 4),)),
        R("N2-T9", ((2, 9),)),
        R("N1-T5", ((1, 5),)),
        R("N3-T5-given-state", ((3, 5),), given=True),
        R("N4-T3-then-T5-book-carry", ((4, 3), (4, 5)), "book"),
        R("N2-T4-then-T4-book-carry-given", ((2, 4), (2, 4)), "book", given=True),
        # one-hot characters take scratch's row-lookup path for the input projection
        R("N3-T6-one-hot-given-state", ((3, 6),), given=True, one_hot=True),
        # a second call of another length starts from zeros again
        R("N3-T4-then-T2-zeros", ((3, 4), (3, 2))),
        # a given initial state, then a call from zeros
        R("N3-T4-given-then-T2-zeros", ((3, 4), (3, 2)), given=True),
        # the carry is a (1, H) batch mean: the next call may have another batch size
        R("N3-T4-then-N2-T3-book-carry", ((3, 4), (2, 3)), "book"),
    )


def _suffix(call: int) -> str:
    return "" if call == 0 else f"@call{call + 1}"


def _scratch_carry(kind: str, layer: Any) -> Results:
    """Scratch's carried state after a call (book mode): ``carry:start_H`` (and ``carry:start_C``), each (1, H)."""
    state = layer.state()
    return {f"carry:{k}": state[k] for k in ("start_H", "start_C")[: _n_states(kind)]}


def _torch_carry(kind: str, module: Any) -> Results:
    """The twin's carried state after a call, under scratch's names."""
    carried = module.carried_state
    rows = carried if isinstance(carried, tuple) else (carried,)
    return {f"carry:{k}": to_numpy(r) for k, r in zip(("start_H", "start_C"), rows, strict=False)}


def _n_states(kind: str) -> int:
    return 2 if kind == "LSTM" else 1


def _initial(kind: str, problem: Problem, call: int, torch_side: bool = False) -> tuple[list[Any], Any]:
    """A call's given initial states (copies; tensors requiring gradients on the torch side) and the
    ``initial_state`` argument made of them (``None`` when none is given)."""
    given = problem.extras["states"][call]
    states = [to_tensor(s, requires_grad=True) for s in given] if torch_side else [s.copy() for s in given]
    return states, _as_initial(kind, states)


@dataclass(frozen=True)
class _RecurrentLayer:
    """The callables of one recurrent layer kind's spec (``kind`` a key of ``KINDS``)."""

    kind: str

    @property
    def converter(self) -> RecurrentConverter:
        return KINDS[self.kind][2]

    def make_problem(self, case: RecurrentCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        v, h, o = case.sizes
        shapes = book_shapes(self.kind, v, h, o)
        params = {k: normal(rng, s, dtype, case.param_scale) for k, s in shapes.items()}
        inputs: dict[str, np.ndarray] = {}
        extras: dict[str, Any] = {"upstream": [], "states": []}
        for call, (n, t) in enumerate(case.calls):
            if case.one_hot:
                inputs[f"x{call}"] = np.eye(v, dtype=dtype)[rng.integers(0, v, (n, t))]  # [n, t] -> [n, t, V]
            else:
                inputs[f"x{call}"] = normal(rng, (n, t, v), dtype)
            extras["upstream"].append(normal(rng, (n, t, o), dtype))
            extras["states"].append(_states(self.kind, n, h, rng, dtype) if case.given and call == 0 else [])
        return Problem(case, dtype, inputs, params, extras=extras)

    def scratch_layer(self, problem: Problem, mode: str | None = None) -> Any:
        case = problem.case_as(RecurrentCase)
        _, h, o = case.sizes
        return build_scratch_layer(self.kind, h, o, mode or case.mode, problem.params)

    def torch_layer(self, problem: Problem, mode: str | None = None) -> Any:
        case = problem.case_as(RecurrentCase)
        v, h, o = case.sizes
        module = build_torch_layer(self.kind, v, h, o, mode or case.mode, problem.dtype).to(torch_device())
        load_arrays(module, self.converter.to_torch(problem.params))
        return module

    def _scratch_call(self, layer: Any, problem: Problem, call: int) -> Results:
        """One call of the scratch layer: output, every gradient, and (book mode) the carry it leaves."""
        states, initial = _initial(self.kind, problem, call)
        out = layer.forward(problem.inputs[f"x{call}"].copy(), initial_state=initial)
        results: Results = {"output": np.array(out, copy=True)}
        results["grad:input"] = layer.backward(problem.extras["upstream"][call].copy())
        results.update({f"grad:{k}": v["deriv"].copy() for k, v in layer.params.items()})
        if states:
            results["grad:h0"] = layer.initial_state_grad.copy()
        if states and self.kind == "LSTM":
            results["grad:c0"] = layer.initial_cell_grad.copy()
        if problem.case_as(RecurrentCase).mode == "book":
            results.update(_scratch_carry(self.kind, layer))
        return results

    def _torch_call(self, module: Any, problem: Problem, call: int) -> Results:
        """One call of the twin, with the scratch call's keys."""
        module.zero_grad(set_to_none=True)
        x = to_tensor(problem.inputs[f"x{call}"], requires_grad=True)
        states, initial = _initial(self.kind, problem, call, torch_side=True)
        out = module(x, initial_state=initial)
        out.backward(to_tensor(problem.extras["upstream"][call]))
        named = dict(module.named_parameters())
        grads = self.converter.grads_to_book({k: to_numpy(named[k].grad) for k in self.converter.torch_names})
        results: Results = {"output": to_numpy(out), "grad:input": to_numpy(x.grad)}
        results.update({f"grad:{k}": v for k, v in grads.items()})
        results.update({f"grad:{k}0": to_numpy(s.grad) for k, s in zip("hc", states, strict=False)})
        if problem.case_as(RecurrentCase).mode == "book":
            results.update(_torch_carry(self.kind, module))
        return results

    def run_scratch(self, problem: Problem) -> Results:
        layer = self.scratch_layer(problem)
        calls = range(len(problem.case_as(RecurrentCase).calls))
        return {f"{k}{_suffix(c)}": v for c in calls for k, v in self._scratch_call(layer, problem, c).items()}

    def run_torch(self, problem: Problem) -> Results:
        module = self.torch_layer(problem)
        calls = range(len(problem.case_as(RecurrentCase).calls))
        return {f"{k}{_suffix(c)}": v for c in calls for k, v in self._torch_call(module, problem, c).items()}

    def fd_check(self, problem: Problem) -> GradCheckResult:
        """Central differences of J = Σ forward(x) ⊙ G for the first call (zeros or given start state)."""
        params64 = {k: v.astype(np.float64) for k, v in problem.params.items()}
        x = problem.inputs["x0"].astype(np.float64)
        G = problem.extras["upstream"][0].astype(np.float64)
        states = [s.astype(np.float64) for s in problem.extras["states"][0]]
        _, h, o = problem.case_as(RecurrentCase).sizes
        layer = build_scratch_layer(self.kind, h, o, "zeros", params64)

        def objective() -> float:
            return float(np.sum(layer.forward(x, initial_state=_as_initial(self.kind, states)) * G))

        layer.forward(x, initial_state=_as_initial(self.kind, states))
        analytic = {"input": layer.backward(G)}
        analytic.update({k: v["deriv"].copy() for k, v in layer.params.items()})
        numeric = {"input": central_difference(objective, x, FD_EPS)}
        numeric.update({k: central_difference(objective, v["value"], FD_EPS) for k, v in layer.params.items()})
        if states:
            analytic["h0"] = layer.initial_state_grad.copy()
            numeric["h0"] = central_difference(objective, states[0], FD_EPS)
        return GradCheckResult(analytic, numeric)

    def bench_scratch(self, problem: Problem) -> Callable[[], Any]:
        layer = self.scratch_layer(problem, "zeros")
        x, g = problem.inputs["x0"], problem.extras["upstream"][0]

        def step() -> Any:
            layer.forward(x)
            return layer.backward(g)

        return step

    def bench_torch(self, problem: Problem) -> Callable[[], Any]:
        module = self.torch_layer(problem, "zeros")
        x = to_tensor(problem.inputs["x0"], requires_grad=True)
        g = to_tensor(problem.extras["upstream"][0])

        def step() -> Any:
            x.grad = None
            module.zero_grad(set_to_none=True)
            module(x).backward(g)
            return x.grad

        return step

    def forward_scratch(self, problem: Problem) -> Any:
        initial = _as_initial(self.kind, list(problem.extras["states"][0]))
        return self.scratch_layer(problem).forward(problem.inputs["x0"], initial_state=initial)

    def forward_torch(self, problem: Problem) -> Any:
        initial = _as_initial(self.kind, [as_torch_input(s) for s in problem.extras["states"][0]])
        return self.torch_layer(problem)(as_torch_input(problem.inputs["x0"]), initial_state=initial)

    def backward_scratch(self, problem: Problem, upstream: Any) -> Any:
        layer = self.scratch_layer(problem)
        layer.forward(problem.inputs["x0"], initial_state=_as_initial(self.kind, list(problem.extras["states"][0])))
        return layer.backward(upstream)


def _hidden_sweep() -> Sweep:
    """Hidden sizes 32 to 1024 at 5 steps (the benchmark's 25 steps would take seconds per call at 1024)."""
    cases = tuple(
        RecurrentCase(f"sweep-N32-T5-V62-H{h}", ((32, 5),), one_hot=True, sizes=(62, h, 62), param_scale=0.1)
        for h in (32, 128, 256, 512, 1024)
    )
    return Sweep("hidden size", cases, lambda c: c.sizes[1])


def recurrent_layer_spec(kind: str) -> ComponentSpec[RecurrentCase]:
    """The spec of one recurrent layer kind (see the module docstring for the cases)."""
    layer = _RecurrentLayer(kind)
    bench: tuple[RecurrentCase, ...] = ()
    if kind != "RNN":
        bench = tuple(
            RecurrentCase(f"N32-T25-V62-H{h}", ((32, 25),), one_hot=True, sizes=(62, h, 62), param_scale=0.1)
            for h in (128, 256)
        )
    scratch_class, torch_name, detail, exercises, notes = _LAYERS[kind]
    reset = kind.split("-")[1] if kind.startswith("GRU") else ""
    return differentiable_spec(
        layer,
        Fuzz(layer.forward_scratch, layer.forward_torch, ("x0",), layer.backward_scratch, _arguments(kind)),
        name=f"GRULayer({reset})" if reset else torch_name,
        chapter=6,
        scratch_class=scratch_class,
        torch_class=TorchClass(torch_name),
        scratch_detail=f"(reset='{reset}')" if reset else "",
        torch_detail=detail,
        exercises=exercises,
        cases=_layer_cases(),
        converter=layer.converter,
        errors=_layer_errors(kind),
        bench=bench,
        floor=floors.recurrent_floor({"RNN": 1, "LSTM": 4}.get(kind, 3)) if bench else None,
        sweep=_hidden_sweep() if kind == "LSTM" else None,
        notes=notes,
    )


# kind -> (scratch class, twin's name in torch_impl, the twin's detail, further classes run, notes)
_LAYERS: dict[str, tuple[type, str, str, tuple[type | TorchClass, ...], str]] = {
    "RNN": (
        scratch.RNNLayer,
        "RNNLayer",
        " (nn.RNN + nn.Linear)",
        (),
        "W_f (V+H, H) splits into weight_ih (rows :V) and weight_hh (rows V:), transposed; one bias vs "
        "b_ih + b_hh; per-step projection W_v, B_v = nn.Linear",
    ),
    "LSTM": (
        scratch.LSTMLayer,
        "LSTMLayer",
        " (nn.LSTM + nn.Linear)",
        (),
        "book gates f, i, c, o in separate tensors; torch stacks i, f, g, o",
    ),
    "GRU-before": (
        scratch.GRULayer,
        "GRULayer",
        "(reset='before') (ResetBeforeGRU + nn.Linear)",
        (TorchClass("ResetBeforeGRU"),),
        "reset applied to h before the recurrent matmul (the book, Keras reset_after=False); "
        "nn.GRU cannot express it, so the twin is a hand-written autograd cell",
    ),
    "GRU-after": (
        scratch.GRULayer,
        "GRULayer",
        "(reset='after') (nn.GRU + nn.Linear)",
        (),
        "reset applied after the recurrent matmul with its own bias B_hn = b_hn (nn.GRU, cuDNN)",
    ),
}


def _arguments(kind: str) -> tuple[Argument, ...]:
    """Constructor arguments for the fuzz suite: the hidden size and the output size."""

    def torch_layer(h: Any, o: Any) -> Any:
        cls = getattr(_trnn(), KINDS[kind][1])
        extra = {"reset": kind.split("-")[1]} if kind.startswith("GRU") else {}
        return cls(None, V, h, o, **extra)

    return (
        Argument("hidden_size", "positive_int", lambda h: KINDS[kind][0](h, OUT), lambda h: torch_layer(h, OUT)),
        Argument("output_size", "positive_int", lambda o: KINDS[kind][0](H, o), lambda o: torch_layer(H, o)),
    )


def _layer_errors(kind: str) -> tuple[ErrorCase, ...]:
    f64 = np.dtype("float64")

    def s(mode: str = "zeros", **kw: Any) -> Any:
        if kw:
            return KINDS[kind][0](H, OUT, hidden_state=mode, **kw)
        return KINDS[kind][0](H, OUT, hidden_state=mode)

    def t(mode: str = "zeros") -> Any:
        return build_torch_layer(kind, V, H, OUT, mode, f64)

    def both_calls_scratch() -> Any:
        layer = s()
        layer.forward(seq((2, 3, V)))
        return layer.forward(seq((2, 3, V - 1)))

    bad_state = (seq((3, H)), seq((3, H))) if kind == "LSTM" else seq((3, H))
    errors = [
        ErrorCase(
            "input-not-3d",
            scratch=lambda: s().forward(seq((2, V))),
            torch=lambda: t()(tensor(seq((2, V)))),
            exc=ValueError,
            match=r"3-D",
        ),
        ErrorCase(
            "feature-count-changed",
            scratch=both_calls_scratch,
            torch=lambda: t()(tensor(seq((2, 3, V - 1)))),
            exc=ValueError,
            match=r"features",
        ),
        ErrorCase(
            "initial-state-wrong-batch",
            scratch=lambda: s().forward(seq((2, 3, V)), initial_state=bad_state),
            torch=lambda: t()(
                tensor(seq((2, 3, V))),
                initial_state=tuple(tensor(a) for a in bad_state) if kind == "LSTM" else tensor(bad_state),
            ),
            exc=ValueError,
            match=r"initial_state",
        ),
        ErrorCase(
            "int-input",
            scratch=lambda: s().forward(np.ones((2, 3, V), dtype=int)),
            torch=lambda: t()(tensor(np.ones((2, 3, V), dtype=int))),
            exc=TypeError,
            match=r"float",
        ),
        ErrorCase(
            "nan-input",
            scratch=lambda: s().forward(nan_array((2, 3, V))),
            torch=lambda: t()(tensor(nan_array((2, 3, V)))),
            exc=ValueError,
            match=r"(?i)finite|nan",
        ),
        ErrorCase(
            "hidden-size-zero",
            scratch=lambda: KINDS[kind][0](0, OUT),
            torch=lambda: build_torch_layer(kind, V, 0, OUT, "zeros", f64),
            exc=ValueError,
            match=r"hidden_size",
        ),
        ErrorCase(
            "hidden-state-mode-unknown",
            scratch=lambda: s("mean"),
            torch=lambda: t("mean"),
            exc=ValueError,
            match=r"hidden_state",
        ),
    ]
    if kind == "LSTM":
        errors.append(
            ErrorCase(
                "lstm-initial-state-not-a-pair",
                scratch=lambda: s().forward(seq((2, 3, V)), initial_state=seq((2, H))),
                torch=lambda: t()(tensor(seq((2, 3, V))), initial_state=tensor(seq((2, H)))),
                exc=TypeError,
                match=r"initial_state",
            )
        )
    if kind.startswith("GRU"):
        errors.append(
            ErrorCase(
                "gru-reset-unknown",
                scratch=lambda: scratch.GRULayer(H, OUT, reset="middle"),
                torch=lambda: _trnn().GRULayer(None, V, H, OUT, reset="middle"),
                exc=ValueError,
                match=r"reset",
            )
        )
    return tuple(errors)


# ---------------------------------------------------------------------------------------------------------
# Stacked layers: a book stack feeds each layer's projected output y (size O_i) to the next layer
# ---------------------------------------------------------------------------------------------------------

STACKS: dict[str, tuple[str, ...]] = {
    "GRU-after>GRU-before>RNN": ("GRU-after", "GRU-before", "RNN"),  # first: the spec's converter is this stack's
    "RNN>LSTM": ("RNN", "LSTM"),
    "LSTM>LSTM": ("LSTM", "LSTM"),
    "GRU-before>LSTM": ("GRU-before", "LSTM"),
}
STACK_WIDTHS = (V, 7, 3, 4)  # input, then each layer's output size (hidden size H for all)


#: Each stack's converter: layer i's book names as ``"{i}.W_f"`` <-> the twin ``SequentialModel``'s ``layers.{i}.*``.
STACK_CONVERTERS: dict[str, StackConverter] = {
    label: recurrent_stack([KINDS[k][2] for k in kinds]) for label, kinds in STACKS.items()
}


@dataclass(frozen=True)
class StackCase(Case):
    """Consecutive calls (``calls``: (batch, time steps) each) of the stack ``stack`` (a key of ``STACKS``)."""

    stack: str
    calls: tuple[tuple[int, int], ...]
    mode: str = "zeros"


def _stack_cases() -> tuple[StackCase, ...]:
    cases = []
    for label in STACKS:
        cases.append(StackCase(f"{label}-N3-T6", label, ((3, 6),)))
        cases.append(StackCase(f"{label}-N2-T3-then-T4-book-carry", label, ((2, 3), (2, 4)), "book"))
    return tuple(cases)


def _stack_params(kinds: tuple[str, ...], rng: np.random.Generator, dtype: np.dtype) -> dict[str, np.ndarray]:
    params = {}
    for i, kind in enumerate(kinds):
        for k, shape in book_shapes(kind, STACK_WIDTHS[i], H, STACK_WIDTHS[i + 1]).items():
            params[f"{i}.{k}"] = normal(rng, shape, dtype, PARAM_SCALE)
    return params


def _stack_make_problem(case: StackCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    kinds = STACKS[case.stack]
    params = _stack_params(kinds, rng, dtype)
    inputs = {f"x{c}": normal(rng, (n, t, V), dtype) for c, (n, t) in enumerate(case.calls)}
    out = STACK_WIDTHS[len(kinds)]
    upstream = [normal(rng, (n, t, out), dtype) for n, t in case.calls]
    return Problem(case, dtype, inputs, params, extras={"upstream": upstream})


def _stack_layers(problem: Problem, mode: str, dtype: Any = None) -> list[Any]:
    """The stack's scratch layers holding copies of ``problem.params`` (cast to ``dtype`` if given)."""
    layers = []
    for i, kind in enumerate(STACKS[problem.case_as(StackCase).stack]):
        own = {
            k.split(".", 1)[1]: v.astype(dtype or v.dtype) for k, v in problem.params.items() if k.startswith(f"{i}.")
        }
        layers.append(build_scratch_layer(kind, H, STACK_WIDTHS[i + 1], mode, own))
    return layers


def _stack_scratch(problem: Problem) -> Results:
    case = problem.case_as(StackCase)
    layers = _stack_layers(problem, case.mode)
    results: Results = {}
    for call in range(len(case.calls)):
        sfx = _suffix(call)
        y = problem.inputs[f"x{call}"].copy()
        for layer in layers:
            y = layer.forward(y)
        g = problem.extras["upstream"][call].copy()
        for layer in reversed(layers):
            g = layer.backward(g)
        results[f"output{sfx}"] = np.array(y, copy=True)
        results[f"grad:input{sfx}"] = g
        for i, layer in enumerate(layers):
            results.update({f"grad:{i}.{k}{sfx}": v["deriv"].copy() for k, v in layer.params.items()})
    return results


def _stack_torch(problem: Problem) -> Results:
    import torch_impl as ti

    case = problem.case_as(StackCase)
    kinds = STACKS[case.stack]
    converter = STACK_CONVERTERS[case.stack]
    layers = [
        build_torch_layer(kind, STACK_WIDTHS[i], H, STACK_WIDTHS[i + 1], case.mode, problem.dtype)
        for i, kind in enumerate(kinds)
    ]
    model = ti.SequentialModel(*layers).to(torch_device())
    load_arrays(model, converter.to_torch(problem.params))
    named = dict(model.named_parameters())
    results: Results = {}
    for call in range(len(case.calls)):
        sfx = _suffix(call)
        model.zero_grad(set_to_none=True)
        x = to_tensor(problem.inputs[f"x{call}"], requires_grad=True)
        out = model(x)
        out.backward(to_tensor(problem.extras["upstream"][call]))
        results[f"output{sfx}"] = to_numpy(out)
        results[f"grad:input{sfx}"] = to_numpy(x.grad)
        grads = converter.grads_to_book({k: to_numpy(named[k].grad) for k in converter.torch_names})
        results.update({f"grad:{k}{sfx}": v for k, v in grads.items()})
    return results


def _stack_fd(problem: Problem) -> GradCheckResult:
    layers = _stack_layers(problem, "zeros", np.float64)
    x = problem.inputs["x0"].astype(np.float64)
    G = problem.extras["upstream"][0].astype(np.float64)

    def forward() -> np.ndarray:
        y = x
        for layer in layers:
            y = layer.forward(y)
        return y

    forward()
    g = G
    for layer in reversed(layers):
        g = layer.backward(g)
    analytic = {"input": g}
    numeric = {"input": central_difference(lambda: float(np.sum(forward() * G)), x, FD_EPS)}
    for i, layer in enumerate(layers):
        for k, v in layer.params.items():
            analytic[f"{i}.{k}"] = v["deriv"].copy()
            numeric[f"{i}.{k}"] = central_difference(lambda: float(np.sum(forward() * G)), v["value"], FD_EPS)
    return GradCheckResult(analytic, numeric)


STACK_SPEC = ComponentSpec(
    name="RecurrentStack",
    chapter=6,
    scratch_class=None,
    torch_class=TorchClass("SequentialModel"),
    no_class="a book stack is a plain list of layers (no class): each layer's projected output feeds the next",
    scratch_detail="scratch RNNLayer/LSTMLayer/GRULayer stacked",
    torch_detail=" of the twins",
    exercises=(scratch.RNNLayer, scratch.LSTMLayer, scratch.GRULayer),
    cases=_stack_cases(),
    make_problem=_stack_make_problem,
    run_scratch=_stack_scratch,
    run_torch=_stack_torch,
    differentiable=True,
    converter=STACK_CONVERTERS["GRU-after>GRU-before>RNN"],
    fd_check=_stack_fd,
    notes="each book layer ends with its own projection, so a stack is NOT nn.LSTM(num_layers=2): the next "
    "layer reads y_t (size OUT), not h_t",
)


SPECS = (
    recurrent_layer_spec("RNN"),
    recurrent_layer_spec("LSTM"),
    recurrent_layer_spec("GRU-before"),
    recurrent_layer_spec("GRU-after"),
    STACK_SPEC,
)
