"""Pooling (chapter 5; the book has the maths only): ``MaxPool2D`` and ``AvgPool2D``.

Square windows of ``kernel_size``, moved by ``stride`` (``None``: ``kernel_size``, non-overlapping windows),
no padding, the remainder dropped (floor):

    out[n, c, h, w] = max / mean of x[n, c, s·h : s·h + k, s·w : s·w + k]
    H_out = floor((H - k) / s) + 1,  W_out = floor((W - k) / s) + 1

``MaxPool2D`` is ``F.max_pool2d`` and ``AvgPool2D`` is ``F.avg_pool2d``; autograd gives the gradients. The
max-pool gradient goes to ONE entry per window: the first maximum in row-major window order when a window
holds tied maxima. The tests pin this on the CPU; torch's CUDA kernels scan the window in the same order and
replace the running maximum only with a strictly larger value (read from their source, not measured here).
The average-pool gradient is G / k² on every entry of the window.

Inputs are checked first: a 4-D, non-empty, finite, floating-point tensor ``[N, C, H, W]`` whose height and
width are at least ``kernel_size`` (a window larger than the input is a ``ValueError``).
"""

from __future__ import annotations

import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

from ._validation import boundary, check_int, check_tensor

__all__ = ["AvgPool2D", "MaxPool2D"]


class _Pool2D(nn.Module):
    """Shared arguments and input checks."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = check_int(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else check_int(stride, "stride", 1)

    def _check(self, x: Tensor) -> None:
        name = f"{type(self).__name__} input"
        check_tensor(x, name, 4, "[batch, channels, height, width]")
        k = self.kernel_size
        if x.shape[2] < k or x.shape[3] < k:
            raise ValueError(
                f"{name} must be at least {k}x{k} (kernel_size={k}): the window is larger than the input; "
                f"received shape {tuple(x.shape)}"
            )

    def output_size(self, size: int) -> int:
        """Output length along one axis for an input of length ``size``: ``floor((size - k) / s) + 1``."""
        size = check_int(size, "size", self.kernel_size)
        return (size - self.kernel_size) // self.stride + 1

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2D(_Pool2D):
    """Max pooling, ``F.max_pool2d(x, kernel_size, stride)`` (ties: the first maximum gets the gradient)."""

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[N, C, H, W]`` -> ``[N, C, H_out, W_out]``."""
        self._check(x)
        return F.max_pool2d(x, self.kernel_size, self.stride)


class AvgPool2D(_Pool2D):
    """Average pooling, ``F.avg_pool2d(x, kernel_size, stride)``."""

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[N, C, H, W]`` -> ``[N, C, H_out, W_out]``."""
        self._check(x)
        return F.avg_pool2d(x, self.kernel_size, self.stride)
