"""The ``dlfs_parity`` pytest plugin (registered through the ``pytest11`` entry point, so installing
``dlfs-parity`` enables it): a ``parity`` fixture for porters' own tests.

    def test_my_port(parity):
        parity.assert_parity(my_numpy_model, my_torch_model, x, mapping=my_map, steps=3, optimizers=(step, opt))
        parity.compare(my_output, torch_output, dtype="float64", category="forward", name="logits")

A failure raises ``ParityError`` (an ``AssertionError``) whose message names the first diverging layer,
parameter gradient and optimizer step. ``--parity-seed N`` changes the seed of the random upstream gradients
(default 0, so a run is repeatable). The terminal summary counts the checks and shows the worst error per
category. This module imports torch only when a check runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from .check import ParityError, PortReport, assert_parity
from .compare import CATEGORY_NAMES, Comparison, compare

_STASH = pytest.StashKey["ParityLog"]()


@dataclass
class ParityLog:
    """What the session's parity checks measured (for the terminal summary)."""

    checks: int = 0
    failures: int = 0
    worst: dict[tuple[str, str], float] = field(default_factory=dict)  # (dtype, category) -> worst error

    def record(self, dtype: str, comparisons: list[Comparison], passed: bool) -> None:
        self.checks += 1
        self.failures += 0 if passed else 1
        for c in comparisons:
            if np.isfinite(c.error):
                key = (dtype, c.category)
                self.worst[key] = max(self.worst.get(key, 0.0), c.error)


class Parity:
    """The ``parity`` fixture's object: ``assert_parity`` and ``compare`` that fail the test with a localized
    message."""

    def __init__(self, seed: int, log: ParityLog) -> None:
        self.seed = seed
        self._log = log

    def assert_parity(self, numpy_model: Any, torch_model: Any, inputs: np.ndarray, **kwargs: Any) -> PortReport:
        """``parity_tests.port.assert_parity`` with the session's seed (unless ``seed=`` is given)."""
        kwargs.setdefault("seed", self.seed)
        try:
            report = assert_parity(numpy_model, torch_model, inputs, **kwargs)
        except ParityError:
            self._log.record("", [], False)
            raise
        sets = [s for s in (report.forward, report.input_grad, report.grads, *report.steps) if s is not None]
        self._log.record(report.dtype, [c for s in sets for c in s.comparisons], True)
        return report

    def compare(self, got: Any, want: Any, *, dtype: str, category: str, name: str = "value") -> Comparison:
        """``parity_tests.port.compare``; raises ``ParityError`` naming the worst index if it fails."""
        result = compare(got, want, dtype=dtype, category=category, name=name)
        self._log.record(dtype, [result], result.passed)
        if not result.passed:
            raise ParityError(f"parity failed ({dtype}, {category}): {result.describe()}")
        return result


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlfs-parity", "NumPy <-> PyTorch parity checks (dlfs-parity)")
    group.addoption(
        "--parity-seed",
        type=int,
        default=0,
        help="seed of the random upstream gradients of the parity fixture's checks (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STASH] = ParityLog()


@pytest.fixture
def parity(request: pytest.FixtureRequest) -> Parity:
    """Port checks that fail the test with the first diverging layer, parameter and step named."""
    return Parity(int(request.config.getoption("--parity-seed")), request.config.stash[_STASH])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    log = config.stash.get(_STASH, None)
    if log is None or not log.checks:
        return
    worst = ", ".join(
        f"{dtype} {cat} {err:.1e}"
        for (dtype, cat), err in sorted(log.worst.items(), key=lambda kv: (kv[0][0], CATEGORY_NAMES.index(kv[0][1])))
    )
    terminalreporter.write_sep("-", "dlfs-parity")
    terminalreporter.write_line(
        f"{log.checks} parity checks, {log.failures} failed; worst errors: {worst or 'none recorded'}"
    )
