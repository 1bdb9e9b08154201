"""Losses (chapters 3-4): ``Loss``, ``MeanSquaredError``, ``SoftmaxCrossEntropy``.

A loss takes predictions ``P`` and targets ``Y`` of the same shape ``[N, ...]`` (N rows), returns a
float, and ``backward()`` returns dL/dP with P's shape. Both losses divide by the number of ROWS N, as
the book does; torch's ``reduction="mean"`` divides by the number of elements instead (see the porting
guide).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_dtype_matches, check_float_array, check_one_hot, check_positive, check_same_shape


class Loss:
    """Base class: ``forward(prediction, target) -> float`` and ``backward() -> dL/dprediction``."""

    prediction: np.ndarray
    target: np.ndarray
    output: float
    input_grad: np.ndarray

    def _check(self, prediction: np.ndarray, target: np.ndarray) -> None:
        name = type(self).__name__
        check_float_array(prediction, f"{name} prediction")
        check_float_array(target, f"{name} target")
        check_same_shape(prediction, target, f"{name} prediction", f"{name} target")
        check_dtype_matches(target, f"{name} target", prediction, "the prediction")

    def forward(self, prediction: np.ndarray, target: np.ndarray) -> float:
        """Store the arrays and return the loss value."""
        self._check(prediction, target)
        self.prediction = prediction
        self.target = target
        self.output = float(self._output())
        return self.output

    def backward(self) -> np.ndarray:
        """Return dL/dprediction for the last ``forward``."""
        if not hasattr(self, "prediction"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        self.input_grad = self._input_grad()
        return self.input_grad

    def _output(self) -> float:
        raise NotImplementedError

    def _input_grad(self) -> np.ndarray:
        raise NotImplementedError


class MeanSquaredError(Loss):
    """Squared error summed over everything and divided by the number of rows N.

        forward:   L = Σ (P - Y)² / N
        backward:  dL/dP = 2 (P - Y) / N

    With ``normalize=True`` each prediction row is first divided by its sum, Q = P / s with
    s = Σ_j P[n, j], and L = Σ (Q - Y)² / N. Its gradient is the full chain rule through the
    normalisation (the book's code dropped that Jacobian):

        g = 2 (Q - Y) / N,   dL/dP[n, k] = (g[n, k] - Σ_j g[n, j] Q[n, j]) / s[n]
    """

    def __init__(self, normalize: bool = False) -> None:
        self.normalize = bool(normalize)

    def _output(self) -> float:
        p = self.prediction
        if self.normalize:
            if p.ndim != 2:
                raise ValueError(f"MeanSquaredError(normalize=True) needs 2-D predictions; received {p.shape}")
            s = p.sum(axis=1, keepdims=True)  # [N, 1]
            if np.any(s == 0):
                raise ValueError("MeanSquaredError(normalize=True) needs predictions whose rows sum to non-zero")
            self._row_sums = s
            p = p / s
        self._q = p
        diff = p - self.target
        return float(np.sum(diff * diff) / p.shape[0])

    def _input_grad(self) -> np.ndarray:
        n = self.prediction.shape[0]
        g: np.ndarray = 2.0 * (self._q - self.target) / n  # [N, K]
        if not self.normalize:
            return g
        inner = np.sum(g * self._q, axis=1, keepdims=True)  # [N, 1]
        grad: np.ndarray = (g - inner) / self._row_sums  # [N, K] / [N, 1]
        return grad


class SoftmaxCrossEntropy(Loss):
    """Softmax over axis 1 followed by categorical cross-entropy, divided by the number of rows N.

    Shapes: logits X ``[N, C]`` (C >= 2), one-hot targets Y ``[N, C]``.

        forward:   log p = X - m - log Σ_c exp(X - m)     (m = row max: stable for any finite logits)
                   L = -Σ_{n,c: Y≠0} Y log p / N          (finite even where X - m overflows to -inf)
        backward:  dL/dX = (softmax(X) - Y) / N

    The value is the function the gradient differentiates. The book's code added the extra term
    -(1 - Y) log(1 - p) to the value (not to the gradient) and clipped p to [eps, 1 - eps]; that value
    is still available as ``book_value()`` for comparison. ``eps`` is kept for the book's signature
    and is used only by ``book_value``.
    """

    def __init__(self, eps: float = 1e-9) -> None:
        self.eps = check_positive(eps, "eps")

    def _check(self, prediction: np.ndarray, target: np.ndarray) -> None:
        super()._check(prediction, target)
        if prediction.ndim != 2 or prediction.shape[1] < 2:
            raise ValueError(
                f"SoftmaxCrossEntropy prediction must be 2-D [batch, classes] with at least 2 classes; "
                f"received shape {prediction.shape}"
            )
        check_one_hot(target, "SoftmaxCrossEntropy target")

    def _output(self) -> float:
        x = self.prediction
        self.softmax_preds, log_p = softmax_and_log(x, axis=1)  # both [N, C]
        return -target_log_likelihood(self.target, log_p) / len(x)  # len: N, the rows

    def _input_grad(self) -> np.ndarray:
        grad: np.ndarray = (self.softmax_preds - self.target) / len(self.prediction)  # [N, C]
        return grad

    def book_value(self) -> float:
        """The value the book's code printed: Σ[-Y log p - (1 - Y) log(1 - p)] / N with p clipped to
        [eps, 1 - eps]. It is not the function ``backward`` differentiates.

        Computed in log space, ``book_cross_entropy_terms``: the same number as the book's formula, but finite
        in float32, where 1 - eps rounds to 1 and the book's code gave 0 · log 0 = NaN for a confident
        prediction.
        """
        if not hasattr(self, "softmax_preds"):
            raise RuntimeError("SoftmaxCrossEntropy.book_value called before forward")
        return book_cross_entropy_terms(self.prediction, self.target, self.eps, axis=1) / len(self.prediction)


def softmax_and_log(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """softmax(x) and log softmax(x) along ``axis``, finite for every finite x (even when max - min overflows).

        s = x - m (m = max along axis),   p = exp(s) / Σ exp(s),   log p = s - log Σ exp(s)

    s can overflow to -inf (e.g. float32 [3e38, -3e38]); that entry's probability is then exactly 0 in the
    dtype, its log p is -inf, and every other entry stays exact.
    """
    with np.errstate(over="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)  # every max is 0; far-below entries may be -inf
    exp = np.exp(shifted)
    sums = exp.sum(axis=axis, keepdims=True)  # the axis kept as size 1
    return exp / sums, shifted - np.log(sums)


def target_log_likelihood(target: np.ndarray, log_p: np.ndarray) -> float:
    """Σ Y log p over the entries where Y != 0 (a 0 target times log p = -inf counts as 0, not NaN)."""
    return float(np.sum(target * np.where(target != 0, log_p, 0.0)))


def book_cross_entropy_terms(logits: np.ndarray, target: np.ndarray, eps: float, axis: int) -> float:
    """Σ[-Y log p - (1 - Y) log(1 - p)] with p = softmax(logits) clipped to [eps, 1 - eps], in log space.

    log p comes from ``softmax_and_log``; log(1 - p) = log1p(-exp(log p)) for p < 1/2 and log(-expm1(log p))
    for p >= 1/2 (accurate at both ends); both logs are clipped to [log eps, log1p(-eps)], which is the book's
    clipping of p. Finite for every finite logit, in float32 as in float64.
    """
    log_p = softmax_and_log(logits, axis)[1]
    with np.errstate(divide="ignore"):
        small = log_p < -np.log(2.0)
        log_not_p = np.where(
            small,
            np.log1p(-np.exp(np.minimum(log_p, -np.log(2.0)))),
            np.log(-np.expm1(np.maximum(log_p, -np.log(2.0)))),
        )
    lo, hi = np.log(eps), np.log1p(-eps)
    log_p = np.clip(log_p, lo, hi)
    log_not_p = np.clip(log_not_p, lo, hi)
    return float(-np.sum(target * log_p + (1 - target) * log_not_p))
