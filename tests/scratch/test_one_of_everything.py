"""One of everything in ``parity_tests``: one tolerance table, one atomic writer, one Markdown escaper.

Source scans (``ast``, no import of the scanned modules, so no torch) keep a second copy from coming back, and
each scan is shown to catch the violation it is there for. Then the writer and the escaper themselves.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from parity_tests import _io, _markdown

PACKAGE = Path(__file__).resolve().parents[2] / "parity_tests"


def _library_modules() -> list[Path]:
    """Every module of ``parity_tests`` except its tests."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "tests" not in p.relative_to(PACKAGE).parts)


# ---------------------------------------------------------------------------------------------------------
# One tolerance table
# ---------------------------------------------------------------------------------------------------------

#: An upper-case name with a word TOL, RTOL, ATOL or TOLERANCE(S) (words separated by "_"): PARITY_RTOL, FD_TOL.
_TOLERANCE_NAME = re.compile(r"(?:^|_)[RA]?TOL(?:ERANCES?)?(?:_|$)")
#: Arguments and parameters that take a tolerance (numpy/torch/math spellings and the project's own).
_TOLERANCE_ARGUMENTS = {"rtol", "atol", "rel_tol", "abs_tol", "tol", "tolerance"}
#: A comparison with a float literal smaller than this (and not 0) is a pass/fail bound written inline.
_SMALL = 1e-3


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal (``-x`` included), else None (bool is not a number here)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _tolerance_names(node: ast.AST) -> list[str]:
    """Rule 1: the tolerance-named upper-case names ``node`` assigns."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        targets = [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper() and _TOLERANCE_NAME.search(t.id)]


def _inline_bounds(node: ast.AST) -> list[str]:
    """Rule 2: ``node`` compares (order) with a float literal of magnitude in (0, 1e-3)."""
    if not isinstance(node, ast.Compare) or not any(
        isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops
    ):
        return []
    values = [_number(side) for side in (node.left, *node.comparators)]
    return [ast.unparse(node)] if any(v is not None and 0 < abs(v) < _SMALL for v in values) else []


def _literal_tolerances(node: ast.AST) -> list[str]:
    """Rule 3: a literal other than 0 given to a tolerance argument, or as a tolerance parameter's default."""
    pairs: list[tuple[str | None, ast.expr]] = []
    if isinstance(node, ast.Call):
        pairs = [(k.arg, k.value) for k in node.keywords]
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = [
            (a.arg, d) for a, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
        ]
        pairs += [(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    return [
        f"{name}={ast.unparse(value)}"
        for name, value in pairs
        if name in _TOLERANCE_ARGUMENTS and _number(value) not in (None, 0.0)
    ]


def tolerance_violations(source: str, where: str = "<source>") -> list[str]:
    """Where ``source`` defines a tolerance outside the one table (the rule of ``parity_tests.tolerances``):

    1. an assignment (module, class or function level; ``=``, ``+=``, ``:=`` or annotated) to an upper-case
       name with a word TOL, RTOL, ATOL or TOLERANCE(S); importing such a name from the table (``import ... as``)
       is fine;
    2. a comparison (``<``, ``<=``, ``>``, ``>=``) with a float literal whose magnitude is in (0, 1e-3): a
       pass/fail bound written inline (larger literals are data bounds: probabilities, 0.5, 1e4...);
    3. a literal other than 0 given to an argument or a parameter default named rtol, atol, rel_tol, abs_tol,
       tol or tolerance (``np.allclose(a, b, atol=1e-9)``, ``def check(x, tol=1e-6)``).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        found += [f"{where}:{line}: tolerance constant {name}" for name in _tolerance_names(node)]
        found += [f"{where}:{line}: inline bound {text}" for text in _inline_bounds(node)]
        found += [f"{where}:{line}: literal tolerance {text}" for text in _literal_tolerances(node)]
    return found


def test_every_tolerance_of_the_library_lives_in_the_one_table() -> None:
    table = PACKAGE / "tolerances.py"
    found = [
        v
        for path in _library_modules()
        if path != table
        for v in tolerance_violations(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == [], "move these into parity_tests/tolerances.py (named, with where they were measured):\n" + (
        "\n".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        "PARITY_RTOL = 1e-8",
        "class A:\n    FD_TOL: float = 1e-6",
        "def f():\n    ATOL = 2.0",
        "LOOSE_TOLERANCES = {'a': 1e-3}",
        "ok = worst <= 1e-8",
        "ok = 1e-12 > abs(x - y)",
        "ok = err < -1e-9",
        "np.allclose(a, b, atol=1e-9)",
        "math.isclose(a, b, rel_tol=1e-12)",
        "def check(x, tol=1e-6): ...",
        "def check(x, *, rtol=1e-6): ...",
        "f = lambda x, atol=1e-7: x",
    ],
)
def test_the_tolerance_scan_catches_a_tolerance_outside_the_table(source: str) -> None:
    assert len(tolerance_violations(source)) == 1, source


@pytest.mark.parametrize(
    "source",
    [
        "from ..tolerances import RECIPE_RTOL as PARITY_RTOL",
        "ok = worst <= PARITY_RTOL",
        "ok = p < 0.5 and x > 1e-3 and y != 1e-9 and z == 1e-12",  # data bounds and (in)equality tests
        "math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)",
        "def step(lr=1e-3, eps=1e-8, weight_decay=1e-5): ...",  # hyper-parameters, not tolerances
        "TOTAL = 3; STOLEN = 1e-9; tol = compute()",  # other words; lower-case locals
        "one = max(elapsed, 1e-7)",
    ],
)
def test_the_tolerance_scan_leaves_other_numbers_alone(source: str) -> None:
    assert tolerance_violations(source) == [], source


# ---------------------------------------------------------------------------------------------------------
# One atomic writer, one Markdown escaper: no second copy in the library
# ---------------------------------------------------------------------------------------------------------

#: Calls that write a file under a temporary name or rename one: only ``_io`` may make them.
_WRITER_CALLS = {
    ("os", "replace"),
    ("os", "rename"),
    ("tempfile", "mkstemp"),
    ("tempfile", "NamedTemporaryFile"),
    ("tempfile", "TemporaryFile"),
    ("shutil", "move"),
}


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def writer_copies(source: str, where: str = "<source>") -> list[str]:
    """Calls of ``_WRITER_CALLS`` (as ``module.name(...)`` or after ``from module import name``)."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name: (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    found = []
    for call in _calls(tree):
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name = (func.value.id, func.attr)
        elif isinstance(func, ast.Name) and func.id in imported:
            name = imported[func.id]
        else:
            continue
        if name in _WRITER_CALLS:
            found.append(f"{where}:{call.lineno}: {'.'.join(name)}")
    return found


def escaper_copies(source: str, where: str = "<source>") -> list[str]:
    """``something.replace("|", ...)`` calls: escaping a table cell by hand instead of ``_markdown.cell``."""
    found = []
    for call in _calls(ast.parse(source)):
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "replace" and call.args:
            first = call.args[0]
            if isinstance(first, ast.Constant) and first.value == "|":
                found.append(f"{where}:{call.lineno}: {ast.unparse(call)}")
    return found


@pytest.mark.parametrize(
    ("scan", "home"), [(writer_copies, "_io.py"), (escaper_copies, "_markdown.py")], ids=["writer", "escaper"]
)
def test_the_library_has_one_atomic_writer_and_one_markdown_escaper(scan: object, home: str) -> None:
    assert callable(scan)
    found = [
        v
        for path in _library_modules()
        if path.name != home or path.parent != PACKAGE
        for v in scan(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == [], f"use parity_tests/{home} instead:\n" + "\n".join(found)


def test_the_copy_scans_catch_a_second_copy() -> None:
    assert len(writer_copies("import os\nos.replace(tmp, path)")) == 1
    assert len(writer_copies("from tempfile import mkstemp\nfd, name = mkstemp()")) == 1
    assert writer_copies("import tempfile\nwith tempfile.TemporaryDirectory() as d: ...") == []
    assert writer_copies("text.replace('a', 'b')") == []
    assert len(escaper_copies("cell = text.replace('|', '/')")) == 1
    assert escaper_copies("name = path.replace('/', '_')") == []


# ---------------------------------------------------------------------------------------------------------
# The writer: atomic, all or nothing, ordinary permissions (not mkstemp's 0600)
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process's umask after a test that changes it."""
    previous = os.umask(0o022)
    os.umask(previous)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_get_the_permissions_of_an_ordinary_file(tmp_path: Path, mask: int, expected: int) -> None:
    os.umask(mask)
    _io.write_atomic(tmp_path / "a.md", "text")
    _io.write_atomic(tmp_path / "b.png", b"\x89PNG")
    _io.write_atomic(tmp_path / "c.txt", lambda path: path.write_text("drawn"))
    with _io.staged(tmp_path) as stage:
        stage("d.json", "{}")
    for name in ("a.md", "b.png", "c.txt", "d.json"):
        assert _mode(tmp_path / name) == expected, name
    assert _io.default_mode() == expected


def test_an_explicit_mode_is_kept(tmp_path: Path) -> None:
    _io.write_atomic(tmp_path / "guide.md", "x", mode=0o600)
    assert _mode(tmp_path / "guide.md") == 0o600


def test_content_is_written_exactly(tmp_path: Path) -> None:
    _io.write_atomic(tmp_path / "t.md", "a\nb|ü\r\n")
    assert (tmp_path / "t.md").read_bytes() == "a\nb|ü\r\n".encode()  # UTF-8, newlines untranslated
    _io.write_atomic(tmp_path / "t.md", b"\x00\x01")
    assert (tmp_path / "t.md").read_bytes() == b"\x00\x01"


def test_a_failure_leaves_the_old_files_and_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("old a")

    def half_then_interrupt(path: Path) -> None:
        path.write_text("half of b")
        raise KeyboardInterrupt

    def write_two() -> None:
        with _io.staged(tmp_path) as stage:
            stage("a.md", "new a")
            stage("b.png", half_then_interrupt)

    with pytest.raises(KeyboardInterrupt):
        write_two()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    assert (tmp_path / "a.md").read_text() == "old a"

    with _io.staged(tmp_path) as stage:
        stage("a.md", "new a")
        stage("b.png", b"png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.png"]
    assert (tmp_path / "a.md").read_text() == "new a"


def test_bad_writes_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"str, bytes or a callable.*received int"):
        _io.write_atomic(tmp_path / "x", 3)  # type: ignore[arg-type]
    with _io.staged(tmp_path) as stage, pytest.raises(ValueError, match=r"plain file name.*received '\.\./x'"):
        stage("../x", "text")
    assert list(tmp_path.iterdir()) == []


def test_check_writable_creates_the_folder_and_refuses_a_file(tmp_path: Path) -> None:
    _io.check_writable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        _io.check_writable(blocker / "sub")


# ---------------------------------------------------------------------------------------------------------
# The escaper
# ---------------------------------------------------------------------------------------------------------


def test_a_cell_is_one_line_and_a_pipe_never_ends_it() -> None:
    assert _markdown.cell("a | b\n  c\td") == "a \\| b c d"
    assert _markdown.cell("see [E6](guide.md#e6) and `x*y`") == "see [E6](guide.md#e6) and `x*y`"  # markup kept
    assert _markdown.cell("p -= lr*g | x_1", literal=True) == r"p -= lr\*g \| x\_1"
    assert _markdown.cell("<b>[x]</b> \\", literal=True) == r"\<b\>\[x\]\</b\> \\"
    assert _markdown.cell("") == ""


def test_a_long_cell_is_cut_before_escaping() -> None:
    assert _markdown.cell("abcdefghij", limit=10) == "abcdefghij"
    assert _markdown.cell("abcdefghijk", limit=10) == "abcdefg..."
    assert _markdown.cell("||||||||||||", limit=6) == "\\|\\|\\|..."  # cut at 3 characters, then escaped
    with pytest.raises(ValueError, match="limit must be None or an integer > 3; received 2"):
        _markdown.cell("abc", limit=2)
    with pytest.raises(TypeError, match="text must be a str; received int"):
        _markdown.cell(3)  # type: ignore[arg-type]


def test_cell_lines_keeps_the_lines() -> None:
    assert _markdown.cell_lines("\nloss <1>\n\n  a | b  \n") == "loss &lt;1&gt;<br><br>a \\| b"


def test_code_and_table() -> None:
    assert _markdown.code("a|b") == r"`a\|b`"
    with pytest.raises(ValueError, match="backtick"):
        _markdown.code("a`b")
    assert _markdown.table(["a", "b"], [["1", "2"]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]
