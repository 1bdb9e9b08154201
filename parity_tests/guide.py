"""Generate the porting guide's tables from the code, so that the guide cannot drift from it.

``docs/porting-guide.md`` is hand-written prose with three generated blocks, each between marker comments:

    <!-- BEGIN GENERATED: components -->   every spec of ``parity_tests.specs.all_specs()``
    <!-- BEGIN GENERATED: layouts -->      the layout table of every spec with a converter (``converter.maps``)
    <!-- BEGIN GENERATED: tolerances -->   the tolerance table of ``parity_tests.tolerances``
    <!-- BEGIN GENERATED: models -->       ``parity_tests.port.scratch_map``'s key table for one small example of
                                           each scratch model kind, for both targets (twin and plain)

each closed by the matching ``<!-- END GENERATED: name -->``. Usage::

    python -m parity_tests.guide            # rewrite the blocks in place (the prose is left untouched)
    python -m parity_tests.guide --check    # exit 1 and print a unified diff if the file is stale

The rewrite is atomic (``parity_tests._io``: a temporary file in the same folder, then renamed). This module
never imports torch: the specs import it lazily, inside their torch-side callables only.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import _io
from ._markdown import cell, code, table
from .port.models import describe_target, scratch_map
from .specs import all_specs
from .specs.base import ComponentSpec
from .tolerances import CATEGORIES, DEGENERATE_SCALE, FD_EPS, FD_TOLERANCE, TOLERANCES

GUIDE_PATH = Path(__file__).resolve().parents[1] / "docs" / "porting-guide.md"
COMMAND = "python -m parity_tests.guide"


class GuideError(ValueError):
    """The guide's marker comments are missing, duplicated or out of order."""


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED: {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED: {name} -->"


# ---------------------------------------------------------------------------------------------------------
# Markdown helpers
# ---------------------------------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """``text`` as literal Markdown table-cell text (special characters escaped, one line): ``_markdown.cell``."""
    return cell(text, literal=True)


md_code = code  # inline code in a table cell (``_markdown.code``)
md_table = table  # table lines from formatted cells (``_markdown.table``)


def _number(value: float) -> str:
    """``1e-12``, ``1e-4``, ``0.5``: scientific notation without padding for small and large values."""
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------------------
# The blocks
# ---------------------------------------------------------------------------------------------------------


def component_table(specs: Sequence[ComponentSpec]) -> list[str]:
    """One row per spec: component, chapter, scratch class, torch twin, notes."""
    rows = [
        [
            md_text(s.name),
            str(s.chapter),
            md_code(s.scratch_name),
            md_code(s.torch_name),
            md_text(s.notes) if s.notes else "",
        ]
        for s in specs
    ]
    return md_table(["Component", "Chapter", "scratch", "torch twin", "Notes"], rows)


def layout_tables(specs: Sequence[ComponentSpec]) -> list[str]:
    """For every spec with a converter: a caption and its table of tensor maps."""
    lines: list[str] = []
    for spec in specs:
        converter = spec.converter
        if converter is None:
            continue
        if lines:
            lines.append("")
        lines.append(
            f"**{md_text(spec.name)}** ({md_code(spec.scratch_name)} → {md_code(spec.torch_name)}; "
            f"converter {md_code(converter.name)})"
        )
        lines.append("")
        rows = [
            [md_code(m.book), md_code(m.book_shape), md_code(m.torch), md_code(m.torch_shape), md_text(m.rule)]
            for m in converter.maps
        ]
        lines += md_table(["Book name", "Book shape", "torch `state_dict` key", "torch shape", "Rule"], rows)
    if not lines:
        lines.append("(No component has a converter yet.)")
    return lines


def tolerance_table() -> list[str]:
    """The tolerance tiers (dtype x category), then the finite-difference and degeneracy constants."""
    rows = [[md_code(dtype), *(_number(tiers[c]) for c in CATEGORIES)] for dtype, tiers in TOLERANCES.items()]
    lines = md_table(["dtype", *CATEGORIES], rows)
    lines += [
        "",
        f"Central differences (scratch's backward against its own forward, float64): step eps = "
        f"{_number(FD_EPS)}, tolerance {_number(FD_TOLERANCE)}. A torch reference whose largest magnitude is "
        f"below {_number(DEGENERATE_SCALE)} is refused as degenerate.",
    ]
    return lines


def _model_examples() -> list[tuple[str, str, Any]]:
    """``(title, constructor as written, the scratch model)`` for one small example of each model kind. The
    models are never run: ``scratch_map`` needs only their architecture (and no torch)."""
    from scratch import (
        Autoencoder,
        Conv2D,
        Dense,
        GRULayer,
        LSTMLayer,
        MeanSquaredError,
        NeuralNetwork,
        ReLU,
        RNNModel,
        Sigmoid,
        SoftmaxCrossEntropy,
    )

    return [
        (
            "Dense MLP",
            "NeuralNetwork([Dense(4, Sigmoid()), Dense(1)], MeanSquaredError())",
            NeuralNetwork([Dense(4, Sigmoid()), Dense(1)], MeanSquaredError()),
        ),
        (
            "CNN",
            "NeuralNetwork([Conv2D(4, 3, activation=ReLU(), flatten=True, bias=True), Dense(10)], "
            "SoftmaxCrossEntropy())",
            NeuralNetwork([Conv2D(4, 3, activation=ReLU(), flatten=True, bias=True), Dense(10)], SoftmaxCrossEntropy()),
        ),
        (
            "Recurrent stack",
            'RNNModel([LSTMLayer(8, 6), GRULayer(7, 5, reset="after")], sequence_length=10, vocab_size=5)',
            RNNModel([LSTMLayer(8, 6), GRULayer(7, 5, reset="after")], sequence_length=10, vocab_size=5),
        ),
        (
            "Autoencoder",
            "Autoencoder(hidden_channels=(3, 2), kernel_size=3, encoding_size=4, image_shape=(1, 6, 6))",
            Autoencoder(hidden_channels=(3, 2), kernel_size=3, encoding_size=4, image_shape=(1, 6, 6)),
        ),
    ]


def model_tables() -> list[str]:
    """For one small example of each scratch model kind and both targets: the module ``to_torch`` builds and the
    key table of ``parity_tests.port.scratch_map`` (NumPy name and shape, ``state_dict`` key and shape, rule)."""
    lines = [
        "For one small example of each scratch model kind: the module that `to_torch(model, target)` builds and the "
        "key table of `scratch_map(model, target)`, which `to_torch` loads the weights through and "
        "`to_scratch(module, model, target)` reads them back through (`model_key_table(model, target)` prints it). "
        "Shapes are symbolic: a recurrent layer has V input features, hidden size H and output size O.",
        "",
        "Both round trips are bit-exact in float64 (`tests/parity/test_port_models.py`; a torch "
        "recurrent layer's two biases come back as their sum, exact where the summed `bias_hh` blocks are 0, as "
        "`to_torch` and the twins keep them). No plain "
        'equivalent, so `target="plain"` is a `ValueError` (use the twin): the book\'s non-inverted dropout '
        '(`nn.Dropout` is inverted) and `GRULayer(reset="before")` (`nn.GRU` resets after). A plain recurrent '
        'stack starts every call from zero states: it matches `hidden_state="zeros"` on every call and the '
        "book's carried state only on a call that starts from zeros; the twin copies the carried state both ways.",
    ]
    for title, source, model in _model_examples():
        lines += ["", f"**{md_text(title)}**: {md_code(source)}"]
        for target in ("twin", "plain"):
            rows = [
                [md_code(r.numpy), md_code(r.numpy_shape), md_code(r.torch), md_code(r.torch_shape), md_text(r.rule)]
                for r in scratch_map(model, target).rows()
            ]
            lines += ["", f"*{target}*: {md_code(describe_target(model, target))}", ""]
            lines += md_table(["NumPy name", "NumPy shape", "torch `state_dict` key", "torch shape", "Rule"], rows)
    return lines


def _blocks() -> dict[str, Callable[[], list[str]]]:
    specs = all_specs()
    return {
        "components": lambda: component_table(specs),
        "models": model_tables,
        "layouts": lambda: layout_tables(specs),
        "tolerances": tolerance_table,
    }


BLOCK_NAMES = ("components", "models", "layouts", "tolerances")


def render_block(name: str) -> str:
    """The full text between the markers of block ``name`` (starting and ending with a newline)."""
    body = _blocks()[name]()
    note = f"<!-- Generated by `{COMMAND}` from the code; edit the code, not this block. -->"
    return "\n" + "\n".join([note, "", *body, ""]) + "\n"


def render(text: str) -> str:
    """``text`` with every generated block replaced by what the code produces now."""
    out = text
    for name in BLOCK_NAMES:
        begin, end = begin_marker(name), end_marker(name)
        if out.count(begin) != 1 or out.count(end) != 1:
            raise GuideError(
                f"the guide must contain exactly one {begin!r} and one {end!r}; found "
                f"{out.count(begin)} and {out.count(end)}"
            )
        start = out.index(begin) + len(begin)
        stop = out.index(end)
        if stop < start:
            raise GuideError(f"{end!r} comes before {begin!r}")
        out = out[:start] + render_block(name) + out[stop:]
    return out


def diff(current: str, expected: str, path: Path) -> str:
    """A unified diff from ``current`` to ``expected``."""
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path} (checked in)",
            tofile=f"{path} (generated)",
        )
    )


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (``parity_tests._io``), keeping the file's permissions."""
    _io.write_atomic(path, text, mode=path.stat().st_mode & 0o777 if path.exists() else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff if the guide is stale")
    parser.add_argument("--path", type=Path, default=GUIDE_PATH, help=f"the guide (default: {GUIDE_PATH})")
    args = parser.parse_args(argv)
    path: Path = args.path
    current = path.read_text(encoding="utf-8")
    try:
        expected = render(current)
    except GuideError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if current == expected:
            print(f"{path} is up to date")
            return 0
        print(diff(current, expected, path), end="")
        print(f"{path} is stale: run `{COMMAND}`", file=sys.stderr)
        return 1
    if current != expected:
        write_atomic(path, expected)
        print(f"rewrote the generated blocks of {path}")
    else:
        print(f"{path} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
