"""Parameter operations of a dense layer: ``WeightMultiply`` and ``BiasAdd`` (chapter 3)."""

from __future__ import annotations

import numpy as np

from ._validation import check_float_array
from .base import ParamOperation


class WeightMultiply(ParamOperation):
    """Multiply by a weight matrix.

    Shapes: X ``[N, in]``, W ``[in, out]``, output ``[N, out]``.

        forward:   Y = X · W
        backward:  dL/dX = G · Wᵀ   ([N, out] · [out, in] -> [N, in])
                   dL/dW = Xᵀ · G   ([in, N] · [N, out] -> [in, out])
    """

    def __init__(self, W: np.ndarray) -> None:
        check_float_array(W, "WeightMultiply W", ndim=2, layout="[in, out]")
        super().__init__(W)

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "WeightMultiply input_", ndim=2, layout="[batch, in_features]")
        if input_.shape[1] != self.param.shape[0]:
            raise ValueError(
                f"WeightMultiply input_ must have {self.param.shape[0]} features (W has shape "
                f"{self.param.shape}); received shape {input_.shape}"
            )

    def _output(self, inference: bool) -> np.ndarray:
        y: np.ndarray = self.input_ @ self.param  # [N, in] @ [in, out] -> [N, out]
        return y

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        dx: np.ndarray = output_grad @ self.param.T  # W.T: [out, in]; [N, out] @ [out, in] -> [N, in]
        return dx

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        dW: np.ndarray = self.input_.T @ output_grad  # X.T: [in, N]; [in, N] @ [N, out] -> [in, out]
        return dW


class BiasAdd(ParamOperation):
    """Add a bias row to every sample.

    Shapes: X ``[N, out]``, B ``[1, out]``, output ``[N, out]``.

        forward:   Y = X + B          (B broadcast over the N rows)
        backward:  dL/dX = G
                   dL/dB = Σ_n G[n, :] (kept as shape [1, out])
    """

    def __init__(self, B: np.ndarray) -> None:
        check_float_array(B, "BiasAdd B", ndim=2, layout="[1, out]")
        if B.shape[0] != 1:
            raise ValueError(f"BiasAdd B must have shape [1, out]; received shape {B.shape}")
        super().__init__(B)

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "BiasAdd input_", ndim=2, layout="[batch, features]")
        if input_.shape[1] != self.param.shape[1]:
            raise ValueError(
                f"BiasAdd input_ must have {self.param.shape[1]} features (B has shape {self.param.shape}); "
                f"received shape {input_.shape}"
            )

    def _output(self, inference: bool) -> np.ndarray:
        y: np.ndarray = self.input_ + self.param  # [N, out] + [1, out]
        return y

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        return output_grad

    def _param_grad(self, output_grad: np.ndarray) -> np.ndarray:
        dB: np.ndarray = output_grad.sum(axis=0, keepdims=True)  # [N, out] -> [1, out]
        return dB
