"""The third oracle: every scratch backward in every spec against central finite differences (float64).

NumPy only: this file runs in the sessions without torch too.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.harness import case_seed
from parity_tests.specs import all_specs
from parity_tests.tolerances import DEGENERATE_SCALE, FD_TOLERANCE

FD_CASES = [
    pytest.param(spec, case, id=f"{spec.name}[{case.name}]")
    for spec in all_specs()
    if spec.fd_check is not None
    for case in spec.cases
    # A case marked fd=False sits on a kink on purpose (max-pool ties): no derivative exists there for
    # central differences to estimate; its torch parity is what it tests.
    if case.get("fd", True)
]


@pytest.mark.parametrize(("spec", "case"), FD_CASES)
def test_scratch_backward_matches_central_differences(spec, case):
    problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype("float64"))
    result = spec.fd_check(problem)
    errors = result.max_rel_error()
    for name, numeric in result.numeric.items():
        assert np.max(np.abs(numeric)) > DEGENERATE_SCALE, f"{name}: numerical gradient is near zero"
    bad = {k: v for k, v in errors.items() if not v <= FD_TOLERANCE}
    assert not bad, f"{spec.name}[{case.name}]: backward vs central differences {bad} > {FD_TOLERANCE}"


def test_every_differentiable_spec_has_an_fd_oracle():
    missing = [s.name for s in all_specs() if s.fd_check is None and s.chapter in (3,) and s.converter is not None]
    assert not missing, f"specs without a finite-difference oracle: {missing}"
