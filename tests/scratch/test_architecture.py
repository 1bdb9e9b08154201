"""The architecture rules: scratch never imports torch, torch_impl never imports scratch, and neither
scratch nor data import torch even indirectly."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imported_top_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("scratch", {"torch", "torch_impl", "torchvision", "parity_tests"}),
        ("data", {"torch", "torch_impl", "torchvision", "scratch", "parity_tests"}),
        ("torch_impl", {"scratch", "parity_tests"}),
    ],
)
def test_package_never_imports(package, forbidden):
    offenders = {f: sorted(n & forbidden) for f, n in _imported_top_modules(package).items() if n & forbidden}
    assert not offenders, f"{package} imports {forbidden}: {offenders}"


def test_the_rule_checker_sees_imports():
    """The scan above must find imports at all (guards against a walker that silently sees nothing)."""
    assert any("numpy" in names for names in _imported_top_modules("scratch").values())


def test_importing_scratch_and_data_loads_no_torch():
    code = "import sys, scratch, data, parity_tests; sys.exit(1 if 'torch' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"torch got imported: {result.stderr}"
