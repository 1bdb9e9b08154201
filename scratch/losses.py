"""Losses (chapters 3-4): ``Loss``, ``MeanSquaredError``, ``SoftmaxCrossEntropy``.

A loss takes predictions ``P`` and targets ``Y`` of the same shape ``[N, ...]`` (N rows), returns a
float, and ``backward()`` returns dL/dP with P's shape. Both losses divide by the number of ROWS N, as
the book does; torch's ``reduction="mean"`` divides by the number of elements instead (see the porting
guide).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_float_array, check_positive, check_same_shape


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
        g = 2.0 * (self._q - self.target) / n
        if not self.normalize:
            return g
        inner = np.sum(g * self._q, axis=1, keepdims=True)  # [N, 1]
        return (g - inner) / self._row_sums


class SoftmaxCrossEntropy(Loss):
    """Softmax over axis 1 followed by categorical cross-entropy, divided by the number of rows N.

    Shapes: logits X ``[N, C]`` (C >= 2), one-hot targets Y ``[N, C]``.

        forward:   log p = X - m - log Σ_c exp(X - m)     (m = row max: stable for any finite logits)
                   L = -Σ_{n,c} Y log p / N
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
        ones = target == 1
        if not np.all(ones | (target == 0)) or not np.all(ones.sum(axis=1) == 1):
            bad = int(np.flatnonzero(~(np.all(ones | (target == 0), axis=1) & (ones.sum(axis=1) == 1)))[0])
            raise ValueError(
                f"SoftmaxCrossEntropy target must be one-hot (each row 0s and exactly one 1); row {bad} is "
                f"{target[bad].tolist()}"
            )

    def _output(self) -> float:
        x = self.prediction
        shifted = x - x.max(axis=1, keepdims=True)  # [N, C], every row's max is 0
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)  # [N, 1]
        self.softmax_preds = exp / sums
        log_p = shifted - np.log(sums)
        return float(-np.sum(self.target * log_p) / x.shape[0])

    def _input_grad(self) -> np.ndarray:
        return (self.softmax_preds - self.target) / self.prediction.shape[0]

    def book_value(self) -> float:
        """The value the book's code printed: Σ[-Y log p - (1 - Y) log(1 - p)] / N with p clipped to
        [eps, 1 - eps]. It is not the function ``backward`` differentiates."""
        if not hasattr(self, "softmax_preds"):
            raise RuntimeError("SoftmaxCrossEntropy.book_value called before forward")
        p = np.clip(self.softmax_preds, self.eps, 1 - self.eps)
        y = self.target
        return float(np.sum(-y * np.log(p) - (1 - y) * np.log(1 - p)) / p.shape[0])
