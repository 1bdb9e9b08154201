"""Element-wise activations (chapter 3) as ``nn.Module``s; autograd supplies every gradient.

Each module checks its input (a non-empty, finite, floating-point tensor of any shape) and then calls the
torch function, so the output keeps the input's shape, dtype and device:

    Sigmoid:  y = torch.sigmoid(x)      dL/dx = G ⊙ y ⊙ (1 - y)
    Tanh:     y = torch.tanh(x)         dL/dx = G ⊙ (1 - y²)
    ReLU:     y = torch.relu(x)         dL/dx = G ⊙ [x > 0]   (0 at exactly 0)
    Linear:   y = x                     dL/dx = G

``Linear`` is the book's identity *activation*, torch's ``nn.Identity``; it is not an affine layer (that is
``nn.Linear``, or ``WeightMultiply`` followed by ``BiasAdd``).
"""

from __future__ import annotations

import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

from ._validation import boundary, check_non_negative, check_tensor

__all__ = ["LeakyReLU", "Linear", "ReLU", "Sigmoid", "Tanh"]


class _Activation(nn.Module):
    """Shared input check; subclasses implement ``_apply_fn``."""

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Validate ``x`` and apply the activation element-wise."""
        check_tensor(x, f"{type(self).__name__} input")
        return self._apply_fn(x)

    def _apply_fn(self, x: Tensor) -> Tensor:
        raise NotImplementedError


class Sigmoid(_Activation):
    """Logistic sigmoid, ``torch.sigmoid`` (stable for any finite input)."""

    def _apply_fn(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(_Activation):
    """Hyperbolic tangent, ``torch.tanh``."""

    def _apply_fn(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(_Activation):
    """Rectified linear unit, ``torch.relu``: the gradient is 0 where x <= 0."""

    def _apply_fn(self, x: Tensor) -> Tensor:
        return x.relu()


class Linear(_Activation):
    """The identity activation (the book's ``Linear``; torch's ``nn.Identity``, not ``nn.Linear``)."""

    def _apply_fn(self, x: Tensor) -> Tensor:
        return x


class LeakyReLU(_Activation):
    """Leaky ReLU, ``F.leaky_relu(x, negative_slope)``, with the book's slope 0.2 by default (``nn.LeakyReLU``'s is
    0.01): y = x where x > 0, a·x elsewhere; autograd's gradient is a at x <= 0."""

    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.negative_slope = check_non_negative(negative_slope, "negative_slope")

    def _apply_fn(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
