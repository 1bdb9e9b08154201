"""The book's chapter 7 notebook as executable test material: its cells run with the book's ``lincoln`` imported
from ``DLFS_BOOK`` (shared by the tests that compare our chapter 7 models with the book's own classes)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from parity_tests.book.manifest import BookError, book_root

NOTEBOOK = "07_PyTorch/Code.ipynb"


def book_missing() -> str | None:
    """Why the book's chapter 7 notebook cannot be read here (``None`` when it can)."""
    try:
        root = book_root()
    except BookError as exc:
        return str(exc)
    return None if (root / NOTEBOOK).is_file() else f"{root / NOTEBOOK} is missing"


@contextmanager
def book_cells(cells: Iterable[int], name: str) -> Iterator[dict[str, Any]]:
    """Execute the notebook's cells (by index, in the order given) in one namespace with ``<book>/lincoln`` on
    ``sys.path``; afterwards the path entry and every imported ``lincoln`` module are removed and torch's global
    generator is restored."""
    root = book_root()
    source = json.loads((root / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    folder = str(root / "lincoln")
    sys.path.insert(0, folder)
    state = torch.get_rng_state()
    try:
        namespace: dict[str, Any] = {"__name__": name}
        for index in cells:
            exec("".join(source[index]["source"]), namespace)
        yield namespace
    finally:
        torch.set_rng_state(state)
        sys.path.remove(folder)
        for module in [m for m in sys.modules if m == "lincoln" or m.startswith("lincoln.")]:
            del sys.modules[module]
