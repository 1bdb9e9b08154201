"""The fast kernels behind ``scratch.Conv2D_Op(impl="fast")``, the default (internal).

They compute exactly what the readable im2col of ``scratch.conv`` computes (same notation: x ``[N, C, H, W]``,
W ``[C, O, k, k]``, stride ``s``, x_pad ``[N, C, H_pad, W_pad]``, G = dL/d out ``[N, O, H_out, W_out]``,
``K = C·k·k`` rows of a patch, ``P = H_out·W_out`` output pixels per sample), and differ from it only in
memory layout, in the order of the sums (so results agree to round-off) and in which side of the convolution
is unfolded. Each choice was measured against the alternatives at one thread.

Which side is unfolded. An im2col matrix holds k·k copies of what it unfolds. Unfolding the input (the
readable way) costs ``C·k·k·N·P`` values and its GEMMs have the small dimension O; unfolding the output
gradient costs ``O·k·k·N·H·W`` values and its GEMMs have the small dimension C. BLAS runs GEMMs with one
small dimension at a fraction of its rate (every value of the big operand is packed and used only O (or C)
times), so the kernels pick the side with the fewer channels:

* input side by rows (``4 <= C <= O``, any stride; the benchmark's 16 -> 32 layer, the autoencoder's
  7 -> 14 layer): only the columns are unfolded (k copies of x, not k·k), one GEMM per output row.
    forward    xj[y, c, j, n, x] = x_pad[n, c, y, x·s + j]  ``[H_pad, C, k, N, W_out]``;
               A[y] = the k rows y·s .. y·s + k - 1 of xj, a view ``[K, N·W_out]`` with K = (i, c, j)
               (in xj's memory (i, c, j) is ONE stride of N·W_out values, so it is an ordinary strided
               matrix for BLAS);  out[:, :, y] = Wr · A[y]   Wr[o, (i, c, j)] = W[c, o, i, j]  ``[O, K]``
    backward   dWrᵀ = Σ_y A[y] · G_yᵀ    G_y = G[:, :, y] as ``[O, N·W_out]``, one GEMM per row, then the sum
               dx   = the same forward run on G zero-padded by k-1-p with W'[o, c, i, j] = W[c, o, k-1-i, k-1-j]
                      (the readable dx_pad sum with u = y + i - p_t solved for y, as on the output side) where
                      k >= 5, stride 1 and padding at most k - 1; otherwise dcols and col2im as on the im2col
                      path (with k = 3 col2im's 9 shifted adds measured as fast or faster: 1-1.3x).
  Measured against the im2col path: forward 1.2-2x faster (a third of the copying), the 7 -> 14 layer's
  forward and backward 1.5-1.6x; with C < 4 a row's GEMMs are too thin and the im2col path stays.
* input side by im2col (``C <= O`` with ``C < 4``; also the fallback): the readable algorithm, BLAS layout.
    forward    cols = im2col(x_pad) ``[K, N, P]``;  out[n] = Wm · cols[:, n]     Wm ``[O, K]``, one GEMM per n
    backward   dWmᵀ   = Σ_n cols[:, n] · G[n]ᵀ      one GEMM per sample, then the sum over samples
               dcols  = Wmᵀ · G[n]  for every n;   dx_pad = col2im(dcols) (shifted flat adds, below)
* output side (``O < C``, stride 1, padding at most k - 1 on each side; the autoencoder's 14 -> 7 and
  14 -> 1 layers): nothing of size ``C·k·k·N·P`` is ever built.
    forward    T = Wt · x_pad[n]  ``[k·k·O, C]·[C, H_pad·W_pad]``, Wt[(i, j, o), c] = W[c, o, i, j]: every
               kernel offset's contribution at every padded pixel; out[n, o, y, x] = Σ_ij T[n, (i, j, o),
               (y + i)·W_pad + x + j], i.e. k·k adds of T blocks shifted by i·W_pad + j (no row wraps: x + j <
               W_pad). Samples go in chunks so that T stays in cache.
    backward   gcols = im2col of G zero-padded by k-1-p and read with the kernel flipped,
                   gcols[(o, i, j), (n, u, v)] = G[n, o, u + p_t - i, v + p_l - j]  (0 outside G) ``[O·k·k, N, H·W]``
               dx[n]  = W2 · gcols[:, n]   W2 = W viewed as ``[C, O·k·k]`` (no copy), one GEMM per n
               dW2    = xc · gcolsᵀ        xc = x channel-major ``[C, N·H·W]``: ONE GEMM -> ``[C, O·k·k]`` = dW
               (that is the readable dx_pad sum with u = y·s + i - p_t solved for y, and dW's sum over the
               pixels of x; the zero border of x_pad adds nothing, so it is skipped).

im2col-path details:
* Patch matrix ``cols [K, N, P]`` (sample in the middle): ONE copy from a ``sliding_window_view`` of x_pad
  lands every patch in GEMM order; each ``cols[:, n]`` is an ordinary strided ``[K, P]`` matrix, so
  ``np.matmul`` with a broadcast ``Wm`` writes straight into the ``[N, O, P]`` output and reads ``G[n]``
  as it comes (per-sample products stay in cache; they measured as fast as one long GEMM over N·P).
* col2im by shifting whole flattened images. dx_pad is kept channel-major and flattened, ``[C,
  N·H_pad·W_pad]``. For offset (i, j) the dcols block is first written onto the (dilated by s) grid of a zero
  ``[C, N, H_pad, W_pad]`` scratch image, at (y·s, x·s); the scratch image, flattened, is then added to dx_pad
  as ONE contiguous 1-D slice starting at ``i·W_pad + j``: moving a flattened image by ``i·W_pad + j`` moves
  every pixel down i rows and right j columns at once. What runs past the end of a row wraps onto the next
  row, and what runs past the last row lands in a tail of ``(k-1)·(W_pad+1)`` extra elements, but those
  positions of the scratch image hold zeros (the grid never reaches them: ``(W_out - 1)·s + k <= W_pad``), so
  they add nothing. Contiguous 1-D adds are about 4x faster in NumPy than adds into strided 2-D windows;
  ``np.add.at`` is never used. At stride 2 or 3 the scratch image carries s² times the entries it scatters,
  so there the gain shrinks (within about 15% of the readable path either way).
* col2im in chunks of samples. dcols holds k·k values per input pixel: 7 MB for the benchmark's 16 -> 32
  layer in float64, more than a core's L2 cache, so computing it whole and then scattering it reads it back
  from memory. dcols and the scatter therefore go chunk by chunk, as many samples as keep one scratch image
  within 2^16 values (``_COL2IM_CHUNK_VALUES``). A chunk's images are contiguous in dx_pad's rows, so the flat
  shifted adds stay single 1-D slices; what a chunk's last image spills past its end is zero (as above) and
  lands on zeros written there first.

Workspaces (padded input and gradient, patch matrices, scratch images) are kept between calls of the same
shape and dtype in the op's ``_work`` dictionary, so a training loop does not fault fresh pages in on every
batch. Only the interiors of the zero-bordered buffers are ever written after creation; their zeros stay
zeros. Every array is created in the input's dtype: float32 stays float32.

Measured and not taken (2026-12-03, one thread, the benchmark's 16 -> 32 channels, 3x3, 14x14, N 32, where
these kernels take 2.67 ms in float32 and 5.02 ms in float64 for forward, dL/dx and dL/dW; their GEMMs alone
take 1.71 / 3.4 ms, as long as NumPy's floor). What is left over the GEMMs is NumPy passes over whole arrays,
so an alternative only pays if it saves GEMM time or passes, and these did not:

* Winograd F(2x2, 3x3) for all three products (the transformed input and output gradient shared): 3.20 /
  6.72 ms. Its GEMMs take 0.95 ms in float32 instead of 1.71 (2.25x fewer multiplications, but at K = C = 16
  BLAS runs them at a lower rate), and its tile transforms, gathers and scatters, some 40 elementwise passes,
  took 2.25 ms.
* dL/dx by GEMM-then-shift (the output side's forward applied to G with the flipped kernel): 1.5-1.9 ms
  against col2im's 1.04 in float32, 2.9-3.4 against 2.07 in float64.
* dL/dx as a forward of G by rows at k = 3: 1.11 against 1.06, 2.20 against 2.15 (kept for k >= 5).
* the dcols GEMM on G zero-padded to the image grid, so that col2im needs no grid copies (30% more GEMM
  work at 14x14): 1.24 against 1.00 at best, 2.45 against 2.16.
* dL/dx and dL/dW from one row-major copy of G (one transposing pass fewer): 1.84 against 1.80 for both,
  3.5 against 3.2.

``tests/scratch/test_readable_vs_fast.py`` proves these kernels equal to the readable ones (and to the
loop version ``Conv2D_OpLoop``) to round-off across shapes, strides, paddings and dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

Workspace = dict[str, np.ndarray]

#: Values of T per chunk of samples in the output-side forward: 2^18 values (1 MiB in float32) keep the
#: GEMM's result in L2 for the shifted adds that read it (measured: 1.5-2x faster than the whole batch at once).
_CHUNK_VALUES = 1 << 18


def buffer(work: Workspace, name: str, shape: tuple[int, ...], dtype: np.dtype[Any], zero: bool = False) -> np.ndarray:
    """The workspace array ``name`` (re-created, zero-filled if ``zero``, when its shape or dtype change)."""
    buf = work.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        work[name] = buf
    return buf


def output_side(c: int, o: int, k: int, pads: tuple[int, int], stride: int) -> bool:
    """Whether the output-side kernels run (module docstring): fewer output than input channels, stride 1,
    and padding the flipped-kernel correlation of G can express (at most k - 1 on each side)."""
    return o < c and stride == 1 and max(pads) <= k - 1


#: Input channels from which the input side runs by rows (module docstring); with fewer, a row's GEMMs are
#: too thin (K = C·k·k, and the forward of G has C rows) and the im2col path measured faster.
_ROWS_MIN_CHANNELS = 4


def by_rows(c: int) -> bool:
    """Whether the input side (``C <= O``) runs by rows (module docstring) rather than by im2col."""
    return c >= _ROWS_MIN_CHANNELS


def _grad_by_forward(c: int, k: int, pads: tuple[int, int], stride: int) -> bool:
    """Whether the input side's ``input_grad`` runs as a forward of G (module docstring): by rows, k >= 5 (col2im
    costs k·k shifted adds; at k = 3 it measured as fast or faster), stride 1 and padding at most k - 1 on each
    side (the flipped-kernel correlation of G can express it)."""
    return by_rows(c) and k >= 5 and stride == 1 and max(pads) <= k - 1


#: Values of col2im's scratch image per chunk of samples: 2^16 (512 KiB in float64, 256 KiB in float32). A
#: chunk's scratch image, its part of dx_pad and the dcols block read for one kernel offset then stay in a
#: core's L2 cache; much smaller chunks cost more in NumPy calls than the cache saves. Measured at one thread
#: (input_grad alone) against the whole batch at once: 16 -> 32 channels on 14x14 (N 32) float64 1.24x
#: faster, float32 1.04x; 16 -> 16 on 32x32 (N 8) float64 1.26x, float32 1.03x; on 64x64 (N 8) 1.47x float64,
#: 1.40x float32; on 8x8 and 16x16 the batch is one chunk. A budget in bytes did worse: at 512 KiB float32
#: kept twice the samples per chunk and ran 1.08-1.15x slower, at 256 KiB float64 halved its chunks and ran
#: 1.3-1.4x slower.
_COL2IM_CHUNK_VALUES = 1 << 16


def _col2im_chunk(n: int, image_values: int) -> int:
    """Samples per chunk of the im2col path's ``input_grad``: as many scratch images (``image_values`` each,
    all channels) as fit in ``_COL2IM_CHUNK_VALUES``, at least 1, at most N."""
    return max(1, min(n, _COL2IM_CHUNK_VALUES // max(image_values, 1)))


def _weight_matrix(W: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Wm ``[O, K]`` from W ``[C, O, k, k]``: Wm[o, (c, i, j)] = W[c, o, i, j], in ``dtype``."""
    c, o, k, _ = W.shape
    return W.transpose(1, 0, 2, 3).reshape(o, c * k * k).astype(dtype, copy=False)


def _padded_input(x: np.ndarray, pads: tuple[int, int], work: Workspace) -> np.ndarray:
    """x_pad ``[N, C, H_pad, W_pad]``: x itself without padding, else a kept zero-bordered workspace."""
    before, after = pads
    if not (before or after):
        return x
    n, c, h, w = x.shape
    # the zero border of the kept buffer is never written, only its interior
    x_pad = buffer(work, "x_pad", (n, c, h + before + after, w + before + after), x.dtype, zero=True)
    x_pad[:, :, before : before + h, before : before + w] = x
    return x_pad


def forward(
    x: np.ndarray, W: np.ndarray, pads: tuple[int, int], stride: int, work: Workspace
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``(out [N, O, H_out, W_out], cols)``: ``cols`` (a workspace) is what ``param_grad`` needs, the
    input side's column-unfolded input xj ``[H_pad, C, k, N, W_out]`` (by rows) or patch matrix ``[C, k, k, N,
    H_out, W_out]`` (by im2col); None on the output side."""
    n, c, h, w = x.shape
    _, o, k, _ = W.shape
    if output_side(c, o, k, pads, stride):
        before, after = pads
        hp, wp = h + before + after, w + before + after
        out = np.empty((n, o, hp - k + 1, wp - k + 1), x.dtype)
        _forward_output_side(_padded_input(x, pads, work), W, out, work)
        return out, None
    if by_rows(c):
        return _forward_rows(x, W, pads, stride, work, "x")
    dtype = x.dtype
    s = stride
    before, after = pads
    hp, wp = h + before + after, w + before + after
    h_out, w_out = (hp - k) // s + 1, (wp - k) // s + 1
    x_pad = _padded_input(x, pads, work)
    out = np.empty((n, o, h_out, w_out), dtype)
    # all windows: [N, C, H_pad - k + 1, W_pad - k + 1, k, k] (a view); every s-th: [N, C, H_out, W_out, k, k]
    windows = sliding_window_view(x_pad, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    # cols: [C, k, k, N, H_out, W_out], i.e. [K, N, P]: one copy lands the patches in GEMM order
    cols = buffer(work, "cols", (c, k, k, n, h_out, w_out), dtype)
    np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
    # per sample: [O, K] · [K, P] -> [O, P], written straight into out viewed as [N, O, P]
    np.matmul(
        _weight_matrix(W, dtype),
        cols.reshape(c * k * k, n, h_out * w_out).transpose(1, 0, 2),
        out=out.reshape(n, o, -1),
    )
    return out, cols


def _unfold_columns(
    x: np.ndarray, k: int, pads: tuple[int, int], stride: int, work: Workspace, name: str
) -> np.ndarray:
    """xj ``[H_pad, C, k, N, W_out]`` (the workspace ``name + "j"``): xj[y, c, j, n, x] = x_pad[n, c, y, x·s + j].

    Only the columns unfolded (k copies of x, not k·k); the zero border of the kept buffer is never written."""
    n, c, h, w = x.shape
    s = stride
    before, after = pads
    hp, wp = h + before + after, w + before + after
    w_out = (wp - k) // s + 1
    xj = buffer(work, name + "j", (hp, c, k, n, w_out), x.dtype, zero=True)
    xt = x.transpose(2, 1, 0, 3)  # [H, C, N, W] (a view)
    for j in range(k):
        # output column q reads x column q·s + j - before: the q with 0 <= q·s + j - before < W
        lo = max(0, -((j - before) // s))
        hi = min(w_out, (w - 1 - j + before) // s + 1)
        if hi > lo:
            first = lo * s + j - before
            xj[before : before + h, :, j, :, lo:hi] = xt[:, :, :, first : first + (hi - lo - 1) * s + 1 : s]
    return xj


def _row_patches(xj: np.ndarray, stride: int, h_out: int) -> np.ndarray:
    """The patches of every output row, a read-only view ``[H_out, K, N·W_out]`` of xj ``[H_pad, C, k, N,
    W_out]`` with K = (i, c, j): A[y, (i, c, j), (n, x)] = xj[y·s + i, c, j, n, x] = x_pad[n, c, y·s + i, x·s + j].

    In xj's memory the index (i, c, j) of the rows y·s .. y·s + k - 1 is one uniform stride (N·W_out values),
    so these overlapping windows are ordinary strided matrices for BLAS, and nothing k·k times x is built."""
    _, c, k, n, w_out = xj.shape
    step = xj.strides[-1]
    row = c * k * n * w_out * step  # bytes from one padded row of xj to the next
    return as_strided(xj, (h_out, k * c * k, n * w_out), (stride * row, n * w_out * step, step), writeable=False)


def _forward_rows(
    x: np.ndarray, W: np.ndarray, pads: tuple[int, int], stride: int, work: Workspace, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Input-side forward, one GEMM per output row (module docstring); returns ``(out, xj)``. ``name`` keeps
    the workspaces of the two uses apart (the forward of x, and of G in ``input_grad``)."""
    dtype = x.dtype
    n, c, h, _ = x.shape
    _, o, k, _ = W.shape
    before, after = pads
    h_out = (h + before + after - k) // stride + 1
    xj = _unfold_columns(x, k, pads, stride, work, name)
    w_out = xj.shape[-1]
    # Wr [O, (i, c, j)]: Wr[o, (i, c, j)] = W[c, o, i, j]
    Wr = W.transpose(1, 2, 0, 3).reshape(o, k * c * k).astype(dtype, copy=False)
    rows = buffer(work, name + "_conv", (h_out, o, n, w_out), dtype)  # out row by row: [H_out, O, N, W_out]
    # per output row y: [O, K] · [K, N·W_out] -> [O, N·W_out]
    np.matmul(Wr, _row_patches(xj, stride, h_out), out=rows.reshape(h_out, o, n * w_out))
    out = np.empty((n, o, h_out, w_out), dtype)
    out[...] = rows.transpose(2, 1, 0, 3)  # [H_out, O, N, W_out] -> [N, O, H_out, W_out]
    return out, xj


def _forward_output_side(x_pad: np.ndarray, W: np.ndarray, out: np.ndarray, work: Workspace) -> None:
    """Stride-1 forward into ``out [N, O, H_out, W_out]`` by GEMM-then-shift (module docstring)."""
    dtype = x_pad.dtype
    n, c, hp, wp = x_pad.shape
    _, o, k, _ = W.shape
    _, _, h_out, w_out = out.shape
    plane = hp * wp
    # Wt [k·k·O, C]: Wt[(i, j, o), c] = W[c, o, i, j]
    Wt = W.transpose(2, 3, 1, 0).reshape(k * k * o, c).astype(dtype, copy=False)
    x_flat = x_pad.reshape(n, c, plane)  # [N, C, H_pad·W_pad]
    chunk = max(1, min(n, _CHUNK_VALUES // (k * k * o * plane)))
    T = buffer(work, "T", (chunk, k * k, o, plane), dtype)  # [chunk, (i, j), O, H_pad·W_pad]
    # acc [N, O, H_pad·W_pad]: out on the padded grid; position y·W_pad + x holds out[n, o, y, x]
    acc = buffer(work, "acc", (n, o, plane), dtype)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        t = T[: stop - start]
        # per sample [k·k·O, C] · [C, H_pad·W_pad] -> [k·k·O, H_pad·W_pad]
        np.matmul(Wt, x_flat[start:stop], out=t.reshape(stop - start, k * k * o, plane))
        a = acc[start:stop]
        a[...] = t[:, 0]  # offset (0, 0) initialises the sums
        for ij in range(1, k * k):
            shift = (ij // k) * wp + ij % k  # offset (i, j) reads pixel (y + i, x + j): i·W_pad + j further
            a[:, :, : plane - shift] += t[:, ij, :, shift:]
    # [N, O, H_pad·W_pad] -> [N, O, H_pad, W_pad] -> the top-left H_out x W_out corner
    out[...] = acc.reshape(n, o, hp, wp)[:, :, :h_out, :w_out]


def _grad_3d(output_grad: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """G ``[N, O, H_out, W_out]`` -> ``[N, O, P]`` in ``dtype`` (a view when G is contiguous)."""
    g = output_grad.astype(dtype, copy=False)
    return g.reshape(g.shape[0], g.shape[1], -1)


def _grad_cols(
    output_grad: np.ndarray,
    k: int,
    x_shape: tuple[int, ...],
    dtype: np.dtype[Any],
    pads: tuple[int, int],
    work: Workspace,
    reuse: bool = False,
) -> np.ndarray:
    """The output side's gcols ``[O·k·k, N, H·W]`` (a workspace). With ``reuse``, the one ``input_grad`` just
    built for this very ``output_grad`` (``ParamOperation.backward`` calls ``param_grad`` right after it) is
    taken once instead of being built again."""
    n, _, h, w = x_shape
    _, o, h_out, w_out = output_grad.shape
    built_for = work.pop("gcols_of", None)
    gcols = work.get("gcols")
    if reuse and built_for is output_grad and gcols is not None and gcols.shape == (o, k, k, n, h, w):
        return gcols.reshape(o * k * k, n, h * w)
    before = pads[0]
    lead = k - 1 - before  # rows (and columns) of zeros before G
    # G_ext [N, O, H + k - 1, W + k - 1]: G inside a zero border; only the interior is ever written
    g_ext = buffer(work, "g_ext", (n, o, h + k - 1, w + k - 1), dtype, zero=True)
    g_ext[:, :, lead : lead + h_out, lead : lead + w_out] = output_grad
    # windows flipped: [N, O, H, W, k, k], window (u, v) entry (i, j) = G_ext[n, o, u + k-1-i, v + k-1-j]
    windows = sliding_window_view(g_ext, (k, k), axis=(2, 3))[..., ::-1, ::-1]
    cols = buffer(work, "gcols", (o, k, k, n, h, w), dtype)  # [O·k·k, N, H·W]
    np.copyto(cols, windows.transpose(1, 4, 5, 0, 2, 3))
    work["gcols_of"] = output_grad
    return cols.reshape(o * k * k, n, h * w)


def input_grad(
    output_grad: np.ndarray,
    W: np.ndarray,
    x_shape: tuple[int, ...],
    dtype: np.dtype[Any],
    pads: tuple[int, int],
    stride: int,
    work: Workspace,
) -> np.ndarray:
    """dL/dx ``[N, C, H, W]`` (in ``dtype``) from G ``[N, O, H_out, W_out]`` (module docstring)."""
    n, c, h, w = x_shape
    _, o, k, _ = W.shape
    if output_side(c, o, k, pads, stride):
        gcols = _grad_cols(output_grad, k, x_shape, dtype, pads, work)
        dx = np.empty((n, c, h, w), dtype)
        # per sample [C, O·k·k] · [O·k·k, H·W] -> [C, H·W], written into dx viewed as [N, C, H·W]
        np.matmul(W.reshape(c, o * k * k).astype(dtype, copy=False), gcols.transpose(1, 0, 2), out=dx.reshape(n, c, -1))
        return dx
    if _grad_by_forward(c, k, pads, stride):
        # dx = G zero-padded by k - 1 - p and correlated with W' [O, C, k, k], W'[o, c, i, j] = W[c, o, k-1-i, k-1-j]
        W_flip = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        g = output_grad.astype(dtype, copy=False)
        return _forward_rows(g, W_flip, (k - 1 - pads[0], k - 1 - pads[1]), 1, work, "g")[0]
    _, _, h_out, w_out = output_grad.shape
    s = stride
    before, after = pads
    hp, wp = h + before + after, w + before + after
    plane = hp * wp  # one padded image, flattened
    kk = c * k * k
    chunk = _col2im_chunk(n, c * plane)
    WmT = _weight_matrix(W, dtype).T  # [K, O]
    G = _grad_3d(output_grad, dtype)  # [N, O, P]
    # dcols of one chunk of samples: [K, chunk, P]
    dcols = buffer(work, "dcols", (kk, chunk, h_out * w_out), dtype)
    # scratch: [C, chunk, H_pad, W_pad]; only the dilated grid [.., y·s, x·s] is ever written, the rest stays 0
    scratch = buffer(work, "scratch", (c, chunk, hp, wp), dtype, zero=True)
    # dx_pad, channel-major and flattened: [C, N·H_pad·W_pad + tail]; the tail takes the (zero) overflow of
    # the last rows when a whole image is shifted by (i, j)
    tail = (k - 1) * (wp + 1)
    dx_flat = buffer(work, "dx_pad", (c, n * plane + tail), dtype)
    for start in range(0, n, chunk):
        m = min(n, start + chunk) - start
        end = (start + m) * plane
        dx_flat[:, end : end + tail] = 0  # what this chunk spills past its last image (zeros) lands on zeros
        dc = dcols[:, :m]  # [K, m, P]
        # per sample [K, O] · [O, P] -> [K, P], written into dc viewed as [m, K, P]
        np.matmul(WmT, G[start : start + m], out=dc.transpose(1, 0, 2))
        dcols5 = dc.reshape(c, k * k, m, h_out, w_out)  # [C, k·k, m, H_out, W_out]
        sc = scratch[:, :m]  # [C, m, H_pad, W_pad]
        grid = sc[:, :, : (h_out - 1) * s + 1 : s, : (w_out - 1) * s + 1 : s]  # [C, m, H_out, W_out] view
        flat_scratch = scratch.reshape(c, chunk * plane)[:, : m * plane]  # [C, m·H_pad·W_pad], a view of sc
        base = start * plane  # the chunk's first position in dx_flat's rows
        for i in range(k):
            for j in range(k):
                grid[...] = dcols5[:, i * k + j]
                shift = base + i * wp + j
                if i == j == 0:
                    # the first offset initialises the chunk's images (overwriting the zeros the previous
                    # chunk spilled into their start)
                    dx_flat[:, shift : shift + m * plane] = flat_scratch
                else:
                    dx_flat[:, shift : shift + m * plane] += flat_scratch
    # [C, N·H_pad·W_pad] -> [C, N, H_pad, W_pad] -> crop the padding -> [N, C, H, W]
    dx_pad = dx_flat[:, : n * plane].reshape(c, n, hp, wp)
    dx = np.empty((n, c, h, w), dtype)
    dx[...] = dx_pad[:, :, before : before + h, before : before + w].transpose(1, 0, 2, 3)
    return dx


def param_grad(
    output_grad: np.ndarray,
    cols: np.ndarray | None,
    x: np.ndarray,
    W: np.ndarray,
    pads: tuple[int, int],
    stride: int,
    work: Workspace,
) -> np.ndarray:
    """dL/dW ``[C, O, k, k]`` (W's dtype) from G, the forward's input x and (input side) its ``cols``."""
    n, c, h, w = x.shape
    _, o, k, _ = W.shape
    dtype = x.dtype
    if cols is None:  # output side: dW2 = xc · gcolsᵀ, [C, N·H·W] · [N·H·W, O·k·k] -> [C, O·k·k] = [C, O, k, k]
        gcols = _grad_cols(output_grad, k, x.shape, dtype, pads, work, reuse=True)
        xc = buffer(work, "x_cm", (c, n, h, w), dtype)  # x channel-major: [C, N, H, W]
        xc[...] = x.transpose(1, 0, 2, 3)
        dW2: np.ndarray = xc.reshape(c, -1) @ gcols.reshape(o * k * k, -1).T  # a new array, not a workspace
        return dW2.reshape(c, o, k, k).astype(W.dtype, copy=False)
    if not by_rows(c):
        # per sample [K, P] · [P, O] -> [K, O], then the sum over samples: [N, K, O] -> [K, O]
        per_sample = np.matmul(
            cols.reshape(c * k * k, n, -1).transpose(1, 0, 2), _grad_3d(output_grad, dtype).transpose(0, 2, 1)
        )
        dWm_cols = per_sample.sum(axis=0)
        # [K, O] = [C, k, k, O] -> [C, O, k, k]
        return np.ascontiguousarray(dWm_cols.reshape(c, k, k, o).transpose(0, 3, 1, 2), dtype=W.dtype)
    # input side by rows: dWm = Σ_y A[y] · G_yᵀ, A [H_out, K, N·W_out] the row patches, G_y = G[:, :, y] as [O, N·W_out]
    h_out, w_out = output_grad.shape[2:]
    g_rows = buffer(work, "g_by_row", (h_out, o, n, w_out), dtype)  # G row by row: [H_out, O, N, W_out]
    g_rows[...] = output_grad.transpose(2, 1, 0, 3)
    per_row = np.matmul(_row_patches(cols, stride, h_out), g_rows.reshape(h_out, o, -1).transpose(0, 2, 1))
    dWm = per_row.sum(axis=0)  # [H_out, K, O] -> [K, O]
    # [K, O] = [k, C, k, O] -> [C, O, k, k]
    return np.ascontiguousarray(dWm.reshape(k, c, k, o).transpose(1, 3, 0, 2), dtype=W.dtype)
