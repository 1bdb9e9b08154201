"""The parameter operations of a dense layer, ``WeightMultiply`` and ``BiasAdd`` (chapter 3), in torch.

They use torch's layouts, so that ``BiasAdd(WeightMultiply(x))`` is exactly ``nn.Linear``:

    WeightMultiply:  x [N, in]  ->  x @ weight.T   [N, out]     weight [out, in]  (book W = weight.T)
    BiasAdd:         x [N, F]   ->  x + bias        [N, F]       bias [F]          (book B = bias[None])

Autograd gives dL/dx = G · weight, dL/dweight = Gᵀ · x (the book's dW transposed), dL/dbias = Σ_n G.

The parameters start at zero: load weights (``load_state_dict`` or ``copy_`` under ``torch.no_grad()``)
or fill them with an initialiser from ``torch_impl.init``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validation import boundary, check_features, check_int, check_matches, check_tensor

__all__ = ["BiasAdd", "WeightMultiply"]


class WeightMultiply(nn.Module):
    """Multiply by a weight matrix stored as ``weight`` of shape ``[out_features, in_features]``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.out_features = check_int(out_features, "out_features", 1)
        self.weight = nn.Parameter(torch.zeros(self.out_features, self.in_features, dtype=dtype, device=device))

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Return ``x @ weight.T`` for ``x`` of shape ``[batch, in_features]``."""
        check_tensor(x, "WeightMultiply input", 2, "[batch, in_features]")
        check_features(x, "WeightMultiply input", self.in_features, f"weight has shape {tuple(self.weight.shape)}")
        check_matches(x, "WeightMultiply input", self.weight, "the weight")
        return x @ self.weight.T

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class BiasAdd(nn.Module):
    """Add ``bias`` (shape ``[features]``) to every row."""

    def __init__(
        self,
        features: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.features = check_int(features, "features", 1)
        self.bias = nn.Parameter(torch.zeros(self.features, dtype=dtype, device=device))

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + bias`` for ``x`` of shape ``[batch, features]``."""
        check_tensor(x, "BiasAdd input", 2, "[batch, features]")
        check_features(x, "BiasAdd input", self.features, f"bias has shape {tuple(self.bias.shape)}")
        check_matches(x, "BiasAdd input", self.bias, "the bias")
        return x + self.bias

    def extra_repr(self) -> str:
        return f"features={self.features}"
