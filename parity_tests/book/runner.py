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
import re
import time
import tokenize
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import CellRule, NotebookSpec, load_notebook

#: A number as printed: optional sign, digits with an optional fraction, optional exponent.
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
FULL_PRECISION_DIGITS = 15
FULL_PRECISION_RTOL = 1e-12


# ---------------------------------------------------------------------------------------------------------
# Comparing printed outputs
# ---------------------------------------------------------------------------------------------------------


def _significant_digits(token: str) -> int:
    mantissa = re.split(r"[eE]", token.lstrip("+-"))[0].replace(".", "").lstrip("0")
    return len(mantissa)


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
        if _significant_digits(a) < FULL_PRECISION_DIGITS:
            return False
        x, y = float(a), float(b)
        if not math.isclose(x, y, rel_tol=FULL_PRECISION_RTOL, abs_tol=0.0):
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
    status: str = ""  # "match", "explained", "DIFFERENT", "ERROR", "" (printed nothing, book neither)
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

    def count(self, attribute: str, value: str) -> int:
        return sum(1 for c in self.cells if getattr(c, attribute) == value)

    @property
    def failures(self) -> list[CellResult]:
        return [c for c in self.cells if c.status in ("DIFFERENT", "ERROR")]

    @property
    def passed(self) -> bool:
        return not self.failures


class _GlobalState:
    """Save NumPy's global random state and print options (and matplotlib's backend) and restore them."""

    def __enter__(self) -> _GlobalState:
        self.random_state = np.random.get_state()  # noqa: NPY002 - saved to be restored, never drawn from
        self.printoptions = np.get_printoptions()
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
        if self.backend is not None:
            import matplotlib
            import matplotlib.pyplot as plt

            plt.close("all")
            with contextlib.suppress(ImportError, ValueError):
                matplotlib.use(self.backend)


def _source_for(rule: CellRule | None, source: str, mode: str) -> tuple[str | None, str]:
    """The source to run for a cell under ``rule`` in ``mode`` (None: skip) and the action's name."""
    if rule is None:
        return source, "unchanged"
    if rule.kind == "display":
        if rule.drop == "magics":
            return drop_magics(source), "magics dropped"
        return None, "display"
    if rule.kind == "definition" and mode == "book":
        return source, "unchanged"
    if rule.folded_into is not None:
        return None, f"data (folded into cell {rule.folded_into})"
    return rule.replace, rule.kind


def run_notebook(
    name: str, *, mode: str = "project", root: Path | None = None, manifest: Path | None = None
) -> NotebookRun:
    """Run notebook ``name`` of the manifest in ``mode`` (``project``: with the substitutions; ``book``: the
    book's own definitions, data and display substitutions only) and compare every printed output."""
    if mode not in ("project", "book"):
        raise ValueError(f"mode must be 'project' or 'book'; received {mode!r}")
    spec: NotebookSpec
    spec, notebook = load_notebook(name, root=root, manifest=manifest)
    run = NotebookRun(name, spec.path, mode)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    start = time.perf_counter()
    with _GlobalState():
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
            t0 = time.perf_counter()
            try:
                result.ours = run_source(to_run, namespace, f"<{name} cell {index}>")
            except Exception as exc:  # a cell that raises fails the run, with its traceback in the report
                result.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                result.status = "ERROR"
                result.seconds = time.perf_counter() - t0
                if mode == "project":
                    result.error += "\n" + traceback.format_exc(limit=-3)
                continue
            result.seconds = time.perf_counter() - t0
            _judge(result, spec, mode)
    run.seconds = time.perf_counter() - start
    return run


def _judge(result: CellResult, spec: NotebookSpec, mode: str) -> None:
    if not result.saved and not result.ours:
        return
    expected = spec.differences.get(result.index) if mode == "project" else None
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
