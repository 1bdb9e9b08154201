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
- ``book_code``: false when the book's own code cannot be a reference here (``book_code_reason`` says why, e.g.
  an unseeded notebook); ``library``: ``"lincoln"`` when book-code mode imports the book's library (the runner
  puts ``<book>/lincoln`` on ``sys.path`` for that run only); ``book_code_drops``: a regular expression of
  lines the book's current library prints that its saved run did not (dropped from the book-code output);
- ``files``: ``{"input.txt": {"dataset": "text/x.txt", "quick_chars": 20000}}``: files the notebook opens by a
  relative path; the runner runs it in a temporary working folder holding a copy of each dataset file from
  ``DLFS_DATASETS`` (its first ``quick_chars`` characters in quick mode);
- ``definition``: ``replace`` holds import statements only; with ``"drop_imports": "lincoln"`` only the
  cell's imports from that package are replaced and the rest of the cell runs unchanged (a seed call, other
  imports);
- ``config``: the cell runs unchanged; it exists for its ``quick_edits``;
- ``quick_edits`` (any kind): ``[["epochs=50", "epochs=2"], ...]``, applied in quick mode only to the source
  that runs (the book's cell or the rule's replacement); each old text must occur exactly once, so a short
  configuration is visible in the manifest and the same for our run and the book's code;
- ``book_replace`` (definition and data): what book-code mode runs instead of the book's cell, for a cell the
  book's code cannot run here (a download, a package missing next to the CPU torch); imports and a loader only;
- ``data``: ``replace`` holds imports and exactly one assignment from a call (the project's loader); a data
  cell whose work that loader already does (the book scales, then splits, in separate cells) says
  ``"folded_into": <index of the cell with the loader>`` instead, and is skipped;
- ``display``: the cell is skipped (``reason`` says why), or with ``"drop": "magics"`` only its magic lines;
- ``sha``: the first 12 hex digits of the SHA-1 of the cell's source, so a manifest meant for another commit of
  the book fails with a clear message instead of substituting the wrong cell;
- ``differences``: printed outputs expected to differ from the saved ones, each with the erratum (a section of
  ``docs/porting-guide.md``) that explains it; or ``{"drift_from": 25, "reason": ...}``: an output that
  continues the state of cell 25, whose drift the book's own code shows, in a cell the book's code cannot run
  here (honoured only when cell 25's verdict is "drift");
- ``book_code_relabel``: ``{"10": {"pattern": "The loss after (\\d+) epochs", "by": -1}}`` with a
  ``book_code_relabel_reason``: an integer label the book's current library prints differently from its saved
  run, shifted in the book-code output of that cell before comparing.

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
KINDS = ("definition", "data", "display", "config")


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
    quick_edits: tuple[tuple[str, str], ...] = ()
    book_replace: str | None = None
    drop_imports: str | None = None


@dataclass(frozen=True)
class DataFile:
    """A file a notebook opens by a relative path: a dataset file, shortened in quick mode."""

    dataset: str  # relative to DLFS_DATASETS
    quick_chars: int | None = None


@dataclass(frozen=True)
class Difference:
    """A printed output expected to differ from the saved one, and the erratum that explains it; or
    (``drift_from``) an output that continues the state of an earlier cell whose drift the book's own code shows,
    where the book's code cannot run this cell here."""

    erratum: str
    reason: str
    drift_from: int | None = None


@dataclass(frozen=True)
class Relabel:
    """An integer label the book's current library prints differently from its saved run: the first group of
    ``pattern`` is shifted by ``by`` in the book-code output of one cell (e.g. an epoch counted from 1, not 0)."""

    pattern: str
    by: int


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
    book_code: bool = True  # the book's own code can be a reference here
    book_code_reason: str = ""
    library: str | None = None  # "lincoln": book-code mode imports the book's library
    book_code_drops: str | None = None  # regex of lines the book's current library prints and its saved run lacks
    files: dict[str, DataFile] = field(default_factory=dict)
    book_code_relabel: dict[int, Relabel] = field(default_factory=dict)
    book_code_relabel_reason: str = ""

    @property
    def short_in_quick(self) -> bool:
        """Whether quick mode runs a shorter configuration than the book's (then the saved outputs are not the
        reference; the book's own code on the same configuration is)."""
        return any(rule.quick_edits for rule in self.cells.values()) or any(
            f.quick_chars is not None for f in self.files.values()
        )


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


def _rule_header(path: Path, where: str, entry: Any) -> tuple[str, str]:
    """A cell rule's keys, kind and sha checked; returns (kind, sha)."""
    if not isinstance(entry, dict):
        raise _fail(path, where, f"a cell rule must be an object; received {entry!r}")
    allowed = {"kind", "sha", "replace", "reason", "drop", "folded_into", "quick_edits", "book_replace", "drop_imports"}
    unknown = set(entry) - allowed
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)}; expected some of {sorted(allowed)}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise _fail(path, where, f"'kind' must be one of {KINDS}; received {kind!r}")
    sha = entry.get("sha")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{12}", sha):
        raise _fail(path, where, f"'sha' must be 12 lowercase hex digits of the cell's SHA-1; received {sha!r}")
    return str(kind), sha


def _check_replacements(path: Path, where: str, kind: str, entry: dict[str, Any], folded: Any) -> None:
    """The kind-specific rules: definitions and data cells hold imports (and one loader call); display cells
    (and data cells folded into another) are skipped with a reason."""
    replace, reason, drop = entry.get("replace"), entry.get("reason", ""), entry.get("drop")
    book_replace = entry.get("book_replace")
    if kind == "definition":
        _check_definition(path, where, replace)
        if book_replace is not None:
            _check_definition(path, where, book_replace)
    elif kind == "data" and folded is None:
        _check_data(path, where, replace)
        if book_replace is not None:
            _check_data(path, where, book_replace)
    else:  # a display cell, or a data cell folded into another
        if replace is not None:
            raise _fail(path, where, "a display cell is skipped, not replaced; received a 'replace'")
        if not isinstance(reason, str) or not reason:
            raise _fail(path, where, "a display cell needs a 'reason' saying why it is skipped")
        if drop not in (None, "magics"):
            raise _fail(path, where, f"'drop' must be 'magics' or absent; received {drop!r}")


def _rule(path: Path, where: str, entry: Any) -> CellRule:
    kind, sha = _rule_header(path, where, entry)
    replace, reason, drop = entry.get("replace"), entry.get("reason", ""), entry.get("drop")
    folded = entry.get("folded_into")
    if folded is not None and (kind != "data" or replace is not None or not isinstance(folded, int)):
        raise _fail(path, where, f"'folded_into' must be a cell index, on a data cell without 'replace'; got {entry}")
    edits = _quick_edits(path, where, entry.get("quick_edits", []))
    book_replace, drop_imports = entry.get("book_replace"), entry.get("drop_imports")
    if book_replace is not None and kind not in ("definition", "data"):
        raise _fail(path, where, f"'book_replace' is for definition and data cells; this one is {kind!r}")
    if drop_imports is not None and (kind != "definition" or not isinstance(drop_imports, str) or not drop_imports):
        raise _fail(
            path, where, f"'drop_imports' must be a package name on a definition cell; received {drop_imports!r}"
        )
    if kind == "config":
        if replace is not None or not edits:
            raise _fail(path, where, "a config cell runs unchanged: it needs 'quick_edits' and no 'replace'")
        return CellRule(kind, sha, None, str(reason), None, None, edits)
    _check_replacements(path, where, kind, entry, folded)
    return CellRule(kind, sha, replace, reason, drop, folded, edits, book_replace, drop_imports)


def _quick_edits(path: Path, where: str, edits: Any) -> tuple[tuple[str, str], ...]:
    pairs = edits if isinstance(edits, list) else None
    if pairs is None or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) for t in p) and p[0] for p in pairs
    ):
        raise _fail(path, where, f"'quick_edits' must be a list of [old text, new text] pairs; received {edits!r}")
    return tuple((old, new) for old, new in pairs)


def apply_quick_edits(source: str, edits: tuple[tuple[str, str], ...], where: str) -> str:
    """``source`` with each ``(old, new)`` edit applied; each ``old`` must occur exactly once."""
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ManifestError(
                f"{where}: a quick edit's text must occur exactly once in the cell; {old!r} occurs {count} times"
            )
        source = source.replace(old, new)
    return source


def _files(path: Path, name: str, entry: Any) -> dict[str, DataFile]:
    if not isinstance(entry, dict):
        raise _fail(
            path, name, f"'files' must map relative paths to {{'dataset': ..., 'quick_chars': n}}; received {entry!r}"
        )
    files = {}
    for relative, spec in entry.items():
        where = f"{name} file {relative!r}"
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise _fail(path, where, "must be a relative path inside the working folder")
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("dataset"), str)
            or set(spec) - {"dataset", "quick_chars"}
        ):
            raise _fail(
                path, where, f"must be {{'dataset': <path under DLFS_DATASETS>, 'quick_chars': n}}; got {spec!r}"
            )
        quick = spec.get("quick_chars")
        if quick is not None and (not isinstance(quick, int) or isinstance(quick, bool) or quick < 1):
            raise _fail(path, where, f"'quick_chars' must be a positive int; received {quick!r}")
        files[relative] = DataFile(spec["dataset"], quick)
    return files


def _index(path: Path, where: str, key: str) -> int:
    if not re.fullmatch(r"\d+", key):
        raise _fail(path, where, f'cell keys must be cell indices such as "12"; received {key!r}')
    return int(key)


def _differences(path: Path, name: str, entry: dict[str, Any]) -> dict[int, Difference]:
    """The notebook's explained differences: an erratum and a reason, or a drift inherited from another cell."""
    differences: dict[int, Difference] = {}
    for key, diff in entry.get("differences", {}).items():
        where = f"{name} difference {key}"
        drift_from = diff.get("drift_from") if isinstance(diff, dict) else None
        if isinstance(drift_from, int) and not isinstance(drift_from, bool) and diff.get("reason"):
            differences[_index(path, where, key)] = Difference("", str(diff["reason"]), drift_from)
            continue
        if not isinstance(diff, dict) or not re.fullmatch(r"E\d+", str(diff.get("erratum", ""))):
            raise _fail(
                path,
                where,
                f"needs an 'erratum' such as \"E22\" and a 'reason' (or 'drift_from': a cell index, and a "
                f"'reason'); received {diff!r}",
            )
        differences[_index(path, where, key)] = Difference(str(diff["erratum"]), str(diff.get("reason", "")))
    return differences


def _relabels(path: Path, name: str, entry: dict[str, Any]) -> dict[int, Relabel]:
    """The book-code run's relabelled numbers (a regex with one integer group, shifted by ``by``)."""
    relabels: dict[int, Relabel] = {}
    for key, relabel in entry.get("book_code_relabel", {}).items():
        where = f"{name} book_code_relabel {key}"
        ok = isinstance(relabel, dict) and set(relabel) == {"pattern", "by"} and isinstance(relabel["by"], int)
        try:
            ok = ok and re.compile(relabel["pattern"]).groups == 1
        except (re.error, TypeError):
            ok = False
        if not ok or not entry.get("book_code_relabel_reason"):
            raise _fail(
                path,
                where,
                "must be {'pattern': <regex with one group: an integer>, 'by': <int>}, with a notebook-level "
                f"'book_code_relabel_reason'; received {relabel!r}",
            )
        relabels[_index(path, where, key)] = Relabel(relabel["pattern"], relabel["by"])
    return relabels


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
        differences = _differences(path, name, entry)
        relabels = _relabels(path, name, entry)
        unknown = set(entry) - {
            "path", "module", "cells", "differences", "slow", "book_code_slow", "book_code", "book_code_reason",
            "library", "book_code_drops", "files", "book_code_relabel", "book_code_relabel_reason",
        }  # fmt: skip
        if unknown:
            raise _fail(path, name, f"unknown notebook keys {sorted(unknown)}")
        library = entry.get("library")
        if library not in (None, "lincoln"):
            raise _fail(path, name, f"'library' must be 'lincoln' or absent; received {library!r}")
        drops = entry.get("book_code_drops")
        if drops is not None:
            try:
                re.compile(drops)
            except (re.error, TypeError) as exc:
                raise _fail(
                    path, name, f"'book_code_drops' must be a regular expression; received {drops!r} ({exc})"
                ) from None
        book_code = entry.get("book_code", True)
        if not isinstance(book_code, bool) or (not book_code and not entry.get("book_code_reason")):
            raise _fail(path, name, "'book_code' must be true or false, and false needs a 'book_code_reason'")
        specs[name] = NotebookSpec(
            name,
            entry["path"],
            str(entry.get("module", "")),
            cells,
            differences,
            bool(entry.get("slow", False)),
            bool(entry.get("book_code_slow", False)),
            book_code,
            str(entry.get("book_code_reason", "")),
            library,
            drops,
            _files(path, name, entry.get("files", {})),
            relabels,
            str(entry.get("book_code_relabel_reason", "")),
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
