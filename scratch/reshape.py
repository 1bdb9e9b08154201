"""Reshaping operations (chapter 5): ``Flatten`` and its inverse ``Reshape``.

Both only reinterpret the element order (C order, last axis fastest), so the backward pass is the inverse
reshape of the upstream gradient:

    Flatten    forward:  [N, d_1, ..., d_m] -> [N, d_1·...·d_m]     backward: [N, d_1·...·d_m] -> [N, d_1, ..., d_m]
    Reshape    forward:  [N, s_1·...·s_m]   -> [N, s_1, ..., s_m]   backward: [N, s_1, ..., s_m] -> [N, s_1·...·s_m]

``Flatten`` is torch's ``nn.Flatten()`` (``start_dim=1``); ``Reshape(shape)`` is ``nn.Unflatten(1, shape)`` and
turns a decoder's flat output back into images (the chapter 7 autoencoder). The outputs are views when NumPy
can make them (copies otherwise), exactly like ``ndarray.reshape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np

from ._validation import _describe, check_float_array
from .base import Operation

__all__ = ["Flatten", "Reshape"]


class Flatten(Operation):
    """``[N, ...] -> [N, prod(...)]`` in C order (the book's ``Flatten``).

    forward:   Y = X.reshape(N, -1)
    backward:  dL/dX = G.reshape(X.shape)
    """

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "Flatten input_")
        if input_.ndim < 2:
            raise ValueError(
                f"Flatten input_ must have at least 2 dimensions [batch, ...]; received shape {input_.shape}"
            )

    def _output(self, inference: bool) -> np.ndarray:
        return self.input_.reshape(self.input_.shape[0], -1)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad.reshape(self.input_.shape)


class Reshape(Operation):
    """``[N, prod(shape)] -> [N, *shape]`` in C order: the inverse of ``Flatten``.

        forward:   Y = X.reshape(N, *shape)
        backward:  dL/dX = G.reshape(X.shape)

    Like the torch twin, any input ``[N, ...]`` whose samples hold ``prod(shape)`` values is accepted.

    ``shape`` is a positive integer or a sequence of positive integers (e.g. ``(1, 28, 28)``).
    """

    def __init__(self, shape: int | Sequence[int]) -> None:
        dims = (shape,) if isinstance(shape, Integral) and not isinstance(shape, bool) else shape
        if not isinstance(dims, Sequence) or isinstance(dims, str) or len(dims) == 0:
            raise TypeError(
                f"shape must be a positive integer or a non-empty sequence of them; received {_describe(shape)}"
            )
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, Integral):
                raise TypeError(f"shape must contain only integers; received {_describe(shape)}")
            if d < 1:
                raise ValueError(f"shape must contain only integers >= 1; received {tuple(dims)!r}")
        self.shape: tuple[int, ...] = tuple(int(d) for d in dims)
        self.size = math.prod(self.shape)

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "Reshape input_")
        per_sample = math.prod(input_.shape[1:]) if input_.ndim >= 2 else 0
        if input_.ndim < 2 or per_sample != self.size:
            raise ValueError(
                f"Reshape input_ must have {self.size} values per sample to become shape {self.shape} "
                f"({' x '.join(map(str, self.shape))} = {self.size}, e.g. shape [batch, {self.size}]); "
                f"received shape {input_.shape}"
            )

    def _output(self, inference: bool) -> np.ndarray:
        return self.input_.reshape(self.input_.shape[0], *self.shape)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad.reshape(self.input_.shape)

    def __repr__(self) -> str:
        return f"Reshape(shape={self.shape})"
