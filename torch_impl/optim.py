"""Deprecated alias of ``torch_impl.optimizers`` (the module's old name; it mirrors ``scratch/optimizers.py`` now).
Kept for one minor version: import from ``torch_impl.optimizers`` or ``torch_impl``."""

from .optimizers import *  # noqa: F403
from .optimizers import __all__ as __all__
