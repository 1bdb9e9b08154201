"""The spec registry: every module in this package that defines ``SPECS`` contributes its specs.

Adding a component touches three places: its scratch class, its torch twin, and one spec module here
(found automatically; it names both classes and carries the converter). Generated tests, the coverage test,
the report, the benchmarks and the porting guide's generated blocks iterate over ``all_specs()``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Case, ComponentSpec, ErrorCase, Problem, ShapeCase, Skip, TorchClass

__all__ = [
    "Case",
    "ComponentSpec",
    "ErrorCase",
    "Problem",
    "ShapeCase",
    "Skip",
    "TorchClass",
    "all_specs",
    "get_spec",
]


@cache
def all_specs() -> tuple[ComponentSpec, ...]:
    """Every registered spec, in module then definition order. Names are unique."""
    specs: list[ComponentSpec] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        specs.extend(getattr(module, "SPECS", ()))
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate spec names: {duplicates}")
    return tuple(specs)


def get_spec(name: str) -> ComponentSpec:
    """The spec called ``name``."""
    for spec in all_specs():
        if spec.name == name:
            return spec
    raise KeyError(f"no spec named {name!r}; known: {[s.name for s in all_specs()]}")
