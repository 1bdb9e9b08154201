"""Guards on the tooling (noxfile.py, .ci/run, constraints.txt), read as text and AST: nox need not be installed."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOXFILE = REPO / "noxfile.py"
CI_RUN = REPO / ".ci" / "run"

pytestmark = pytest.mark.skipif(not NOXFILE.is_file(), reason="not run from a source checkout")


def _tree() -> ast.Module:
    return ast.parse(NOXFILE.read_text(encoding="utf-8"))


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _is_call_to(node: ast.AST, obj: str, attr: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == attr
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == obj
    )


def test_every_install_goes_through_the_constrained_helper() -> None:
    """Only ``install()`` calls ``session.install``, and it always passes ``-c constraints.txt`` first."""
    tree = _tree()
    helper = _functions(tree)["install"]
    calls = [node for node in ast.walk(tree) if _is_call_to(node, "session", "install")]
    inside = [node for node in ast.walk(helper) if _is_call_to(node, "session", "install")]
    assert calls, "noxfile.py installs nothing?"
    assert calls == inside, "session.install called outside install(): it could pull a CUDA torch"
    (call,) = inside
    assert isinstance(call, ast.Call)
    first_two = [ast.unparse(arg) for arg in call.args[:2]]
    assert first_two == ["'-c'", "CONSTRAINTS"]
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert constants["CONSTRAINTS"] == "constraints.txt"
    assert "subprocess" not in ast.unparse(helper)


def test_no_session_runs_pip_or_installs_torchvision() -> None:
    """Every session installs through install() with constraints.txt, and none installs torchvision (only the
    versions matrix does, in its own venvs, with its own pins: parity_tests/version_matrix.py)."""
    for node in ast.walk(_tree()):
        if _is_call_to(node, "session", "run") or _is_call_to(node, "session", "run_install"):
            assert isinstance(node, ast.Call)
            args = [ast.unparse(arg) for arg in node.args]
            assert "'pip'" not in args, f"pip outside install(): {ast.unparse(node)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "install":
            assert "torchvision" not in ast.unparse(node), ast.unparse(node)


def test_missing_interpreters_are_errors_and_never_downloaded() -> None:
    assigned = {
        ast.unparse(target): ast.unparse(node.value)
        for node in _tree().body
        if isinstance(node, ast.Assign)
        for target in node.targets
    }
    assert assigned["nox.options.error_on_missing_interpreters"] == "True"
    assert assigned["nox.options.download_python"] == "'never'"
    assert "tests" in assigned["nox.options.sessions"]
    # nox reads needs_version from the AST, so it must be a literal; keep it equal to the bootstrap's minimum.
    assert assigned["nox.needs_version"] == repr(">=" + ast.literal_eval(assigned["NOX_MIN"]))


def test_torch_is_pinned_to_the_local_cpu_build() -> None:
    lines = (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert "torch==2.13.0" in pins


def test_ci_run_is_strict_and_runs_the_readme_command() -> None:
    text = CI_RUN.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert re.search(r"^set -euo pipefail$", text, flags=re.MULTILINE)
    assert "python3 noxfile.py -s tests" in text
    assert "python3 noxfile.py -s lint scratch\n" in text
    assert "python3 noxfile.py -s versions -- --only" in text  # one combination; the whole matrix is opt-in
    assert "|| true" not in text


@pytest.fixture
def pyenv_helpers() -> dict[str, Any]:
    """``_pyenv_roots`` and ``find_pyenv_bins`` compiled from noxfile.py alone, without importing nox."""
    tree = _tree()
    wanted = [fn for name, fn in _functions(tree).items() if name in {"_pyenv_roots", "find_pyenv_bins"}]
    module = ast.Module(body=list(wanted), type_ignores=[])
    namespace: dict[str, Any] = {
        "os": os,
        "re": re,
        "shutil": shutil,
        "subprocess": subprocess,
        "Path": Path,
        "Iterator": Iterator,
        "Sequence": Sequence,
    }
    exec(compile(module, str(NOXFILE), "exec"), namespace)
    return namespace


def _fake_build(root: Path, name: str, xy: str) -> Path:
    bin_dir = root / "versions" / name / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / f"python{xy}"
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(0o755)
    return bin_dir


@pytest.mark.skipif(os.name == "nt", reason="pyenv layout is POSIX")
def test_find_pyenv_bins_picks_the_newest_final_build(
    pyenv_helpers: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pyenv"
    _fake_build(root, "3.10.2", "3.10")
    newest = _fake_build(root, "3.10.13", "3.10")
    _fake_build(root, "3.10.14t", "3.10")  # free-threaded: not a match
    _fake_build(root, "3.12-dev", "3.12")  # not a release
    (root / "versions" / "3.13.0" / "bin").mkdir(parents=True)  # no interpreter inside
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", str(empty))  # no `pyenv` executable to ask
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    found = pyenv_helpers["find_pyenv_bins"](["3.10", "3.12", "3.13"])

    assert found == {"3.10": newest}


def test_the_versions_matrix_imports_with_the_standard_library_alone() -> None:
    """The nox process imports parity_tests.version_matrix from the working tree without NumPy or the project
    installed: in an isolated interpreter that sees only the repository, it imports and pulls in nothing else."""
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import parity_tests.version_matrix as vm\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'torch', 'scratch', 'data'})\n"
        "print(len(vm.COMBOS), mods)"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["9", "[]"]


def test_the_versions_session_runs_the_matrix_module() -> None:
    (fn,) = [node for node in _tree().body if isinstance(node, ast.FunctionDef) and node.name == "versions"]
    decorators = [ast.unparse(d) for d in fn.decorator_list]
    assert decorators == ["nox.session(python=False)"]  # the matrix makes its own venvs, one per combination
    assert "matrix.main(" in ast.unparse(fn)
