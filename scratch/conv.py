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

``Conv2D_Op`` is the fast version (im2col + BLAS); ``Conv2D_OpLoop`` computes the same thing with the book's
nested loops and is the readable reference (and the tests' oracle) for small sizes.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validation import _describe, check_float_array, check_int
from .base import ParamOperation

__all__ = ["ChannelBiasAdd", "Conv2D_Op", "Conv2D_OpLoop", "conv_output_size", "conv_pads"]

_LAYOUT = "[batch, channels, height, width]"
_PADDING_HELP = "None (the book's kernel_size // 2), an integer >= 0 or 'same'"


def _resolve_padding(padding: Any, kernel_size: int, stride: int) -> int | str:
    """``None`` -> ``kernel_size // 2``; an int ``p >= 0`` -> ``p``; ``"same"`` (stride 1 only)."""
    if padding is None:
        return kernel_size // 2
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"padding must be {_PADDING_HELP}; received {padding!r}")
        if stride != 1:
            raise ValueError(
                f"padding='same' requires stride=1 (torch's rule: the output could not keep the input's size); "
                f"received stride={stride}"
            )
        return "same"
    if isinstance(padding, bool) or not isinstance(padding, Integral):
        raise TypeError(f"padding must be {_PADDING_HELP}; received {_describe(padding)}")
    if padding < 0:
        raise ValueError(f"padding must be {_PADDING_HELP}; received {padding!r}")
    return int(padding)


def conv_pads(padding: Any, kernel_size: int, stride: int = 1) -> tuple[int, int]:
    """Zeros ``(before, after)`` added along each spatial axis for ``padding`` (see the module docstring)."""
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    stride = check_int(stride, "stride", 1)
    resolved = _resolve_padding(padding, kernel_size, stride)
    if isinstance(resolved, str):  # "same"
        return (kernel_size - 1) // 2, kernel_size // 2
    return resolved, resolved


def conv_output_size(size: int, kernel_size: int, padding: Any = None, stride: int = 1) -> int:
    """Output length along one axis: ``floor((size + before + after - kernel_size) / stride) + 1``.

    ``ValueError`` when the kernel is larger than the padded input.
    """
    size = check_int(size, "size", 1)
    before, after = conv_pads(padding, kernel_size, stride)
    padded = size + before + after
    if padded < kernel_size:
        raise ValueError(
            f"size must be at least {kernel_size} once padded (kernel_size={kernel_size}, padding={padding!r}); "
            f"received size {size}, {padded} once padded"
        )
    return (padded - kernel_size) // stride + 1


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
        self.padding: int | str = _resolve_padding(padding, self.kernel_size, self.stride)
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
    """2-D convolution (cross-correlation), vectorised: im2col + one BLAS matrix product per pass.

    Shapes: input ``[N, C, H, W]``, W ``[C, O, k, k]``, output ``[N, O, H_out, W_out]`` (module docstring).
    Let ``K = C·k·k`` (a patch) and ``P = H_out·W_out`` (output pixels per sample).

        im2col:    cols[(c, i, j), n, (y, x)] = x_pad[n, c, y·s + i, x·s + j]       cols ``[K, N, P]``
        forward:   out[n] = Wm · cols[:, n]          Wm[o, (c, i, j)] = W[c, o, i, j]   Wm ``[O, K]``
        backward:  dW     = Σ_n cols[:, n] · G[n]ᵀ   (``[K, P]·[P, O] -> [K, O]``, then back to ``[C, O, k, k]``)
                   dcols  = Wmᵀ · G[n]  for every n   (``[K, O]·[O, P] -> [K, P]``)
                   dx_pad = col2im(dcols): for each kernel offset (i, j), add dcols[(c, i, j), n, (y, x)] at
                            x_pad position (y·s + i, x·s + j); dx = dx_pad without the padding.

    How it is laid out for speed (each choice measured against the alternatives, at 1 thread):

    * im2col is ONE copy from a ``sliding_window_view`` of x_pad into ``cols`` ordered (c, i, j) x n x (y, x):
      every sample's patch matrix ``cols[:, n]`` is then an ordinary strided matrix, so ``np.matmul`` with a
      broadcast ``Wm`` runs one BLAS GEMM per sample writing straight into the ``[N, O, P]`` output (no
      transpose of the output) and ``G[n]`` is used as it comes (no transpose of the gradient). Per-sample
      products also stay in cache; they measured faster than a single ``[O, K]·[K, N·P]`` GEMM followed by the
      transposes it needs.
    * the patch matrix of the forward pass is kept for the weight gradient (the forward input is not re-read).
    * col2im never uses ``np.add.at``: for each of the k·k kernel offsets, ``dcols`` for that offset is copied
      into a zero-bordered ``[C, N·H_pad·W_pad]`` scratch image (dilated by the stride) and added to the
      channel-major padded gradient as ONE contiguous 1-D slice shifted by ``i·W_pad + j``: shifting a whole
      flattened image moves every pixel by (i, j) at once, and the scratch zeros make the wrap-around rows add
      nothing. Contiguous adds are ~4x faster in NumPy than adds into strided 2-D windows.
    * the workspaces (padded input, patch matrix, scratch images) are kept between calls of the same shape,
      so a training loop does not fault fresh pages in on every batch.

    ``param_grad`` has W's dtype; ``output`` and ``input_grad`` have the input's dtype (W is cast to it).
    """

    _cols: np.ndarray

    def __init__(self, W: np.ndarray, *, padding: Any = None, stride: int = 1) -> None:
        super().__init__(W, padding=padding, stride=stride)
        self._work: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles leave the scratch workspaces behind (rebuilt on the next call); the patch matrix of
        # the last forward (``_cols``) is forward state like ``input_`` and is kept
        state = self.__dict__.copy()
        state["_work"] = {}
        return state

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype, zero: bool = False) -> np.ndarray:
        """A workspace array kept between calls (re-created, zero-filled if ``zero``, when shape/dtype change)."""
        buf = self._work.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
            self._work[name] = buf
        return buf

    def _output(self, inference: bool) -> np.ndarray:
        x = self.input_
        dtype = x.dtype
        n, c, h, w = x.shape
        _, o, h_out, w_out = self.output_shape(x.shape)
        k, s = self.kernel_size, self.stride
        before, after = self.pads
        if before or after:
            # x_pad: [N, C, H + before + after, W + before + after]; the zero border of the kept buffer is
            # never written, only its interior
            x_pad = self._buffer("x_pad", (n, c, h + before + after, w + before + after), dtype, zero=True)
            x_pad[:, :, before : before + h, before : before + w] = x
        else:
            x_pad = x
        # all windows: [N, C, H_pad - k + 1, W_pad - k + 1, k, k] (a view); the stride keeps every s-th:
        # windows [N, C, H_out, W_out, k, k]
        windows = sliding_window_view(x_pad, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        # cols: [C, k, k, N, H_out, W_out], i.e. [K, N, P]: one copy lands the patches in GEMM order
        cols = self._buffer("cols", (c, k, k, n, h_out, w_out), dtype)
        np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
        self._cols = cols  # kept for the weight gradient
        # Wm: [O, K] from W [C, O, k, k]
        Wm = self.param.transpose(1, 0, 2, 3).reshape(o, c * k * k).astype(dtype, copy=False)
        out = np.empty((n, o, h_out, w_out), dtype)
        # per sample: [O, K] · [K, P] -> [O, P], written straight into out viewed as [N, O, P]
        np.matmul(Wm, cols.reshape(c * k * k, n, h_out * w_out).transpose(1, 0, 2), out=out.reshape(n, o, -1))
        return out

    def _grad_3d(self, output_grad: np.ndarray) -> np.ndarray:
        """G ``[N, O, H_out, W_out]`` -> ``[N, O, P]`` in the input's dtype (a view when G is contiguous)."""
        g = output_grad.astype(self.input_.dtype, copy=False)
        return g.reshape(g.shape[0], g.shape[1], -1)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        x = self.input_
        dtype = x.dtype
        n, c, h, w = x.shape
        _, o, h_out, w_out = self.output.shape
        k, s = self.kernel_size, self.stride
        before, after = self.pads
        hp, wp = h + before + after, w + before + after
        plane = n * hp * wp  # one channel of the padded gradient, all samples, flattened
        kk = c * k * k
        Wm = self.param.transpose(1, 0, 2, 3).reshape(o, kk).astype(dtype, copy=False)  # [O, K]
        # dcols: [K, N, P]; per sample [K, O] · [O, P] -> [K, P], written into dcols viewed as [N, K, P]
        dcols = self._buffer("dcols", (kk, n, h_out * w_out), dtype)
        np.matmul(Wm.T, self._grad_3d(output_grad), out=dcols.transpose(1, 0, 2))
        # dcols per kernel offset: [C, k·k, N, H_out, W_out]
        dcols5 = dcols.reshape(c, k * k, n, h_out, w_out)
        # scratch: [C, N, H_pad, W_pad]; only the dilated grid [.., y·s, x·s] is ever written, the rest stays 0
        scratch = self._buffer("scratch", (c, n, hp, wp), dtype, zero=True)
        grid = scratch[:, :, : (h_out - 1) * s + 1 : s, : (w_out - 1) * s + 1 : s]  # [C, N, H_out, W_out] view
        flat_scratch = scratch.reshape(c, plane)  # [C, N·H_pad·W_pad]
        # dx_pad, channel-major and flattened: [C, N·H_pad·W_pad + tail]; the tail takes the (zero) overflow
        # of the last rows when a whole image is shifted by (i, j)
        tail = (k - 1) * (wp + 1)
        dx_flat = self._buffer("dx_pad", (c, plane + tail), dtype)
        dx_flat[:, plane:] = 0
        for i in range(k):
            for j in range(k):
                grid[...] = dcols5[:, i * k + j]
                shift = i * wp + j
                if shift == 0:
                    dx_flat[:, :plane] = flat_scratch
                else:
                    dx_flat[:, shift : shift + plane] += flat_scratch
        # [C, N, H_pad, W_pad] -> crop the padding -> [N, C, H, W]
        dx_pad = dx_flat[:, :plane].reshape(c, n, hp, wp)
        dx = np.empty((n, c, h, w), dtype)
        dx[...] = dx_pad[:, :, before : before + h, before : before + w].transpose(1, 0, 2, 3)
        return dx

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        n, c, _, _ = self.input_.shape
        o, k = self.out_channels, self.kernel_size
        cols = self._cols  # [C, k, k, N, H_out, W_out] from the forward pass
        # per sample [K, P] · [P, O] -> [K, O], then the sum over samples: [N, K, O] -> [K, O]
        per_sample = np.matmul(
            cols.reshape(c * k * k, n, -1).transpose(1, 0, 2), self._grad_3d(output_grad).transpose(0, 2, 1)
        )
        dWm = per_sample.sum(axis=0)
        # [K, O] = [C, k, k, O] -> [C, O, k, k]
        dW = dWm.reshape(c, k, k, o).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(dW, dtype=self.param.dtype)


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
        return self.input_ + self.param.astype(self.input_.dtype, copy=False)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad.sum(axis=(0, 2, 3), keepdims=True).astype(self.param.dtype, copy=False)
