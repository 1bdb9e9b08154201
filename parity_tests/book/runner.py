"""Run the book's own notebooks on this project, cell by cell, and compare every printed output with the book's.

The book's repository is read from ``DLFS_BOOK`` (default ``../shared/book`` beside the checkout); nothing of
it is copied into the project. Each notebook's code cells run in order in one namespace, Jupyter-style: a
cell's stdout is captured, and the value of its last expression is displayed with ``repr`` unless the cell ends
in ``;`` (IPython's rule, read from the tokens, so a trailing comment does not count). The manifest
``notebooks.json`` (see ``manifest.py``) substitutes exactly three kinds of cell and nothing else:

- a definition cell (classes, functions, ``from lincoln ...``) becomes import lines from a book module;
- a data cell (the book downloads MNIST or calls scikit-learn's removed ``load_boston``) becomes one loader
  statement returning the book's shapes and dtypes;
- a display-only cell (a plot, an IPython magic) is skipped with its reason; ``"drop": "magics"`` drops only
  the magic lines of a cell and runs the rest unchanged.

Each printed output is compared with the saved one at the book's printed precision: the text must be equal
and every number equal as printed, except numbers printed with 15 or more significant digits (full float
precision), which may differ in their last digits by summation order and must agree to 1e-12 relative. A
difference the manifest explains with an erratum is "explained"; any other difference, or a cell that raises,
fails the run. ``mode="book"`` runs the book's own definition cells instead (only data and display
substitutions): the "book's code here" column.

Display settings are the runner's, restored afterwards: matplotlib's Agg backend, and on NumPy >= 2 the 1.25
scalar repr (``-0.11``, not ``np.float64(-0.11)``) the saved outputs were made with. NumPy's global random
state and print options are saved before a notebook and restored after it: the book's own cells seed the
global generator and set print options, the runner puts them back.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import os
import re
import sys
import tempfile
import time
import tokenize
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The tolerances of printed numbers (float64 printed in full; float32 units in the last place) are in the one
# tolerance table, with where they were measured.
from ..tolerances import BOOK_FLOAT32_ULPS as FLOAT32_ULPS
from ..tolerances import BOOK_FULL_PRECISION_RTOL as FULL_PRECISION_RTOL
from .manifest import CellRule, ManifestError, NotebookSpec, Relabel, apply_quick_edits, book_root, load_notebook

#: A number as printed: optional sign, digits with an optional fraction, optional exponent.
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
FULL_PRECISION_DIGITS = 15
#: Fewest significant digits for the float32 rule: a float32 needs 9 to be printed exactly.
FLOAT32_DIGITS = 9


# ---------------------------------------------------------------------------------------------------------
# Comparing printed outputs
# ---------------------------------------------------------------------------------------------------------


def _significant_digits(token: str) -> int:
    mantissa = re.split(r"[eE]", token.lstrip("+-"))[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _float32_exact(value: float) -> bool:
    return math.isfinite(value) and float(np.float32(value)) == value


def float32_ulps_apart(a: float, b: float) -> int | None:
    """How many float32 steps separate ``a`` and ``b`` when both are float32 values, else None."""
    if not (_float32_exact(a) and _float32_exact(b)) or (a < 0) != (b < 0):
        return None
    bits = np.array([abs(a), abs(b)], dtype=np.float32).view(np.int32)
    return abs(int(bits[0]) - int(bits[1]))


def outputs_agree(saved: str, ours: str) -> bool:
    """Whether ``ours`` prints what ``saved`` prints, at the saved output's precision (see the module doc)."""
    if saved == ours:
        return True
    saved_numbers, ours_numbers = _NUMBER.findall(saved), _NUMBER.findall(ours)
    if len(saved_numbers) != len(ours_numbers):
        return False
    if _NUMBER.sub("#", saved).split() != _NUMBER.sub("#", ours).split():
        return False
    for a, b in zip(saved_numbers, ours_numbers, strict=True):
        if a == b:
            continue
        digits = min(_significant_digits(a), _significant_digits(b))
        x, y = float(a), float(b)
        if digits >= FULL_PRECISION_DIGITS and math.isclose(x, y, rel_tol=FULL_PRECISION_RTOL, abs_tol=0.0):
            continue
        ulps = float32_ulps_apart(x, y) if digits >= FLOAT32_DIGITS else None
        if ulps is None or ulps > FLOAT32_ULPS:
            return False
    return True


# ---------------------------------------------------------------------------------------------------------
# Running cells
# ---------------------------------------------------------------------------------------------------------


def ends_with_semicolon(source: str) -> bool:
    """IPython's rule: output is hidden when the last token that is not a comment or newline is ``;``."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source.rstrip().endswith(";")
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
    meaningful = [t for t in tokens if t.type not in skip]
    return bool(meaningful) and meaningful[-1].string == ";"


def drop_magics(source: str) -> str:
    """``source`` without its IPython magic and shell lines (``%...``, ``!...``)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def run_source(source: str, namespace: dict[str, Any], filename: str) -> str:
    """Execute ``source`` in ``namespace`` like a notebook cell; return what it printed plus the displayed
    value of its last expression (``repr`` and a newline)."""
    tree = ast.parse(source, filename=filename, mode="exec")
    last_expr = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = tree.body[:-1] if last_expr is not None else tree.body
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), namespace)
        if last_expr is not None:
            value = eval(compile(ast.Expression(last_expr.value), filename, "eval"), namespace)
            if value is not None and not ends_with_semicolon(source):
                print(repr(value))
    return out.getvalue()


def saved_output(cell: dict[str, Any]) -> str:
    """What the book's saved cell printed: stdout streams, then the displayed value (figures ignored)."""
    text = ""
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            text += "".join(output.get("text", ""))
        elif kind == "execute_result":
            text += "".join(output.get("data", {}).get("text/plain", "")) + "\n"
    return text


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------


@dataclass
class CellResult:
    """One code cell: what was run and, for a cell that printed, both outputs and the verdict."""

    index: int  # the cell's index in the notebook (markdown cells counted)
    action: str  # "unchanged", "definition", "data", "display", "magics dropped"
    saved: str = ""
    ours: str = ""
    error: str = ""
    # "match" (= the saved output), "drift" (differs from the saved output as the book's own code does here),
    # "as book code" (quick: = the book's code on the same short configuration), "explained" (an erratum),
    # "ran" (quick, no reference), "DIFFERENT", "ERROR", "" (printed nothing, book neither)
    status: str = ""
    erratum: str = ""
    reason: str = ""
    seconds: float = 0.0

    @property
    def printed(self) -> bool:
        return bool(self.saved or self.ours or self.error)


@dataclass
class NotebookRun:
    """A whole notebook run in one mode (``project`` or ``book``)."""

    name: str
    path: str
    mode: str
    cells: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False

    def count(self, attribute: str, value: str) -> int:
        return sum(1 for c in self.cells if getattr(c, attribute) == value)

    @property
    def failures(self) -> list[CellResult]:
        return [c for c in self.cells if c.status in ("DIFFERENT", "ERROR")]

    @property
    def passed(self) -> bool:
        return not self.failures


class _GlobalState:
    """Save NumPy's (and, for a torch notebook, torch's) global random state and NumPy's print options (and
    matplotlib's backend) and restore them."""

    def __init__(self, torch_too: bool = False) -> None:
        self.torch_too = torch_too

    def __enter__(self) -> _GlobalState:
        self.random_state = np.random.get_state()  # noqa: NPY002 - saved to be restored, never drawn from
        self.printoptions = np.get_printoptions()
        self.torch_state = None
        if self.torch_too:
            import torch

            self.torch_state = torch.get_rng_state()
        if int(np.__version__.split(".")[0]) >= 2:
            np.set_printoptions(legacy="1.25")  # the saved outputs' scalar repr
        try:
            import matplotlib

            self.backend: str | None = matplotlib.get_backend()
            matplotlib.use("Agg")
        except ImportError:
            self.backend = None
        return self

    def __exit__(self, *exc: object) -> None:
        np.random.set_state(self.random_state)  # noqa: NPY002
        np.set_printoptions(**self.printoptions)
        if self.torch_state is not None:
            import torch

            torch.set_rng_state(self.torch_state)
        if self.backend is not None:
            import matplotlib
            import matplotlib.pyplot as plt

            plt.close("all")
            with contextlib.suppress(ImportError, ValueError):
                matplotlib.use(self.backend)


@contextlib.contextmanager
def _working_folder(spec: NotebookSpec, quick: bool) -> Iterator[None]:
    """Run in a temporary folder holding the files the notebook opens by relative paths (``files``)."""
    if not spec.files:
        yield
        return
    from .manifest import REPO

    value = os.environ.get("DLFS_DATASETS")
    base = Path(value) if value else REPO.parent / "shared" / "datasets"
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix=f"dlfs-book-{spec.name}-") as folder:
        for relative, wanted in spec.files.items():
            source = base / wanted.dataset
            if not source.is_file():
                raise FileNotFoundError(
                    f"notebook {spec.name!r} opens {relative!r}, a copy of the dataset file {wanted.dataset!r}; "
                    f"{source} must exist (set DLFS_DATASETS to the folder holding it)"
                )
            text = source.read_text(encoding="utf-8")
            if quick and wanted.quick_chars is not None:
                text = text[: wanted.quick_chars]
            target = Path(folder) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(previous)


def _shim_lincoln() -> None:
    """The book's ``lincoln/losses.py`` imports ``exp_ratios``, which its ``utils/np_utils.py`` does not define at
    the book's commit: give the module that name (unused by anything the notebooks run) so the import works."""
    import importlib

    np_utils = importlib.import_module("lincoln.utils.np_utils")
    if not hasattr(np_utils, "exp_ratios"):

        def exp_ratios(*args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("exp_ratios is missing from the book's lincoln at this commit")

        np_utils.exp_ratios = exp_ratios  # type: ignore[attr-defined]


@contextlib.contextmanager
def _book_library(spec: NotebookSpec, mode: str, root: Path) -> Iterator[None]:
    """In book-code mode, the book's ``lincoln`` importable for this run only."""
    if mode != "book" or spec.library is None:
        yield
        return
    folder = str(root / "lincoln")
    sys.path.insert(0, folder)
    try:
        _shim_lincoln()
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
        for module in [m for m in sys.modules if m == "lincoln" or m.startswith("lincoln.")]:
            del sys.modules[module]


def _without_imports_of(source: str, package: str) -> str:
    """``source`` without its top-level import statements of ``package`` (and its submodules)."""
    tree = ast.parse(source)
    lines = source.splitlines()

    def of_package(stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.ImportFrom):
            return (stmt.module or "").split(".")[0] == package
        if isinstance(stmt, ast.Import):
            return all(alias.name.split(".")[0] == package for alias in stmt.names)
        return False

    drop: set[int] = set()
    for stmt in tree.body:
        if of_package(stmt):
            drop.update(range(stmt.lineno - 1, (stmt.end_lineno or stmt.lineno)))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def _source_for(rule: CellRule | None, source: str, mode: str) -> tuple[str | None, str]:
    """The source to run for a cell under ``rule`` in ``mode`` (None: skip) and the action's name."""
    if rule is None or rule.kind == "config":
        return source, "unchanged"
    if rule.kind == "display":
        if rule.drop == "magics":
            return drop_magics(source), "magics dropped"
        return None, "display"
    if mode == "book" and rule.book_replace is not None:
        return rule.book_replace, rule.kind
    if rule.kind == "definition" and mode == "book":
        return source, "unchanged"
    if rule.folded_into is not None:
        return None, f"data (folded into cell {rule.folded_into})"
    if rule.drop_imports is not None:
        return f"{rule.replace}\n{_without_imports_of(source, rule.drop_imports)}", "definition (imports)"
    return rule.replace, rule.kind


def _drop_lines(text: str, pattern: str | None) -> str:
    if pattern is None or not text:
        return text
    regex = re.compile(pattern)
    return "".join(line for line in text.splitlines(keepends=True) if not regex.search(line))


def _relabel(text: str, relabel: Relabel) -> str:
    def shift(match: re.Match[str]) -> str:
        start, end = match.start(1) - match.start(0), match.end(1) - match.start(0)
        whole = match.group(0)
        return whole[:start] + str(int(match.group(1)) + relabel.by) + whole[end:]

    return re.sub(relabel.pattern, shift, text)


Progress = Callable[[str, "CellResult"], None]


def _execute(result: CellResult, source: str, namespace: dict[str, Any], label: str, mode: str) -> bool:
    """Run one cell into ``result`` (its printed output and time); False if it raised (the error is recorded,
    with the traceback's last frames in project mode)."""
    t0 = time.perf_counter()
    try:
        result.ours = run_source(source, namespace, label)
    except ManifestError:
        raise
    except Exception as exc:  # a cell that raises fails the run, with its traceback in the report
        result.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        result.status = "ERROR"
        if mode == "project":
            result.error += "\n" + traceback.format_exc(limit=-3)
        return False
    finally:
        result.seconds = time.perf_counter() - t0
    return True


def _book_code_output(result: CellResult, spec: NotebookSpec, mode: str) -> None:
    """In book mode, the lines the book's current lincoln prints but the saved run did not are dropped, and the
    manifest's relabelled numbers shifted."""
    if mode != "book":
        return
    result.ours = _drop_lines(result.ours, spec.book_code_drops)
    if result.index in spec.book_code_relabel:
        result.ours = _relabel(result.ours, spec.book_code_relabel[result.index])


def run_notebook(
    name: str,
    *,
    mode: str = "project",
    root: Path | None = None,
    manifest: Path | None = None,
    quick: bool = False,
    progress: Progress | None = None,
) -> NotebookRun:
    """Run notebook ``name`` of the manifest in ``mode`` (``project``: with the substitutions; ``book``: the
    book's own definitions, data and display substitutions only) and compare every printed output with the
    saved one. ``quick`` applies the manifest's quick edits and shortened files (a short configuration: then
    the reference is the book's own code on the same configuration, see ``run_pair``). ``progress`` is called
    after every code cell with the mode and the cell's result."""
    if mode not in ("project", "book"):
        raise ValueError(f"mode must be 'project' or 'book'; received {mode!r}")
    spec: NotebookSpec
    spec, notebook = load_notebook(name, root=root, manifest=manifest)
    root = root or book_root()
    run = NotebookRun(name, spec.path, mode, quick=quick)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    start = time.perf_counter()
    torch_too = spec.module.startswith("torch_impl") or "torch" in sys.modules
    with _GlobalState(torch_too), _working_folder(spec, quick), _book_library(spec, mode, root):
        for index, cell in enumerate(notebook["cells"]):
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", ""))
            rule = spec.cells.get(index)
            to_run, action = _source_for(rule, source, mode)
            result = CellResult(index, action, saved=saved_output(cell), reason=rule.reason if rule else "")
            run.cells.append(result)
            if to_run is None:
                result.saved = ""  # a skipped display cell is not compared
                continue
            if quick and rule is not None and rule.quick_edits:
                to_run = apply_quick_edits(to_run, rule.quick_edits, f"{name} cell {index} ({mode} mode)")
                result.action += " (quick edits)"
            if _execute(result, to_run, namespace, f"<{name} cell {index}>", mode):
                _book_code_output(result, spec, mode)
                _judge(result, spec, mode)  # a cell that raised keeps its ERROR status
            if progress is not None:
                progress(mode, result)
    run.seconds = time.perf_counter() - start
    return run


def reconcile(run: NotebookRun, book: NotebookRun | None, spec: NotebookSpec) -> None:
    """Final verdicts of ``run`` given the book's own code run here (``book``, or None).

    - A quick run of a notebook with a short configuration is compared with the book's code on the same
      configuration: equal is "as book code"; a difference the manifest explains is "explained"; where the
      book's code is no reference here (``book_code: false``, not run, or it raised on this cell) the output is
      only required to exist ("ran").
    - Otherwise outputs were compared with the saved ones; a difference from the saved output that the book's
      own code, run here, prints too (equal to ours) is "drift": this machine's floating-point arithmetic, not
      the project."""
    theirs = {c.index: c for c in book.cells} if book is not None and spec.book_code else {}
    verdicts: dict[int, str] = {}
    for cell in run.cells:
        verdicts[cell.index] = cell.status
        if not cell.printed or cell.status == "ERROR":
            continue
        ref = theirs.get(cell.index)
        if run.quick and spec.short_in_quick:
            expected = spec.differences.get(cell.index)
            if ref is None or ref.error:
                cell.status = "ran"
                why = spec.book_code_reason if not spec.book_code else "the book's code was not run"
                if ref is not None and ref.error:
                    why = f"the book's code raised here: {ref.error.splitlines()[0]}"
                cell.reason = f"short configuration, no reference ({why})"
            elif outputs_agree(ref.ours, cell.ours):
                cell.status, cell.erratum, cell.reason = "as book code", "", ""
            elif expected is not None and expected.drift_from is None:
                cell.status, cell.erratum, cell.reason = "explained", expected.erratum, expected.reason
            else:
                cell.status, cell.reason = "DIFFERENT", "differs from the book's code on the same configuration"
            verdicts[cell.index] = cell.status
            continue
        inherited = spec.differences.get(cell.index)
        if (
            cell.status == "DIFFERENT"
            and inherited is not None
            and inherited.drift_from is not None
            and (ref is None or bool(ref.error))
        ):
            source = inherited.drift_from
            if verdicts.get(source) == "drift":
                cell.status = "drift"
                cell.reason = f"continues cell {source}'s drifted state ({inherited.reason}); " + first_difference(
                    cell.saved, cell.ours
                )
            else:
                cell.reason = f"the manifest says this continues cell {source}'s drift, but cell {source} did not drift"
        elif (
            cell.status == "DIFFERENT"
            and ref is not None
            and not ref.error
            and not outputs_agree(ref.saved, ref.ours)
            and outputs_agree(ref.ours, cell.ours)
        ):
            cell.status = "drift"
            cell.reason = "the book's own code prints the same here: " + first_difference(cell.saved, cell.ours)
        verdicts[cell.index] = cell.status


def first_difference(saved: str, ours: str) -> str:
    """Where two printouts first part: the first printed number that differs (the evidence of a drift)."""
    a, b = _NUMBER.findall(saved), _NUMBER.findall(ours)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if not outputs_agree(x, y):
            lines = [line for line in saved.splitlines() if x in line]
            where = f" ({' '.join(lines[0].split())[:80]})" if lines else ""
            return f"first different number: #{i + 1}, book {x}, here {y}{where}"
    return f"the book printed {len(a)} numbers, here {len(b)}"


def run_pair(
    name: str,
    *,
    quick: bool = False,
    book_code: bool = True,
    root: Path | None = None,
    manifest: Path | None = None,
    progress: Progress | None = None,
) -> tuple[NotebookRun, NotebookRun | None]:
    """Run notebook ``name`` on this project and (``book_code``, where the manifest allows it) the book's own
    code on the same configuration, then reconcile the verdicts."""
    spec, _ = load_notebook(name, root=root, manifest=manifest)
    run = run_notebook(name, root=root, manifest=manifest, quick=quick, progress=progress)
    book = None
    if book_code and spec.book_code:
        book = run_notebook(name, mode="book", root=root, manifest=manifest, quick=quick, progress=progress)
    reconcile(run, book, spec)
    return run, book


def _judge(result: CellResult, spec: NotebookSpec, mode: str) -> None:
    if not result.saved and not result.ours:
        return
    expected = spec.differences.get(result.index) if mode == "project" else None
    if expected is not None and expected.drift_from is not None:
        expected = None  # judged by reconcile, from the earlier cell's verdict
    if outputs_agree(result.saved, result.ours):
        if expected is not None:
            result.status = "DIFFERENT"
            result.reason = f"the manifest expects a difference ({expected.erratum}) but the outputs agree"
        else:
            result.status = "match"
        return
    if expected is not None:
        result.status, result.erratum, result.reason = "explained", expected.erratum, expected.reason
    else:
        result.status = "DIFFERENT"


def print_progress(name: str) -> Progress:
    """A progress callback printing one line per code cell that printed or took a second or more."""

    def report(mode: str, cell: CellResult) -> None:
        if cell.printed or cell.seconds >= 1.0:
            clock = time.strftime("%H:%M:%S")
            verdict = cell.status or "ran"
            print(f"   [{clock}] {name} ({mode}) cell {cell.index}: {verdict} in {cell.seconds:.1f} s", flush=True)

    return report


def run_logged(name: str, mode: str, quick: bool, root: str) -> NotebookRun:
    """``run_notebook`` with progress lines (a module-level function, so a process pool can run it)."""
    return run_notebook(name, mode=mode, quick=quick, root=Path(root), progress=print_progress(name))
