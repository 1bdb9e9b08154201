"""Losses (chapters 3-4) as ``nn.Module``s: ``MeanSquaredError`` and ``SoftmaxCrossEntropy``.

Both divide by the number of ROWS N, as the book does, and return a 0-d tensor that autograd
differentiates (so ``loss.backward()`` gives the book's ``Loss.backward()`` as the prediction's ``.grad``).

Relation to torch's built-in losses:

* ``MeanSquaredError()(p, y) == F.mse_loss(p, y, reduction="sum") / N``. ``nn.MSELoss()`` (mean) divides
  by the number of ELEMENTS N·D instead, so ``book = D · nn.MSELoss()(p, y)`` with D = elements per row;
  they agree only for one output per row.
* ``SoftmaxCrossEntropy()(x, y) == F.cross_entropy(x, y)`` for one-hot ``y`` (mean over rows).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._validation import boundary, check_matches, check_one_hot, check_positive, check_same_shape, check_tensor

__all__ = ["MeanSquaredError", "SoftmaxCrossEntropy", "target_log_likelihood"]


def target_log_likelihood(target: Tensor, log_p: Tensor) -> Tensor:
    """Σ Y log p over the entries where Y != 0, as a 0-d tensor.

    A logit far below its row's maximum (the spread overflows, e.g. float32 [3e38, -3e38]) has log p = -inf;
    a 0 target there contributes 0, not 0 · (-inf) = NaN, so the loss is finite for every finite input whose
    true value fits the dtype. The gradient through ``where`` is exactly Y on the chosen entries.
    """
    return (target * torch.where(target != 0, log_p, torch.zeros_like(log_p))).sum()


def _check_pair(owner: str, prediction: Tensor, target: Tensor, pred_name: str = "prediction") -> None:
    check_tensor(prediction, f"{owner} {pred_name}")
    check_tensor(target, f"{owner} target")
    check_same_shape(prediction, target, f"{owner} {pred_name}", f"{owner} target")
    check_matches(target, f"{owner} target", prediction, f"the {pred_name}")


class MeanSquaredError(nn.Module):
    """Squared error summed over everything and divided by the number of rows N.

        L = Σ (P - Y)² / N                  (autograd: dL/dP = 2 (P - Y) / N)

    With ``normalize=True`` each prediction row (``P`` must be 2-D) is first divided by its sum,
    Q = P / Σ_j P[n, j], and L = Σ (Q - Y)² / N; autograd differentiates through the normalisation, giving
    the true gradient (the book's code dropped that Jacobian). Rows summing to 0 raise ``ValueError``.
    """

    def __init__(self, normalize: bool = False) -> None:
        super().__init__()
        self.normalize = bool(normalize)

    @boundary(check_output=False)
    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Return the loss as a 0-d tensor."""
        _check_pair("MeanSquaredError", prediction, target)
        p = prediction
        if self.normalize:
            if p.dim() != 2:
                raise ValueError(
                    f"MeanSquaredError(normalize=True) prediction must be 2-D [batch, outputs]; received "
                    f"shape {tuple(p.shape)}"
                )
            sums = p.sum(dim=1, keepdim=True)
            if bool((sums == 0).any()):
                row = int(torch.nonzero(sums[:, 0] == 0)[0, 0])
                raise ValueError(
                    f"MeanSquaredError(normalize=True) prediction rows must sum to non-zero; row {row} sums to 0"
                )
            p = p / sums
        diff = p - target
        return (diff * diff).sum() / p.shape[0]

    def extra_repr(self) -> str:
        return f"normalize={self.normalize}"


class SoftmaxCrossEntropy(nn.Module):
    """Softmax over axis 1 followed by categorical cross-entropy, divided by the number of rows N.

    Shapes: logits X ``[N, C]`` (C >= 2), one-hot targets Y ``[N, C]`` (each row 0s and exactly one 1).

        L = -Σ_{n,c: Y≠0} Y log_softmax(X, 1) / N       (autograd: dL/dX = (softmax(X) - Y) / N)

    This is ``F.cross_entropy(X, Y)`` with mean reduction over rows, computed with ``log_softmax`` so it is
    finite for any finite logits. ``eps`` is the book's clipping constant, used only by ``book_value``.
    """

    def __init__(self, eps: float = 1e-9) -> None:
        super().__init__()
        self.eps = check_positive(eps, "eps")
        if self.eps >= 0.5:
            raise ValueError(f"eps must be < 0.5 (it clips probabilities to [eps, 1 - eps]); received {eps!r}")

    def _check(self, logits: Tensor, target: Tensor) -> None:
        _check_pair("SoftmaxCrossEntropy", logits, target, "logits")
        if logits.dim() != 2 or logits.shape[1] < 2:
            raise ValueError(
                f"SoftmaxCrossEntropy logits must be 2-D [batch, classes] with at least 2 classes; received "
                f"shape {tuple(logits.shape)}"
            )
        check_one_hot(target, "SoftmaxCrossEntropy target")

    @boundary(check_output=False)
    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Return the cross-entropy as a 0-d tensor."""
        self._check(logits, target)
        return -target_log_likelihood(target, torch.log_softmax(logits, dim=1)) / logits.shape[0]

    def book_value(self, logits: Tensor, target: Tensor) -> Tensor:
        """The value the book's code printed, as a detached 0-d tensor:

            Σ [-Y log p - (1 - Y) log(1 - p)] / N,   p = softmax(X, 1) clipped to [eps, 1 - eps]

        It is not the function ``forward`` (or the book's gradient) differentiates. It is computed in log
        space, log p = clamp(log_softmax, log eps, log(1 - eps)) and log(1 - p) likewise, which equals the
        book's formula but stays finite where float32 rounds 1 - eps to 1 (the book's code gave NaN/inf).
        """
        self._check(logits, target)
        with torch.no_grad():
            lo, hi = math.log(self.eps), math.log1p(-self.eps)
            log_p = torch.log_softmax(logits, dim=1)
            # log(1 - p) = log1mexp(log_p): log1p(-exp) for small p, log(-expm1) for p near 1.
            small = log_p < -math.log(2.0)
            log_not_p = torch.where(small, torch.log1p(-torch.exp(log_p)), torch.log(-torch.expm1(log_p)))
            log_p = log_p.clamp(lo, hi)
            log_not_p = log_not_p.clamp(lo, hi)
            total = -(target * log_p + (1 - target) * log_not_p).sum()
            return (total / logits.shape[0]).detach()

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
