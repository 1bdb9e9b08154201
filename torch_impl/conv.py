"""Convolutions (chapters 5 and 7): ``Conv2DOp``, ``ChannelBiasAdd``, ``ConvLayer``, ``Conv2D`` and
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
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import Tensor, nn

from data._checks import conv_output_size, resolve_padding

from ._validation import (
    boundary,
    check_choice,
    check_generator,
    check_int,
    check_matches,
    check_tensor,
)
from .activations import Tanh
from .init import normal_, torch_linear_init_
from .layers import DenseLayer, PyTorchLayer, finish_layer
from .model import BookCheckpoint, PyTorchModel

__all__ = [
    "CONV_WEIGHT_INITS",
    "ChannelBiasAdd",
    "Conv2D",
    "Conv2DOp",
    "ConvLayer",
    "DeconvLayer",
    "MNISTConvNet",
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
class Conv2DOp(nn.Module):
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
        _check_conv_input(x, "Conv2DOp input", self.in_channels, self.kernel_size, self.padding, self.weight)
        return F.conv2d(x, self.weight, None, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding!r}, stride={self.stride}"
        )


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


# ---------------------------------------------------------------------------------------------------------
# Layers (chapter 7's ConvLayer; chapter 5's Conv2D)
# ---------------------------------------------------------------------------------------------------------
class ConvLayer(PyTorchLayer):
    """Chapter 7's convolutional layer: ``nn.Conv2d``, activation, optional flatten, then dropout.

        forward:  y = dropout(flatten(a(conv(x))))      flatten: x.flatten(1), only if ``flatten=True``

    ``dropout`` is the KEEP probability (1.0: no dropout). As in ``DenseLayer``: with
    ``inverted_dropout=True`` and no ``generator`` it is ``nn.Dropout(1 - dropout)``; otherwise
    ``BookDropout(dropout, inverted=inverted_dropout, generator=generator)`` (inverted: the same function
    as ``nn.Dropout`` with masks from the generator; book: ``x ⊙ mask`` in training, ``keep · x`` at
    inference). ``forward(x, inference=True)`` gives dropout's inference behaviour without touching the
    training flag (``model.eval()`` does the same).

    ``weight_init`` (drawn from ``generator`` when given, weight first, then bias):

    * ``"torch"``: ``nn.Conv2d``'s default, weight and bias ~ U(±1/sqrt(C_in · k²));
    * ``"normal"``: weight and bias ~ N(0, 1) (the book's conv default);
    * ``"glorot"``: weight and bias ~ N(0, sqrt(2 / ((C_in + C_out) · k²))), the receptive-field Glorot
      scale (``nn.init.xavier_normal_`` for the weight). The book's code used ``2 / (C_in + C_out)``
      (a variance used as a std, without k²); this is the corrected scale.

    Attributes: ``conv`` (the ``nn.Conv2d``; ``state_dict`` keys ``conv.weight`` and, with ``bias=True``,
    ``conv.bias``), ``activation``, ``flatten``, ``dropout_module`` and ``keep_prob``.
    """

    dropout_module: nn.Module | None
    _kernel_arg = "filter_size"  # the kernel size's argument name, for error messages

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        filter_size: int,
        activation: nn.Module | None = None,
        dropout: float = 1.0,
        flatten: bool = False,
        *,
        padding: int | str | None = None,
        stride: int = 1,
        bias: bool = True,
        weight_init: str = "torch",
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        in_channels, out_channels, filter_size = _check_sizes(in_channels, out_channels, filter_size, self._kernel_arg)
        stride = check_int(stride, "stride", 1)
        resolved = resolve_padding(padding, filter_size, stride)
        activation = self._check_stages(activation, dropout, inverted_dropout, generator)
        self.weight_init = check_choice(weight_init, "weight_init", CONV_WEIGHT_INITS)
        self.flatten = bool(flatten)
        # Created without drawing anything, then initialised from the chosen scheme and generator.
        device = torch.get_default_device() if device is None else device
        self.conv = nn.utils.skip_init(
            nn.Conv2d,
            in_channels,
            out_channels,
            filter_size,
            stride=stride,
            padding=resolved,
            bias=bool(bias),
            dtype=dtype,
            device=device,
        )
        self._attach_stages(activation)

    # geometry ------------------------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        """Number of input channels."""
        return self.conv.in_channels

    @property
    def out_channels(self) -> int:
        """Number of output channels."""
        return self.conv.out_channels

    @property
    def kernel_size(self) -> int:
        """The (square) kernel size k."""
        return int(self.conv.kernel_size[0])

    @property
    def stride(self) -> int:
        """The stride."""
        return int(self.conv.stride[0])

    @property
    def padding(self) -> int | str:
        """The padding used: an int (zeros per side) or ``"same"``."""
        pad = self.conv.padding
        return pad if isinstance(pad, str) else int(pad[0])

    def output_shape(self, height: int, width: int) -> tuple[int, ...]:
        """Per-sample output shape for an ``height x width`` input: ``(C_out, H_out, W_out)``, or
        ``(C_out · H_out · W_out,)`` with ``flatten``."""
        h = conv_output_size(height, self.kernel_size, self.padding, self.stride)
        w = conv_output_size(width, self.kernel_size, self.padding, self.stride)
        return (self.out_channels * h * w,) if self.flatten else (self.out_channels, h, w)

    # parameters ----------------------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """(Re-)draw ``conv.weight`` then ``conv.bias`` with ``weight_init`` from ``generator``."""
        weight, bias = self.conv.weight, self.conv.bias
        if self.weight_init == "torch":
            torch_linear_init_(weight, bias, self.generator)  # nn.Conv2d's own scheme (same fans rule)
            return
        if self.weight_init == "normal":
            std = 1.0
        else:
            std = conv_glorot_std(self.in_channels, self.out_channels, self.kernel_size)
        normal_(weight, std, self.generator)
        if bias is not None:
            normal_(bias, std, self.generator)

    # forward -------------------------------------------------------------------------------------------
    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x`` ``[N, in_channels, H, W]`` -> ``[N, out_channels, H_out, W_out]`` (or flattened)."""
        name = f"{type(self).__name__} input"
        _check_conv_input(x, name, self.in_channels, self.kernel_size, self.padding, self.conv.weight)
        return finish_layer(self.conv(x), self.activation, self.flatten, self.dropout_module, inference)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, flatten={self.flatten}, weight_init={self.weight_init!r}"


class Conv2D(ConvLayer):
    """The torch twin of ``scratch.Conv2D`` (chapter 5), with ``in_channels`` given.

    ``ConvLayer`` with the book's choices: ``inverted_dropout=False`` (book dropout), ``weight_init="normal"``
    and no bias by default (``bias=True`` adds the per-channel bias that scratch's bias option adds).
    ``state_dict`` keys: ``conv.weight`` (``= W.transpose(1, 0, 2, 3)`` of the scratch layer) and, with a
    bias, ``conv.bias`` (``= B.reshape(-1)``). ``activation=None`` is the identity, like scratch's default
    ``Linear()``.
    """

    _kernel_arg = "param_size"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        param_size: int,
        activation: nn.Module | None = None,
        dropout: float = 1.0,
        weight_init: str = "normal",
        flatten: bool = False,
        *,
        padding: int | str | None = None,
        stride: int = 1,
        bias: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            param_size,
            activation,
            dropout,
            flatten,
            padding=padding,
            stride=stride,
            bias=bias,
            weight_init=weight_init,
            inverted_dropout=False,
            generator=generator,
            dtype=dtype,
            device=device,
        )

    @property
    def param_size(self) -> int:
        """The kernel size (the book's name)."""
        return self.kernel_size


class DeconvLayer(PyTorchLayer):
    """Chapter 7's transposed-convolution layer: ``nn.ConvTranspose2d`` (stride 1, padding ``k // 2``, with a
    bias), activation, optional flatten, then dropout. The chapter defines it and leaves it unused (its
    autoencoder decodes with ``ConvLayer``).

        forward:  y = dropout(flatten(a(deconv(x))))
        deconv:   out[n, o, h, w] = Σ_{c, i, j} x[n, c, h + p - i, w + p - j] · weight[c, o, i, j] + bias[o]
                  (terms whose x index falls outside the image are 0; p = k // 2)

    i.e. the convolution of ``x`` padded by ``k - 1 - p`` with the kernel rotated by 180° and its channel axes
    swapped, the input gradient of ``ConvLayer``'s convolution. Shapes: ``x [N, C_in, H, W] -> [N, C_out,
    H + k - 1 - 2p, W + k - 1 - 2p]`` (``[N, C_out, H, W]`` for odd k); ``weight [C_in, C_out, k, k]`` (torch's
    transposed layout), ``bias [C_out]``. Initialisation: ``nn.ConvTranspose2d``'s default, weight and bias
    ~ U(±1/sqrt(C_out · k²)), drawn from ``generator`` when given (else torch's global generator, in the
    same order as ``nn.ConvTranspose2d``). ``dropout`` is the KEEP probability, as in ``ConvLayer``.
    """

    dropout_module: nn.Module | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        filter_size: int,
        activation: nn.Module | None = None,
        dropout: float = 1.0,
        flatten: bool = False,
        *,
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        in_channels, out_channels, filter_size = _check_sizes(in_channels, out_channels, filter_size, "filter_size")
        activation = self._check_stages(activation, dropout, inverted_dropout, generator)
        self.flatten = bool(flatten)
        device = torch.get_default_device() if device is None else device
        self.deconv = nn.utils.skip_init(
            nn.ConvTranspose2d,
            in_channels,
            out_channels,
            filter_size,
            padding=filter_size // 2,
            dtype=dtype,
            device=device,
        )
        self._attach_stages(activation)

    def reset_parameters(self) -> None:
        """(Re-)draw ``deconv.weight`` then ``deconv.bias`` like ``nn.ConvTranspose2d`` (fan-in C_out · k²)."""
        torch_linear_init_(self.deconv.weight, self.deconv.bias, self.generator)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x [N, in_channels, H, W]`` -> ``[N, out_channels, H', W']`` (or flattened); see the class docstring."""
        name = f"{type(self).__name__} input"
        check_tensor(x, name, 4, _LAYOUT)
        channels = self.deconv.in_channels
        if x.shape[1] != channels:
            raise ValueError(
                f"{name} must have {channels} channels (the layer was built for in_channels={channels}); "
                f"received shape {tuple(x.shape)}"
            )
        check_matches(x, name, self.deconv.weight, "the layer's weight")
        k, p = int(self.deconv.kernel_size[0]), int(self.deconv.padding[0])
        if min(x.shape[2], x.shape[3]) + k - 1 - 2 * p < 1:
            raise ValueError(
                f"{name} must be at least {2 * p - k + 2} pixels high and wide (kernel {k}, padding {p}); "
                f"received shape {tuple(x.shape)}"
            )
        return finish_layer(self.deconv(x), self.activation, self.flatten, self.dropout_module, inference)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, flatten={self.flatten}"


# ---------------------------------------------------------------------------------------------------------
# Chapter 7's MNIST model
# ---------------------------------------------------------------------------------------------------------
class MNISTConvNet(BookCheckpoint, PyTorchModel):
    """Chapter 7's MNIST convolutional network (logits for 10 classes; pair it with ``nn.CrossEntropyLoss``).

        conv1   ConvLayer(1, 14, 5, Tanh, dropout 0.8)                 [N, 1, 28, 28] -> [N, 14, 28, 28]
        conv2   ConvLayer(14, 7, 5, Tanh, flatten=True, dropout 0.8)   -> [N, 7·28·28 = 5488]
        dense1  DenseLayer(5488, 32, Tanh, dropout 0.8)                -> [N, 32]
        dense2  DenseLayer(32, 10)                                     -> [N, 10]

    torch's default initialisation and inverted dropout (``nn.Dropout(0.2)``), as in the book's chapter 7
    code; with a ``generator`` every initial weight and every dropout mask is drawn from it (dropout is then
    ``BookDropout(0.8, inverted=True)``, the same function).

    Its ``state_dict`` keys are those of the book's ``MNIST_ConvNet`` (``BOOK_KEYS``, the identity), so the book's
    checkpoints load as they are; ``book_state_dict()`` exports them.
    """

    IMAGE_SHAPE = (1, 28, 28)
    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        f"{layer}.{inner}.{p}": f"{layer}.{inner}.{p}"
        for layer, inner in (("conv1", "conv"), ("conv2", "conv"), ("dense1", "linear"), ("dense2", "linear"))
        for p in ("weight", "bias")
    }

    def __init__(
        self,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        options: dict[str, Any] = {"generator": check_generator(generator), "dtype": dtype, "device": device}
        self.conv1 = ConvLayer(1, 14, 5, activation=Tanh(), dropout=0.8, **options)
        self.conv2 = ConvLayer(14, 7, 5, activation=Tanh(), flatten=True, dropout=0.8, **options)
        self.dense1 = DenseLayer(28 * 28 * 7, 32, activation=Tanh(), dropout=0.8, **options)
        self.dense2 = DenseLayer(32, 10, **options)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x`` ``[N, 1, 28, 28]`` -> logits ``[N, 10]``."""
        name = "MNISTConvNet input"
        check_tensor(x, name, 4, "[batch, 1, 28, 28]")
        if tuple(x.shape[1:]) != self.IMAGE_SHAPE:
            raise ValueError(
                f"{name} must have shape [batch, 1, 28, 28] (one MNIST image per row); received shape {tuple(x.shape)}"
            )
        out = self.conv1(x, inference=inference)
        out = self.conv2(out, inference=inference)
        out = self.dense1(out, inference=inference)
        out = self.dense2(out, inference=inference)
        return out
