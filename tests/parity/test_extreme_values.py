"""The extreme-value parity sweep: every case of every spec with a ``fuzz`` record, its input scaled so that
its largest magnitude is 1e3, 1e8, sqrt(max) and max / 8 of the dtype (logits, pre-activations, recurrent
inputs up to the dtype's limits).

Wherever torch's result is finite, scratch's must be finite and equal within the tolerance table (see
``harness.run_extreme`` for the ill-conditioned gradients of saturated units); where one implementation refuses
an overflow, the other must refuse it too.
"""

from __future__ import annotations

import pytest

from parity_tests.harness import extreme_magnitudes, run_extreme
from parity_tests.specs import all_specs
from parity_tests.specs.base import Case, ComponentSpec

SWEEP = [
    pytest.param(spec, case, dtype, magnitude, id=f"{spec.name}[{case.name}]-{dtype}-{magnitude:.3g}")
    for spec in all_specs()
    if spec.fuzz is not None
    for case in spec.cases
    for dtype in spec.dtypes
    for magnitude in extreme_magnitudes(dtype)
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize(("spec", "case", "dtype", "magnitude"), SWEEP)
def test_extreme_inputs(spec: ComponentSpec, case: Case, dtype: str, magnitude: float) -> None:
    result = run_extreme(spec, case, dtype, magnitude)
    if result.failure:
        pytest.fail(f"{spec.name}[{case.name}] {dtype} at {magnitude:.3g}: {result.failure}", pytrace=False)
    bad = [c.describe() for c in result.comparisons if not c.passed]
    assert not bad, f"{spec.name}[{case.name}] {dtype} at {magnitude:.3g}:\n  " + "\n  ".join(bad)


def test_the_sweep_reaches_the_limits() -> None:
    # max / 8 is within a factor 8 of the largest finite value: the sweep really goes to the dtype's limit
    assert extreme_magnitudes("float32")[-1] > 4e37
    assert extreme_magnitudes("float64")[-1] > 2e307
    assert len(SWEEP) > 1000
