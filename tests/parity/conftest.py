"""pytest hooks for the parity tests: the bad-input fuzz suite's counts in the terminal summary."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    fuzz = sys.modules.get("tests.parity.test_fuzz_bad_input")
    if fuzz is not None and fuzz.COUNTS:
        terminalreporter.section("bad-input fuzz (hypothesis, derandomized)")
        for key in sorted(fuzz.COUNTS):
            terminalreporter.write_line(f"{key}: {fuzz.COUNTS[key]}")
