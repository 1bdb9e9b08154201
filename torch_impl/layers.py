"""Layers: chapter 7's ``PyTorchLayer`` and ``DenseLayer``; ``Dense``, the torch twin of ``scratch.Dense``.

A dense layer is ``nn.Linear``, then the activation (if any), then dropout (if ``dropout < 1``; ``dropout`` is
the KEEP probability, as in the book):

    forward:  y = a(x @ linear.weight.T + linear.bias), then dropout during training

Layouts are torch's: ``linear.weight`` is ``[neurons, input_size]`` (the book's W transposed) and
``linear.bias`` is ``[neurons]`` (the book's B is ``bias[None]``). Gradients come from autograd.

Dropout variants:

* ``inverted_dropout=True`` (``DenseLayer``'s default, chapter 7): ``nn.Dropout(1 - dropout)``, i.e.
  training ``x ⊙ mask / keep`` and the identity at inference. Because ``nn.Dropout`` cannot take a
  generator, a layer given a ``generator`` uses ``Dropout(dropout, inverted=True, generator=...)``
  instead, which computes the same function with masks from that generator.
* ``inverted_dropout=False`` (``Dense``'s only mode): ``Dropout(dropout)``, the book's chapter 4
  semantics (training ``x ⊙ mask``, inference ``keep · x``), the exact twin of ``scratch.Dropout``.

``forward(x, inference=True)`` gives dropout's inference behaviour whatever the module's training flag:
an ``nn.Dropout`` is skipped (its eval behaviour is the identity) and a ``Dropout`` is called with
``inference=True`` (its eval behaviour). The linear map and the activation do not depend on the mode. The
book's chapter 7 code switched the modules to ``eval()`` for good when it saw ``inference=True``; here the
training flag is never changed by ``forward``, so ``model.eval()`` and ``inference=True`` are two ways to
ask for the same thing, and ``train()`` / ``eval()`` stay under the caller's control.

Initialisation (``weight_init``), drawn from ``generator`` when one is given (else torch's global one):

* ``"torch"``: ``nn.Linear``'s default, weight and bias ~ U(±1/sqrt(input_size));
* ``"standard"``: weight and bias ~ N(0, 1) (the book's default);
* ``"glorot"``: weight and bias ~ N(0, sqrt(2 / (input_size + neurons))). For the weight this is
  ``nn.init.xavier_normal_``; like the book, the bias is drawn from the same normal (xavier leaves biases
  alone). The book's printed code used the variance as the std; this is the corrected scale.

The weight is drawn before the bias (a ``[neurons, input_size]`` tensor, row-major).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from data._checks import conv_output_size, resolve_padding

from ._validation import (
    boundary,
    check_choice,
    check_features,
    check_generator,
    check_int,
    check_keep_prob,
    check_matches,
    check_module,
    check_tensor,
)
from .conv import _LAYOUT, CONV_WEIGHT_INITS, _check_conv_input, _check_sizes, conv_glorot_std
from .dropout import Dropout, layer_dropout
from .init import book_glorot_std, normal_, torch_linear_init_

__all__ = ["Conv2D", "ConvLayer", "DeconvLayer", "Dense", "DenseLayer", "PyTorchLayer"]

WEIGHT_INITS = ("torch", "standard", "glorot")
_ModuleT = TypeVar("_ModuleT", bound=nn.Module)


class PyTorchLayer(nn.Module, ABC):
    """Chapter 7's layer base class: ``forward(x, inference=False)``.

    ``inference=True`` asks for the layer's inference behaviour (dropout off, or scaled the book's way)
    without changing the module's training flag.
    """

    @abstractmethod
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """Return the layer's output for ``x``."""

    def _check_stages(
        self, activation: nn.Module | None, dropout: float, inverted_dropout: bool, generator: torch.Generator | None
    ) -> nn.Module | None:
        """Check and keep the settings of the stages after the layer's linear map or convolution
        (``finish_layer``): ``keep_prob``, ``inverted_dropout``, ``generator``; return the checked activation,
        which ``_attach_stages`` registers once the layer's own module exists (the modules' order in ``repr``
        and ``named_modules`` is the order they run in)."""
        self.keep_prob = check_keep_prob(dropout, "dropout")
        checked = None if activation is None else check_module(activation, "activation", "Tanh()")
        self.inverted_dropout = bool(inverted_dropout)
        self.generator = check_generator(generator)
        return checked

    def _attach_stages(self, activation: nn.Module | None) -> None:
        """Register the activation and the dropout (``layer_dropout``) after the layer's own module, then draw
        the initial parameters (``reset_parameters``)."""
        self.activation = activation
        self.dropout_module = layer_dropout(self.keep_prob, self.inverted_dropout, self.generator)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """(Re-)draw the layer's parameters (each layer its own scheme)."""
        raise NotImplementedError

    @property
    def dropout_op(self) -> Dropout | None:
        """The layer's ``Dropout`` (the name the scratch layers use), or ``None``."""
        module = getattr(self, "dropout_module", None)
        return module if isinstance(module, Dropout) else None


def _undrawn(module: Callable[..., _ModuleT], *args: Any, device: torch.device | str | None, **kwargs: Any) -> _ModuleT:
    """``module(*args, **kwargs)`` on ``device`` (torch's default device if ``None``), created without drawing
    anything: the layer's ``reset_parameters`` then initialises it from the chosen scheme and generator."""
    device = torch.get_default_device() if device is None else device
    return nn.utils.skip_init(module, *args, device=device, **kwargs)


def finish_layer(
    out: Tensor, activation: nn.Module | None, flatten: bool, dropout: nn.Module | None, inference: bool
) -> Tensor:
    """The stages every book layer applies after its linear map or convolution, in the book's order:
    ``activation`` (if any), then ``flatten`` to ``[N, features]`` (if asked), then ``dropout`` (if any:
    ``Dropout`` is told about ``inference``; any other dropout module runs only in training)."""
    if activation is not None:
        out = activation(out)
    if flatten:
        out = out.flatten(1)  # [N, C, H, W] -> [N, C·H·W]
    if dropout is not None:
        if isinstance(dropout, Dropout):
            out = dropout(out, inference=inference)
        elif not inference:
            out = dropout(out)
    return out


class DenseLayer(PyTorchLayer):
    """A fully connected layer (chapter 7): ``nn.Linear``, activation, then dropout if ``dropout < 1``.

    See the module docstring for the dropout variants, ``inference`` and ``weight_init``. Attributes:
    ``linear`` (the ``nn.Linear``), ``activation`` (the module given, or ``None``), ``dropout_module``
    (``nn.Dropout``, ``Dropout`` or ``None``) and ``keep_prob``.
    """

    dropout_module: nn.Module | None

    def __init__(
        self,
        input_size: int,
        neurons: int,
        dropout: float = 1.0,
        activation: nn.Module | None = None,
        *,
        weight_init: str = "torch",
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        input_size = check_int(input_size, "input_size", 1)
        neurons = check_int(neurons, "neurons", 1)
        activation = self._check_stages(activation, dropout, inverted_dropout, generator)
        self.weight_init = check_choice(weight_init, "weight_init", WEIGHT_INITS)
        self.linear = _undrawn(nn.Linear, input_size, neurons, dtype=dtype, device=device)
        self._attach_stages(activation)

    @property
    def input_size(self) -> int:
        """Number of input features."""
        return self.linear.in_features

    @property
    def neurons(self) -> int:
        """Number of output features."""
        return self.linear.out_features

    def reset_parameters(self) -> None:
        """(Re-)draw ``linear.weight`` then ``linear.bias`` with ``weight_init`` from ``generator``."""
        weight, bias = self.linear.weight, self.linear.bias
        if self.weight_init == "torch":
            torch_linear_init_(weight, bias, self.generator)
            return
        std = 1.0 if self.weight_init == "standard" else book_glorot_std(self.input_size, self.neurons)
        normal_(weight, std, self.generator)
        normal_(bias, std, self.generator)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x`` ``[batch, input_size]`` -> ``[batch, neurons]``; ``inference`` as in the module docstring."""
        name = f"{type(self).__name__} input"
        check_tensor(x, name, 2, "[batch, features]")
        check_features(x, name, self.input_size, f"the layer was built for input_size={self.input_size}")
        check_matches(x, name, self.linear.weight, "the layer's weight")
        return finish_layer(self.linear(x), self.activation, False, self.dropout_module, inference)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, weight_init={self.weight_init!r}"


class Dense(DenseLayer):
    """The torch twin of ``scratch.Dense``: the book's chapter 4 dense layer with ``input_size`` given.

    ``DenseLayer`` with ``inverted_dropout=False`` (book dropout: ``x ⊙ mask`` in training, ``keep · x`` at
    inference) and ``weight_init="standard"`` by default. Its ``state_dict`` has the keys ``linear.weight``
    (``= W.T`` of the scratch layer) and ``linear.bias`` (``= B[0]``). ``activation=None`` is the identity,
    like scratch's default ``Linear()``.
    """

    def __init__(
        self,
        input_size: int,
        neurons: int,
        activation: nn.Module | None = None,
        dropout: float = 1.0,
        weight_init: str = "standard",
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(
            input_size,
            neurons,
            dropout,
            activation,
            weight_init=weight_init,
            inverted_dropout=False,
            generator=generator,
            dtype=dtype,
            device=device,
        )


# ---------------------------------------------------------------------------------------------------------
# Layers (chapter 7's ConvLayer; chapter 5's Conv2D)
# ---------------------------------------------------------------------------------------------------------
class ConvLayer(PyTorchLayer):
    """Chapter 7's convolutional layer: ``nn.Conv2d``, activation, optional flatten, then dropout.

        forward:  y = dropout(flatten(a(conv(x))))      flatten: x.flatten(1), only if ``flatten=True``

    ``dropout`` is the KEEP probability (1.0: no dropout). As in ``DenseLayer``: with
    ``inverted_dropout=True`` and no ``generator`` it is ``nn.Dropout(1 - dropout)``; otherwise
    ``Dropout(dropout, inverted=inverted_dropout, generator=generator)`` (inverted: the same function
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
        self.conv = _undrawn(
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
        self.deconv = _undrawn(
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
