"""``python -m parity_tests.book [NAME ...] [--quick] [--out DIR] [--no-book-code] [--jobs N] [--doc PATH]``: run
the book's notebooks on this project (and the book's own code beside them) and write the book table
(``DIR/book.md`` and ``book.json``, default ``report/book``; ``--doc`` also writes it to PATH with every printout
in full, e.g. the committed ``docs/book-reproduction.md``). Progress: one line per code cell that prints or
takes a second or more.
``--jobs N`` runs N notebook runs at once in separate processes (each single-threaded under the nox session).

``python -m parity_tests.book render BOOK_JSON DOC`` writes the markdown of a ``book.json`` again (the same
table, its drift targets checked by the current rules) without rerunning anything.

``python -m parity_tests.book cells NAME`` lists a notebook's code cells with the sha the manifest needs and
the rule applied to each (for maintainers adding a notebook to ``notebooks.json``).

Exit status: 0 when every printed output matches the book or differs with an erratum; 1 when an output differs
unexplained or a cell raises; 2 for bad arguments or a missing book repository or notebook.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .manifest import BookError, ManifestError, book_root, load_manifest, load_notebook, source_sha
from .report import metadata, render, render_payload, summary, write
from .runner import NotebookRun, reconcile, run_logged

DEFAULT_OUT = Path("report") / "book"


def list_cells(name: str) -> int:
    spec, notebook = load_notebook(name)
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        rule = spec.cells.get(index)
        first = source.strip().splitlines()[0][:70] if source.strip() else ""
        print(f"{index:4d}  {source_sha(source)}  {rule.kind if rule else 'runs unchanged':16s}  {first}")
    return 0


def _guide_from(doc: Path) -> str:
    return os.path.relpath(Path(__file__).resolve().parents[2] / "docs" / "porting-guide.md", doc.resolve().parent)


def render_json(source: Path, doc: Path) -> int:
    """Write the markdown of the book table ``source`` (a ``book.json``) to ``doc``."""
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: {source} must be a book.json written by this runner; {exc}", file=sys.stderr)
        return 2
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render_payload(data, guide=_guide_from(doc), whole=True), encoding="utf-8")
    print(f"reproduction document written to {doc}")
    return 0


def _run_all(tasks: list[tuple[str, str]], quick: bool, root: Path, jobs: int) -> dict[tuple[str, str], NotebookRun]:
    """Every (notebook, mode) run, ``jobs`` at a time in separate processes (1: in this process)."""
    if jobs <= 1:
        return {(name, mode): run_logged(name, mode, quick, str(root)) for name, mode in tasks}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no state shared between runs
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {task: pool.submit(run_logged, *task, quick, str(root)) for task in tasks}
        return {task: future.result() for task, future in futures.items()}


def _parser(specs: dict[str, Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m parity_tests.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"notebooks to run (default: all): {sorted(specs)}")
    parser.add_argument(
        "--quick", action="store_true", help="leave out slow notebooks and the slow book-code comparisons"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of book.md / book.json")
    parser.add_argument(
        "--no-book-code", action="store_true", help="do not also run the book's own definitions for comparison"
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebook runs at once, in separate processes")
    parser.add_argument("--doc", type=Path, help="also write the table to this markdown file (e.g. docs/...)")
    return parser


def _tasks(names: list[str], specs: dict[str, Any], options: argparse.Namespace) -> list[tuple[str, str]]:
    """(notebook, "project") for each notebook, and (notebook, "book") where the book's own code runs too."""
    tasks = []
    for name in names:
        tasks.append((name, "project"))
        spec = specs[name]
        if not (options.no_book_code or not spec.book_code or (options.quick and spec.book_code_slow)):
            tasks.append((name, "book"))
    return tasks


def _report(run: NotebookRun, name: str) -> None:
    """The notebook's summary line and its failing cells, on the terminal."""
    s = summary(run)
    print(
        f"== {name} ({s['path']}): {s['outputs']} outputs: {s['matched']} match, {s['drift']} drift, "
        f"{s['as_book_code']} as book code, {s['explained']} explained by an erratum, {s['ran']} ran, "
        f"{s['different']} different, {s['errors']} errors ({s['seconds']} s)",
        flush=True,
    )
    for cell in run.failures:
        print(f"   cell {cell.index}: {cell.status}\n     book: {cell.saved!r}\n     ours: {cell.ours!r}")
        if cell.error:
            print("     " + cell.error.replace("\n", "\n     "))


def _subcommand(args: list[str]) -> int | None:
    """``render BOOK_JSON DOC`` and ``cells NAME``; ``None`` when ``args`` is a notebook run."""
    if args[:1] == ["render"]:
        if len(args) != 3:
            print("usage: python -m parity_tests.book render BOOK_JSON DOC", file=sys.stderr)
            return 2
        return render_json(Path(args[1]), Path(args[2]))
    if args[:1] == ["cells"]:
        if len(args) != 2:
            print("usage: python -m parity_tests.book cells NAME", file=sys.stderr)
            return 2
        return list_cells(args[1])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = _subcommand(args)
        if status is not None:
            return status
        specs = load_manifest()
        parser = _parser(specs)
        options = parser.parse_args(args)
        if options.jobs < 1:
            parser.error(f"--jobs must be >= 1; received {options.jobs}")
        unknown = [n for n in options.names if n not in specs]
        if unknown:
            parser.error(f"NAME must be one of {sorted(specs)}; received {unknown}")
        names = options.names or [n for n in specs if not (options.quick and specs[n].slow)]
        root = book_root()
        tasks = _tasks(names, specs, options)
        print(f"running {len(tasks)} notebook runs ({', '.join(f'{n} {m}' for n, m in tasks)}), {options.jobs} at once",
              flush=True)  # fmt: skip
        done = _run_all(tasks, options.quick, root, options.jobs)
        runs: list[tuple[NotebookRun, NotebookRun | None]] = []
        for name in names:
            run, book = done[(name, "project")], done.get((name, "book"))
            reconcile(run, book, specs[name])
            runs.append((run, book))
            _report(run, name)
        command = "python3 noxfile.py -s book -- " + " ".join(args)
        meta = metadata(root, command.strip())
        path = write(options.out, runs, meta)
        print(f"book table written to {path}")
        if options.doc is not None:
            options.doc.parent.mkdir(parents=True, exist_ok=True)
            whole = render(runs, meta, guide=_guide_from(options.doc), whole=True)
            options.doc.write_text(whole, encoding="utf-8")
            print(f"reproduction document written to {options.doc}")
    except (BookError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(run.passed for run, _ in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
