"""Convolution (chapter 5): ``Conv2D_Op`` (vectorised), ``Conv2D_OpLoop`` (teaching loops), ``ChannelBiasAdd``.

Notation: input x ``[N, C, H, W]`` (``C`` = C_in), kernel W ``[C, O, k, k]`` (the book's layout; ``O`` =
C_out, square ``k x k``, any k >= 1), stride ``s``, zero padding ``p_t, p_b`` rows above/below and ``p_l, p_r``
columns left/right, x_pad ``[N, C, H + p_t + p_b, W + p_l + p_r]`` the zero-padded input.

    H_out = floor((H + p_t + p_b - k) / s) + 1,    W_out = floor((W + p_l + p_r - k) / s) + 1

    forward   out[n, o, y, x] = Σ_{c, i, j} x_pad[n, c, y·s + i, x·s + j] · W[c, o, i, j]
              (cross-correlation, as in the book and in ``torch.nn.functional.conv2d``; no bias)

    backward, for the upstream gradient G = dL/d out ``[N, O, H_out, W_out]``:
              dL/dW[c, o, i, j]   = Σ_{n, y, x} G[n, o, y, x] · x_pad[n, c, y·s + i, x·s + j]
              dL/dx_pad[n, c, u, v] = Σ_{o, y, x, i, j : y·s + i = u, x·s + j = v} G[n, o, y, x] · W[c, o, i, j]
              dL/dx = dL/dx_pad with the padding cut off.

The input gradient scatters every G[n, o, y, x] back through the kernel, which for stride 1 is the
correlation of the zero-padded G with the kernel rotated by 180° (the book's code forgot the rotation), and the
weight gradient sums over every sample and every output pixel (the book's vectorised version paired patch
rows and gradient rows of different samples when N > 1). Both are correct here for every N, stride, padding.

Padding: ``None`` is the book's ``k // 2`` zeros on every side; an int ``p >= 0`` pads ``p`` on every side;
``"same"`` pads ``(k - 1) // 2`` before and ``k // 2`` after along each axis (torch's ``padding="same"``,
asymmetric for even k) so that H_out = H; it requires stride 1 (torch refuses it otherwise too).

Three ways to compute it, equal to floating-point rounding:

* ``Conv2D_OpLoop``: the chapter's nested loops over samples, output channels, output pixels, input
  channels and kernel offsets (slow; the tests' oracle for small sizes);
* ``Conv2D_Op(impl="readable")``: im2col, the same sums as one matrix product per sample, with the patch
  matrix built (and scattered back, col2im) by a loop over the k·k kernel offsets (``im2col``, ``col2im``);
* ``Conv2D_Op(impl="fast")``, the default: the same products with a memory layout chosen for BLAS, kept
  workspaces and a col2im that adds shifted flattened images; with fewer output than input channels (stride
  1) it unfolds the output gradient instead of the input (``scratch._fast_conv`` explains the tricks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _fast_conv
from ._validation import (  # conv_output_size, conv_pads, resolve_padding: data._checks', shared with torch_impl
    check_choice,
    check_float_array,
    check_int,
    conv_output_size,
    conv_pads,
    resolve_padding,
)
from .base import ParamOperation

__all__ = ["ChannelBiasAdd", "Conv2D_Op", "Conv2D_OpLoop", "col2im", "conv_output_size", "conv_pads", "im2col"]

IMPLS = ("fast", "readable")  # ``impl`` of Conv2D_Op, Conv2D and the recurrent layers: fused kernels or readable

_LAYOUT = "[batch, channels, height, width]"


class _Conv2DBase(ParamOperation):
    """Arguments, checks and geometry shared by the vectorised and the loop convolution."""

    def __init__(self, W: np.ndarray, *, padding: Any = None, stride: int = 1) -> None:
        name = type(self).__name__
        check_float_array(W, f"{name} W", ndim=4, layout="[in_channels, out_channels, k, k]")
        if W.shape[2] != W.shape[3]:
            raise ValueError(
                f"{name} W must hold square kernels [in_channels, out_channels, k, k]; received shape {W.shape}"
            )
        super().__init__(W)
        self.kernel_size = int(W.shape[2])
        self.stride = check_int(stride, "stride", 1)
        self.padding: int | str = resolve_padding(padding, self.kernel_size, self.stride)
        self.pads: tuple[int, int] = conv_pads(self.padding, self.kernel_size, self.stride)

    @property
    def in_channels(self) -> int:
        return int(self.param.shape[0])

    @property
    def out_channels(self) -> int:
        return int(self.param.shape[1])

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """``[N, O, H_out, W_out]`` for an input of shape ``[N, C, H, W]``; ``ValueError`` if the kernel is
        larger than the padded input."""
        n, _, h, w = input_shape
        k, s = self.kernel_size, self.stride
        before, after = self.pads
        hp, wp = h + before + after, w + before + after
        if hp < k or wp < k:
            raise ValueError(
                f"{type(self).__name__} input_ must be at least {k}x{k} once padded (kernel_size={k}, "
                f"padding={self.padding!r}): the kernel is larger than the padded input; received shape "
                f"{tuple(input_shape)}, {hp}x{wp} once padded"
            )
        return n, self.out_channels, (hp - k) // s + 1, (wp - k) // s + 1

    def check_input(self, input_: Any, name: str | None = None) -> None:
        """Validate a convolution input: a 4-D finite float array with ``in_channels`` channels that is at least
        the kernel's size once padded."""
        name = name or f"{type(self).__name__} input_"
        check_float_array(input_, name, ndim=4, layout=_LAYOUT)
        if input_.shape[1] != self.in_channels:
            raise ValueError(
                f"{name} must have {self.in_channels} channels (W has shape {self.param.shape}: "
                f"[in_channels, out_channels, k, k]); received shape {input_.shape}"
            )
        self.output_shape(input_.shape)

    def _check_input(self, input_: np.ndarray) -> None:
        self.check_input(input_)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """x ``[N, C, H, W]`` -> x_pad ``[N, C, H + before + after, W + before + after]`` (a new array)."""
        before, after = self.pads
        return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding!r}, stride={self.stride}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv2D_Op(_Conv2DBase):
    """2-D convolution (cross-correlation) as im2col: every output pixel's patch becomes a column, and the
    whole layer becomes one matrix product per sample.

    Shapes: input ``[N, C, H, W]``, W ``[C, O, k, k]``, output ``[N, O, H_out, W_out]`` (module docstring).
    Let ``K = C·k·k`` (the values under one kernel placement) and ``P = H_out·W_out`` (output pixels per sample).

        im2col:    cols[n, (c, i, j), (y, x)] = x_pad[n, c, y·s + i, x·s + j]       cols ``[N, K, P]``
        forward:   out[n] = Wm · cols[n]             Wm[o, (c, i, j)] = W[c, o, i, j]    Wm ``[O, K]``
                   (``[O, K]·[K, P] -> [O, P]``, i.e. out ``[N, O, H_out, W_out]``)
        backward:  dWm    = Σ_n G[n] · cols[n]ᵀ      (``[O, P]·[P, K] -> [O, K]``, then back to ``[C, O, k, k]``)
                   dcols[n] = Wmᵀ · G[n]             (``[K, O]·[O, P] -> [K, P]``)
                   dx_pad = col2im(dcols): every entry of dcols goes back to the x_pad pixel it was copied
                            from, (y·s + i, x·s + j), and entries copied from the same pixel add up;
                   dx = dx_pad without the padding.

    im2col and col2im loop over the k·k kernel offsets only: for offset (i, j), the row block (·, i, j) of
    cols is x_pad sampled at (y·s + i, x·s + j) for all output pixels at once, a strided slice of x_pad;
    col2im adds the same block back into the same slice. These are the chapter's loops over output pixels
    with the pixel loops turned into array slices (``Conv2D_OpLoop`` keeps all the loops).

    ``impl`` chooses the code that runs: ``"fast"`` (the default) runs the kernels of ``scratch._fast_conv``
    (the same products laid out for BLAS and a col2im that adds shifted flattened images; with fewer output
    than input channels at stride 1, products on the unfolded output gradient instead), ``"readable"``
    runs the methods written out below. Both give the same numbers up to floating-point rounding
    (``tests/scratch/test_readable_vs_fast.py``). Measured at one thread, a whole forward and backward at
    stride 1 is faster with ``"fast"`` at every size tried (1.1-1.3x at the chapter's sizes, up to 1.4x on
    small inputs, 2x for the autoencoder's 14 -> 7 layer and 10x for its 14 -> 1 layer) or equal within
    noise where the matrix products dominate (many channels on small images, 1x1 kernels); at stride 2 or
    more the two are within about 15% either way (``scratch._fast_conv`` says why).

    ``param_grad`` has W's dtype; ``output`` and ``input_grad`` have the input's dtype (W is cast to it).
    """

    _cols: np.ndarray  # the readable forward's patch matrix [N, K, P], kept for the weight gradient
    _fast_cols: np.ndarray | None  # the fast forward's unfolded input for dW (None where the fast kernels need none)

    def __init__(self, W: np.ndarray, *, padding: Any = None, stride: int = 1, impl: str = "fast") -> None:
        super().__init__(W, padding=padding, stride=stride)
        self._impl: str = check_choice(impl, "impl", IMPLS)
        self._work: _fast_conv.Workspace = {}  # the fast kernels' workspaces, kept between calls

    @property
    def impl(self) -> str:
        """``"fast"`` or ``"readable"`` (fixed at construction)."""
        return self._impl

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles leave the fast kernels' workspaces behind (rebuilt on the next call); the patch
        # matrix of the last forward (``_cols``, ``_fast_cols``) is forward state like ``input_`` and is kept
        state = self.__dict__.copy()
        state["_work"] = {}
        return state

    def _output(self, inference: bool) -> np.ndarray:
        if self._impl == "fast":
            out, self._fast_cols = _fast_conv.forward(self.input_, self.param, self.pads, self.stride, self._work)
            return out
        n, o, h_out, w_out = self.output_shape(self.input_.shape)
        self._cols = im2col(self._padded(self.input_), self.kernel_size, self.stride, h_out, w_out)  # [N, K, P]
        y: np.ndarray = self._weight_matrix() @ self._cols  # [O, K] · [N, K, P] -> [N, O, P], one GEMM per sample
        return y.reshape(n, o, h_out, w_out)  # [N, O, P] -> [N, O, H_out, W_out]

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        if self._impl == "fast":
            x = self.input_
            return _fast_conv.input_grad(output_grad, self.param, x.shape, x.dtype, self.pads, self.stride, self._work)
        n, o, h_out, w_out = output_grad.shape
        G = output_grad.reshape(n, o, h_out * w_out)  # [N, O, H_out, W_out] -> [N, O, P]
        dcols = self._weight_matrix().T @ G  # [K, O] · [N, O, P] -> [N, K, P]
        before, after = self.pads
        _, c, h, w = self.input_.shape
        padded_shape = (n, c, h + before + after, w + before + after)
        dx_pad = col2im(dcols, padded_shape, self.kernel_size, self.stride, h_out, w_out)  # [N, C, H_pad, W_pad]
        return dx_pad[:, :, before : before + h, before : before + w].copy()  # crop: [N, C, H, W]

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        if self._impl == "fast":
            return _fast_conv.param_grad(
                output_grad, self._fast_cols, self.input_, self.param, self.pads, self.stride, self._work
            )
        n, o, _, _ = output_grad.shape
        c, k = self.in_channels, self.kernel_size
        G = output_grad.reshape(n, o, -1)  # [N, O, H_out, W_out] -> [N, O, P]
        dWm = (G @ self._cols.transpose(0, 2, 1)).sum(axis=0)  # [N, O, P] · [N, P, K] -> [N, O, K] -> Σ_n [O, K]
        # [O, K] = [O, C, k, k] -> [C, O, k, k]
        return np.ascontiguousarray(dWm.reshape(o, c, k, k).transpose(1, 0, 2, 3), dtype=self.param.dtype)

    def _weight_matrix(self) -> np.ndarray:
        """Wm ``[O, K]``: Wm[o, (c, i, j)] = W[c, o, i, j], in the input's dtype."""
        c, o, k = self.in_channels, self.out_channels, self.kernel_size
        # W [C, O, k, k] -> [O, C, k, k] -> [O, C·k·k]
        return self.param.transpose(1, 0, 2, 3).reshape(o, c * k * k).astype(self.input_.dtype, copy=False)


def im2col(x_pad: np.ndarray, k: int, stride: int, h_out: int, w_out: int) -> np.ndarray:
    """The patch matrix cols ``[N, C·k·k, H_out·W_out]`` of x_pad ``[N, C, H_pad, W_pad]`` (a new array):

        cols[n, (c, i, j), (y, x)] = x_pad[n, c, y·s + i, x·s + j]

    one loop step per kernel offset (i, j): all output pixels (y, x) read x_pad at rows i, i + s, ...,
    i + (H_out - 1)·s and columns j, j + s, ..., j + (W_out - 1)·s, a strided slice.
    """
    n, c = x_pad.shape[:2]
    s = stride
    cols = np.empty((n, c, k, k, h_out, w_out), dtype=x_pad.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = x_pad[:, :, i : i + s * h_out : s, j : j + s * w_out : s]  # [N, C, H_out, W_out]
    return cols.reshape(n, c * k * k, h_out * w_out)  # [N, C, k, k, H_out, W_out] -> [N, K, P]


def col2im(dcols: np.ndarray, padded_shape: tuple[int, ...], k: int, stride: int, h_out: int, w_out: int) -> np.ndarray:
    """The inverse scatter of ``im2col``: dx_pad ``padded_shape = [N, C, H_pad, W_pad]`` from dcols
    ``[N, C·k·k, H_out·W_out]``, adding every entry back where ``im2col`` copied it from:

        dx_pad[n, c, y·s + i, x·s + j] += dcols[n, (c, i, j), (y, x)]     for every (i, j) and (y, x)

    Overlapping windows (s < k) send several entries to one pixel: the ``+=`` sums them.
    """
    n, c = padded_shape[:2]
    s = stride
    dcols6 = dcols.reshape(n, c, k, k, h_out, w_out)  # [N, K, P] -> [N, C, k, k, H_out, W_out]
    dx_pad = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dx_pad[:, :, i : i + s * h_out : s, j : j + s * w_out : s] += dcols6[:, :, i, j]  # [N, C, H_out, W_out]
    return dx_pad


class Conv2D_OpLoop(_Conv2DBase):
    """The same convolution as ``Conv2D_Op``, written as the chapter's nested loops (slow: small inputs only).

    Shapes as in ``Conv2D_Op``. Every output pixel is a sum over input channels and kernel offsets; in the
    backward pass every output gradient G[n, o, y, x] is sent back along the very connections that produced
    out[n, o, y, x]:

        dx_pad[n, c, y·s + i, x·s + j] += G[n, o, y, x] · W[c, o, i, j]
        dW[c, o, i, j]                 += G[n, o, y, x] · x_pad[n, c, y·s + i, x·s + j]

    Scattering through the kernel this way is what "convolve the output gradient with the kernel rotated by
    180°" means, so no index flipping is needed. Results equal ``Conv2D_Op``'s to rounding.
    """

    def _output(self, inference: bool) -> np.ndarray:
        x_pad = self._padded(self.input_)
        W = self.param
        n_batch, n_in, _, _ = self.input_.shape
        _, n_out, h_out, w_out = self.output_shape(self.input_.shape)
        k, s = self.kernel_size, self.stride
        out = np.zeros((n_batch, n_out, h_out, w_out), dtype=self.input_.dtype)
        for n in range(n_batch):
            for o in range(n_out):
                for y in range(h_out):
                    for x in range(w_out):
                        total = 0.0
                        for c in range(n_in):
                            for i in range(k):
                                for j in range(k):
                                    total += x_pad[n, c, y * s + i, x * s + j] * W[c, o, i, j]
                        out[n, o, y, x] = total
        return out

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        x = self.input_
        W = self.param
        before, _ = self.pads
        n_batch, n_in, h, w = x.shape
        _, n_out, h_out, w_out = output_grad.shape
        k, s = self.kernel_size, self.stride
        dx_pad = np.zeros(self._padded(x).shape, dtype=x.dtype)
        for n in range(n_batch):
            for o in range(n_out):
                for y in range(h_out):
                    for x_ in range(w_out):
                        g = output_grad[n, o, y, x_]
                        for c in range(n_in):
                            for i in range(k):
                                for j in range(k):
                                    dx_pad[n, c, y * s + i, x_ * s + j] += g * W[c, o, i, j]
        return dx_pad[:, :, before : before + h, before : before + w].copy()

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        x_pad = self._padded(self.input_)
        n_batch, n_in, _, _ = self.input_.shape
        _, n_out, h_out, w_out = output_grad.shape
        k, s = self.kernel_size, self.stride
        dW = np.zeros_like(self.param)
        for n in range(n_batch):
            for o in range(n_out):
                for y in range(h_out):
                    for x in range(w_out):
                        g = output_grad[n, o, y, x]
                        for c in range(n_in):
                            for i in range(k):
                                for j in range(k):
                                    dW[c, o, i, j] += g * x_pad[n, c, y * s + i, x * s + j]
        return dW


class ChannelBiasAdd(ParamOperation):
    """Add one bias per channel.

    Shapes: X ``[N, C, H, W]``, B ``[1, C, 1, 1]``, output ``[N, C, H, W]``.

        forward:   Y[n, c, y, x] = X[n, c, y, x] + B[0, c, 0, 0]      (B broadcast over n, y, x)
        backward:  dL/dX = G
                   dL/dB = Σ_{n, y, x} G[n, c, y, x]                   (kept as shape [1, C, 1, 1])
    """

    def __init__(self, B: np.ndarray) -> None:
        check_float_array(B, "ChannelBiasAdd B", ndim=4, layout="[1, channels, 1, 1]")
        if B.shape[0] != 1 or B.shape[2] != 1 or B.shape[3] != 1:
            raise ValueError(f"ChannelBiasAdd B must have shape [1, channels, 1, 1]; received shape {B.shape}")
        super().__init__(B)

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "ChannelBiasAdd input_", ndim=4, layout=_LAYOUT)
        if input_.shape[1] != self.param.shape[1]:
            raise ValueError(
                f"ChannelBiasAdd input_ must have {self.param.shape[1]} channels (B has shape {self.param.shape}); "
                f"received shape {input_.shape}"
            )

    def _output(self, inference: bool) -> np.ndarray:
        out: np.ndarray = self.input_ + self.param.astype(self.input_.dtype, copy=False)
        return out

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        dB: np.ndarray = output_grad.sum(axis=(0, 2, 3), keepdims=True)  # [N, C, H, W] -> [1, C, 1, 1]
        return dB.astype(self.param.dtype, copy=False)
