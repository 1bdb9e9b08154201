"""The third oracle: every scratch backward in every spec against central finite differences (float64).

A case a spec declares skipped for ``"fd"`` (a kink of the function on purpose, such as tied maxima) shows as a
skipped test with the spec's reason; that every differentiable spec has this oracle is checked in
``tests/parity/test_coverage.py``. NumPy only: this file runs in the sessions without torch too.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.harness import case_seed
from parity_tests.specs import all_specs
from parity_tests.tolerances import DEGENERATE_SCALE, FD_TOLERANCE


def _marks(spec, case):
    reason = spec.skip_reason("fd", case.name)
    return [pytest.mark.skip(reason=reason)] if reason else []


FD_CASES = [
    pytest.param(spec, case, id=f"{spec.name}[{case.name}]", marks=_marks(spec, case))
    for spec in all_specs()
    if spec.fd_check is not None
    for case in spec.cases
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
