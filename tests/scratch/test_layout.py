"""The README's layout drawing matches the tree, and the project's habits are in place (py.typed, pre-commit,
CHANGELOG with its version policy, CONTRIBUTING with the three places a component touches)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scratch", "torch_impl", "parity_tests", "data")
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # read as text: tomllib is Python 3.11+


def drawing() -> list[tuple[int, str]]:
    """(indent, path) of every entry in the README's "What is where" drawing."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## What is where") :]
    block = section[section.index("```text\n") + len("```text\n") : section.index("\n```", section.index("```text"))]
    entries = []
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if match and ("/" in match.group(2) or match.group(2).endswith(".py")):
            entries.append((len(match.group(1)), match.group(2)))
    return entries


def drawn_paths() -> set[Path]:
    """Every drawn entry as a path (an indented entry is inside the last top-level folder above it)."""
    paths, parent = set(), Path()
    for indent, name in drawing():
        if indent == 0:
            parent = Path(name.rstrip("/"))
            paths.add(parent)
        elif name != "...":
            paths.add(parent / name.rstrip("/"))
    return paths


def test_every_drawn_path_exists() -> None:
    missing = sorted(str(p) for p in drawn_paths() if not (ROOT / p).exists())
    assert not missing, f"the README draws paths that do not exist: {missing}"


def test_every_package_folder_and_subpackage_is_drawn() -> None:
    drawn = drawn_paths()
    wanted = {Path(p) for p in (*PACKAGES, "tests", "docs")}
    wanted |= {sub.relative_to(ROOT) for sub in (ROOT / "parity_tests").iterdir() if (sub / "__init__.py").is_file()}
    wanted |= {p.relative_to(ROOT) for pkg in ("scratch", "torch_impl") for p in (ROOT / pkg).glob("_fast_*.py")}
    assert not wanted - drawn, f"not in the README's drawing: {sorted(map(str, wanted - drawn))}"


def test_the_drawing_reader_sees_nested_entries() -> None:
    assert Path("parity_tests/port") in drawn_paths()
    assert Path("scratch/book") in drawn_paths()


def test_typed_packages_ship_py_typed() -> None:
    data = PYPROJECT[PYPROJECT.index("[tool.setuptools.package-data]") :].split("\n[")[0]
    assert re.search(r'^"\*" = \["py\.typed"\]$', data, re.M), data
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), package


def test_habits_files() -> None:
    pre_commit = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    for hook in ("ruff check", "ruff format", "mypy", "parity_tests.guide --check"):
        assert hook in pre_commit, hook
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Version policy" in changelog
    match = re.search(r'^version = "([^"]+)"$', PYPROJECT, re.M)
    assert match is not None
    version = match.group(1)
    assert f"## {version}" in changelog, f"CHANGELOG.md has no section for version {version}"
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "## Adding a component: three places" in contributing
    for place in ("scratch/<module>.py", "torch_impl/<module>.py", "parity_tests/specs/<module>.py"):
        assert place in contributing, place
