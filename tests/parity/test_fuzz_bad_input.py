"""Property-based bad input, generated from the component specs, against both implementations.

For every spec with a ``fuzz`` record, hypothesis takes the spec's first case (a valid float64 problem) and
changes ONE thing:

- an input becomes another dtype (integers, bool, float16, complex), a list, ``None`` or a 0-d array, gets a
  NaN/inf at a drawn position, or an empty axis: both implementations must raise;
- an input gains or loses an axis, changes one axis length, or becomes float32: both must raise, or both must
  succeed with the same finite result (tolerance table);
- a parameter gets a NaN at a drawn position: both must raise;
- the upstream gradient of scratch's backward changes shape, dtype or kind: scratch must raise (torch's
  backward is autograd's ``Tensor.backward``, not a torch_impl API);
- a constructor argument leaves its valid range (zero or negative sizes, probabilities outside (0, 1], NaN,
  inf, bools, strings, None): both must raise.

"Raise" means a ``ValueError`` or ``TypeError`` exactly (not IndexError, AttributeError, AssertionError, or
NumPy's AxisError), raised from the project's own code, whose message says what was expected ("must ...")
and what was received. Generation is derandomized and uses no example database, so CI runs the same examples
every time; the counts are printed in pytest's terminal summary.
"""

from __future__ import annotations

import dataclasses
import math
import re
import traceback
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parity_tests.harness import case_seed, configure_torch_determinism, to_numpy
from parity_tests.specs import all_specs
from parity_tests.specs.base import ComponentSpec, Problem
from parity_tests.tolerances import TOLERANCES

REPO = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = tuple(str(REPO / name) + "/" for name in ("scratch", "torch_impl", "data"))
FUZZED = [spec for spec in all_specs() if spec.fuzz is not None]
FUZZ_SPECS = [pytest.param(spec, id=spec.name) for spec in FUZZED]
ARGUMENT_SPECS = [pytest.param(spec, id=spec.name) for spec in FUZZED if spec.fuzz and spec.fuzz.arguments]
SETTINGS = settings(
    max_examples=25,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,  # and no example database is read or written
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: What the suite tried and saw, per implementation: printed by conftest.py's terminal summary.
COUNTS: Counter[str] = Counter()

BAD_DTYPES = ("int64", "int32", "uint8", "bool", "float16", "complex128")


@cache
def _valid_problem(name: str) -> Problem:
    spec = next(s for s in all_specs() if s.name == name)
    case = spec.cases[0]
    return spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype("float64"))


def valid_problem(spec: ComponentSpec) -> Problem:
    """The spec's first case as a valid float64 problem (drawn once; mutations copy it)."""
    return _valid_problem(spec.name)


def with_input(problem: Problem, key: str, value: Any) -> Problem:
    return dataclasses.replace(problem, inputs={**problem.inputs, key: value})


def with_param(problem: Problem, key: str, value: np.ndarray) -> Problem:
    return dataclasses.replace(problem, params={**problem.params, key: value})


# ---------------------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run(call: Callable[[], Any]) -> Outcome:
    try:
        with np.errstate(all="ignore"):
            return Outcome(value=call())
    except Exception as exc:  # the properties below judge every exception
        return Outcome(error=exc)


def raised_from_project(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PROJECT_PACKAGES)


def assert_clean_error(side: str, outcome: Outcome, what: str) -> None:
    """``outcome`` is a ValueError/TypeError from project code naming what was expected and what was received."""
    COUNTS[f"{side}: tried"] += 1
    exc = outcome.error
    assert exc is not None, f"{side} accepted {what} and returned {outcome.value!r:.200}"
    assert type(exc) in (ValueError, TypeError), f"{side} raised {type(exc).__name__} for {what}: {exc}"
    message = str(exc)
    assert re.search(r"\bmust\b", message), f"{side}'s message for {what} does not say what was expected: {message}"
    assert "received" in message, f"{side}'s message for {what} does not say what was received: {message}"
    assert raised_from_project(exc), f"{side}'s error for {what} came from outside the project: {message}"
    COUNTS[f"{side}: clean errors"] += 1


def as_array(value: Any) -> np.ndarray:
    return to_numpy(value) if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float64)


def assert_consistent(scratch: Outcome, torch_: Outcome, what: str, dtype: str) -> None:
    """Both raise cleanly, or both succeed with the same finite result."""
    if scratch.error is not None or torch_.error is not None:
        assert_clean_error("scratch", scratch, what)
        assert_clean_error("torch", torch_, what)
        return
    COUNTS["scratch: tried"] += 1
    COUNTS["torch: tried"] += 1
    got, want = as_array(scratch.value), as_array(torch_.value)
    assert got.shape == want.shape, f"{what}: scratch returned shape {got.shape}, torch {want.shape}"
    assert np.isfinite(got).all(), f"{what}: scratch returned non-finite values silently"
    assert np.isfinite(want).all(), f"{what}: torch returned non-finite values silently"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    error = float(np.max(np.abs(got - want))) / scale if scale > 0 else float(np.max(np.abs(got), initial=0.0))
    assert error <= TOLERANCES[dtype]["forward"], f"{what}: both accepted it but disagree by {error:.2e}"
    COUNTS["both accepted, same result"] += 1


# ---------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------


@st.composite
def position(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(draw(st.integers(0, n - 1)) for n in shape)


@st.composite
def must_fail(draw: st.DrawFn, x: np.ndarray) -> tuple[str, Any]:
    """A replacement for ``x`` that no component accepts."""
    kind = draw(st.sampled_from(["dtype", "nan", "inf", "empty", "list", "none", "scalar"]))
    if kind == "dtype":
        dtype = draw(st.sampled_from(BAD_DTYPES))
        return f"dtype {dtype}", x.astype(dtype)
    if kind in ("nan", "inf"):
        at = draw(position(x.shape))
        value = float("nan") if kind == "nan" else draw(st.sampled_from([math.inf, -math.inf]))
        out = x.copy()
        out[at] = value
        return f"{value} at {at}", out
    if kind == "empty":
        axis = draw(st.integers(0, x.ndim - 1))
        shape = list(x.shape)
        shape[axis] = 0
        return f"empty axis {axis}", np.zeros(shape, x.dtype)
    if kind == "list":
        return "a nested list", x.tolist()
    if kind == "none":
        return "None", None
    return "a 0-d array", np.array(1.5)


@st.composite
def may_fail(draw: st.DrawFn, x: np.ndarray) -> tuple[str, Any]:
    """A replacement for ``x`` that some components accept (then both must agree)."""
    kind = draw(st.sampled_from(["add-axis", "drop-axis", "resize", "float32"]))
    if kind == "add-axis":
        size = draw(st.integers(1, 3))
        return f"an extra trailing axis of {size}", np.repeat(x[..., None], size, axis=-1)
    if kind == "drop-axis" and x.ndim > 1:
        return "the last axis dropped", np.ascontiguousarray(x[..., 0])
    if kind == "float32":
        return "float32 among float64", x.astype(np.float32)
    axis = draw(st.integers(0, x.ndim - 1))
    length = draw(st.integers(1, x.shape[axis] + 3).filter(lambda n: n != x.shape[axis]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = list(x.shape)
    shape[axis] = length
    return f"axis {axis} of length {length}", rng.standard_normal(shape).astype(x.dtype)


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------


def _run_both(spec: ComponentSpec, problem: Problem) -> tuple[Outcome, Outcome]:
    fuzz = spec.fuzz
    assert fuzz is not None
    configure_torch_determinism()
    return run(lambda: fuzz.scratch(problem)), run(lambda: fuzz.torch(problem))


def _run_both_on_a_mutated_input(
    spec: ComponentSpec, data: st.DataObject, mutations: Callable[[np.ndarray], st.SearchStrategy[tuple[str, Any]]]
) -> tuple[str, str, Outcome, Outcome]:
    """Draw one of ``spec``'s fuzzed inputs and a mutation of it from ``mutations``; run both twins on the valid
    problem with that input replaced. Returns (input name, what the mutation did, scratch's and torch's outcome)."""
    assert spec.fuzz is not None
    problem = valid_problem(spec)
    key = data.draw(st.sampled_from(spec.fuzz.inputs), label="input")
    what, value = data.draw(mutations(problem.inputs[key]), label="mutation")
    return key, what, *_run_both(spec, with_input(problem, key, value))


@pytest.mark.parametrize("spec", FUZZ_SPECS)
@SETTINGS
@given(data=st.data())
def test_inputs_no_component_accepts(spec: ComponentSpec, data: st.DataObject) -> None:
    key, what, scratch_out, torch_out = _run_both_on_a_mutated_input(spec, data, must_fail)
    assert_clean_error("scratch", scratch_out, f"{key} = {what}")
    assert_clean_error("torch", torch_out, f"{key} = {what}")


@pytest.mark.parametrize("spec", FUZZ_SPECS)
@SETTINGS
@given(data=st.data())
def test_inputs_some_components_accept(spec: ComponentSpec, data: st.DataObject) -> None:
    key, what, scratch_out, torch_out = _run_both_on_a_mutated_input(spec, data, may_fail)
    dtype = "float32" if what.startswith("float32") else "float64"
    assert_consistent(scratch_out, torch_out, f"{key} = {what}", dtype)


PARAM_SPECS = [pytest.param(spec, id=spec.name) for spec in FUZZED if valid_problem(spec).params]


@pytest.mark.parametrize("spec", PARAM_SPECS)
@SETTINGS
@given(data=st.data())
def test_a_nan_parameter_is_refused(spec: ComponentSpec, data: st.DataObject) -> None:
    problem = valid_problem(spec)
    key = data.draw(st.sampled_from(sorted(problem.params)), label="parameter")
    bad = problem.params[key].copy()
    bad[data.draw(position(bad.shape), label="at")] = np.nan
    scratch_out, torch_out = _run_both(spec, with_param(problem, key, bad))
    assert_clean_error("scratch", scratch_out, f"parameter {key} with a NaN")
    assert_clean_error("torch", torch_out, f"parameter {key} with a NaN")


BACKWARD_SPECS = [pytest.param(spec, id=spec.name) for spec in FUZZED if spec.fuzz and spec.fuzz.backward_scratch]


@pytest.mark.parametrize("spec", BACKWARD_SPECS)
@SETTINGS
@given(data=st.data())
def test_scratch_backward_refuses_a_bad_upstream_gradient(spec: ComponentSpec, data: st.DataObject) -> None:
    assert spec.fuzz is not None
    assert spec.fuzz.backward_scratch is not None
    backward = spec.fuzz.backward_scratch
    problem = valid_problem(spec)
    output = np.asarray(spec.fuzz.scratch(problem))
    upstream = np.random.default_rng(5).standard_normal(output.shape)
    kind = data.draw(st.sampled_from(["must", "may"]), label="kind")
    what, value = data.draw(must_fail(upstream) if kind == "must" else may_fail(upstream), label="mutation")
    if what.startswith(("nan", "inf", "-inf")):
        return  # a non-finite upstream gradient is propagated, not refused (like torch's autograd)
    assert_clean_error("scratch", run(lambda: backward(problem, value)), f"upstream gradient = {what}")


def _bad_values(kind: str, choices: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    common = st.sampled_from([None, "1", True, [1], math.nan, math.inf])
    if kind == "positive_int":
        return st.one_of(common, st.integers(-5, 0), st.sampled_from([2.5, 1.0, -1.0]))
    if kind == "keep_prob":
        return st.one_of(
            common, st.sampled_from([0.0, -0.1, 1.5, 2.0]), st.floats(1.0, 10.0, exclude_min=True), st.floats(-5, 0)
        )
    if kind == "positive_real":
        return st.one_of(common, st.floats(-10, 0), st.sampled_from([0.0, -math.inf]))
    if kind == "choice":
        return st.one_of(st.sampled_from([None, 1, "", "nope"]).filter(lambda v: v not in choices), st.text(max_size=5))
    raise ValueError(f"unknown argument kind {kind!r}")


@pytest.mark.parametrize("spec", ARGUMENT_SPECS)
@SETTINGS
@given(data=st.data())
def test_constructor_arguments_out_of_range(spec: ComponentSpec, data: st.DataObject) -> None:
    assert spec.fuzz is not None
    argument = data.draw(st.sampled_from(spec.fuzz.arguments), label="argument")
    value = data.draw(_bad_values(argument.kind, argument.choices), label="value")
    if any(value is valid or (type(value) is type(valid) and value == valid) for valid in argument.choices):
        return  # drawn a value the argument accepts (a choice, or an extra valid value such as None)
    what = f"{argument.name}={value!r}"
    assert_clean_error("scratch", run(lambda: argument.scratch(value)), what)
    assert_clean_error("torch", run(lambda: argument.torch(value)), what)
