"""Deprecated alias: chapter 2's torch twins now live in ``torch_impl.linear_regression`` and
``torch_impl.one_hidden_layer`` (the names of their scratch modules). Kept for one minor version."""

from .linear_regression import *  # noqa: F403
from .linear_regression import __all__ as _lr_all
from .one_hidden_layer import *  # noqa: F403
from .one_hidden_layer import __all__ as _nn_all

__all__ = [*_lr_all, *_nn_all]
