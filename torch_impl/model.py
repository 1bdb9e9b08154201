"""Deprecated alias of ``torch_impl.network`` (the module's old name; it mirrors ``scratch/network.py`` now).
Kept for one minor version: import from ``torch_impl.network`` or ``torch_impl``."""

from .network import *  # noqa: F403
from .network import __all__ as __all__
