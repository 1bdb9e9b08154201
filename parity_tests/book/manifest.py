"""The manifest of substitutions (``notebooks.json``) and the book's repository (``DLFS_BOOK``).

``notebooks.json`` maps a notebook's short name (``ch3``) to its path in the book's repository and to the rules
for some of its cells, keyed by the cell's index in the notebook (markdown cells counted)::

    "cells": {
      "12": {"kind": "definition", "sha": "<12 hex>", "replace": "from scratch.book.ch3 import Dense"},
      "27": {"kind": "data", "sha": "...", "replace": "from data import load_boston\\nX_train, ... = load_boston()"},
      "14": {"kind": "display", "sha": "...", "reason": "a plot"},
      "1":  {"kind": "display", "sha": "...", "drop": "magics", "reason": "%matplotlib inline"}
    },
    "differences": {"56": {"erratum": "E22", "reason": "..."}},
    "slow": false, "book_code_slow": false

- ``slow``: the notebook is left out of ``--quick``; ``book_code_slow``: the book's own definitions are too slow
  to run for the comparison column in ``--quick`` (chapter 5's pure-Python loops take about a minute);
- ``definition``: ``replace`` holds import statements only;
- ``data``: ``replace`` holds imports and exactly one assignment from a call (the project's loader); a data
  cell whose work that loader already does (the book scales, then splits, in separate cells) says
  ``"folded_into": <index of the cell with the loader>`` instead, and is skipped;
- ``display``: the cell is skipped (``reason`` says why), or with ``"drop": "magics"`` only its magic lines;
- ``sha``: the first 12 hex digits of the SHA-1 of the cell's source, so a manifest meant for another commit of
  the book fails with a clear message instead of substituting the wrong cell;
- ``differences``: printed outputs expected to differ from the saved ones, each with the erratum (a section of
  ``docs/porting-guide.md``) that explains it.

The manifest holds import lines and loader calls only, never the book's code or text. Every malformed entry is
a ``ManifestError`` naming the file, the notebook, the cell and what was expected.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).resolve().parent / "notebooks.json"
KINDS = ("definition", "data", "display")


class BookError(ValueError):
    """The book's repository or one of its notebooks cannot be found or read."""


class ManifestError(ValueError):
    """An entry of ``notebooks.json`` is malformed."""


@dataclass(frozen=True)
class CellRule:
    """What to do with one cell."""

    kind: str
    sha: str
    replace: str | None = None
    reason: str = ""
    drop: str | None = None
    folded_into: int | None = None


@dataclass(frozen=True)
class Difference:
    """A printed output expected to differ from the saved one, and the erratum that explains it."""

    erratum: str
    reason: str


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of the manifest."""

    name: str
    path: str
    module: str
    cells: dict[int, CellRule] = field(default_factory=dict)
    differences: dict[int, Difference] = field(default_factory=dict)
    slow: bool = False  # the notebook itself takes long: left out of --quick
    book_code_slow: bool = False  # the book's own definitions take long here: their column is left out of --quick


def book_root() -> Path:
    """The book's repository: ``DLFS_BOOK``, else ``../shared/book`` beside the checkout."""
    value = os.environ.get("DLFS_BOOK")
    root = Path(value) if value else REPO.parent / "shared" / "book"
    if not root.is_dir():
        where = f"DLFS_BOOK={value!r}" if value else f"the default {root}"
        raise BookError(
            f"the book's repository must be a folder (a clone of github.com/SethHWeidman/DLFS_code); received "
            f"{where}, which is not a directory: set DLFS_BOOK to your clone"
        )
    return root


def source_sha(source: str) -> str:
    """The first 12 hex digits of the SHA-1 of a cell's source (the manifest's ``sha``)."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def _fail(path: Path, where: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {where}: {message}")


def _statements(path: Path, where: str, text: Any) -> list[ast.stmt]:
    if not isinstance(text, str) or not text.strip():
        raise _fail(path, where, f"'replace' must be a non-empty string of Python statements; received {text!r}")
    try:
        return ast.parse(text).body
    except SyntaxError as exc:
        raise _fail(path, where, f"'replace' must be valid Python; received {text!r} ({exc.msg})") from None


def _check_definition(path: Path, where: str, text: Any) -> None:
    for stmt in _statements(path, where, text):
        if not isinstance(stmt, ast.Import | ast.ImportFrom):
            raise _fail(
                path,
                where,
                f"a definition cell's 'replace' must hold import statements only; received {ast.unparse(stmt)!r}",
            )


def _check_data(path: Path, where: str, text: Any) -> None:
    others = [s for s in _statements(path, where, text) if not isinstance(s, ast.Import | ast.ImportFrom)]
    if len(others) != 1 or not isinstance(others[0], ast.Assign) or not isinstance(others[0].value, ast.Call):
        found = "; ".join(ast.unparse(s) for s in others) or "nothing but imports"
        raise _fail(
            path,
            where,
            f"a data cell's 'replace' must hold imports and exactly one assignment from a loader call; received "
            f"{found!r}",
        )


def _rule(path: Path, where: str, entry: Any) -> CellRule:
    if not isinstance(entry, dict):
        raise _fail(path, where, f"a cell rule must be an object; received {entry!r}")
    unknown = set(entry) - {"kind", "sha", "replace", "reason", "drop", "folded_into"}
    if unknown:
        raise _fail(
            path, where, f"unknown keys {sorted(unknown)}; expected kind, sha, replace, reason, drop, folded_into"
        )
    kind = entry.get("kind")
    if kind not in KINDS:
        raise _fail(path, where, f"'kind' must be one of {KINDS}; received {kind!r}")
    sha = entry.get("sha")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{12}", sha):
        raise _fail(path, where, f"'sha' must be 12 lowercase hex digits of the cell's SHA-1; received {sha!r}")
    replace, reason, drop = entry.get("replace"), entry.get("reason", ""), entry.get("drop")
    folded = entry.get("folded_into")
    if folded is not None and (kind != "data" or replace is not None or not isinstance(folded, int)):
        raise _fail(path, where, f"'folded_into' must be a cell index, on a data cell without 'replace'; got {entry}")
    if kind == "definition":
        _check_definition(path, where, replace)
    elif kind == "data" and folded is None:
        _check_data(path, where, replace)
    else:
        if replace is not None:
            raise _fail(path, where, "a display cell is skipped, not replaced; received a 'replace'")
        if not isinstance(reason, str) or not reason:
            raise _fail(path, where, "a display cell needs a 'reason' saying why it is skipped")
        if drop not in (None, "magics"):
            raise _fail(path, where, f"'drop' must be 'magics' or absent; received {drop!r}")
    return CellRule(kind, sha, replace, reason, drop, folded)


def _index(path: Path, where: str, key: str) -> int:
    if not re.fullmatch(r"\d+", key):
        raise _fail(path, where, f'cell keys must be cell indices such as "12"; received {key!r}')
    return int(key)


def load_manifest(path: Path | None = None) -> dict[str, NotebookSpec]:
    """Every notebook of the manifest, validated (see the module docstring)."""
    path = path or MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: must be a readable JSON file; {exc}") from None
    notebooks = data.get("notebooks") if isinstance(data, dict) else None
    if not isinstance(notebooks, dict) or not notebooks:
        raise ManifestError(f"{path}: must be an object with a non-empty 'notebooks' object")
    specs: dict[str, NotebookSpec] = {}
    for name, entry in notebooks.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise _fail(path, name, "a notebook entry must be an object with a 'path' string")
        cells = {
            _index(path, f"{name} cell {key}", key): _rule(path, f"{name} cell {key}", rule)
            for key, rule in entry.get("cells", {}).items()
        }
        differences: dict[int, Difference] = {}
        for key, diff in entry.get("differences", {}).items():
            where = f"{name} difference {key}"
            if not isinstance(diff, dict) or not re.fullmatch(r"E\d+", str(diff.get("erratum", ""))):
                raise _fail(path, where, f"needs an 'erratum' such as \"E22\" and a 'reason'; received {diff!r}")
            differences[_index(path, where, key)] = Difference(str(diff["erratum"]), str(diff.get("reason", "")))
        specs[name] = NotebookSpec(
            name,
            entry["path"],
            str(entry.get("module", "")),
            cells,
            differences,
            bool(entry.get("slow", False)),
            bool(entry.get("book_code_slow", False)),
        )
    return specs


def load_notebook(
    name: str, *, root: Path | None = None, manifest: Path | None = None
) -> tuple[NotebookSpec, dict[str, Any]]:
    """The manifest entry of notebook ``name`` and the notebook's JSON, its rules checked against its cells."""
    specs = load_manifest(manifest)
    if name not in specs:
        raise BookError(f"notebook must be one of {sorted(specs)}; received {name!r}")
    spec = specs[name]
    root = root or book_root()
    path = root / spec.path
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BookError(f"{path} must exist (notebook {name!r} of the book's repository at {root})") from None
    except (OSError, ValueError) as exc:
        raise BookError(f"{path} must be a readable notebook (JSON); {exc}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise BookError(f"{path} must be a Jupyter notebook with a 'cells' list")
    where = manifest or MANIFEST
    for index, rule in spec.cells.items():
        target = spec.cells.get(rule.folded_into) if rule.folded_into is not None else None
        if rule.folded_into is not None and (target is None or target.kind != "data" or target.replace is None):
            raise _fail(
                where,
                f"{name} cell {index}",
                f"'folded_into' must name a data cell with a loader; {rule.folded_into} is not",
            )
        if index >= len(cells) or cells[index].get("cell_type") != "code":
            raise _fail(where, f"{name} cell {index}", f"must name a code cell of {spec.path}; it does not")
        found = source_sha("".join(cells[index].get("source", "")))
        if found != rule.sha:
            raise _fail(
                where,
                f"{name} cell {index}",
                f"the cell's source must have sha {rule.sha}; found {found} (is DLFS_BOOK another commit of the book?)",
            )
    return spec, notebook
