"""Bad input on the torch side: the same error cases as scratch, the same exception type and message."""

from __future__ import annotations

import pytest

from parity_tests.specs import all_specs

ERROR_CASES = [pytest.param(spec, err, id=f"{spec.name}[{err.name}]") for spec in all_specs() for err in spec.errors]


@pytest.mark.parametrize(("spec", "err"), ERROR_CASES)
def test_torch_rejects_bad_input(spec, err):
    with pytest.raises(err.exc, match=err.match):
        err.torch()
