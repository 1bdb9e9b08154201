"""Dropout with the book's keep-probability semantics (chapter 4), and an inverted option.

Book semantics (``inverted=False``, the default), keep probability p:

    training:   mask ~ Bernoulli(p) element-wise,  y = x ⊙ mask,   dL/dx = G ⊙ mask
    inference:  y = p · x,                                            dL/dx = p · G

Inverted semantics (``inverted=True``, what ``torch.nn.Dropout(1 - p)`` computes):

    training:   y = x ⊙ mask / p,   dL/dx = G ⊙ mask / p
    inference:  y = x,              dL/dx = G

For the same mask the book's output is p times the inverted one in both modes. The mask is readable
(``.mask`` after a training forward) and injectable (``set_mask``) so that a test can hand the very same
mask to the torch twin.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_float_array, check_keep_prob
from .base import Operation


class Dropout(Operation):
    """Zero each activation with probability ``1 - keep_prob`` during training."""

    mask: np.ndarray

    def __init__(
        self,
        keep_prob: float = 0.8,
        *,
        inverted: bool = False,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.keep_prob = check_keep_prob(keep_prob)
        self.inverted = bool(inverted)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._next_mask: np.ndarray | None = None
        self._persistent = False
        self._training = True

    def set_mask(self, mask: np.ndarray, *, persistent: bool = False) -> None:
        """Use ``mask`` (0/1 values) for the next training forward, or for every one if ``persistent``."""
        check_float_array(mask, "Dropout mask", allow_empty=True)
        if not np.isin(mask, (0.0, 1.0)).all():
            raise ValueError("Dropout mask must contain only 0 and 1; received other values")
        self._next_mask = mask
        self._persistent = persistent

    def _output(self, inference: bool) -> np.ndarray:
        self._training = not inference
        x = self.input_
        if inference:
            return x if self.inverted else x * self.keep_prob
        if self._next_mask is not None:
            if self._next_mask.shape != x.shape:
                raise ValueError(
                    f"Dropout mask must have the input's shape {x.shape}; received shape {self._next_mask.shape}"
                )
            self.mask = self._next_mask.astype(x.dtype, copy=False)
            if not self._persistent:
                self._next_mask = None
        else:
            self.mask = self._draw_mask(x.shape, x.dtype)
        out: np.ndarray = x * self.mask
        if self.inverted:
            out /= self.keep_prob
        return out

    def _draw_mask(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A fresh 0/1 mask of ``shape`` in ``dtype``, each entry 1 with probability ``keep_prob``, from
        ``self.rng`` (uniform draws below ``keep_prob``). A subclass may draw from another stream (the book
        modules draw the book's ``np.random.binomial(1, keep_prob, shape)``)."""
        return (self.rng.random(shape) < self.keep_prob).astype(dtype)

    def _input_grad(self, output_grad: np.ndarray) -> np.ndarray:
        if not self._training:
            return output_grad if self.inverted else output_grad * self.keep_prob
        grad: np.ndarray = output_grad * self.mask
        if self.inverted:
            grad /= self.keep_prob
        return grad
