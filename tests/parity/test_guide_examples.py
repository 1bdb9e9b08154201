"""Every Python code block of the porting guide runs, and the porter's examples stay short."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from parity_tests.port.plugin import Parity, ParityLog

from .guide_code import code_blocks, run_section

SECTIONS = sorted(code_blocks())
PORT = "6. Port and verify your own model"


def test_the_guide_has_the_porting_examples() -> None:
    assert PORT in SECTIONS
    assert len(code_blocks()[PORT]) >= 5


@pytest.mark.parametrize("title", SECTIONS)
def test_guide_section_code_runs(title: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The section's blocks run in order; a block that defines a pytest test (``def test_...(parity)``) is
    called with the plugin's fixture object."""
    namespace = run_section(title)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and inspect.isfunction(f)]
    for test in tests:
        log = ParityLog()
        kwargs = {"parity": Parity(0, log)} if "parity" in inspect.signature(test).parameters else {}
        test(**kwargs)
        assert log.checks >= 1
        assert log.failures == 0
    if title == PORT:
        assert "port check passed" in capsys.readouterr().out


def test_porting_examples_are_at_most_20_lines_of_user_code() -> None:
    """The acceptance criterion: an own MLP and an own LSTM ported and verified in at most 20 lines each."""
    ports = [b for b in code_blocks()[PORT] if b.startswith("# The port")]
    assert len(ports) == 2
    for block in ports:
        code = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert len(code) <= 20, block


def test_the_examples_are_float64_with_nonzero_biases() -> None:
    namespace = run_section(PORT)
    for name in ("NumpyMLP", "NumpyLSTM"):
        params = namespace[name]().named_params()
        assert all(v.dtype == np.float64 for v in params.values())
        biases = [v for k, v in params.items() if k.startswith("B")]
        assert biases
        assert all(np.all(b != 0) for b in biases)
