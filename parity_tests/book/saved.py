"""The book's printed numbers, read from its notebooks' saved outputs, for the reproduction table.

The recipes' reproduction table puts the book's saved number beside scratch's and torch_impl's wherever the
book printed one (implementation ``book (saved)``). The numbers are read at run time from ``DLFS_BOOK``, never
copied into the project; without the book's repository there are simply no book rows.
"""

from __future__ import annotations

import re
from typing import Any

from .manifest import BookError, load_notebook
from .runner import saved_output

BOOK_IMPLEMENTATION = "book (saved)"


def saved_text(notebook: str, cell: int) -> str | None:
    """What cell ``cell`` of notebook ``notebook`` printed in the book, or None without the book."""
    try:
        _, data = load_notebook(notebook)
    except BookError:
        return None
    return saved_output(data["cells"][cell])


def number_after(text: str, label: str) -> float | None:
    """The first number printed after ``label`` (a regular expression) in ``text``, or None."""
    match = re.search(label + r"\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)", text)
    return float(match.group(1)) if match else None


def validation_losses(text: str) -> dict[int, float]:
    """The book trainer's "Validation loss after N epochs is L" lines: {N: L}."""
    return {int(n): float(v) for n, v in re.findall(r"Validation loss after (\d+) epochs is ([-+\d.eE]+)", text)}


def book_row(chapter: str, experiment: str, metrics: dict[str, float | None], source: str) -> dict[str, Any] | None:
    """A reproduction row of the book's printed ``metrics`` (those it printed), or None if it printed none."""
    from ..recipes._repro import row

    printed = {k: v for k, v in metrics.items() if v is not None}
    if not printed:
        return None
    return row(chapter, experiment, BOOK_IMPLEMENTATION, printed, None, f"book: {source}")
