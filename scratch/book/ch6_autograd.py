"""Chapter 6's ``Autograd_Simple.ipynb``: ``Numberable``, ``ensure_number`` and ``NumberWithGrad``.

``NumberWithGrad`` is ``scratch.NumberWithGrad``: the book's signature and rules, correct for values used more
than once (the book's recursive backward over-counts them; guide erratum E12). Python numbers keep their type,
so ``NumberWithGrad(3)`` builds integer gradients and the notebook prints ``4``, ``1`` and ``35`` as the book
does.
"""

from __future__ import annotations

from typing import Union

from ..autodiff import NumberWithGrad

__all__ = ["NumberWithGrad", "Numberable", "ensure_number"]

Numberable = Union[float, int]  # noqa: UP007 - the notebook's alias, spelled as the notebook spells it


def ensure_number(num: Numberable | NumberWithGrad) -> NumberWithGrad:
    """``num`` itself if it is a ``NumberWithGrad``, else a new leaf holding it."""
    return num if isinstance(num, NumberWithGrad) else NumberWithGrad(num)
