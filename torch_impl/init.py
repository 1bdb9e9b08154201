"""Weight initialisers with an explicit ``torch.Generator`` (chapter 4's "standard" and Glorot schemes).

    standard_normal_:  every entry ~ N(0, 1)                                  (the book's "standard")
    glorot_normal_:    every entry ~ N(0, sqrt(2 / (fan_in + fan_out)))       (= nn.init.xavier_normal_)
    torch_linear_init_: nn.Linear's own default, U(±1/sqrt(in)) for weight and bias

Fans follow torch's convention for a tensor of shape ``[out, in, *kernel]``: ``fan_in = in · ∏kernel``,
``fan_out = out · ∏kernel``. For a dense ``[out, in]`` weight that is the book's sqrt(2 / (in + out)); the
formula is symmetric, so the book's transposed ``[in, out]`` layout gives the same scale. The book's printed
code used the variance 2 / (in + out) as the standard deviation; these functions use the correct scale.

Every function fills the tensor in place (without recording it for autograd) and returns it. With a
``generator`` the numbers come from that generator only, never from torch's global one; if the generator
lives on another device than the tensor (a CPU generator for a CUDA tensor), the values are drawn on the
generator's device and copied over, so any device works.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._validation import check_generator, check_int, check_tensor

__all__ = ["book_glorot_std", "glorot_normal_", "standard_normal_", "torch_linear_init_"]


def _fill(tensor: Tensor, generator: torch.Generator | None, fill: Callable[[Tensor], object]) -> Tensor:
    """Run ``fill`` on ``tensor`` (or on a twin on the generator's device, then copy) without autograd."""
    check_tensor(tensor, "tensor", allow_empty=True, finite=False)
    check_generator(generator)
    with torch.no_grad():
        if generator is None or generator.device == tensor.device:
            fill(tensor)
        else:
            twin = torch.empty(tensor.shape, dtype=tensor.dtype, device=generator.device)
            fill(twin)
            tensor.copy_(twin)
    return tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``[out, in, *kernel]`` (torch's convention)."""
    if tensor.dim() < 2:
        raise ValueError(
            f"tensor must have at least 2 dimensions [out, in, ...] to have fans; received shape "
            f"{tuple(tensor.shape)} (for a bias use the layer's book_glorot_std(n_in, n_out))"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def book_glorot_std(n_in: int, n_out: int) -> float:
    """The Glorot normal standard deviation ``sqrt(2 / (n_in + n_out))`` of a dense layer."""
    n_in = check_int(n_in, "n_in", 1)
    n_out = check_int(n_out, "n_out", 1)
    return math.sqrt(2.0 / (n_in + n_out))


def normal_(tensor: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` with N(0, std²) draws from ``generator``; return it."""
    return _fill(tensor, generator, lambda t: t.normal_(0.0, std, generator=generator))


def standard_normal_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` with N(0, 1) draws (the book's ``weight_init="standard"``); return it."""
    return normal_(tensor, 1.0, generator)


def glorot_normal_(tensor: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` (``[out, in, *kernel]``) with N(0, 2 / (fan_in + fan_out)) draws; return it.

    The same distribution as ``nn.init.xavier_normal_(tensor)`` (gain 1).
    """
    check_tensor(tensor, "tensor", allow_empty=True, finite=False)
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, math.sqrt(2.0 / (fan_in + fan_out)), generator)


def torch_linear_init_(weight: Tensor, bias: Tensor | None, generator: torch.Generator | None = None) -> None:
    """``nn.Linear.reset_parameters`` with an explicit generator: weight and bias ~ U(±1/sqrt(fan_in)).

    It calls the same ``nn.init`` functions in the same order, so a CPU generator seeded like torch's
    global one gives exactly the weights ``nn.Linear`` would have drawn.
    """
    _fill(weight, generator, lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=generator))
    if bias is not None:
        fan_in, _ = _fans(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        _fill(bias, generator, lambda t: nn.init.uniform_(t, -bound, bound, generator=generator))
