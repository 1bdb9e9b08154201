"""Element-wise activations (chapter 3). Every one keeps the input's shape.

The book's ``ReLU`` backward used ``mask = output >= 0``, which is always true after clipping, so it
passed every gradient through. Here the mask is ``input_ > 0`` (the true derivative, and torch's choice
of 0 at exactly 0).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_non_negative
from .base import Operation
from .fundamentals import sigmoid_array


class Sigmoid(Operation):
    """Logistic sigmoid.

    forward:   y = 1 / (1 + exp(-x))   (``scratch.fundamentals.sigmoid``, accurate to rounding for any x)
    backward:  dL/dx = G ⊙ y ⊙ (1 - y)
    """

    def _output(self, inference: bool) -> np.ndarray:
        return sigmoid_array(self.input_)  # the package's one sigmoid: as written, overflow to exactly 0 silenced

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        # One new array, updated in place: temporaries cost more than the arithmetic at these sizes.
        grad: np.ndarray = np.subtract(1.0, self.output)  # 1 - y
        grad *= self.output  # y (1 - y)
        grad *= output_grad  # G ⊙ y (1 - y)
        return grad


class Tanh(Operation):
    """Hyperbolic tangent.

    forward:   y = tanh(x)
    backward:  dL/dx = G ⊙ (1 - y²)
    """

    def _output(self, inference: bool) -> np.ndarray:
        y: np.ndarray = np.tanh(self.input_)
        return y

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        grad: np.ndarray = np.multiply(self.output, self.output)  # y²
        np.subtract(1.0, grad, out=grad)  # 1 - y²
        grad *= output_grad  # G ⊙ (1 - y²)
        return grad


class ReLU(Operation):
    """Rectified linear unit.

    forward:   y = max(x, 0)
    backward:  dL/dx = G ⊙ [x > 0]     (0 where x <= 0, like torch)
    """

    def _output(self, inference: bool) -> np.ndarray:
        y: np.ndarray = np.maximum(self.input_, 0)
        return y

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


class LeakyReLU(Operation):
    """Leaky ReLU, chapter 1's ``leaky_relu``: negative inputs keep a small slope instead of 0.

        forward:   y = x where x > 0, a·x elsewhere            (a = ``negative_slope``)
        backward:  dL/dx = G where x > 0, a·G elsewhere       (a at exactly 0, like torch)

    Any shape; y and dL/dx have x's shape. The default slope is the book's 0.2 (its ``np.maximum(0.2 * x, x)``,
    the same function for 0 <= a <= 1); torch's ``nn.LeakyReLU`` defaults to 0.01.
    """

    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.negative_slope = check_non_negative(negative_slope, "negative_slope")

    def _output(self, inference: bool) -> np.ndarray:
        # The slope s = 1 where x > 0, else a, as an array kept for the backward: y = x ⊙ s and dL/dx = G ⊙ s are
        # then plain multiplies (np.where on arrays measured 3-6x slower than torch; this is about its speed).
        one, a = self.input_.dtype.type(1), self.input_.dtype.type(self.negative_slope)
        slope = np.greater(self.input_, 0).astype(self.input_.dtype)  # 1 where x > 0, else 0
        if (one - a) + a == one:  # then 1·(1 - a) + a rounds to exactly 1, and 0·(1 - a) + a is a
            slope *= one - a
            slope += a
        else:  # a slope so large that 1 - a + a is not 1 in this dtype: the slower exact selection
            slope = np.where(slope > 0, one, a)
        self._slope = slope
        y: np.ndarray = np.multiply(self.input_, slope)
        return y

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        grad: np.ndarray = np.multiply(output_grad, self._slope)
        return grad
