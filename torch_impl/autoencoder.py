"""Chapter 7's convolutional autoencoder in PyTorch: ``Encoder``, ``Decoder``, ``Autoencoder``.

The book's model (``07_PyTorch``), generalised to any image shape, channel pair, odd kernel size and encoding
size (defaults: the book's 1 x 28 x 28 images, channels 14 and 7, kernel 5, encoding 28). Every convolution is
``ConvLayer`` (``nn.Conv2d`` with padding k // 2 and a bias), every activation tanh:

    Encoder   x [N, C, H, W] -> conv1 ConvLayer(C, C1, k) -> conv2 ConvLayer(C1, C2, k, flatten)
              -> dense DenseLayer(C2·H·W, E)                                            -> z [N, E]
    Decoder   z [N, E] -> dense DenseLayer(E, C2·H·W) -> reshape [N, C2, H, W] (the book's view(-1, 7, 28, 28))
              -> conv1 ConvLayer(C2, C1, k) -> conv2 ConvLayer(C1, C, k)               -> x̂ [N, C, H, W]

``Autoencoder.forward(x)`` returns ``(x̂, z)`` like the book's. Train it with ``nn.MSELoss()`` (the book: the mean
over all N·C·H·W elements) or ``torch_impl.MeanSquaredError()`` (scratch's Σ/N, exactly C·H·W times larger).

``state_dict`` keys (the scratch twin's ``param_names`` map onto them with the conv / dense converters):
``encoder.conv1.conv.weight`` ``[C1, C, k, k]``, ``encoder.conv1.conv.bias`` ``[C1]``, ``encoder.conv2.conv.*``,
``encoder.dense.linear.weight`` ``[E, C2·H·W]``, ``encoder.dense.linear.bias``, ``decoder.dense.linear.*``,
``decoder.conv1.conv.*``, ``decoder.conv2.conv.*``.

Initialisation: ``weight_init="torch"`` (the book's chapter 7 code: PyTorch's defaults), ``"glorot"`` or
``"normal"`` (as in ``ConvLayer``; the dense layers get ``"glorot"`` / ``"standard"``), drawn from ``generator``
when one is given, layer by layer in the order encoder.conv1, conv2, dense, decoder.dense, conv1, conv2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from data._checks import check_architecture, image_shape_error

from ._validation import boundary, check_choice, check_generator, check_tensor
from .activations import Tanh
from .conv import CONV_WEIGHT_INITS
from .layers import ConvLayer, DenseLayer
from .network import BookCheckpoint
from .reshape import Reshape

__all__ = ["Autoencoder", "Decoder", "Encoder"]

_LAYOUT = "[batch, channels, height, width]"
_DENSE_INIT = {"torch": "torch", "glorot": "glorot", "normal": "standard"}


def _check_images(x: Any, name: str, image_shape: tuple[int, int, int]) -> Tensor:
    """``x`` if it is a float tensor ``[N, *image_shape]`` with only finite values (dtype, rank and shape are
    checked before finiteness, in the same order as scratch)."""
    check_tensor(x, name, 4, _LAYOUT, finite=False)
    if tuple(x.shape[1:]) != image_shape:
        raise image_shape_error(name, image_shape, tuple(x.shape))
    return check_tensor(x, name)


class _Base(nn.Module):
    """The constructor the three modules share: it checks the architecture, keeps it as attributes and the
    layers' options, then builds the submodules (``_build``)."""

    def __init__(
        self,
        hidden_channels: Sequence[int] = (14, 7),
        kernel_size: int = 5,
        encoding_size: int = 28,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        weight_init: str = "torch",
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        (c1, c2), k, enc, shape = check_architecture(hidden_channels, kernel_size, encoding_size, image_shape)
        self.hidden_channels, self.kernel_size, self.encoding_size, self.image_shape = (c1, c2), k, enc, shape
        self.weight_init = check_choice(weight_init, "weight_init", CONV_WEIGHT_INITS)
        options: dict[str, Any] = {"generator": check_generator(generator), "dtype": dtype, "device": device}
        self._options = {"weight_init": self.weight_init, **options}
        # every layer gets its own Tanh() (added at each call in _build)
        self._conv_options: dict[str, Any] = {"bias": True, "weight_init": self.weight_init, **options}
        self._dense_options: dict[str, Any] = {"weight_init": _DENSE_INIT[self.weight_init], **options}
        self._build()

    def _build(self) -> None:
        """Create the submodules, drawing their initial parameters in the order they are created."""
        raise NotImplementedError


class Encoder(_Base):
    """Images ``[N, C, H, W]`` -> encodings ``[N, encoding_size]`` (see the module docstring)."""

    def _build(self) -> None:
        (c1, c2), k = self.hidden_channels, self.kernel_size
        channels, height, width = self.image_shape
        self.conv1 = ConvLayer(channels, c1, k, activation=Tanh(), **self._conv_options)
        self.conv2 = ConvLayer(c1, c2, k, activation=Tanh(), flatten=True, **self._conv_options)
        self.dense = DenseLayer(c2 * height * width, self.encoding_size, activation=Tanh(), **self._dense_options)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """x ``[N, C, H, W]`` -> z ``[N, E]``."""
        _check_images(x, "Encoder input", self.image_shape)
        return self._forward(x, inference)

    def _forward(self, x: Tensor, inference: bool) -> Tensor:
        out = self.conv1(x, inference=inference)
        out = self.conv2(out, inference=inference)  # [N, C2·H·W]
        return self.dense(out, inference=inference)


class Decoder(_Base):
    """Encodings ``[N, encoding_size]`` -> images ``[N, C, H, W]`` (see the module docstring)."""

    def _build(self) -> None:
        (c1, c2), k = self.hidden_channels, self.kernel_size
        channels, height, width = self.image_shape
        self.dense = DenseLayer(self.encoding_size, c2 * height * width, activation=Tanh(), **self._dense_options)
        self.reshape = Reshape((c2, height, width))
        self.conv1 = ConvLayer(c2, c1, k, activation=Tanh(), **self._conv_options)
        self.conv2 = ConvLayer(c1, channels, k, activation=Tanh(), **self._conv_options)

    @boundary()
    def forward(self, z: Tensor, inference: bool = False) -> Tensor:
        """z ``[N, E]`` -> x̂ ``[N, C, H, W]``."""
        out = self.dense(z, inference=inference)  # checks z: 2-D, E features, dtype, finite
        out = self.reshape(out)  # [N, C2·H·W] -> [N, C2, H, W]
        out = self.conv1(out, inference=inference)
        return self.conv2(out, inference=inference)


class Autoencoder(BookCheckpoint, _Base):
    """Chapter 7's autoencoder: ``forward(x) -> (reconstruction [N, C, H, W], encoding [N, E])``.

    Constructor arguments as the scratch ``Autoencoder`` (``hidden_channels``, ``kernel_size``, ``encoding_size``,
    ``image_shape``), plus ``weight_init`` (default ``"torch"``, the book's), ``generator``, ``dtype``, ``device``.

    The book's ``Autoencoder`` is flat (``conv1``, ``conv2``, ``dense1`` | ``dense2``, ``conv3``, ``conv4``);
    ``BOOK_KEYS`` maps its ``state_dict`` keys onto the encoder / decoder ones (the same tensors, no layout change),
    so ``load_state_dict`` takes the book's checkpoints and ``book_state_dict()`` exports the book's keys.
    """

    BOOK_KEYS: ClassVar[Mapping[str, str]] = {
        f"{book}.{inner}.{p}": f"{ours}.{inner}.{p}"
        for book, ours, inner in (
            ("conv1", "encoder.conv1", "conv"),
            ("conv2", "encoder.conv2", "conv"),
            ("dense1", "encoder.dense", "linear"),
            ("dense2", "decoder.dense", "linear"),
            ("conv3", "decoder.conv1", "conv"),
            ("conv4", "decoder.conv2", "conv"),
        )
        for p in ("weight", "bias")
    }

    def _build(self) -> None:
        architecture = (self.hidden_channels, self.kernel_size, self.encoding_size, self.image_shape)
        self.encoder = Encoder(*architecture, **self._options)
        self.decoder = Decoder(*architecture, **self._options)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> tuple[Tensor, Tensor]:
        """x ``[N, C, H, W]`` -> (x̂ ``[N, C, H, W]``, z ``[N, E]``)."""
        _check_images(x, "Autoencoder input", self.image_shape)
        encoding = self.encoder._forward(x, inference)  # checked above
        return self.decoder(encoding, inference=inference), encoding

    def extra_repr(self) -> str:
        return (
            f"hidden_channels={self.hidden_channels}, kernel_size={self.kernel_size}, "
            f"encoding_size={self.encoding_size}, image_shape={self.image_shape}"
        )
