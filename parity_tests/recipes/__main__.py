"""Dispatcher: ``python -m parity_tests.recipes NAME [options]`` runs the recipe called NAME."""

from __future__ import annotations

import sys
from collections.abc import Callable

from . import ch2, ch3, ch5, ch7_cnn

RECIPES: dict[str, Callable[[list[str] | None], int]] = {
    "ch2": ch2.main,
    "ch3": ch3.main,
    "ch5": ch5.main,
    "ch7-cnn": ch7_cnn.main,
}

USAGE = "usage: python -m parity_tests.recipes NAME [options]   (NAME --help for a recipe's options)"


def main(argv: list[str] | None = None) -> int:
    """Run the recipe named by the first argument with the remaining arguments; return its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        print("recipes:")
        for name, recipe in RECIPES.items():
            module = sys.modules.get(recipe.__module__)
            summary = ((module.__doc__ if module else None) or "").strip().splitlines()
            print(f"  {name:8s} {summary[0] if summary else ''}")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in RECIPES:
        print(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    return RECIPES[name](rest)


if __name__ == "__main__":
    sys.exit(main())
