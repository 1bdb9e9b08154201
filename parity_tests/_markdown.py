"""The one Markdown escaper of ``parity_tests``: table cells, inline code and tables (GitHub-flavoured Markdown).

Every report, table and generated guide block puts free text (notes, error messages, printed outputs, reasons)
into table cells through :func:`cell`, so a ``|`` in the text can never end a cell early and a newline can never
end the row:

- :func:`cell` collapses every run of whitespace (newlines included) to one space, optionally shortens the text
  to ``limit`` characters (ending in ``...``), and escapes ``|`` as ``\\|``. With ``literal=True`` it escapes
  every character Markdown would interpret (backslash, backtick, ``*``, ``_``, ``<``, ``>``, brackets) as well,
  so the text shows exactly as typed; without it, links and code spans in the text stay live.
- :func:`cell_lines` keeps the text's lines, joined with ``<br>`` (HTML special characters escaped).
- :func:`code` is inline code in a cell; :func:`table` joins formatted cells into table lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["cell", "cell_lines", "code", "table"]

_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")  # everything Markdown may read as markup inside a table cell
ELLIPSIS = "..."


def cell(text: str, *, limit: int | None = None, literal: bool = False) -> str:
    """``text`` as one table cell: whitespace runs -> one space, at most ``limit`` characters (the cut marked
    with ``...``), ``|`` escaped; ``literal``: every Markdown special character escaped too."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; received {type(text).__name__}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= len(ELLIPSIS)):
        raise ValueError(f"limit must be None or an integer > {len(ELLIPSIS)}; received {limit!r}")
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - len(ELLIPSIS)] + ELLIPSIS
    if literal:
        return _SPECIAL.sub(r"\\\1", flat)
    return flat.replace("|", "\\|")


def cell_lines(text: str) -> str:
    """``text`` as one table cell keeping its lines: each line's whitespace runs collapsed, ``<``/``>`` as HTML
    entities, the lines joined with ``<br>``, ``|`` escaped (leading and trailing blank lines dropped)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; received {type(text).__name__}")
    lines = [" ".join(line.split()) for line in text.strip("\n").splitlines()]
    return "<br>".join(line.replace("<", "&lt;").replace(">", "&gt;") for line in lines).replace("|", "\\|")


def code(text: str) -> str:
    """``text`` as inline code in a table cell (a ``|`` must be escaped even inside code)."""
    if "`" in text:
        raise ValueError(f"cannot put a backtick in inline code: {text!r}")
    return "`" + text.replace("|", "\\|") + "`"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table (cells already formatted with :func:`cell` or :func:`code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
