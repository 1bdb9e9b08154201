"""Converters between the book's parameter layouts and torch ``state_dict`` layouts, both ways.

A converter works on NumPy arrays on both sides (a torch state dict is turned into arrays first), so it
is framework-neutral and can be tested without torch. ``rows`` describe the mapping in words; the
porting guide's layout tables are generated from them (``parity_tests.guide``), so the guide cannot
drift from the code.

Gradients map exactly like the parameters they belong to for every converter here (each map is a linear
re-layout: transpose, reshape). Converters for split or shared tensors (later chapters) override
``grads_to_book``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class TensorMap:
    """One book tensor <-> one torch tensor."""

    book: str
    torch: str
    book_shape: str
    torch_shape: str
    rule: str
    to_torch: Callable[[np.ndarray], np.ndarray]
    to_book: Callable[[np.ndarray], np.ndarray]


def transpose_2d(book: str, torch: str, book_shape: str = "(in, out)", torch_shape: str = "(out, in)") -> TensorMap:
    """A weight matrix stored ``[in, out]`` by the book and ``[out, in]`` by torch."""
    return TensorMap(
        book,
        torch,
        book_shape,
        torch_shape,
        "transpose",
        to_torch=lambda a: np.ascontiguousarray(a.T),  # [in, out] -> [out, in]
        to_book=lambda a: np.ascontiguousarray(a.T),  # [out, in] -> [in, out]
    )


def bias_row(book: str, torch: str, book_shape: str = "(1, out)", torch_shape: str = "(out,)") -> TensorMap:
    """A bias stored as a ``[1, out]`` row by the book and as ``[out]`` by torch."""
    return TensorMap(
        book,
        torch,
        book_shape,
        torch_shape,
        "drop / add the leading axis",
        to_torch=lambda a: a.reshape(-1).copy(),  # [1, out] -> [out]
        to_book=lambda a: a.reshape(1, -1).copy(),  # [out] -> [1, out]
    )


def swap_conv_axes(book: str, torch: str) -> TensorMap:
    """A conv kernel stored ``[C_in, C_out, k, k]`` by the book (the ``ConvTranspose2d`` layout) and
    ``[C_out, C_in, k, k]`` by ``nn.Conv2d``."""
    return TensorMap(
        book,
        torch,
        "(C_in, C_out, k, k)",
        "(C_out, C_in, k, k)",
        "swap axes 0 and 1",
        to_torch=lambda a: np.ascontiguousarray(a.transpose(1, 0, 2, 3)),  # [C_in, C_out, k, k] -> [C_out, C_in, k, k]
        to_book=lambda a: np.ascontiguousarray(a.transpose(1, 0, 2, 3)),  # [C_out, C_in, k, k] -> [C_in, C_out, k, k]
    )


def channel_bias(book: str, torch: str) -> TensorMap:
    """A per-channel bias stored ``[1, C, 1, 1]`` (broadcast over ``[N, C, H, W]``) and ``[C]`` by torch."""
    return TensorMap(
        book,
        torch,
        "(1, C_out, 1, 1)",
        "(C_out,)",
        "drop / add the three unit axes",
        to_torch=lambda a: a.reshape(-1).copy(),  # [1, C, 1, 1] -> [C]
        to_book=lambda a: a.reshape(1, -1, 1, 1).copy(),  # [C] -> [1, C, 1, 1]
    )


@dataclass(frozen=True)
class TensorConverter:
    """A converter made of independent one-to-one tensor maps."""

    name: str
    maps: tuple[TensorMap, ...]

    @property
    def book_names(self) -> tuple[str, ...]:
        """Book parameter names, in the order of the scratch component's ``params``."""
        return tuple(m.book for m in self.maps)

    @property
    def torch_names(self) -> tuple[str, ...]:
        """The torch ``state_dict`` keys this converter fills."""
        return tuple(m.torch for m in self.maps)

    @staticmethod
    def _check_keys(given: Mapping[str, np.ndarray], expected: tuple[str, ...], side: str) -> None:
        if set(given) != set(expected):
            raise ValueError(f"{side} arrays must have exactly the keys {sorted(expected)}; received {sorted(given)}")

    def to_torch(self, book: Mapping[str, np.ndarray]) -> Arrays:
        """Book-layout arrays -> torch-layout arrays keyed by ``state_dict`` names."""
        self._check_keys(book, self.book_names, "book")
        return {m.torch: m.to_torch(np.asarray(book[m.book])) for m in self.maps}

    def to_book(self, torch_arrays: Mapping[str, np.ndarray]) -> Arrays:
        """Torch-layout arrays keyed by ``state_dict`` names -> book-layout arrays."""
        self._check_keys(torch_arrays, self.torch_names, "torch")
        return {m.book: m.to_book(np.asarray(torch_arrays[m.torch])) for m in self.maps}

    def grads_to_book(self, torch_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Torch parameter gradients -> book-layout gradients (same maps as the parameters)."""
        return self.to_book(torch_grads)

    def grads_to_torch(self, book_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Book gradients -> torch layout (same maps as the parameters)."""
        return self.to_torch(book_grads)

    def prefixed(self, book_prefix: str, torch_prefix: str) -> TensorConverter:
        """The same maps with names prefixed, for one layer inside a model."""
        maps = tuple(
            TensorMap(
                book_prefix + m.book,
                torch_prefix + m.torch,
                m.book_shape,
                m.torch_shape,
                m.rule,
                m.to_torch,
                m.to_book,
            )
            for m in self.maps
        )
        return TensorConverter(f"{self.name}@{torch_prefix or book_prefix}", maps)


def combine(name: str, parts: list[TensorConverter]) -> TensorConverter:
    """One converter for a whole model from per-layer (already prefixed) converters."""
    return TensorConverter(name, tuple(m for part in parts for m in part.maps))


# The converters of chapters 3-4. The torch names are those of the twins in ``torch_impl``.
WEIGHT_MULTIPLY = TensorConverter("WeightMultiply", (transpose_2d("W", "weight"),))
BIAS_ADD = TensorConverter("BiasAdd", (bias_row("B", "bias"),))
DENSE = TensorConverter("Dense", (transpose_2d("W", "linear.weight"), bias_row("B", "linear.bias")))


CONV2D_OP = TensorConverter("Conv2D_Op", (swap_conv_axes("W", "weight"),))
CHANNEL_BIAS_ADD = TensorConverter("ChannelBiasAdd", (channel_bias("B", "bias"),))
CONV2D = TensorConverter("Conv2D", (swap_conv_axes("W", "conv.weight"),))
CONV2D_BIAS = TensorConverter("Conv2D+bias", (swap_conv_axes("W", "conv.weight"), channel_bias("B", "conv.bias")))


def dense_stack(n_layers: int, torch_prefix: str = "layers.{i}.") -> TensorConverter:
    """A stack of ``n_layers`` Dense layers: book names ``"{i}.W"``, ``"{i}.B"`` in the order of
    ``NeuralNetwork.params()``."""
    parts = [DENSE.prefixed(f"{i}.", torch_prefix.format(i=i)) for i in range(n_layers)]
    return combine(f"Dense x{n_layers}", parts)
