"""The porting guide (docs/porting-guide.md) against the code (NumPy only: this file never imports torch).

- The checked-in guide equals what ``python -m parity_tests.guide`` generates (no drift), and the generator
  itself notices a stale block, rewrites only the generated blocks, and imports no torch.
- Every erratum in the guide's "Errata" section links to a test file that exists and names test functions
  defined in it (or is explicitly pending for a chapter that has not landed); every other test the guide
  names next to a link to a test file exists too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from parity_tests import guide

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "porting-guide.md"
IMPLEMENTED_CHAPTERS = 7  # every chapter has landed: no erratum may be pending

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+\.py)\)")
TEST_NAME = re.compile(r"`(test_\w+)`")
PENDING = re.compile(r"\*\*Test:\*\*\s*pending \(chapter (\d+)\)")


# ---------------------------------------------------------------------------------------------------------
# Parsing helpers (tested below on synthetic text, so that they can be seen to fail)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erratum:
    title: str
    body: str


def section(text: str, heading: str) -> str:
    """The body of the level-2 section ``## heading`` (up to the next level-2 heading)."""
    match = re.search(rf"^## {re.escape(heading)}[ \t]*$", text, flags=re.MULTILINE)
    assert match, f"the guide has no '## {heading}' section"
    rest = text[match.end() :]
    following = re.search(r"^## ", rest, flags=re.MULTILINE)
    return rest[: following.start()] if following else rest


def errata(text: str) -> list[Erratum]:
    """The ``### `` entries of the Errata section."""
    parts = re.split(r"^### ", section(text, "Errata"), flags=re.MULTILINE)
    return [Erratum(p.splitlines()[0].strip(), p) for p in parts[1:]]


def defined_tests(path: Path) -> set[str]:
    """Names of the test functions defined in ``path`` (module level or in classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    }


def unresolved_references(block: str, base: Path) -> list[str]:
    """Problems with the test references of ``block``: each line with a link to a ``.py`` file must point
    to an existing file, and each backticked ``test_*`` name on such a line (or on the line after a link
    that ends its line) must be defined in one of the files linked there."""
    problems: list[str] = []
    lines = block.splitlines()
    for i, line in enumerate(lines):
        links = LINK.findall(line)
        if not links:
            continue
        names = TEST_NAME.findall(line)
        if not names and i + 1 < len(lines) and not LINK.search(lines[i + 1]):
            names = TEST_NAME.findall(lines[i + 1])
        files = [(base / link).resolve() for link in links]
        missing = [str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f) for f in files if not f.is_file()]
        problems += [f"linked file does not exist: {m}" for m in missing]
        available: set[str] = set()
        for f in files:
            if f.is_file():
                available |= defined_tests(f)
        problems += [f"{name} is not defined in {links}" for name in names if name not in available]
    return problems


def erratum_problems(entry: Erratum, base: Path) -> list[str]:
    """Why ``entry`` does not link to an existing test (empty when it does, or is properly pending)."""
    pending = PENDING.search(entry.body)
    if pending:
        chapter = int(pending.group(1))
        if chapter <= IMPLEMENTED_CHAPTERS:
            return [f"{entry.title}: pending for chapter {chapter}, which has landed"]
        return []
    test_lines = [line for line in entry.body.splitlines() if line.lstrip("- ").startswith("**Test:**")]
    if not test_lines:
        return [f"{entry.title}: no '**Test:**' line"]
    joined = "\n".join(entry.body.splitlines()[entry.body.splitlines().index(test_lines[0]) :])
    if not LINK.search(joined) or not TEST_NAME.search(joined):
        return [f"{entry.title}: the Test line needs a link to a test file and a test name in backticks"]
    return [f"{entry.title}: {p}" for p in unresolved_references(joined, base)]


# ---------------------------------------------------------------------------------------------------------
# The guide is generated, not hand-maintained
# ---------------------------------------------------------------------------------------------------------


def test_guide_generated_blocks_are_up_to_date() -> None:
    current = GUIDE.read_text(encoding="utf-8")
    expected = guide.render(current)
    assert current == expected, "docs/porting-guide.md is stale; run `python -m parity_tests.guide`:\n" + guide.diff(
        current, expected, GUIDE
    )


def test_generated_blocks_cover_every_spec_and_converter_row() -> None:
    from parity_tests.specs import all_specs

    text = GUIDE.read_text(encoding="utf-8")
    components = text.split(guide.begin_marker("components"))[1].split(guide.end_marker("components"))[0]
    layouts = text.split(guide.begin_marker("layouts"))[1].split(guide.end_marker("layouts"))[0]
    for spec in all_specs():
        assert f"`{spec.scratch_name}`" in components, spec.name
        if spec.converter is not None:
            for row in spec.converter.maps:
                assert f"| `{row.book}` | `{row.book_shape}` | `{row.torch}` |" in layouts, (spec.name, row.book)


def test_check_mode_reports_a_stale_block_and_rewrite_fixes_only_the_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = GUIDE.read_text(encoding="utf-8")
    marker = guide.begin_marker("layouts")
    stale = original.replace(marker, marker + "\n| `W` | stale row |", 1)
    stale = stale.replace("## 1. Components at a glance", "## 1. Components at a glance (local edit)", 1)
    path = tmp_path / "porting-guide.md"
    path.write_text(stale, encoding="utf-8")

    assert guide.main(["--check", "--path", str(path)]) == 1
    out = capsys.readouterr().out
    assert "-| `W` | stale row |" in out
    assert path.read_text(encoding="utf-8") == stale  # --check never writes

    assert guide.main(["--path", str(path)]) == 0
    rewritten = path.read_text(encoding="utf-8")
    assert "stale row" not in rewritten
    assert "(local edit)" in rewritten  # hand-written prose is kept
    assert rewritten == guide.render(original).replace("at a glance", "at a glance (local edit)", 1)
    assert guide.main(["--check", "--path", str(path)]) == 0
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temporary file behind"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t.replace(guide.end_marker("tolerances"), ""), id="missing-end"),
        pytest.param(lambda t: t + "\n" + guide.begin_marker("components") + "\n", id="duplicate-begin"),
    ],
)
def test_bad_markers_are_reported(tmp_path: Path, mangle: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert callable(mangle)
    path = tmp_path / "porting-guide.md"
    path.write_text(mangle(GUIDE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(guide.GuideError):
        guide.render(path.read_text(encoding="utf-8"))
    assert guide.main(["--check", "--path", str(path)]) == 2
    assert "GENERATED" in capsys.readouterr().err


def test_the_generator_does_not_import_torch() -> None:
    code = (
        "import sys; from parity_tests import guide; "
        "[guide.render_block(n) for n in guide.BLOCK_NAMES]; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"torch got imported (or the generator failed): {result.stderr}"


def test_markdown_cells_are_escaped() -> None:
    assert guide.md_text("p -= lr*g | x_1") == r"p -= lr\*g \| x\_1"
    assert guide.md_code("a|b") == r"`a\|b`"
    with pytest.raises(ValueError, match="backtick"):
        guide.md_code("a`b")


# ---------------------------------------------------------------------------------------------------------
# Errata link to tests that exist
# ---------------------------------------------------------------------------------------------------------


def test_every_erratum_links_to_an_existing_test() -> None:
    entries = errata(GUIDE.read_text(encoding="utf-8"))
    assert len(entries) >= 17, [e.title for e in entries]
    problems = [p for entry in entries for p in erratum_problems(entry, GUIDE.parent)]
    assert not problems, "\n".join(problems)
    tested = [e for e in entries if not PENDING.search(e.body)]
    assert len(tested) >= 21  # E1-E21 all pinned


def test_every_test_the_guide_names_exists() -> None:
    problems = unresolved_references(GUIDE.read_text(encoding="utf-8"), GUIDE.parent)
    assert not problems, "\n".join(problems)


def test_every_backticked_test_name_is_defined_somewhere() -> None:
    defined: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= defined_tests(path)
    named = set(TEST_NAME.findall(GUIDE.read_text(encoding="utf-8")))
    assert named, "the guide names no tests"
    assert not named - defined, f"the guide names tests that do not exist: {sorted(named - defined)}"


def test_erratum_checker_catches_bad_entries(tmp_path: Path) -> None:
    tests = tmp_path / "test_x.py"
    tests.write_text("def test_real() -> None:\n    pass\n", encoding="utf-8")
    text = "\n".join(
        [
            "## Errata",
            "### A. linked and defined",
            "- **Test:** [test](test_x.py) `test_real`",
            "### B. names a test that does not exist",
            "- **Test:** [test](test_x.py) `test_imaginary`",
            "### C. links a file that does not exist",
            "- **Test:** [test](missing.py) `test_real`",
            "### D. no test at all",
            "- **Book:** something",
            "### E. pending for a chapter that has landed",
            "- **Test:** pending (chapter 3).",
            "### F. pending for a later chapter",
            "- **Test:** pending (chapter 8).",
            "## After",
        ]
    )
    results = {e.title[0]: erratum_problems(e, tmp_path) for e in errata(text)}
    assert results["A"] == []
    assert results["F"] == []
    assert all(results[k] for k in "BCDE"), results
