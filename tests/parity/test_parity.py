"""Generated parity tests: every case of every spec, in float64 and float32.

Each compares the forward outputs, the input gradient and every parameter gradient (or every step of a
trajectory) of scratch and torch_impl under the tolerance table; inputs, parameters (biases included)
and upstream gradients are random and non-zero, and a near-zero reference fails the test. A dtype a spec
declares skipped (``Skip``) shows as a skipped test with the spec's reason.
"""

from __future__ import annotations

import pytest

from parity_tests.harness import DTYPES, run_case
from parity_tests.specs import all_specs


def _marks(spec, dtype):
    marks = [pytest.mark.slow] if spec.slow else []
    reason = spec.skip_reason(dtype)
    return [*marks, pytest.mark.skip(reason=reason)] if reason else marks


CASES = [
    pytest.param(spec, case, dtype, id=f"{spec.name}[{case.name}]-{dtype}", marks=_marks(spec, dtype))
    for spec in all_specs()
    for case in spec.cases
    for dtype in DTYPES
]


@pytest.mark.parametrize(("spec", "case", "dtype"), CASES)
def test_parity(spec, case, dtype):
    result = run_case(spec, case, dtype)
    if not result.passed:
        pytest.fail(result.failure_message(), pytrace=False)
