"""Command-line helpers shared by the recipes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; received {value}")
    return value


def dtype_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--dtype {float64,float32}`` (default float64) to ``parser``, with the recipe's ``help``."""
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64", help=help)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """Parse ``argv``; return the exit code instead of exiting on ``--help`` (0) or a usage error (2)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
