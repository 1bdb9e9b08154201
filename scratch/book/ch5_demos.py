"""Chapter 5's demo (``05_convolutions/Numpy_Convolution_Demos.ipynb``): a convolutional network trained on
MNIST with the book's ``lincoln`` API, on the top-level ``scratch`` classes.

Everything but the convolutional layer is chapter 4's book module (``scratch.book.ch4``: ``Dense``,
``NeuralNetwork``, ``SoftmaxCrossEntropy``, ``SGDMomentum``, the ``Trainer`` with ``conv_testing``, the
network's private random stream). This module adds:

- ``Conv2D(out_channels, param_size, dropout=1.0, weight_init="normal", activation=Linear(), flatten=False)``:
  ``scratch.Conv2D`` (no bias, padding ``param_size // 2``: the book's geometry) whose kernel
  ``[C_in, out_channels, k, k]`` is drawn as ``normal(0, scale)`` from the network's stream as it stands (the
  book's convolutional layer, unlike its ``Dense``, does not reseed), and whose dropout masks come from that
  stream too, so the stream stays where the book's is after every draw.

Errata (``docs/porting-guide.md``) that change the notebook's printed outputs, all of them here: the
convolution's weight gradient keeps each sample's patches with its own gradients (E14: the book's mixed the
samples of a batch); Glorot initialisation has standard deviation ``sqrt(2 / ((C_in + C_out) k²))`` (E15: the
book used ``2 / (C_in + C_out)``); the input gradient rotates the kernel (E13; it does not reach the printed
numbers here, the convolution being the first layer). The printed loss is the book's value (E2, see
``scratch.book.ch4``).
"""

from __future__ import annotations

import numpy as np

from ..base import Operation
from ..layers import Conv2D as _Conv2D
from . import ch4
from .ch4 import *  # noqa: F403 - chapter 4's book API: ch4.__all__
from .ch4 import BookStreamLayer

__all__ = ["Conv2D"]
__all__ += ch4.__all__


class Conv2D(BookStreamLayer, _Conv2D):
    """``Conv2D(out_channels, param_size, dropout=1.0, weight_init="normal", activation=Linear(), flatten=False)``:
    ``scratch.Conv2D`` with the book's arguments, drawing its kernel from the network's stream without reseeding
    it (scale 1 for ``"normal"``; ``sqrt(2 / ((C_in + out_channels) k²))`` for ``"glorot"``, erratum E15).

    Shapes: input ``[N, C_in, H, W]``, kernel ``[C_in, out_channels, k, k]``, output
    ``[N, out_channels, H, W]`` (odd k), or ``[N, out_channels·H·W]`` with ``flatten=True``.
    """

    def __init__(
        self,
        out_channels: int,
        param_size: int,
        dropout: float = 1.0,
        weight_init: str = "normal",
        activation: Operation | None = None,
        flatten: bool = False,
    ) -> None:
        super().__init__(out_channels, param_size, dropout, weight_init, activation, flatten)

    def _setup_layer(self, input_: np.ndarray) -> None:
        self._use_stream()
        super()._setup_layer(input_)
