"""Specs: RNNLayer, LSTMLayer, GRULayer (reset before and after), stacked recurrent layers (chapter 6).

Every case runs ``forward`` then backpropagation through time with a random upstream gradient on every
step's output, in both implementations, from the same book-layout weights (all non-zero, biases included)
loaded into torch through the recurrent converters. Cases cover one and several time steps, batch 1 and
> 1, a given initial state (its gradient is compared too), and the book's carried state over two
consecutive calls (the second call starts from the batch mean of the first call's last state; its output
and gradients are compared under the ``@call2`` keys). Input size V = 5, hidden H = 6, output O = 4, so a
transposed or mis-split weight cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import scratch
from scratch.gradcheck import GradCheckResult, central_difference

from ..converters import GRU_AFTER, GRU_BEFORE, LSTM, RNN, RecurrentConverter, recurrent_stack
from ..harness import to_numpy, to_tensor, torch_device
from ..port import load_arrays
from ..tolerances import FD_EPS
from ._inputs import nan_array, seq, tensor, torch_dtype
from .base import Argument, Case, ComponentSpec, ErrorCase, Fuzz, Problem, Results, as_torch_input, normal

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


def _states(kind: str, n: int, rng: np.random.Generator, dtype: np.dtype) -> list[np.ndarray]:
    return [normal(rng, (n, H), dtype, 0.5) for _ in range(2 if kind == "LSTM" else 1)]


def _as_initial(kind: str, states: list[np.ndarray] | list[Any]) -> Any:
    if not states:
        return None
    return tuple(states) if kind == "LSTM" else states[0]


# ---------------------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------------------


def _layer_cases() -> tuple[Case, ...]:
    return (
        Case("N3-T1-given-state", {"n": 3, "t": (1,), "mode": "zeros", "given": True}),  # from zeros some grads are 0
        Case("N3-T4", {"n": 3, "t": (4,), "mode": "zeros"}),
        Case("N2-T9", {"n": 2, "t": (9,), "mode": "zeros"}),
        Case("N1-T5", {"n": 1, "t": (5,), "mode": "zeros"}),
        Case("N3-T5-given-state", {"n": 3, "t": (5,), "mode": "zeros", "given": True}),
        Case("N4-T3-then-T5-book-carry", {"n": 4, "t": (3, 5), "mode": "book"}),
        Case("N2-T4-then-T4-book-carry-given", {"n": 2, "t": (4, 4), "mode": "book", "given": True}),
        # one-hot characters take scratch's row-lookup path for the input projection
        Case("N3-T6-one-hot-given-state", {"n": 3, "t": (6,), "mode": "zeros", "given": True, "one_hot": True}),
    )


def _suffix(call: int) -> str:
    return "" if call == 0 else f"@call{call + 1}"


def recurrent_layer_spec(kind: str) -> ComponentSpec:
    """The spec of one recurrent layer kind (see the module docstring for the cases)."""
    converter = KINDS[kind][2]
    name = {"RNN": "RNNLayer", "LSTM": "LSTMLayer", "GRU-before": "GRULayer(before)", "GRU-after": "GRULayer(after)"}[
        kind
    ]

    def make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        n = case["n"]
        params = {k: normal(rng, s, dtype, PARAM_SCALE) for k, s in book_shapes(kind, V, H, OUT).items()}
        inputs: dict[str, np.ndarray] = {}
        extras: dict[str, Any] = {"upstream": [], "states": []}
        for call, t in enumerate(case["t"]):
            if case.get("one_hot"):
                inputs[f"x{call}"] = np.eye(V, dtype=dtype)[rng.integers(0, V, (n, t))]  # [n, t] -> [n, t, V]
            else:
                inputs[f"x{call}"] = normal(rng, (n, t, V), dtype)
            extras["upstream"].append(normal(rng, (n, t, OUT), dtype))
            extras["states"].append(_states(kind, n, rng, dtype) if case.get("given") and call == 0 else [])
        return Problem(case, dtype, inputs, params, extras=extras)

    def run_scratch(problem: Problem) -> Results:
        case = problem.case
        layer = build_scratch_layer(kind, H, OUT, case["mode"], problem.params)
        results: Results = {}
        for call in range(len(case["t"])):
            sfx = _suffix(call)
            states = [s.copy() for s in problem.extras["states"][call]]
            out = layer.forward(problem.inputs[f"x{call}"].copy(), initial_state=_as_initial(kind, states))
            dx = layer.backward(problem.extras["upstream"][call].copy())
            results[f"output{sfx}"] = np.array(out, copy=True)
            results[f"grad:input{sfx}"] = dx
            results.update({f"grad:{k}{sfx}": v["deriv"].copy() for k, v in layer.params.items()})
            if states:
                results[f"grad:h0{sfx}"] = layer.initial_state_grad.copy()
                if kind == "LSTM":
                    results[f"grad:c0{sfx}"] = layer.initial_cell_grad.copy()
        return results

    def run_torch(problem: Problem) -> Results:
        case = problem.case
        module = build_torch_layer(kind, V, H, OUT, case["mode"], problem.dtype).to(torch_device())
        load_arrays(module, converter.to_torch(problem.params))
        named = dict(module.named_parameters())
        results: Results = {}
        for call in range(len(case["t"])):
            sfx = _suffix(call)
            module.zero_grad(set_to_none=True)
            x = to_tensor(problem.inputs[f"x{call}"], requires_grad=True)
            states = [to_tensor(s, requires_grad=True) for s in problem.extras["states"][call]]
            out = module(x, initial_state=_as_initial(kind, states))
            out.backward(to_tensor(problem.extras["upstream"][call]))
            results[f"output{sfx}"] = to_numpy(out)
            results[f"grad:input{sfx}"] = to_numpy(x.grad)
            grads = converter.grads_to_book({k: to_numpy(named[k].grad) for k in converter.torch_names})
            results.update({f"grad:{k}{sfx}": v for k, v in grads.items()})
            if states:
                results[f"grad:h0{sfx}"] = to_numpy(states[0].grad)
                if kind == "LSTM":
                    results[f"grad:c0{sfx}"] = to_numpy(states[1].grad)
        return results

    def fd_check(problem: Problem) -> GradCheckResult:
        """Central differences of J = Σ forward(x) ⊙ G for the first call (zeros or given start state)."""
        params64 = {k: v.astype(np.float64) for k, v in problem.params.items()}
        x = problem.inputs["x0"].astype(np.float64)
        G = problem.extras["upstream"][0].astype(np.float64)
        states = [s.astype(np.float64) for s in problem.extras["states"][0]]
        layer = build_scratch_layer(kind, H, OUT, "zeros", params64)

        def objective() -> float:
            return float(np.sum(layer.forward(x, initial_state=_as_initial(kind, states)) * G))

        layer.forward(x, initial_state=_as_initial(kind, states))
        analytic = {"input": layer.backward(G)}
        analytic.update({k: v["deriv"].copy() for k, v in layer.params.items()})
        if states:
            analytic["h0"] = layer.initial_state_grad.copy()
        numeric = {"input": central_difference(objective, x, FD_EPS)}
        numeric.update({k: central_difference(objective, v["value"], FD_EPS) for k, v in layer.params.items()})
        if states:
            numeric["h0"] = central_difference(objective, states[0], FD_EPS)
        return GradCheckResult(analytic, numeric)

    def bench_scratch(problem: Problem) -> Callable[[], Any]:
        layer = build_scratch_layer(kind, problem.case["h"], problem.case["o"], "zeros", problem.params)
        x, g = problem.inputs["x0"], problem.extras["upstream"][0]

        def step() -> Any:
            layer.forward(x)
            return layer.backward(g)

        return step

    def bench_torch(problem: Problem) -> Callable[[], Any]:
        c = problem.case
        module = build_torch_layer(kind, c["v"], c["h"], c["o"], "zeros", problem.dtype).to(torch_device())
        load_arrays(module, converter.to_torch(problem.params))
        x = to_tensor(problem.inputs["x0"], requires_grad=True)
        g = to_tensor(problem.extras["upstream"][0])

        def step() -> Any:
            x.grad = None
            module.zero_grad(set_to_none=True)
            module(x).backward(g)
            return x.grad

        return step

    def forward_scratch(problem: Problem) -> Any:
        layer = build_scratch_layer(kind, H, OUT, problem.case["mode"], problem.params)
        return layer.forward(problem.inputs["x0"], initial_state=_as_initial(kind, list(problem.extras["states"][0])))

    def forward_torch(problem: Problem) -> Any:
        module = build_torch_layer(kind, V, H, OUT, problem.case["mode"], problem.dtype).to(torch_device())
        load_arrays(module, converter.to_torch(problem.params))
        states = [as_torch_input(s) for s in problem.extras["states"][0]]
        return module(as_torch_input(problem.inputs["x0"]), initial_state=_as_initial(kind, states))

    def backward_scratch(problem: Problem, upstream: Any) -> Any:
        layer = build_scratch_layer(kind, H, OUT, problem.case["mode"], problem.params)
        layer.forward(problem.inputs["x0"], initial_state=_as_initial(kind, list(problem.extras["states"][0])))
        return layer.backward(upstream)

    def make_bench_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        c = case
        params = {k: normal(rng, s, dtype, 0.1) for k, s in book_shapes(kind, c["v"], c["h"], c["o"]).items()}
        x = np.zeros((c["n"], c["t"][0], c["v"]), dtype=dtype)  # one-hot characters, as in the chapter
        x[np.arange(c["n"])[:, None], np.arange(c["t"][0])[None, :], rng.integers(0, c["v"], (c["n"], c["t"][0]))] = 1
        g = normal(rng, (c["n"], c["t"][0], c["o"]), dtype)
        return Problem(case, dtype, {"x0": x}, params, extras={"upstream": [g], "states": [[]]})

    def any_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        return make_bench_problem(case, rng, dtype) if "v" in case.options else make_problem(case, rng, dtype)

    bench: tuple[Case, ...] = ()
    if kind in ("LSTM", "GRU-after", "GRU-before"):
        bench = tuple(
            Case(f"N32-T25-V62-H{h}", {"n": 32, "t": (25,), "v": 62, "h": h, "o": 62, "mode": "zeros"})
            for h in (128, 256)
        )
    return ComponentSpec(
        name=name,
        chapter=6,
        scratch_name=_SCRATCH_NAMES[kind],
        torch_name=_TORCH_NAMES[kind],
        cases=_layer_cases(),
        make_problem=any_problem,
        run_scratch=run_scratch,
        run_torch=run_torch,
        converter=converter,
        fd_check=fd_check,
        errors=_layer_errors(kind),
        bench=bench,
        bench_scratch=bench_scratch,
        bench_torch=bench_torch,
        notes=_NOTES[kind],
        fuzz=Fuzz(forward_scratch, forward_torch, ("x0",), backward_scratch, _arguments(kind)),
    )


_SCRATCH_NAMES = {
    "RNN": "scratch.RNNLayer",
    "LSTM": "scratch.LSTMLayer",
    "GRU-before": "scratch.GRULayer(reset='before')",
    "GRU-after": "scratch.GRULayer(reset='after')",
}
_TORCH_NAMES = {
    "RNN": "torch_impl.RNNLayer (nn.RNN + nn.Linear)",
    "LSTM": "torch_impl.LSTMLayer (nn.LSTM + nn.Linear)",
    "GRU-before": "torch_impl.GRULayer(reset='before') (ResetBeforeGRU + nn.Linear)",
    "GRU-after": "torch_impl.GRULayer(reset='after') (nn.GRU + nn.Linear)",
}
_NOTES = {
    "RNN": "W_f (V+H, H) splits into weight_ih (rows :V) and weight_hh (rows V:), transposed; one bias vs "
    "b_ih + b_hh; per-step projection W_v, B_v = nn.Linear",
    "LSTM": "book gates f, i, c, o in separate tensors; torch stacks i, f, g, o",
    "GRU-before": "reset applied to h before the recurrent matmul (the book, Keras reset_after=False); "
    "nn.GRU cannot express it, so the twin is a hand-written autograd cell",
    "GRU-after": "reset applied after the recurrent matmul with its own bias B_hn = b_hn (nn.GRU, cuDNN)",
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


def _stack_converter(kinds: tuple[str, ...]) -> Any:
    return recurrent_stack([KINDS[k][2] for k in kinds])


def _stack_cases() -> tuple[Case, ...]:
    cases = []
    for label in STACKS:
        cases.append(Case(f"{label}-N3-T6", {"stack": label, "n": 3, "t": (6,), "mode": "zeros"}))
        cases.append(Case(f"{label}-N2-T3-then-T4-book-carry", {"stack": label, "n": 2, "t": (3, 4), "mode": "book"}))
    return tuple(cases)


def _stack_params(kinds: tuple[str, ...], rng: np.random.Generator, dtype: np.dtype) -> dict[str, np.ndarray]:
    params = {}
    for i, kind in enumerate(kinds):
        for k, shape in book_shapes(kind, STACK_WIDTHS[i], H, STACK_WIDTHS[i + 1]).items():
            params[f"{i}.{k}"] = normal(rng, shape, dtype, PARAM_SCALE)
    return params


def _stack_make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    kinds = STACKS[case["stack"]]
    params = _stack_params(kinds, rng, dtype)
    inputs = {f"x{c}": normal(rng, (case["n"], t, V), dtype) for c, t in enumerate(case["t"])}
    out = STACK_WIDTHS[len(kinds)]
    upstream = [normal(rng, (case["n"], t, out), dtype) for t in case["t"]]
    return Problem(case, dtype, inputs, params, extras={"upstream": upstream})


def _stack_scratch(problem: Problem) -> Results:
    case = problem.case
    kinds = STACKS[case["stack"]]
    layers = []
    for i, kind in enumerate(kinds):
        own = {k.split(".", 1)[1]: v for k, v in problem.params.items() if k.startswith(f"{i}.")}
        layers.append(build_scratch_layer(kind, H, STACK_WIDTHS[i + 1], case["mode"], own))
    results: Results = {}
    for call in range(len(case["t"])):
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

    case = problem.case
    kinds = STACKS[case["stack"]]
    converter = _stack_converter(kinds)
    layers = [
        build_torch_layer(kind, STACK_WIDTHS[i], H, STACK_WIDTHS[i + 1], case["mode"], problem.dtype)
        for i, kind in enumerate(kinds)
    ]
    model = ti.SequentialModel(*layers).to(torch_device())
    load_arrays(model, converter.to_torch(problem.params))
    named = dict(model.named_parameters())
    results: Results = {}
    for call in range(len(case["t"])):
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
    case = problem.case
    kinds = STACKS[case["stack"]]
    layers = []
    for i, kind in enumerate(kinds):
        own = {k.split(".", 1)[1]: v.astype(np.float64) for k, v in problem.params.items() if k.startswith(f"{i}.")}
        layers.append(build_scratch_layer(kind, H, STACK_WIDTHS[i + 1], "zeros", own))
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
    scratch_name="scratch RNNLayer/LSTMLayer/GRULayer stacked",
    torch_name="torch_impl.SequentialModel of the twins",
    cases=_stack_cases(),
    make_problem=_stack_make_problem,
    run_scratch=_stack_scratch,
    run_torch=_stack_torch,
    converter=_stack_converter(STACKS["GRU-after>GRU-before>RNN"]),
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
