"""Guards on the tooling (noxfile.py, .ci/run, constraints.txt), read as text and AST: nox need not be installed."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
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
    source = NOXFILE.read_text(encoding="utf-8")
    assert "torchvision" not in source
    for node in ast.walk(_tree()):
        if _is_call_to(node, "session", "run") or _is_call_to(node, "session", "run_install"):
            assert isinstance(node, ast.Call)
            args = [ast.unparse(arg) for arg in node.args]
            assert "'pip'" not in args, f"pip outside install(): {ast.unparse(node)}"


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
    assert "python3 noxfile.py -s lint scratch versions" in text
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


@pytest.fixture
def versions_helpers() -> dict[str, Any]:
    """The versions session's result helpers, compiled from noxfile.py alone, without importing nox."""
    tree = _tree()
    names = {"junit_summary", "worst_float64", "_write_json"}
    wanted = [fn for name, fn in _functions(tree).items() if name in names]
    assert {fn.name for fn in wanted} == names
    namespace: dict[str, Any] = {"os": os, "Path": Path}
    exec(compile(ast.Module(body=list(wanted), type_ignores=[]), str(NOXFILE), "exec"), namespace)
    return namespace


def test_versions_session_counts_tests_from_junit_xml(versions_helpers: dict[str, Any], tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        '<testsuite name="pytest" errors="1" failures="2" skipped="3" tests="10">'
        '<testcase classname="a.test_x" name="test_ok"/>'
        '<testcase classname="a.test_x" name="test_bad[f32]"><failure message="boom"/></testcase>'
        '<testcase classname="a.test_y" name="test_worse"><failure message="boom"/></testcase>'
        '<testcase classname="a.test_y" name="test_setup"><error message="fixture"/></testcase>'
        '<testcase classname="a.test_y" name="test_skip"><skipped message="no"/></testcase>'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    counts, failed = versions_helpers["junit_summary"](junit)
    assert counts == {"passed": 4, "failed": 2, "errors": 1, "skipped": 3, "total": 10}
    assert failed == ["a.test_x::test_bad[f32]", "a.test_y::test_worse", "a.test_y::test_setup"]


def test_versions_session_takes_the_worst_float64_errors(versions_helpers: dict[str, Any], tmp_path: Path) -> None:
    cases = [
        {"dtype": "float64", "errors": {"output": 2e-16, "grad:W": 4e-16, "traj:W": 1e-15, "epoch:val_loss": 3e-15}},
        {"dtype": "float64", "errors": {"value": 5e-16, "grad:input": 1e-16, "run": float("nan")}},
        {"dtype": "float32", "errors": {"output": 1e-7, "grad:W": 2e-7, "traj:W": 3e-6}},
    ]
    parity = tmp_path / "parity.json"
    parity.write_text(json.dumps({"components": [{"spec": "X", "cases": cases}]}), encoding="utf-8")
    worst = versions_helpers["worst_float64"](parity)
    assert worst == {"forward": 5e-16, "gradient": 4e-16, "trajectory": 3e-15}
    assert versions_helpers["worst_float64"](tmp_path / "missing.json") is None


def test_versions_session_writes_its_result_whole(versions_helpers: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "report" / "versions" / "numpy-2.0.2.json"
    versions_helpers["_write_json"](target, {"combo": "numpy-2.0.2", "passed": True})
    assert json.loads(target.read_text(encoding="utf-8")) == {"combo": "numpy-2.0.2", "passed": True}
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left
