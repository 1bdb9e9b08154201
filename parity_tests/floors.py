"""NumPy's floor for a benchmark: the least NumPy work its computation needs, timed in the same run.

A paired benchmark says how scratch compares with torch; when scratch is slower, the question is whether our
code or NumPy's own kernels are the limit. A floor answers it: the same computation written as the bare
minimum of NumPy calls (preallocated buffers, in-place ufuncs, one BLAS call per GEMM), without checks,
caches or the book's API. ``scratch / floor`` close to 1 means our code adds nothing to what NumPy must do;
``floor / torch`` above 1 means NumPy's kernels (its ``exp``, its BLAS on these shapes) are slower than
torch's, which no scratch code can beat.

Each :class:`Floor` has a ``note`` (what is counted), ``make(problem)`` returning a zero-argument step like the
spec's ``bench_scratch``, and optionally ``flops(problem)``: the floating-point operations of its GEMMs
(2·M·K·N each), for the GFLOP/s the report gives against a square GEMM's rate in the same run.

The floors are built from the problem's shapes and dtype only (random operands of those shapes): the time of a
GEMM or a ufunc does not depend on the values. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Floor",
    "activation_floor",
    "autoencoder_floor",
    "conv_floor",
    "conv_layer_floor",
    "dense_floor",
    "gemm_rate",
    "recurrent_floor",
]

Step = Callable[[], Any]

#: The slope of the LeakyReLU floor: the spec's LeakyReLU keeps the book's default (the time does not depend on it).
LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class Floor:
    """The least NumPy work of one benchmark (see the module docstring)."""

    note: str
    make: Callable[[Any], Step]
    flops: Callable[[Any], float] | None = None
    #: what scratch must do that this floor does not count (the report shows it for a row that stays behind)
    beyond: str = ""


def _rand(shape: Sequence[int], dtype: np.dtype, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(dtype)


# ---------------------------------------------------------------------------------------------------------
# Elementwise: one forward and one backward pass of an activation on preallocated buffers
# ---------------------------------------------------------------------------------------------------------
def _elementwise_steps(kind: str, x: np.ndarray, g: np.ndarray) -> Step:
    """Forward and backward of ``kind`` on ``x`` with upstream gradient ``g``, with the fewest ufunc calls and
    no temporaries; the step returns dL/dx (a buffer it reuses)."""
    y, t = np.empty_like(x), np.empty_like(x)
    mask = np.empty(x.shape, dtype=bool)
    one = x.dtype.type(1)

    def sigmoid() -> np.ndarray:
        np.negative(x, out=y)  # y = 1 / (1 + exp(-x))
        np.exp(y, out=y)
        np.add(y, one, out=y)
        np.reciprocal(y, out=y)
        np.subtract(one, y, out=t)  # dL/dx = g · y · (1 - y)
        np.multiply(t, y, out=t)
        return np.multiply(t, g, out=t)

    def tanh() -> np.ndarray:
        np.tanh(x, out=y)  # y = tanh(x)
        np.multiply(y, y, out=t)  # dL/dx = g · (1 - y²)
        np.subtract(one, t, out=t)
        return np.multiply(t, g, out=t)

    def relu() -> np.ndarray:
        np.maximum(x, 0, out=y)  # y = max(x, 0)
        np.greater(x, 0, out=mask)  # dL/dx = g · [x > 0]
        return np.multiply(g, mask, out=t)

    slope = np.empty_like(x)
    a = x.dtype.type(LEAKY_SLOPE)

    def leaky_relu() -> np.ndarray:
        np.greater(x, 0, out=mask)  # s = 1 where x > 0, else a
        np.copyto(slope, mask)
        np.multiply(slope, one - a, out=slope)
        np.add(slope, a, out=slope)
        np.multiply(x, slope, out=y)  # y = x · s
        return np.multiply(g, slope, out=t)  # dL/dx = g · s

    steps = {"Sigmoid": sigmoid, "Tanh": tanh, "ReLU": relu, "LeakyReLU": leaky_relu}
    if kind not in steps:
        raise ValueError(f"kind must be one of {sorted(steps)}; received {kind!r}")
    return steps[kind]


def _random_elementwise(kind: str, shape: Sequence[int], dtype: np.dtype) -> Step:
    return _elementwise_steps(kind, _rand(shape, dtype, 1), _rand(shape, dtype, 2))


_ELEMENTWISE_NOTES = {
    "LeakyReLU": "a comparison, the slope (1 or a) in 3 passes and a multiply forward; a multiply backward",
    "Sigmoid": "exp, 3 arithmetic passes forward; 3 backward (in place)",
    "Tanh": "tanh forward; 3 arithmetic passes backward (in place)",
    "ReLU": "maximum forward; a comparison and a multiply backward (in place)",
}


def activation_floor(kind: str) -> Floor:
    """The floor of an activation benchmark, on the benchmark's own input and upstream gradient."""
    if kind not in _ELEMENTWISE_NOTES:
        raise ValueError(f"kind must be one of {sorted(_ELEMENTWISE_NOTES)}; received {kind!r}")
    return Floor(
        _ELEMENTWISE_NOTES[kind], lambda problem: _elementwise_steps(kind, problem.inputs["x"], problem.upstream)
    )


# ---------------------------------------------------------------------------------------------------------
# GEMMs
# ---------------------------------------------------------------------------------------------------------
def _gemm_steps(m: int, k: int, n: int, dtype: np.dtype) -> Step:
    """Forward ``Y = A @ B`` and backward ``dA = dY @ Bᵀ``, ``dB = Aᵀ @ dY`` (A [m, k], B [k, n]) into
    preallocated outputs (3 · 2·m·k·n flops, which the floors' ``flops`` count)."""
    a, b, dy = _rand((m, k), dtype, 3), _rand((k, n), dtype, 4), _rand((m, n), dtype, 5)
    y, da, db = np.empty((m, n), dtype), np.empty((m, k), dtype), np.empty((k, n), dtype)

    def step() -> np.ndarray:
        np.matmul(a, b, out=y)
        np.matmul(dy, b.T, out=da)
        np.matmul(a.T, dy, out=db)
        return da

    return step


def _chain(*steps: Step) -> Step:
    def step() -> None:
        for part in steps:
            part()

    return step


def dense_floor() -> Floor:
    """Dense (``Linear`` activation) on the benchmark's own arrays: ``y = x·W + B``; backward ``dL/dx = g·Wᵀ``,
    ``dL/dW = xᵀ·g``, ``dL/dB = Σ_rows g``. The step returns dL/dx."""

    def make(problem: Any) -> Step:
        x, w, b, g = problem.inputs["x"], problem.params["W"], problem.params["B"], problem.upstream
        y, dx = np.empty((x.shape[0], w.shape[1]), x.dtype), np.empty_like(x)
        dw, db = np.empty_like(w), np.empty((w.shape[1],), x.dtype)

        def step() -> np.ndarray:
            np.matmul(x, w, out=y)  # [N, in] x [in, out]
            np.add(y, b, out=y)
            np.matmul(g, w.T, out=dx)  # [N, out] x [out, in]
            np.matmul(x.T, g, out=dw)  # [in, N] x [N, out]
            np.sum(g, axis=0, out=db)
            return dx

        return step

    return Floor("3 GEMMs (x·W, g·Wᵀ, xᵀ·g), the bias add and its gradient's sum", make, _dense_flops)


def _dense_flops(problem: Any) -> float:
    case = problem.case
    return 6.0 * case.n * case.fin * case.fout


def _conv_shapes(case: Any) -> tuple[int, int, int]:
    """(M, K, N) of a convolution's forward GEMM: M = N·H_out·W_out rows of K = C_in·k·k patch values times
    N = C_out filters (stride 1 with the case's padding)."""
    if case.padding is None:
        both = 2 * (case.k // 2)
    elif case.padding == "same":
        both = case.k - 1
    else:
        both = 2 * int(case.padding)
    stride = getattr(case, "stride", 1)
    h_out = (case.h + both - case.k) // stride + 1
    w_out = (case.w + both - case.k) // stride + 1
    return case.n * h_out * w_out, case.cin * case.k * case.k, case.cout


def conv_floor() -> Floor:
    """A convolution's three GEMMs at its im2col shapes (the patch gather and scatter are not counted)."""

    def make(problem: Any) -> Step:
        m, k, n = _conv_shapes(problem.case)
        return _gemm_steps(m, k, n, problem.inputs["x"].dtype)

    return Floor("3 GEMMs at the im2col shapes [N·H·W, C_in·k·k] x [C_in·k·k, C_out]", make, _conv_flops, _CONV_BEYOND)


#: What a NumPy convolution does around its GEMMs (the conv floors count only the GEMMs).
_CONV_BEYOND = (
    "the layout passes around the GEMMs: the input unfolded into patches before them, the output and the "
    "upstream gradient reordered for them, and dL/dx scattered back (col2im) after them. NumPy has no "
    "convolution and no scatter-add kernel, so each is one or more passes over arrays of up to k·k times the "
    "image; the alternatives measured against them (Winograd F(2x2, 3x3), GEMM-then-shift, dL/dx as a "
    "convolution of the gradient) are listed in scratch/_fast_conv.py"
)


def _conv_flops(problem: Any) -> float:
    m, k, n = _conv_shapes(problem.case)
    return 6.0 * m * k * n


def conv_layer_floor() -> Floor:
    """A convolution layer: its three GEMMs and its activation's forward and backward on the output."""

    def make(problem: Any) -> Step:
        case, dtype = problem.case, problem.inputs["x"].dtype
        m, k, n = _conv_shapes(case)
        return _chain(_gemm_steps(m, k, n, dtype), _random_elementwise(case.act, (m, n), dtype))

    return Floor(
        "3 GEMMs at the im2col shapes and the activation's passes on the output", make, _conv_flops, _CONV_BEYOND
    )


def recurrent_floor(gates: int) -> Floor:
    """A recurrent layer of ``gates`` gate blocks (LSTM 4, GRU 3, RNN 1): the input projection of every step
    in one GEMM, T recurrent GEMMs [N, H] x [H, gates·H], the output Dense, each with its two backward GEMMs;
    plus one sigmoid and one tanh pass over the gate values forward and backward."""

    def make(problem: Any) -> Step:
        case, dtype = problem.case, problem.inputs["x0"].dtype
        n, t, v, h, out = _recurrent_sizes(case)
        projection = _gemm_steps(n * t, v, gates * h, dtype)
        recurrent = _gemm_steps(n, h, gates * h, dtype)
        dense = _gemm_steps(n * t, h, out, dtype)
        sigmoid = _random_elementwise("Sigmoid", (n * t, max(gates - 1, 1) * h), dtype)
        tanh = _random_elementwise("Tanh", (n * t, 2 * h), dtype)
        return _chain(projection, *([recurrent] * t), dense, sigmoid, tanh)

    def flops(problem: Any) -> float:
        n, t, v, h, out = _recurrent_sizes(problem.case)
        return 6.0 * (n * t * v * gates * h + t * n * h * gates * h + n * t * h * out)

    return Floor("GEMMs (input projection, T recurrent steps, output Dense) and the gate nonlinearities", make, flops)


def _recurrent_sizes(case: Any) -> tuple[int, int, int, int, int]:
    """(batch N, steps T, input V, hidden H, output) of a recurrent benchmark case."""
    (n, t), (v, h, out) = case.calls[0], case.sizes
    return int(n), int(t), int(v), int(h), int(out)


def autoencoder_floor() -> Floor:
    """The chapter 7 autoencoder: its four convolutions' GEMMs, its two Dense GEMMs, tanh on every output."""

    def make(problem: Any) -> Step:
        case, dtype = problem.case, problem.inputs["x"].dtype
        steps: list[Step] = []
        for m, k, n in _autoencoder_gemms(case):
            steps += [_gemm_steps(m, k, n, dtype), _random_elementwise("Tanh", (m, n), dtype)]
        return _chain(*steps)

    def flops(problem: Any) -> float:
        return sum(6.0 * m * k * n for m, k, n in _autoencoder_gemms(problem.case))

    return Floor("the GEMMs of its 4 convolutions and 2 Dense layers, and tanh on each output", make, flops)


def _autoencoder_gemms(case: Any) -> list[tuple[int, int, int]]:
    c, h, w = case.image
    c1, c2 = case.channels
    pixels = case.n * h * w  # 'same' padding keeps H x W
    kk = case.k * case.k
    return [
        (pixels, c * kk, c1),  # encoder conv1
        (pixels, c1 * kk, c2),  # encoder conv2
        (case.n, c2 * h * w, case.enc),  # encoder Dense
        (case.n, case.enc, c2 * h * w),  # decoder Dense
        (pixels, c2 * kk, c1),  # decoder conv1
        (pixels, c1 * kk, c),  # decoder conv2
    ]


def gemm_rate(dtype: np.dtype | type | str, size: int = 1024, repeats: int = 5) -> float:
    """The GFLOP/s of one square ``size`` GEMM in ``dtype`` on this machine now (best of ``repeats``): the
    BLAS peak the report divides the achieved rates by."""
    import time

    dt = np.dtype(dtype)
    a, b = _rand((size, size), dt, 6), _rand((size, size), dt, 7)
    out = np.empty((size, size), dt)
    np.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9
