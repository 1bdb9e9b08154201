"""Chapter 1: functions, nested functions and their derivatives, computed with NumPy.

Everything here works element-wise on float ``ndarray`` inputs, except the matrix functions, which take a
batch ``X`` shaped ``[n, k]`` and weights ``W`` shaped ``[k, m]``.

Derivatives of the "building block" functions (``sigma`` arguments and chain members) are taken
numerically with :func:`deriv`, the central difference the chapter introduces; every function that does so
has a ``diff`` keyword (default 0.001, as in the book) that is passed on to :func:`deriv`. The chain rule
around those derivatives is written by hand.

Backward functions of matrix functions return the gradient of the *sum* of the output with respect to
``X`` (shape ``[n, k]``, like ``X``). For the book's example shapes (``X`` ``[1, k]``, ``W`` ``[k, 1]``) that
is exactly the book's ``dN/dX = Wᵀ``; for other shapes it is the generalisation that finite differences
(and autograd) check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, cast

import numpy as np
import numpy.typing as npt

from ._validation import check_float_array, check_positive, check_real

Array: TypeAlias = npt.NDArray[np.float64]
ArrayFunction: TypeAlias = Callable[[np.ndarray], np.ndarray]
"""A function from an array to an array of the same shape (the book's ``Array_Function``)."""
Chain: TypeAlias = Sequence[ArrayFunction]
"""A list of functions applied one after the other (the book's ``Chain``)."""

__all__ = [
    "chain_deriv_2",
    "chain_deriv_3",
    "chain_length_2",
    "chain_length_3",
    "deriv",
    "leaky_relu",
    "matmul_backward_first",
    "matmul_forward",
    "matrix_forward_extra",
    "matrix_function_backward_1",
    "matrix_function_backward_sum_1",
    "matrix_function_forward_sum",
    "multiple_inputs_add",
    "multiple_inputs_add_backward",
    "sigmoid",
    "square",
]


# ---------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------


def _check_values(x: object, name: str) -> np.ndarray:
    """Accept a float ndarray of any shape (0-d included) or a real scalar; return a float ndarray."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise TypeError(
                f"{name} must have a floating-point dtype (float32 or float64); received dtype {x.dtype} "
                f"(convert with .astype(np.float64))"
            )
        if x.size == 0:
            raise ValueError(f"{name} must be non-empty; received shape {x.shape}")
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float ndarray or a real number; received {type(x).__name__}")
    return np.asarray(x, dtype=np.float64)


def _check_function(func: object, name: str) -> None:
    if not callable(func):
        raise TypeError(f"{name} must be a callable taking and returning an ndarray; received {func!r}")


def _check_chain(chain: object, length: int) -> Sequence[ArrayFunction]:
    if not isinstance(chain, Sequence) or isinstance(chain, str):
        raise TypeError(f"chain must be a list of {length} functions; received {type(chain).__name__}")
    if len(chain) != length:
        raise ValueError(f"chain must be a list of {length} functions; received a list of {len(chain)}")
    for i, f in enumerate(chain):
        _check_function(f, f"chain[{i}]")
    return chain


def _check_matmul_pair(X: object, W: object) -> tuple[np.ndarray, np.ndarray]:
    X = check_float_array(X, "X", ndim=2, layout="[n, k]")
    W = check_float_array(W, "W", ndim=2, layout="[k, m]")
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"W must have as many rows as X has columns ({X.shape[1]}) for X @ W; received W of shape {W.shape}"
        )
    return X, W


# ---------------------------------------------------------------------------------------------------------
# Basic functions and the numerical derivative
# ---------------------------------------------------------------------------------------------------------


def square(x: np.ndarray) -> np.ndarray:
    """Element-wise square.

    forward:  y = x²              backward: dy/dx = 2x              shapes: any, y like x
    """
    y: np.ndarray = np.power(x, 2)
    return y


def leaky_relu(x: np.ndarray) -> np.ndarray:
    """Element-wise leaky ReLU with slope 0.2 for negative inputs (the book's choice).

    forward:  y = max(0.2x, x)    backward: dy/dx = 1 if x > 0 else 0.2      shapes: any, y like x
    """
    y: np.ndarray = np.maximum(0.2 * x, x)
    return y


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Element-wise logistic sigmoid: the one NumPy sigmoid of the package (``Tensor.sigmoid`` calls it;
    ``Sigmoid``, the recurrent cells and the book modules compute it with :func:`sigmoid_array`, the same
    arithmetic).

    forward:  y = 1 / (1 + exp(-x))    backward: dy/dx = y (1 - y)            shapes: any, y like x

    Computed as written: exp(-x) overflows to inf below about -709 (float64) or -88 (float32), and
    1 / (1 + inf) is then exactly 0, the correctly rounded value, so that overflow is silenced; the result is
    accurate to rounding for every finite x (and is the book's formula bit for bit). ``out``, an array of x's
    shape and float dtype, receives the result (``out=x`` computes in place); without it a new array is
    returned (a NumPy scalar for a scalar input). Integer input is computed in float64.
    """
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim:
        return sigmoid_array(x, out)
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    if x.ndim == 0 and out is None:  # a scalar: NumPy scalar arithmetic, nothing to update in place
        with np.errstate(over="ignore"):
            y = 1.0 / (1.0 + np.exp(-x))
        # A NumPy scalar, typed as the 0-d array it stands in for: sigmoid stays an ``ArrayFunction``.
        return cast(np.ndarray, y)
    return sigmoid_array(x, out)


def sigmoid_array(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`sigmoid` of a float ndarray, without its input conversions: 1 / (1 + exp(-x)) with no temporaries,
    into ``out`` (``out=x``: in place) or a new array; for callers whose input is already checked."""
    with np.errstate(over="ignore"):  # exp(-x) -> inf gives exactly 0, the correctly rounded value
        return _sigmoid_unguarded(x, out)


def _sigmoid_unguarded(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The arithmetic of :func:`sigmoid_array` without its ``np.errstate``, for a loop that holds
    ``np.errstate(over="ignore")`` once around many calls: ``scratch._fast_rnn``'s time steps (entering the
    context costs about 0.8 µs a call, measured 5% of a small LSTM or GRU layer's forward and backward,
    N 4, T 10, H 16). Outside such a context, exp(-x) -> inf warns."""
    y: np.ndarray = np.negative(x, out=out)
    np.exp(y, out=y)
    y += 1.0
    np.reciprocal(y, out=y)
    return y


def deriv(func: ArrayFunction, input_: np.ndarray | float, diff: float = 0.001) -> np.ndarray:
    """Central-difference derivative of an element-wise function, evaluated at every element of ``input_``.

    forward:  f'(x) ≈ (f(x + Δ) - f(x - Δ)) / (2Δ),  Δ = ``diff``; the error is O(Δ²) (about Δ²·f'''/6).
    shapes:   ``input_`` any shape (or a scalar); the result has the shape of ``func(input_)``.
    """
    _check_function(func, "func")
    x = _check_values(input_, "input_")
    diff = check_positive(diff, "diff")
    slope: np.ndarray = (func(x + diff) - func(x - diff)) / (2.0 * diff)
    return slope


# ---------------------------------------------------------------------------------------------------------
# Nested functions (chains) and the chain rule
# ---------------------------------------------------------------------------------------------------------


def chain_length_2(chain: Chain, x: np.ndarray) -> np.ndarray:
    """Evaluate two functions in a row: ``f2(f1(x))``.

    forward:  y = f2(f1(x))                                     shapes: x any, y like x
    """
    f1, f2 = _check_chain(chain, 2)
    x = _check_values(x, "x")
    return f2(f1(x))


def chain_deriv_2(chain: Chain, input_range: np.ndarray, diff: float = 0.001) -> np.ndarray:
    """Derivative of ``f2(f1(x))`` by the chain rule, each factor taken with :func:`deriv`.

    forward:  u = f1(x)
    backward: dy/dx = f2'(u) · f1'(x)                           shapes: input_range any, result like it
    """
    f1, f2 = _check_chain(chain, 2)
    x = _check_values(input_range, "input_range")
    u = f1(x)
    df1_dx = deriv(f1, x, diff)
    df2_du = deriv(f2, u, diff)
    dy_dx: np.ndarray = df2_du * df1_dx
    return dy_dx


def chain_length_3(chain: Chain, x: np.ndarray) -> np.ndarray:
    """Evaluate three functions in a row: ``f3(f2(f1(x)))``.

    forward:  y = f3(f2(f1(x)))                                 shapes: x any, y like x
    """
    f1, f2, f3 = _check_chain(chain, 3)
    x = _check_values(x, "x")
    return f3(f2(f1(x)))


def chain_deriv_3(chain: Chain, input_range: np.ndarray, diff: float = 0.001) -> np.ndarray:
    """Derivative of ``f3(f2(f1(x)))`` by the chain rule, each factor taken with :func:`deriv`.

    forward:  u1 = f1(x), u2 = f2(u1)
    backward: dy/dx = f3'(u2) · f2'(u1) · f1'(x)                shapes: input_range any, result like it
    """
    f1, f2, f3 = _check_chain(chain, 3)
    x = _check_values(input_range, "input_range")
    u1 = f1(x)
    u2 = f2(u1)
    df1_dx = deriv(f1, x, diff)
    df2_du1 = deriv(f2, u1, diff)
    df3_du2 = deriv(f3, u2, diff)
    dy_dx: np.ndarray = df3_du2 * df2_du1 * df1_dx
    return dy_dx


# ---------------------------------------------------------------------------------------------------------
# Functions of several inputs
# ---------------------------------------------------------------------------------------------------------


def multiple_inputs_add(x: np.ndarray, y: np.ndarray, sigma: ArrayFunction) -> np.ndarray:
    """Add two inputs, then apply ``sigma``.

    forward:  a = x + y,  s = sigma(a)                          shapes: x and y equal, s like x
    """
    _check_function(sigma, "sigma")
    x = _check_values(x, "x")
    y = _check_values(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"y must have the same shape as x {x.shape}; received shape {y.shape}")
    return sigma(x + y)


def multiple_inputs_add_backward(
    x: np.ndarray, y: np.ndarray, sigma: ArrayFunction, diff: float = 0.001
) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise derivatives of ``sigma(x + y)`` with respect to ``x`` and to ``y``.

    forward:  a = x + y,  s = sigma(a)
    backward: ds/dx = sigma'(a) · da/dx = sigma'(a) · 1,   ds/dy = sigma'(a) · 1   (sigma' by :func:`deriv`)
    shapes:   x, y, ds/dx and ds/dy all alike
    """
    _check_function(sigma, "sigma")
    x = _check_values(x, "x")
    y = _check_values(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"y must have the same shape as x {x.shape}; received shape {y.shape}")
    a = x + y
    ds_da = deriv(sigma, a, diff)
    da_dx = np.ones_like(x)
    da_dy = np.ones_like(y)
    return ds_da * da_dx, ds_da * da_dy


# ---------------------------------------------------------------------------------------------------------
# Functions of matrices
# ---------------------------------------------------------------------------------------------------------


def matmul_forward(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Matrix product of a batch of inputs with a weight matrix.

    forward:  N = X @ W                        shapes: X [n, k], W [k, m] -> N [n, m]
    """
    X, W = _check_matmul_pair(X, W)
    N: np.ndarray = X @ W  # [n, k] @ [k, m] -> [n, m]
    return N


def matmul_backward_first(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Gradient of ``sum(X @ W)`` with respect to ``X`` (the book's ``dN/dX``).

    forward:  N = X @ W,  L = Σ N
    backward: dL/dX = 1 @ Wᵀ, with 1 the all-ones [n, m] matrix (each row is the row sums of W)
    shapes:   X [n, k], W [k, m] -> dL/dX [n, k]; for the book's X [1, k], W [k, 1] this is exactly Wᵀ.
    """
    X, W = _check_matmul_pair(X, W)
    dL_dN = np.ones((X.shape[0], W.shape[1]), dtype=np.result_type(X, W))  # [n, m]
    dN_dX = W.T  # transpose: [k, m] -> [m, k]
    dL_dX: np.ndarray = dL_dN @ dN_dX  # [n, m] @ [m, k] -> [n, k]
    return dL_dX


def matrix_forward_extra(X: np.ndarray, W: np.ndarray, sigma: ArrayFunction) -> np.ndarray:
    """Matrix product followed by an element-wise function.

    forward:  N = X @ W,  S = sigma(N)         shapes: X [n, k], W [k, m] -> S [n, m]
    """
    _check_function(sigma, "sigma")
    X, W = _check_matmul_pair(X, W)
    return sigma(X @ W)


def matrix_function_backward_1(X: np.ndarray, W: np.ndarray, sigma: ArrayFunction, diff: float = 0.001) -> np.ndarray:
    """Gradient of ``S = sigma(X @ W)`` with respect to ``X`` (summed over the elements of S).

    forward:  N = X @ W,  S = sigma(N)
    backward: dS/dX = sigma'(N) @ Wᵀ           (sigma' by :func:`deriv`)
    shapes:   X [n, k], W [k, m]: sigma'(N) [n, m], Wᵀ [m, k] -> dS/dX [n, k]
    """
    _check_function(sigma, "sigma")
    X, W = _check_matmul_pair(X, W)
    N = X @ W  # [n, m]
    dS_dN = deriv(sigma, N, diff)  # [n, m]
    dN_dX = W.T  # transpose: [k, m] -> [m, k]
    dS_dX: np.ndarray = dS_dN @ dN_dX  # [n, m] @ [m, k] -> [n, k]
    return dS_dX


def matrix_function_forward_sum(
    X: np.ndarray, W: np.ndarray, sigma: ArrayFunction, modify_x11: bool = False, x11: float = 0.5
) -> float:
    """Matrix product, element-wise function, then the sum of every element.

    forward:  N = X @ W,  S = sigma(N),  L = Σ_ij S_ij       shapes: X [n, k], W [k, m] -> L scalar

    ``modify_x11=True`` computes L with ``X[0, 0]`` replaced by ``x11`` (on a copy: X itself is not changed),
    the book's last version of the function, which nudges one input to check its gradient.
    """
    _check_function(sigma, "sigma")
    X, W = _check_matmul_pair(X, W)
    if modify_x11:
        X = X.copy()
        X[0, 0] = check_real(x11, "x11")
    return float(np.sum(sigma(X @ W)))


def matrix_function_backward_sum_1(
    X: np.ndarray, W: np.ndarray, sigma: ArrayFunction, diff: float = 0.001
) -> np.ndarray:
    """Gradient of ``L = sum(sigma(X @ W))`` with respect to ``X``.

    forward:  N = X @ W,  S = sigma(N),  L = Σ S
    backward: dL/dS = 1,  dL/dN = dL/dS ⊙ sigma'(N),  dL/dX = dL/dN @ Wᵀ     (sigma' by :func:`deriv`)
    shapes:   X [n, k], W [k, m]: dL/dS, dL/dN [n, m] -> dL/dX [n, k]
    """
    _check_function(sigma, "sigma")
    X, W = _check_matmul_pair(X, W)
    N = X @ W  # [n, m]
    S = sigma(N)  # [n, m]
    dL_dS = np.ones_like(S)  # [n, m]
    dS_dN = deriv(sigma, N, diff)  # [n, m]
    dL_dN = dL_dS * dS_dN  # [n, m]
    dN_dX = W.T  # transpose: [k, m] -> [m, k]
    dL_dX: np.ndarray = dL_dN @ dN_dX  # [n, m] @ [m, k] -> [n, k]
    return dL_dX
