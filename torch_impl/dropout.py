"""``Dropout``: dropout with the book's keep-probability semantics (chapter 4), and an inverted option.

Book semantics (``inverted=False``, the default), keep probability p:

    training:   mask ~ Bernoulli(p) element-wise,   y = x ⊙ mask         (autograd: dL/dx = G ⊙ mask)
    inference:  y = p · x                                                  (dL/dx = p · G)

Inverted semantics (``inverted=True``), exactly what ``nn.Dropout(1 - p)`` computes:

    training:   y = x ⊙ mask / p                                           (dL/dx = G ⊙ mask / p)
    inference:  y = x

For the same mask the book's output is p times the inverted one in both modes.

"Training" means ``self.training`` (``module.train()``) and ``inference=False``; ``module.eval()`` or
``forward(x, inference=True)`` gives the inference behaviour (``inference=True`` leaves the module's
training flag alone). Masks are drawn with ``generator`` when one is given (never with torch's global
generator then); a generator on another device than ``x`` draws the mask on its own device and the mask is
moved to ``x``'s device. ``.mask`` holds the mask of the last training forward; ``set_mask`` injects one, so
that a test can hand the very mask used by the NumPy ``Dropout`` to this module.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validation import boundary, check_generator, check_keep_prob, check_tensor, describe

__all__ = ["BookDropout", "Dropout"]


class Dropout(nn.Module):
    """Zero each activation with probability ``1 - keep_prob`` during training (book or inverted scaling)."""

    mask: Tensor | None

    def __init__(
        self,
        keep_prob: float = 0.8,
        *,
        inverted: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.keep_prob = check_keep_prob(keep_prob)
        self.inverted = bool(inverted)
        self.generator = check_generator(generator)
        self.mask = None
        self._next_mask: Tensor | None = None
        self._persistent = False

    def set_mask(self, mask: Tensor, persistent: bool = False) -> None:
        """Use ``mask`` (0/1 values, the input's shape) for the next training forward, or for every one if
        ``persistent``. A floating or boolean tensor; it is cast to the input's dtype and device."""
        if not isinstance(mask, Tensor) or not (mask.is_floating_point() or mask.dtype == torch.bool):
            raise TypeError(f"Dropout mask must be a floating-point or bool torch.Tensor; received {describe(mask)}")
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("Dropout mask must contain only 0 and 1; received other values")
        self._next_mask = mask.detach()
        self._persistent = bool(persistent)

    def clear_mask(self) -> None:
        """Forget an injected mask: the next training forward draws a fresh one."""
        self._next_mask = None
        self._persistent = False

    def _draw_mask(self, x: Tensor) -> Tensor:
        g = self.generator
        device = x.device if g is None else g.device
        mask = torch.empty(x.shape, dtype=x.dtype, device=device).bernoulli_(self.keep_prob, generator=g)
        return mask.to(x.device)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """Apply dropout to ``x`` (any shape); see the module docstring for the two modes."""
        check_tensor(x, "Dropout input")
        if inference or not self.training:
            return x if self.inverted else x * self.keep_prob
        if self._next_mask is not None:
            if self._next_mask.shape != x.shape:
                raise ValueError(
                    f"Dropout mask must have the input's shape {tuple(x.shape)}; received shape "
                    f"{tuple(self._next_mask.shape)}"
                )
            mask = self._next_mask.to(dtype=x.dtype, device=x.device)
            if not self._persistent:
                self._next_mask = None
        else:
            mask = self._draw_mask(x)
        self.mask = mask
        out = x * mask
        return out / self.keep_prob if self.inverted else out

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, inverted={self.inverted}"


BookDropout = Dropout  # the old name, kept as an alias


def layer_dropout(keep_prob: float, inverted: bool, generator: torch.Generator | None) -> nn.Module | None:
    """The dropout module a layer appends for keep probability ``keep_prob`` (``None`` when it is 1).

    ``nn.Dropout(1 - keep_prob)`` for torch's (inverted) convention without a generator; otherwise a
    ``Dropout`` (which can draw from ``generator`` and take an injected mask), inverted or the book's.
    """
    if keep_prob >= 1.0:
        return None
    if inverted and generator is None:
        return nn.Dropout(1.0 - keep_prob)
    return Dropout(keep_prob, inverted=inverted, generator=generator)
