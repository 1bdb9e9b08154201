"""Convolutions (chapters 5 and 7): ``Conv2D_Op``, ``ChannelBiasAdd``, ``ConvLayer``, ``Conv2D`` and
chapter 7's ``MNISTConvNet``.

Every convolution here is torch's 2-D cross-correlation (no kernel flip), in torch's layouts:

    input  x       [N, C_in, H, W]       (H != W allowed)
    weight         [C_out, C_in, k, k]   (square kernel; the book's W [C_in, C_out, k, k] with axes 0, 1 swapped)
    bias           [C_out]               (the book-style per-channel bias [1, C_out, 1, 1] flattened)
    output         [N, C_out, H_out, W_out]

    out[n, o, h, w] = Σ_{c, i, j} x_pad[n, c, s·h + i, s·w + j] · weight[o, c, i, j]   (+ bias[o])

Autograd gives every gradient (the true ones: the input gradient correlates with the 180°-rotated kernel,
and the weight gradient sums over the batch, unlike the book's published ``Conv2D_Op``).

Padding and stride (the same rules as ``scratch``):

* ``padding=None``: the book's ``k // 2`` zeros on every side ("same" size for odd k, one more row and
  column than the input for even k, stride 1);
* ``padding=p`` (an integer >= 0): ``p`` zeros on every side;
* ``padding="same"``: torch's ``padding="same"``: ``k - 1`` zeros in all per axis, ``(k - 1) // 2`` before
  and the rest after (asymmetric for even k); the output has the input's size. Only with ``stride=1``
  (as in torch): ``"same"`` with a stride > 1 is a ``ValueError``;
* ``stride=s`` (an integer >= 1). The output size per axis is ``floor((H + pads - k) / s) + 1``, where
  ``pads`` is ``2p`` (or ``k - 1`` for ``"same"``); see :func:`conv_output_size`.

Inputs are checked before any computation: a 4-D, non-empty, finite, floating-point tensor with the layer's
channel count, the parameters' dtype and device, and at least ``k`` rows and columns once padded.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

from data._checks import conv_output_size, resolve_padding

from ._validation import (
    boundary,
    check_int,
    check_matches,
    check_tensor,
)

__all__ = [
    "CONV_WEIGHT_INITS",
    "ChannelBiasAdd",
    "Conv2DOp",
    "Conv2D_Op",
    "conv_glorot_std",
    "conv_output_size",
    "resolve_padding",
]

#: The initialisation schemes of ``ConvLayer`` / ``Conv2D``.
CONV_WEIGHT_INITS = ("torch", "normal", "glorot")

_LAYOUT = "[batch, channels, height, width]"


# ---------------------------------------------------------------------------------------------------------
# Geometry shared by every convolution
# ---------------------------------------------------------------------------------------------------------
def _total_padding(padding: int | str, kernel_size: int) -> int:
    """Zeros added along one axis in total (both sides)."""
    return kernel_size - 1 if padding == "same" else 2 * int(padding)


def _check_sizes(in_channels: Any, out_channels: Any, kernel_size: Any, kernel_arg: str) -> tuple[int, int, int]:
    """A convolution layer's channel counts and kernel size, each an integer >= 1 (``kernel_arg``: the kernel
    size's argument name in messages)."""
    return (
        check_int(in_channels, "in_channels", 1),
        check_int(out_channels, "out_channels", 1),
        check_int(kernel_size, kernel_arg, 1),
    )


def conv_glorot_std(in_channels: int, out_channels: int, kernel_size: int) -> float:
    """The receptive-field Glorot std ``sqrt(2 / ((C_in + C_out) · k²))`` (= ``nn.init.xavier_normal_``'s)."""
    in_channels = check_int(in_channels, "in_channels", 1)
    out_channels = check_int(out_channels, "out_channels", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    return math.sqrt(2.0 / ((in_channels + out_channels) * kernel_size * kernel_size))


def _check_conv_input(
    x: Any, name: str, in_channels: int, kernel_size: int, padding: int | str, reference: Tensor
) -> Tensor:
    """Validate a convolution's input (see the module docstring)."""
    check_tensor(x, name, 4, _LAYOUT)
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{name} must have {in_channels} channels (the layer was built for in_channels={in_channels}); "
            f"received shape {tuple(x.shape)}"
        )
    check_matches(x, name, reference, "the layer's weight")
    pads = _total_padding(padding, kernel_size)
    height, width = x.shape[2] + pads, x.shape[3] + pads
    if height < kernel_size or width < kernel_size:
        raise ValueError(
            f"{name} must be at least {kernel_size}x{kernel_size} once padded (kernel_size={kernel_size}, "
            f"padding={padding!r}): the kernel is larger than the padded input; received shape "
            f"{tuple(x.shape)}, {height}x{width} once padded"
        )
    return x


# ---------------------------------------------------------------------------------------------------------
# Operations (chapter 5 twins)
# ---------------------------------------------------------------------------------------------------------
class Conv2D_Op(nn.Module):
    """The torch twin of ``scratch.Conv2D_Op``: ``F.conv2d(x, weight, None, stride, padding)``.

    ``weight`` is ``[out_channels, in_channels, k, k]`` (the book's ``W.transpose(1, 0, 2, 3)``). It
    starts at zero: load weights (``load_state_dict``, or ``copy_`` under ``torch.no_grad()``) or fill it
    with an initialiser from ``torch_impl.init``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int | str | None = None,
        stride: int = 1,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        self.kernel_size = check_int(kernel_size, "kernel_size", 1)
        self.stride = check_int(stride, "stride", 1)
        self.padding: int | str = resolve_padding(padding, self.kernel_size, self.stride)
        k = self.kernel_size
        self.weight = nn.Parameter(torch.zeros(self.out_channels, self.in_channels, k, k, dtype=dtype, device=device))

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[N, in_channels, H, W]`` -> ``[N, out_channels, H_out, W_out]``."""
        _check_conv_input(x, "Conv2D_Op input", self.in_channels, self.kernel_size, self.padding, self.weight)
        return F.conv2d(x, self.weight, None, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding!r}, stride={self.stride}"
        )


Conv2DOp = Conv2D_Op  # the old name, kept as an alias


class ChannelBiasAdd(nn.Module):
    """Add one bias per channel: ``x + bias[None, :, None, None]`` for ``x`` ``[N, C, H, W]``.

    ``bias`` is ``[channels]`` (the book-style ``[1, C, 1, 1]`` flattened) and starts at zero. Autograd:
    dL/dbias = the sum of G over the batch and both spatial axes.
    """

    def __init__(
        self,
        channels: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", 1)
        self.bias = nn.Parameter(torch.zeros(self.channels, dtype=dtype, device=device))

    @boundary()
    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + bias[None, :, None, None]``."""
        name = "ChannelBiasAdd input"
        check_tensor(x, name, 4, _LAYOUT)
        if x.shape[1] != self.channels:
            raise ValueError(
                f"{name} must have {self.channels} channels (bias has shape {tuple(self.bias.shape)}); "
                f"received shape {tuple(x.shape)}"
            )
        check_matches(x, name, self.bias, "the bias")
        return x + self.bias[None, :, None, None]

    def extra_repr(self) -> str:
        return f"channels={self.channels}"
