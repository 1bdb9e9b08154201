"""Pooling (chapter 5; the book shows the maths only): ``MaxPool2D`` and ``AvgPool2D``.

Square ``k x k`` windows moved by the stride ``s`` (default ``k``: non-overlapping windows), no padding, the
remainder dropped (torch's ``ceil_mode=False``). Input x ``[N, C, H, W]``, output ``[N, C, H_out, W_out]``:

    H_out = floor((H - k) / s) + 1,   W_out = floor((W - k) / s) + 1
    window(n, c, y, x) = x[n, c, y·s : y·s + k, x·s : x·s + k]

    MaxPool2D   forward:   out[n, c, y, x] = max window(n, c, y, x)
                backward:  the whole G[n, c, y, x] goes to ONE entry of the window: the first maximum in
                           row-major window order (offset t = i·k + j smallest), torch's choice, so tied maxima
                           give the same gradient as torch; overlapping windows (s < k) add up.
    AvgPool2D   forward:   out[n, c, y, x] = (1 / k²) Σ window(n, c, y, x)
                backward:  every entry of the window receives G[n, c, y, x] / k² (overlaps add up).

Both are vectorised over the k·k kernel offsets (i, j): the offset's strided view
``x[:, :, i : i + s·(H_out-1) + 1 : s, j : ...]`` ``[N, C, H_out, W_out]`` holds that entry of every window,
so the forward pass is k² element-wise operations and the backward pass k² strided writes (no ``np.add.at``).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_float_array, check_int
from .base import Operation

__all__ = ["AvgPool2D", "MaxPool2D"]

_LAYOUT = "[batch, channels, height, width]"


class _Pool2D(Operation):
    """Shared arguments, input checks and window views."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        self.kernel_size = check_int(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else check_int(stride, "stride", 1)

    def _check_input(self, input_: np.ndarray) -> None:
        name = f"{type(self).__name__} input_"
        check_float_array(input_, name, ndim=4, layout=_LAYOUT)
        k = self.kernel_size
        if input_.shape[2] < k or input_.shape[3] < k:
            raise ValueError(
                f"{name} must be at least {k}x{k} (kernel_size={k}): the window is larger than the input; "
                f"received shape {input_.shape}"
            )

    def output_size(self, size: int) -> int:
        """Output length along one axis for an input of length ``size``: ``floor((size - k) / s) + 1``."""
        size = check_int(size, "size", self.kernel_size)
        return (size - self.kernel_size) // self.stride + 1

    def _offset_view(self, array: np.ndarray, i: int, j: int, h_out: int, w_out: int) -> np.ndarray:
        """Entry (i, j) of every window: ``array[:, :, i + s·y, j + s·x]`` as a ``[N, C, H_out, W_out]`` view."""
        s = self.stride
        return array[:, :, i : i + s * (h_out - 1) + 1 : s, j : j + s * (w_out - 1) + 1 : s]

    def _offsets(self) -> list[tuple[int, int]]:
        """Kernel offsets (i, j) in row-major window order."""
        k = self.kernel_size
        return [(i, j) for i in range(k) for j in range(k)]

    def _out_hw(self) -> tuple[int, int]:
        return self.output_size(self.input_.shape[2]), self.output_size(self.input_.shape[3])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling over ``kernel_size x kernel_size`` windows (stride defaults to ``kernel_size``).

    Shapes and equations in the module docstring. After ``forward``, ``argmax`` ``[N, C, H_out, W_out]``
    (the smallest unsigned integer dtype that fits) holds each window's winning offset t = i·k + j, the first
    maximum in row-major order.

    Forward: starting from offset 0, each later offset replaces the running maximum only where it is strictly
    larger, so ties keep the earliest offset. Backward: for each offset t, ``G ⊙ [argmax == t]`` is written
    (non-overlapping windows) or added (overlapping windows) into that offset's strided view of dx.
    """

    argmax: np.ndarray

    def _output(self, inference: bool) -> np.ndarray:
        x = self.input_
        h_out, w_out = self._out_hw()
        k = self.kernel_size
        offsets = self._offsets()
        out = self._offset_view(x, 0, 0, h_out, w_out).copy()  # [N, C, H_out, W_out], offset t = 0
        argmax = np.zeros(out.shape, dtype=np.min_scalar_type(k * k - 1))  # uint8 up to 16x16 windows
        larger = np.empty(out.shape, dtype=bool)
        update = np.empty(out.shape, dtype=argmax.dtype)
        for t in range(1, k * k):
            candidate = self._offset_view(x, *offsets[t], h_out, w_out)
            np.greater(candidate, out, out=larger)  # strictly larger: a tie keeps the earlier offset
            # offsets only grow, so the winner is the last offset that updated: argmax = max(argmax, t·larger)
            np.multiply(larger, argmax.dtype.type(t), out=update)
            np.maximum(argmax, update, out=argmax)
            np.maximum(out, candidate, out=out)
        self.argmax = argmax
        return out

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        x = self.input_
        h_out, w_out = self.output.shape[2:]
        g = output_grad.astype(x.dtype, copy=False)
        dx = np.zeros_like(x)
        winner = np.empty(self.argmax.shape, dtype=bool)
        routed = np.empty(g.shape, dtype=x.dtype)
        overlapping = self.stride < self.kernel_size
        for t, (i, j) in enumerate(self._offsets()):
            np.equal(self.argmax, t, out=winner)
            np.multiply(g, winner, out=routed)  # G where offset t won the window, 0 elsewhere
            target = self._offset_view(dx, i, j, h_out, w_out)  # [N, C, H_out, W_out] view of dx
            if overlapping:
                target += routed
            else:  # each entry of dx belongs to at most one window: a write, no add needed
                target[...] = routed
        return dx


class AvgPool2D(_Pool2D):
    """Average pooling over ``kernel_size x kernel_size`` windows (stride defaults to ``kernel_size``).

    Shapes and equations in the module docstring: the forward pass sums the k² offset views and divides by
    k² (as torch does); the backward pass writes or adds G / k² into every offset view of dx.
    """

    def _output(self, inference: bool) -> np.ndarray:
        x = self.input_
        h_out, w_out = self._out_hw()
        offsets = self._offsets()
        out = self._offset_view(x, 0, 0, h_out, w_out).copy()  # [N, C, H_out, W_out]
        for i, j in offsets[1:]:
            out += self._offset_view(x, i, j, h_out, w_out)
        out /= self.kernel_size * self.kernel_size
        return out

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        x = self.input_
        h_out, w_out = self.output.shape[2:]
        share = output_grad.astype(x.dtype, copy=False) / (self.kernel_size * self.kernel_size)
        overlapping = self.stride < self.kernel_size
        dx = np.zeros_like(x)
        for i, j in self._offsets():
            target = self._offset_view(dx, i, j, h_out, w_out)  # [N, C, H_out, W_out] view of dx
            if overlapping:
                target += share
            else:
                target[...] = share
        return dx
