"""The porting guide's Python code blocks, by top-level section, and running them (for the tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "porting-guide.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def code_blocks(text: str | None = None) -> dict[str, list[str]]:
    """``{"6. Port and verify your own model": [block, ...], ...}``: every fenced ``python`` block, in order,
    under the ``## `` heading it belongs to (sections without one are left out)."""
    text = GUIDE.read_text(encoding="utf-8") if text is None else text
    out: dict[str, list[str]] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title = part.splitlines()[0].strip()
        blocks = _BLOCK.findall(part)
        if blocks:
            out[title] = blocks
    return out


def run_section(title: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute one section's blocks in order in one namespace (as a reader pasting them would) and return it."""
    namespace = {"__name__": f"guide_section_{title.split('.')[0]}"} if namespace is None else namespace
    for i, block in enumerate(code_blocks()[title]):
        exec(compile(block, f"<porting-guide.md: {title}, block {i + 1}>", "exec"), namespace)
    return namespace
