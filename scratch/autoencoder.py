"""Chapter 7's convolutional autoencoder, built from the scratch layers: ``Encoder``, ``Decoder``, ``Autoencoder``.

The book writes this model in PyTorch only (``07_PyTorch``); this is its NumPy twin. Notation: N batch, image
``[C, H, W]`` (MNIST: 1 x 28 x 28), hidden channels C1, C2 (book: 14, 7), odd kernel size k (book: 5; every
convolution pads k // 2, so H and W never change), encoding size E (book: 28), activation tanh everywhere.

    Encoder   x [N, C, H, W]
              conv1  Conv2D(C1, k, Tanh, bias)                -> [N, C1, H, W]
              conv2  Conv2D(C2, k, Tanh, bias, flatten)       -> [N, C2·H·W]
              dense  Dense(E, Tanh)                           -> encoding z [N, E]
    Decoder   z [N, E]
              dense  Dense(C2·H·W, Tanh)                      -> [N, C2·H·W]
              Reshape((C2, H, W))                             -> [N, C2, H, W]
              conv1  Conv2D(C1, k, Tanh, bias)                -> [N, C1, H, W]
              conv2  Conv2D(C, k, Tanh, bias)                 -> reconstruction x̂ [N, C, H, W]

    forward:   z = enc(x),  x̂ = dec(z);  returns (x̂, z)
    backward:  for upstream gradients G_x̂ = dL/dx̂ and (optionally) G_z = dL/dz (a loss on the encoding):
               dL/dz = dec.backward(G_x̂) + G_z,   dL/dx = enc.backward(dL/dz)

Training (``train_batch``) reconstructs the input: L = MSE(x̂, x). With ``mse="book"`` (default) the loss is the
book's ``MeanSquaredError``, L = Σ (x̂ - x)² / N (divided by the number of ROWS); ``mse="mean"`` divides by the
number of elements N·C·H·W instead, which is torch's ``nn.MSELoss()`` (the book's chapter 7 criterion). The two
differ by exactly the factor C·H·W (784 for MNIST), in the loss and in every gradient.

Parameters are created lazily on the first ``forward`` (as in every scratch layer), from independent generators
spawned from ``np.random.SeedSequence(seed)`` (one per layer, like ``NeuralNetwork``), or loaded beforehand with
``load_params``. Parameter names (``named_params``) follow the torch twin's module names: ``encoder.conv1.W``,
``encoder.conv1.B``, ``encoder.conv2.W``, ``encoder.conv2.B``, ``encoder.dense.W``, ``encoder.dense.B``,
``decoder.dense.W``, ``decoder.dense.B``, ``decoder.conv1.W``, ``decoder.conv1.B``, ``decoder.conv2.W``,
``decoder.conv2.B``; ``params()`` / ``param_grads()`` yield the arrays in that order, so the scratch optimizers
(which read ``.net.params()`` and ``.net.param_grads()``) train an ``Autoencoder`` directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np

from data._checks import check_architecture, image_shape_error

from ._validation import check_choice, check_float_array, check_int, describe
from .activations import Tanh
from .base import Operation
from .layers import Conv2D, Dense, Layer
from .losses import MeanSquaredError
from .reshape import Reshape

__all__ = ["Autoencoder", "Decoder", "Encoder"]

WEIGHT_INITS = ("glorot", "normal")
MSE_MODES = ("book", "mean")
_LAYOUT = "[batch, channels, height, width]"


def _check_images(x: Any, name: str, image_shape: tuple[int, int, int]) -> np.ndarray:
    """``x`` if it is a float ndarray ``[N, *image_shape]`` with only finite values (dtype, rank and shape are
    checked before finiteness)."""
    check_float_array(x, name, ndim=4, layout=_LAYOUT, finite=False)
    if x.shape[1:] != image_shape:
        raise image_shape_error(name, image_shape, x.shape)
    return check_float_array(x, name)


def _generators(seed: int | np.random.SeedSequence, count: int) -> list[np.random.Generator]:
    """``count`` independent generators spawned from ``seed`` (an int >= 0 or a ``SeedSequence``)."""
    if not isinstance(seed, np.random.SeedSequence):
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise TypeError(f"seed must be an integer >= 0 or a numpy.random.SeedSequence; received {describe(seed)}")
        seed = np.random.SeedSequence(check_int(seed, "seed", 0))
    return [np.random.default_rng(child) for child in seed.spawn(count)]


class _Stack:
    """Layers and parameter-free operations applied in order; the named ``Layer`` attributes own parameters.

    The constructor, shared by ``Encoder`` and ``Decoder``, checks the architecture, keeps it as attributes,
    builds the steps (``_build``) and gives every layer its generator from ``seed`` (``reseed``).
    """

    steps: list[Layer | Operation]
    layer_names: tuple[str, ...]

    def __init__(
        self,
        hidden_channels: Sequence[int] = (14, 7),
        kernel_size: int = 5,
        encoding_size: int = 28,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        weight_init: str = "glorot",
        seed: int | np.random.SeedSequence = 1,
    ) -> None:
        (c1, c2), k, enc, shape = check_architecture(hidden_channels, kernel_size, encoding_size, image_shape)
        self.hidden_channels, self.kernel_size, self.encoding_size, self.image_shape = (c1, c2), k, enc, shape
        self.weight_init = check_choice(weight_init, "weight_init", WEIGHT_INITS)
        self.steps = self._build(Tanh, "standard" if self.weight_init == "normal" else "glorot")
        self.reseed(seed)

    def _build(self, activation: type[Operation], dense_init: str) -> list[Layer | Operation]:
        """Create the named layers (each with its own ``activation()``; ``dense_init`` for the dense one) and
        return every step in the order they run."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, inference: bool = False) -> np.ndarray:
        out = x
        for step in self.steps:
            out = step.forward(out, inference)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for step in reversed(self.steps):
            grad = step.backward(grad)
        return grad

    def named_layers(self) -> Iterator[tuple[str, Layer]]:
        for name in self.layer_names:
            yield name, getattr(self, name)

    def named_params(self) -> Iterator[tuple[str, np.ndarray]]:
        """``("conv1.W", W), ("conv1.B", B), ...``: the arrays themselves (empty before setup)."""
        for name, layer in self.named_layers():
            if layer.first:  # not set up yet: no parameters
                continue
            for suffix, param in zip(("W", "B"), layer.params, strict=True):
                yield f"{name}.{suffix}", param

    def params(self) -> Iterator[np.ndarray]:
        for _, param in self.named_params():
            yield param

    def param_grads(self) -> Iterator[np.ndarray]:
        for _, layer in self.named_layers():
            yield from layer.param_grads

    @property
    def param_names(self) -> tuple[str, ...]:
        """Every parameter name, in ``params()`` order (available before setup)."""
        return tuple(f"{name}.{suffix}" for name in self.layer_names for suffix in ("W", "B"))

    def load_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy ``params`` (keys ``param_names``, book layouts) into the layers (before or after setup)."""
        expected = set(self.param_names)
        if set(params) != expected:
            raise ValueError(
                f"{type(self).__name__}.load_params needs exactly the keys {sorted(expected)}; "
                f"received {sorted(params)}"
            )
        for name, layer in self.named_layers():
            layer.load_params([params[f"{name}.W"], params[f"{name}.B"]])

    def reseed(self, seed: int | np.random.SeedSequence) -> None:
        """Give every layer a fresh generator from ``seed`` and re-initialise it at the next forward."""
        for (_, layer), rng in zip(self.named_layers(), _generators(seed, len(self.layer_names)), strict=True):
            layer.rng = rng
            layer.first = True


class Encoder(_Stack):
    """Image -> encoding (see the module docstring).

    Shapes: x ``[N, C, H, W]`` -> z ``[N, encoding_size]``. Layers ``conv1`` (W ``[C, C1, k, k]``, B ``[1, C1, 1, 1]``),
    ``conv2`` (W ``[C1, C2, k, k]``, B ``[1, C2, 1, 1]``, output flattened to ``[N, C2·H·W]`` in C order, channel
    slowest), ``dense`` (W ``[C2·H·W, E]``, B ``[1, E]``), all with tanh.
    """

    layer_names = ("conv1", "conv2", "dense")

    def _build(self, activation: type[Operation], dense_init: str) -> list[Layer | Operation]:
        (c1, c2), k = self.hidden_channels, self.kernel_size
        self.conv1 = Conv2D(c1, k, weight_init=self.weight_init, activation=activation(), bias=True)
        self.conv2 = Conv2D(c2, k, weight_init=self.weight_init, activation=activation(), flatten=True, bias=True)
        self.dense = Dense(self.encoding_size, activation(), weight_init=dense_init)
        return [self.conv1, self.conv2, self.dense]

    def forward(self, x: np.ndarray, inference: bool = False) -> np.ndarray:
        """x ``[N, C, H, W]`` -> encoding ``[N, E]``."""
        _check_images(x, "Encoder input", self.image_shape)
        return super().forward(x, inference)


class Decoder(_Stack):
    """Encoding -> image (see the module docstring).

    Shapes: z ``[N, E]`` -> x̂ ``[N, C, H, W]``. Layers ``dense`` (W ``[E, C2·H·W]``, B ``[1, C2·H·W]``), then
    ``Reshape((C2, H, W))`` (``[N, C2·H·W] -> [N, C2, H, W]``, C order: the inverse of the encoder's flatten),
    ``conv1`` (W ``[C2, C1, k, k]``, B ``[1, C1, 1, 1]``), ``conv2`` (W ``[C1, C, k, k]``, B ``[1, C, 1, 1]``),
    all with tanh (so x̂ lies in (-1, 1), the range of the scaled images).
    """

    layer_names = ("dense", "conv1", "conv2")

    def _build(self, activation: type[Operation], dense_init: str) -> list[Layer | Operation]:
        (c1, c2), k = self.hidden_channels, self.kernel_size
        channels, height, width = self.image_shape
        self.dense = Dense(c2 * height * width, activation(), weight_init=dense_init)
        self.reshape = Reshape((c2, height, width))
        self.conv1 = Conv2D(c1, k, weight_init=self.weight_init, activation=activation(), bias=True)
        self.conv2 = Conv2D(channels, k, weight_init=self.weight_init, activation=activation(), bias=True)
        return [self.dense, self.reshape, self.conv1, self.conv2]

    def forward(self, x: np.ndarray, inference: bool = False) -> np.ndarray:
        check_float_array(x, "Decoder input", ndim=2, layout="[batch, encoding]")
        if x.shape[1] != self.encoding_size:
            raise ValueError(
                f"Decoder input must have {self.encoding_size} features (encoding_size); received shape {x.shape}"
            )
        return super().forward(x, inference)


class Autoencoder:
    """Chapter 7's convolutional autoencoder: ``encoder`` then ``decoder`` (see the module docstring).

    ``forward(x)`` takes x ``[N, C, H, W]`` (``image_shape = (C, H, W)``) and returns (reconstruction
    ``[N, C, H, W]``, encoding ``[N, encoding_size]``). ``backward(recon_grad, encoding_grad=None)`` returns
    dL/dx and leaves every parameter gradient in ``param_grads()``. ``train_batch(x)`` does forward, the
    reconstruction loss and backward (no update: call an optimizer's ``step()`` with ``optim.net = model``).

    ``weight_init``: ``"glorot"`` (default; the receptive-field Glorot normal for the convolutions and Glorot
    normal for the dense layers, biases from the same normal) or ``"normal"`` (the book's N(0, 1), which
    saturates the tanh units at these sizes). ``seed`` (an int >= 0) makes the initial weights reproducible;
    the encoder and decoder get independent child seeds.
    """

    def __init__(
        self,
        hidden_channels: Sequence[int] = (14, 7),
        kernel_size: int = 5,
        encoding_size: int = 28,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        weight_init: str = "glorot",
        mse: str = "book",
        seed: int = 1,
    ) -> None:
        (c1, c2), k, enc, shape = check_architecture(hidden_channels, kernel_size, encoding_size, image_shape)
        self.hidden_channels, self.kernel_size, self.encoding_size, self.image_shape = (c1, c2), k, enc, shape
        self.mse = check_choice(mse, "mse", MSE_MODES)
        self.seed = check_int(seed, "seed", 0)
        enc_seed, dec_seed = np.random.SeedSequence(self.seed).spawn(2)
        arch: dict[str, Any] = {
            "hidden_channels": (c1, c2),
            "kernel_size": k,
            "encoding_size": enc,
            "image_shape": shape,
            "weight_init": weight_init,
        }
        self.encoder = Encoder(**arch, seed=enc_seed)
        self.decoder = Decoder(**arch, seed=dec_seed)
        self.loss = MeanSquaredError()

    # ---- forward / backward --------------------------------------------------------------------------------

    def check_input(self, x: Any, name: str = "Autoencoder input") -> np.ndarray:
        """Validate an image batch: a finite float ndarray ``[N, *image_shape]``."""
        return _check_images(x, name, self.image_shape)

    def forward(self, x: np.ndarray, inference: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """x ``[N, C, H, W]`` -> (reconstruction ``[N, C, H, W]``, encoding ``[N, E]``)."""
        self.check_input(x)
        encoding = _Stack.forward(self.encoder, x, inference)  # checked above: skip the encoder's own check
        reconstruction = self.decoder.forward(encoding, inference)
        return reconstruction, encoding

    def backward(self, recon_grad: np.ndarray, encoding_grad: np.ndarray | None = None) -> np.ndarray:
        """dL/dx̂ ``[N, C, H, W]`` (and optionally dL/dz ``[N, E]``) -> dL/dx ``[N, C, H, W]``; fills the
        parameter gradients. dL/dz = decoder.backward(dL/dx̂) + dL/dz_direct."""
        check_float_array(recon_grad, "recon_grad", ndim=4, layout=_LAYOUT, finite=False)
        grad_z = self.decoder.backward(recon_grad)
        if encoding_grad is not None:
            check_float_array(encoding_grad, "encoding_grad", ndim=2, layout="[batch, encoding]", finite=False)
            if encoding_grad.shape != grad_z.shape:
                raise ValueError(
                    f"encoding_grad must have the encoding's shape {grad_z.shape}; received shape {encoding_grad.shape}"
                )
            grad_z = grad_z + encoding_grad
        return self.encoder.backward(grad_z)

    def train_batch(self, x: np.ndarray) -> float:
        """Forward, reconstruction loss L(x̂, x), backward; return L.

        ``mse="book"``: L = Σ (x̂ - x)² / N, dL/dx̂ = 2 (x̂ - x) / N. ``mse="mean"``: both divided by C·H·W more
        (torch's ``nn.MSELoss()``)."""
        reconstruction, _ = self.forward(x)
        value = self.loss.forward(reconstruction, x)
        grad = self.loss.backward()
        if self.mse == "mean":
            per_sample = int(np.prod(self.image_shape))
            value /= per_sample
            grad = grad / per_sample
        self.backward(grad)
        return float(value)

    def encode(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Encodings ``[N, E]`` of ``x`` computed in chunks of ``batch_size`` (inference mode)."""
        return self._chunks(x, batch_size, lambda chunk: self.encoder.forward(chunk, True))

    def reconstruct(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Reconstructions ``[N, C, H, W]`` of ``x`` computed in chunks of ``batch_size`` (inference mode)."""
        return self._chunks(x, batch_size, lambda chunk: self.forward(chunk, True)[0])

    def _chunks(self, x: np.ndarray, batch_size: int, fn: Any) -> np.ndarray:
        self.check_input(x)
        batch_size = check_int(batch_size, "batch_size", 1)
        return np.concatenate([fn(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])

    # ---- parameters ----------------------------------------------------------------------------------------

    @property
    def param_names(self) -> tuple[str, ...]:
        """``encoder.conv1.W``, ``encoder.conv1.B``, ..., ``decoder.conv2.B``: the order of ``params()``."""
        return tuple(f"encoder.{n}" for n in self.encoder.param_names) + tuple(
            f"decoder.{n}" for n in self.decoder.param_names
        )

    def named_params(self) -> dict[str, np.ndarray]:
        """Parameter name -> the array itself (book layouts; empty before the first forward or load)."""
        out = {f"encoder.{n}": p for n, p in self.encoder.named_params()}
        out.update({f"decoder.{n}": p for n, p in self.decoder.named_params()})
        return out

    def params(self) -> Iterator[np.ndarray]:
        """Every parameter array (the arrays themselves, for in-place updates), in ``param_names`` order."""
        yield from self.encoder.params()
        yield from self.decoder.params()

    def param_grads(self) -> Iterator[np.ndarray]:
        """Every parameter gradient of the last ``backward``, in the same order as ``params()``."""
        yield from self.encoder.param_grads()
        yield from self.decoder.param_grads()

    def load_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Copy ``params`` (keys ``param_names``, book layouts) into the model, before or after setup."""
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping name -> array; received {describe(params)}")
        expected = set(self.param_names)
        if set(params) != expected:
            raise ValueError(
                f"Autoencoder.load_params needs exactly the keys {sorted(expected)}; received {sorted(params)}"
            )
        self.encoder.load_params({k[len("encoder.") :]: v for k, v in params.items() if k.startswith("encoder.")})
        self.decoder.load_params({k[len("decoder.") :]: v for k, v in params.items() if k.startswith("decoder.")})

    def reset(self, seed: int | None = None) -> None:
        """Re-create every layer's generator from ``seed`` (default: the model's) and re-initialise the
        parameters at the next forward (the same weights as a fresh model with that seed)."""
        if seed is not None:
            self.seed = check_int(seed, "seed", 0)
        enc_seed, dec_seed = np.random.SeedSequence(self.seed).spawn(2)
        self.encoder.reseed(enc_seed)
        self.decoder.reseed(dec_seed)
