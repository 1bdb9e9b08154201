"""The suite must catch bugs: each deliberately broken scratch variant makes its spec's parity check fail,
and the unbroken component passes the same check."""

from __future__ import annotations

import pytest

from parity_tests.harness import run_case
from parity_tests.mutants import MUTANTS, detect
from parity_tests.specs import get_spec


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant):
    detection = detect(mutant)
    assert detection.caught, f"mutant {mutant.name!r} ({mutant.description}) was not caught by {mutant.spec}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_unmutated_spec_passes(mutant):
    spec = get_spec(mutant.spec)
    for case in spec.cases:
        result = run_case(spec, case, "float64")
        assert result.passed, result.failure_message()


def test_mutants_are_restored():
    import scratch

    before = scratch.ReLU.__dict__["_input_grad"]
    detect(MUTANTS[0])
    assert scratch.ReLU.__dict__["_input_grad"] is before
