"""Element-wise activations (chapter 3). Every one keeps the input's shape.

The book's ``ReLU`` backward used ``mask = output >= 0``, which is always true after clipping, so it
passed every gradient through. Here the mask is ``input_ > 0`` (the true derivative, and torch's choice
of 0 at exactly 0).
"""

from __future__ import annotations

import numpy as np

from .base import Operation


class Sigmoid(Operation):
    """Logistic sigmoid.

    forward:   y = 1 / (1 + exp(-x))   (exact for any finite x; see _output)
    backward:  dL/dx = G ⊙ y ⊙ (1 - y)
    """

    def _output(self, inference: bool) -> np.ndarray:
        # exp(-x) overflows to inf for x below about -709 (float64) or -88 (float32); 1 / (1 + inf) is
        # then exactly 0, the correctly rounded result, so the overflow is benign and silenced. This
        # form is accurate to rounding everywhere and 10x faster than a two-branch version.
        with np.errstate(over="ignore"):
            out = np.negative(self.input_)
            np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)
        return out

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        # One new array, updated in place: temporaries cost more than the arithmetic at these sizes.
        grad = np.subtract(1.0, self.output)  # 1 - y
        grad *= self.output  # y (1 - y)
        grad *= output_grad  # G ⊙ y (1 - y)
        return grad


class Tanh(Operation):
    """Hyperbolic tangent.

    forward:   y = tanh(x)
    backward:  dL/dx = G ⊙ (1 - y²)
    """

    def _output(self, inference: bool) -> np.ndarray:
        return np.tanh(self.input_)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        grad = np.multiply(self.output, self.output)  # y²
        np.subtract(1.0, grad, out=grad)  # 1 - y²
        grad *= output_grad  # G ⊙ (1 - y²)
        return grad


class ReLU(Operation):
    """Rectified linear unit.

    forward:   y = max(x, 0)
    backward:  dL/dx = G ⊙ [x > 0]     (0 where x <= 0, like torch)
    """

    def _output(self, inference: bool) -> np.ndarray:
        return np.maximum(self.input_, 0)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad * (self.input_ > 0)


class Linear(Operation):
    """The identity activation (not an affine layer: torch's twin is ``nn.Identity``).

    forward:   y = x
    backward:  dL/dx = G
    """

    def _output(self, inference: bool) -> np.ndarray:
        return self.input_

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad
