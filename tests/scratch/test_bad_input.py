"""Bad input on the scratch side: every spec's error cases raise the documented exception and message.

NumPy only (the torch side is in tests/parity/test_bad_input_torch.py).
"""

from __future__ import annotations

import pytest

from parity_tests.specs import all_specs

ERROR_CASES = [pytest.param(spec, err, id=f"{spec.name}[{err.name}]") for spec in all_specs() for err in spec.errors]


@pytest.mark.parametrize(("spec", "err"), ERROR_CASES)
def test_scratch_rejects_bad_input(spec, err):
    with pytest.raises(err.exc, match=err.match):
        err.scratch()
