"""The fast kernels behind ``scratch.Conv2D_Op(impl="fast")``, the default (internal).

They compute exactly what the readable im2col of ``scratch.conv`` computes (same notation: x ``[N, C, H, W]``,
W ``[C, O, k, k]``, stride ``s``, x_pad ``[N, C, H_pad, W_pad]``, G = dL/d out ``[N, O, H_out, W_out]``,
``K = C·k·k`` rows of a patch, ``P = H_out·W_out`` output pixels per sample):

    forward    out[n] = Wm · cols[:, n]                    Wm[o, (c, i, j)] = W[c, o, i, j]      Wm ``[O, K]``
    backward   dW     = Σ_n cols[:, n] · G[n]ᵀ              ``[K, P]·[P, O] -> [K, O]`` -> ``[C, O, k, k]``
               dcols  = Wmᵀ · G[n]    for every n            ``[K, O]·[O, P] -> [K, P]``
               dx_pad = col2im(dcols);  dx = dx_pad without its border

and differ from it only in memory layout and in how col2im adds. Each choice was measured against the
alternatives at one thread:

* Patch matrix ``cols [K, N, P]`` (sample in the middle, not first): ONE copy from a ``sliding_window_view``
  of x_pad lands every patch in GEMM order, and every sample's ``cols[:, n]`` is an ordinary strided
  ``[K, P]`` matrix, so ``np.matmul`` with a broadcast ``Wm`` runs one BLAS GEMM per sample writing straight
  into the ``[N, O, P]`` output (no transpose of the output) and reads ``G[n]`` as it comes (no transpose of
  the gradient). Per-sample products also stay in cache; they measured faster than one ``[O, K]·[K, N·P]``
  GEMM followed by the transposes it needs. The forward's patch matrix is kept for the weight gradient.
* col2im by shifting whole flattened images. The readable col2im adds, for each kernel offset (i, j), a
  ``[N, C, H_out, W_out]`` block into a strided window of dx_pad. Here dx_pad is kept channel-major and
  flattened, ``[C, N·H_pad·W_pad]``. For offset (i, j) the block is first written onto the (dilated by s)
  grid of a zero ``[C, N, H_pad, W_pad]`` scratch image, at (y·s, x·s); the scratch image, flattened, is
  then added to dx_pad as ONE contiguous 1-D slice starting at ``i·W_pad + j``. Moving a flattened image
  by ``i·W_pad + j`` moves every pixel down i rows and right j columns at once. What runs past the end of a
  row wraps onto the next row, and what runs past the last row lands in a tail of ``(k-1)·(W_pad+1)``
  extra elements (the largest shift), but those positions of the scratch image hold zeros (the grid never
  reaches them: ``(W_out - 1)·s + k <= W_pad``), so they add nothing. Contiguous 1-D adds are about 4x
  faster in NumPy than adds into strided 2-D windows. ``np.add.at`` is never used. The price is that a
  shifted image carries every pixel of the padded plane, s² times the H_out·W_out entries it scatters, so
  the advantage shrinks with the stride: measured at one thread, this col2im is 1.2-1.8x faster than the
  readable one at stride 1, and at stride 2 or 3 anywhere from 2x slower (float64, small images) to 1.5x
  faster (float32); a whole forward and backward stays within about 15% of the readable path there.
* Workspaces (padded input, patch matrix, scratch image, flattened dx_pad) are kept between calls of the
  same shape and dtype in the op's ``_work`` dictionary, so a training loop does not fault fresh pages in
  on every batch. Only the interior of the padded input and the grid of the scratch image are ever
  written after creation; their zeros stay zeros.

``tests/scratch/test_readable_vs_fast.py`` proves these kernels equal to the readable ones (and to the
loop version ``Conv2D_OpLoop``) to round-off across shapes, strides, paddings and dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Workspace = dict[str, np.ndarray]


def buffer(work: Workspace, name: str, shape: tuple[int, ...], dtype: np.dtype[Any], zero: bool = False) -> np.ndarray:
    """The workspace array ``name`` (re-created, zero-filled if ``zero``, when its shape or dtype change)."""
    buf = work.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        work[name] = buf
    return buf


def _weight_matrix(W: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Wm ``[O, K]`` from W ``[C, O, k, k]``: Wm[o, (c, i, j)] = W[c, o, i, j], in ``dtype``."""
    c, o, k, _ = W.shape
    return W.transpose(1, 0, 2, 3).reshape(o, c * k * k).astype(dtype, copy=False)


def forward(
    x: np.ndarray, W: np.ndarray, pads: tuple[int, int], stride: int, work: Workspace
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(out [N, O, H_out, W_out], cols [C, k, k, N, H_out, W_out])``; ``cols`` (a workspace) is
    the patch matrix ``[K, N, P]`` that ``param_grad`` needs."""
    dtype = x.dtype
    n, c, h, w = x.shape
    _, o, k, _ = W.shape
    s = stride
    before, after = pads
    hp, wp = h + before + after, w + before + after
    h_out, w_out = (hp - k) // s + 1, (wp - k) // s + 1
    if before or after:
        # x_pad: [N, C, H_pad, W_pad]; the zero border of the kept buffer is never written, only its interior
        x_pad = buffer(work, "x_pad", (n, c, hp, wp), dtype, zero=True)
        x_pad[:, :, before : before + h, before : before + w] = x
    else:
        x_pad = x
    # all windows: [N, C, H_pad - k + 1, W_pad - k + 1, k, k] (a view); every s-th: [N, C, H_out, W_out, k, k]
    windows = sliding_window_view(x_pad, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    # cols: [C, k, k, N, H_out, W_out], i.e. [K, N, P]: one copy lands the patches in GEMM order
    cols = buffer(work, "cols", (c, k, k, n, h_out, w_out), dtype)
    np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
    out = np.empty((n, o, h_out, w_out), dtype)
    # per sample: [O, K] · [K, P] -> [O, P], written straight into out viewed as [N, O, P]
    np.matmul(
        _weight_matrix(W, dtype),
        cols.reshape(c * k * k, n, h_out * w_out).transpose(1, 0, 2),
        out=out.reshape(n, o, -1),
    )
    return out, cols


def _grad_3d(output_grad: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """G ``[N, O, H_out, W_out]`` -> ``[N, O, P]`` in ``dtype`` (a view when G is contiguous)."""
    g = output_grad.astype(dtype, copy=False)
    return g.reshape(g.shape[0], g.shape[1], -1)


def input_grad(
    output_grad: np.ndarray,
    W: np.ndarray,
    x_shape: tuple[int, ...],
    dtype: np.dtype[Any],
    pads: tuple[int, int],
    stride: int,
    work: Workspace,
) -> np.ndarray:
    """dL/dx ``[N, C, H, W]`` (in ``dtype``) from G ``[N, O, H_out, W_out]``: dcols by one GEMM per sample,
    then col2im by shifted flat adds (module docstring)."""
    n, c, h, w = x_shape
    k = W.shape[2]
    _, _, h_out, w_out = output_grad.shape
    s = stride
    before, after = pads
    hp, wp = h + before + after, w + before + after
    plane = n * hp * wp  # one channel of the padded gradient, all samples, flattened
    kk = c * k * k
    # dcols: [K, N, P]; per sample [K, O] · [O, P] -> [K, P], written into dcols viewed as [N, K, P]
    dcols = buffer(work, "dcols", (kk, n, h_out * w_out), dtype)
    np.matmul(_weight_matrix(W, dtype).T, _grad_3d(output_grad, dtype), out=dcols.transpose(1, 0, 2))
    # dcols per kernel offset: [C, k·k, N, H_out, W_out]
    dcols5 = dcols.reshape(c, k * k, n, h_out, w_out)
    # scratch: [C, N, H_pad, W_pad]; only the dilated grid [.., y·s, x·s] is ever written, the rest stays 0
    scratch = buffer(work, "scratch", (c, n, hp, wp), dtype, zero=True)
    grid = scratch[:, :, : (h_out - 1) * s + 1 : s, : (w_out - 1) * s + 1 : s]  # [C, N, H_out, W_out] view
    flat_scratch = scratch.reshape(c, plane)  # [C, N·H_pad·W_pad]
    # dx_pad, channel-major and flattened: [C, N·H_pad·W_pad + tail]; the tail takes the (zero) overflow of
    # the last rows when a whole image is shifted by (i, j)
    tail = (k - 1) * (wp + 1)
    dx_flat = buffer(work, "dx_pad", (c, plane + tail), dtype)
    dx_flat[:, plane:] = 0
    for i in range(k):
        for j in range(k):
            grid[...] = dcols5[:, i * k + j]
            shift = i * wp + j
            if shift == 0:
                dx_flat[:, :plane] = flat_scratch  # the first offset initialises dx_pad
            else:
                dx_flat[:, shift : shift + plane] += flat_scratch
    # [C, N·H_pad·W_pad] -> [C, N, H_pad, W_pad] -> crop the padding -> [N, C, H, W]
    dx_pad = dx_flat[:, :plane].reshape(c, n, hp, wp)
    dx = np.empty((n, c, h, w), dtype)
    dx[...] = dx_pad[:, :, before : before + h, before : before + w].transpose(1, 0, 2, 3)
    return dx


def param_grad(output_grad: np.ndarray, cols: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dL/dW ``[C, O, k, k]`` (W's dtype) from G and the forward's ``cols [C, k, k, N, H_out, W_out]``."""
    c, k, _, n = cols.shape[:4]
    o = W.shape[1]
    # per sample [K, P] · [P, O] -> [K, O], then the sum over samples: [N, K, O] -> [K, O]
    per_sample = np.matmul(
        cols.reshape(c * k * k, n, -1).transpose(1, 0, 2), _grad_3d(output_grad, cols.dtype).transpose(0, 2, 1)
    )
    dWm = per_sample.sum(axis=0)
    # [K, O] = [C, k, k, O] -> [C, O, k, k]
    dW = dWm.reshape(c, k, k, o).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dW, dtype=W.dtype)
