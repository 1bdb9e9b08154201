"""``python -m parity_tests.book [NAME ...] [--quick] [--out DIR] [--no-book-code]``: run the book's notebooks
on this project and write the book table (``DIR/book.md`` and ``book.json``, default ``report/book``).

``python -m parity_tests.book cells NAME`` lists a notebook's code cells with the sha the manifest needs and
the rule applied to each (for maintainers adding a notebook to ``notebooks.json``).

Exit status: 0 when every printed output matches the book or differs with an erratum; 1 when an output differs
unexplained or a cell raises; 2 for bad arguments or a missing book repository or notebook.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .manifest import BookError, ManifestError, book_root, load_manifest, load_notebook, source_sha
from .report import metadata, summary, write
from .runner import NotebookRun, run_notebook

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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["cells"]:
            if len(args) != 2:
                print("usage: python -m parity_tests.book cells NAME", file=sys.stderr)
                return 2
            return list_cells(args[1])
        specs = load_manifest()
        parser = argparse.ArgumentParser(prog="python -m parity_tests.book", description=__doc__.split("\n\n")[0])
        parser.add_argument(
            "names", nargs="*", metavar="NAME", help=f"notebooks to run (default: all): {sorted(specs)}"
        )
        parser.add_argument(
            "--quick", action="store_true", help="leave out slow notebooks and the slow book-code comparisons"
        )
        parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of book.md / book.json")
        parser.add_argument(
            "--no-book-code", action="store_true", help="do not also run the book's own definitions for comparison"
        )
        options = parser.parse_args(args)
        unknown = [n for n in options.names if n not in specs]
        if unknown:
            parser.error(f"NAME must be one of {sorted(specs)}; received {unknown}")
        names = options.names or [n for n in specs if not (options.quick and specs[n].slow)]
        root = book_root()
        runs: list[tuple[NotebookRun, NotebookRun | None]] = []
        for name in names:
            print(f"== {name}: {specs[name].path}", flush=True)
            run = run_notebook(name, root=root)
            skip_book = options.no_book_code or (options.quick and specs[name].book_code_slow)
            book = None if skip_book else run_notebook(name, mode="book", root=root)
            runs.append((run, book))
            s = summary(run)
            print(
                f"   {s['outputs']} outputs: {s['matched']} match, {s['explained']} explained by an erratum, "
                f"{s['different']} different, {s['errors']} errors ({s['seconds']} s)",
                flush=True,
            )
            for cell in run.failures:
                print(f"   cell {cell.index}: {cell.status}\n     book: {cell.saved!r}\n     ours: {cell.ours!r}")
                if cell.error:
                    print("     " + cell.error.replace("\n", "\n     "))
        path = write(options.out, runs, metadata(root))
        print(f"book table written to {path}")
    except (BookError, ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(run.passed for run, _ in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
