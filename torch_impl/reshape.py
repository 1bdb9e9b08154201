"""Reshaping modules (chapters 5 and 7): ``Flatten`` and ``Reshape``.

    Flatten:         x [N, d1, d2, ...]      ->  x.flatten(1)          [N, d1·d2·...]   (C order, like scratch)
    Reshape(shape):  x [N, prod(shape)]      ->  x.reshape(N, *shape)  [N, *shape]

Both keep the batch axis and the values' order (row-major), so the gradient is the output gradient
reshaped back (autograd). ``Reshape`` is the inverse of ``Flatten`` for one sample shape: chapter 7's
decoder uses ``Reshape((7, 28, 28))`` where the book writes ``x.view(-1, 7, 28, 28)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

from torch import Tensor, nn

from ._validation import boundary, check_int, check_tensor, describe

__all__ = ["Flatten", "Reshape"]


class Flatten(nn.Module):
    """``[N, ...] -> [N, prod(...)]``, the torch twin of ``scratch.Flatten`` (``nn.Flatten()`` checked)."""

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Flatten every axis after the batch axis."""
        name = "Flatten input"
        check_tensor(x, name)
        if x.dim() < 2:
            raise ValueError(f"{name} must have at least 2 dimensions [batch, ...]; received shape {tuple(x.shape)}")
        return x.flatten(1)


class Reshape(nn.Module):
    """``[N, prod(shape)] -> [N, *shape]`` (any input whose samples hold ``prod(shape)`` values).

    ``shape`` is the per-sample shape (an int or a sequence of ints >= 1), without the batch axis.
    """

    def __init__(self, shape: int | Sequence[int]) -> None:
        super().__init__()
        if isinstance(shape, Integral) and not isinstance(shape, bool):
            dims: Sequence[object] = (shape,)
        elif isinstance(shape, Sequence) and not isinstance(shape, str) and len(shape) > 0:
            dims = shape
        else:
            raise TypeError(
                f"shape must be an integer or a non-empty sequence of integers >= 1 (the per-sample shape, "
                f"e.g. (7, 28, 28)); received {describe(shape)}"
            )
        self.shape = tuple(check_int(d, f"shape[{i}]", 1) for i, d in enumerate(dims))
        self.size = math.prod(self.shape)

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Return ``x.reshape(N, *shape)``."""
        name = "Reshape input"
        check_tensor(x, name)
        per_sample = math.prod(x.shape[1:]) if x.dim() >= 2 else 0
        if x.dim() < 2 or per_sample != self.size:
            raise ValueError(
                f"{name} must have {self.size} values per sample to be reshaped to {self.shape} "
                f"(e.g. shape [batch, {self.size}]); received shape {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
