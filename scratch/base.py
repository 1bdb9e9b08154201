"""The chapter 3 building blocks: ``Operation`` and ``ParamOperation``.

An operation maps one input array to one output array and knows how to send a gradient back:

    forward:  output = f(input_)
    backward: input_grad = (d output / d input_)^T · output_grad        (same shape as input_)

``ParamOperation`` adds one parameter array ``param`` and, after ``backward``,

    param_grad = (d output / d param)^T · output_grad                    (same shape as param)

Subclasses implement ``_output(inference)``, ``_input_grad(output_grad)`` and, for parameters,
``_param_grad(output_grad)``. Shapes are checked with ``ValueError``, never ``assert``; dtypes with
``TypeError``: a parameter operation computes in its parameter's dtype (float32 or float64) and refuses an
input of the other one, and ``output_grad`` must have the output's dtype; nothing is cast silently.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_dtype_matches, check_float_array, check_output_finite


def check_output_grad(output_grad: np.ndarray, output: np.ndarray, name: str) -> None:
    """Raise unless ``output_grad`` is a float array with the shape and dtype of ``output`` (values may be
    anything, inf included: a backward only propagates them)."""
    check_float_array(output_grad, name, allow_empty=True, finite=False)
    if output_grad.shape != output.shape:
        raise ValueError(f"{name} must have the output's shape {output.shape}; received shape {output_grad.shape}")
    check_dtype_matches(output_grad, name, output, "the output")


class Operation:
    """One differentiable step of a network (the book's ``Operation``)."""

    input_: np.ndarray
    output: np.ndarray
    input_grad: np.ndarray

    def _check_input(self, input_: np.ndarray) -> None:
        """Validate ``input_`` (type, dtype, finiteness); subclasses add shape checks."""
        check_float_array(input_, f"{type(self).__name__} input_")

    #: Whether ``forward`` checks its output is finite. Parameter operations do (a NaN weight, an overflow of
    #: X·W); element-wise activations of a finite input stay finite (or saturate), so they skip the extra pass.
    checks_output = False

    def forward(self, input_: np.ndarray, inference: bool = False) -> np.ndarray:
        """Store ``input_`` and return the operation's output (see ``checks_output`` and ``check_output_finite``)."""
        self._check_input(input_)
        out = self._forward(input_, inference)
        if self.checks_output:
            check_output_finite(out, type(self).__name__, self._named_params)
        return out

    def _named_params(self) -> dict[str, np.ndarray]:
        """The operation's parameters by name (none for a plain operation)."""
        return {}

    def _forward(self, input_: np.ndarray, inference: bool) -> np.ndarray:
        """``forward`` without the input checks: for a ``Layer`` whose own checks already cover them."""
        self.input_ = input_
        self.output = self._output(inference)
        return self.output

    def backward(self, output_grad: np.ndarray) -> np.ndarray:
        """Return the gradient of the loss with respect to the last ``input_``."""
        if not hasattr(self, "output"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        check_output_grad(output_grad, self.output, f"{type(self).__name__} output_grad")
        self.input_grad = self._input_grad(output_grad)
        return self.input_grad

    def _output(self, inference: bool) -> np.ndarray:
        raise NotImplementedError

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ParamOperation(Operation):
    """An operation with one parameter array (the book's ``ParamOperation``)."""

    param_grad: np.ndarray
    checks_output = True

    def __init__(self, param: np.ndarray) -> None:
        self.param = check_float_array(param, f"{type(self).__name__} param")

    def forward(self, input_: np.ndarray, inference: bool = False) -> np.ndarray:
        """Store ``input_`` (which must have the parameter's dtype) and return the output."""
        check_float_array(input_, f"{type(self).__name__} input_", allow_empty=True, finite=False)
        check_dtype_matches(input_, f"{type(self).__name__} input_", self.param, "its parameter")
        return super().forward(input_, inference)

    def _named_params(self) -> dict[str, np.ndarray]:
        return {"param": self.param}

    def backward(self, output_grad: np.ndarray) -> np.ndarray:
        """Compute ``input_grad`` and ``param_grad``; return ``input_grad``."""
        input_grad = super().backward(output_grad)
        self.param_grad = self._param_grad(output_grad)
        return input_grad

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError
