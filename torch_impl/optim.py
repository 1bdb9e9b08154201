"""The book's momentum optimizer and learning-rate decay (chapter 4) for ``torch.optim``.

``BookSGDMomentum`` is a ``torch.optim.Optimizer`` with the book's update; ``book_lr_scheduler`` builds the
``torch.optim.lr_scheduler`` that reproduces the book's per-epoch decay. Plain SGD needs nothing new:
``torch.optim.SGD(params, lr)`` is the book's ``SGD`` (p ← p - lr·g).

The book's decay happens once per epoch, after the epoch's batches, so that with E epochs the learning
rate during epoch e (0-based) is

    linear:       lr_e = lr - e (lr - final_lr) / (E - 1)
    exponential:  lr_e = lr (final_lr / lr)^(e / (E - 1))

and the last epoch trains with exactly ``final_lr``: call ``scheduler.step()`` once after each epoch
(``PyTorchTrainer.fit(..., scheduler=...)`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ExponentialLR, LinearLR, LRScheduler

from ._validation import check_choice, check_int, check_lr, check_momentum, check_non_negative, describe

__all__ = ["DECAY_TYPES", "BookSGDMomentum", "book_lr_scheduler"]

DECAY_TYPES = (None, "linear", "exponential")


class BookSGDMomentum(Optimizer):
    """SGD with momentum in the book's (Sutskever et al.) form, the learning rate INSIDE the velocity:

        v ← μ v + lr · g,   p ← p - v          (v starts at 0; one velocity per parameter, in ``state``)

    ``torch.optim.SGD(momentum=μ)`` keeps lr OUTSIDE: b ← μ b + g (b₁ = g₁), p ← p - lr · b. With a constant
    lr the two are identical (v = lr · b at every step). They differ as soon as lr changes between steps,
    i.e. under learning-rate decay: here every past gradient keeps the lr it was taken with
    (p -= Σ_k μ^(t-k) lr_k g_k), while torch rescales all of them by the current lr
    (p -= lr_t Σ_k μ^(t-k) g_k).
    Use this class whenever a schedule changes lr and the run must match the book (or ``scratch``).

    ``lr`` is read from ``param_groups`` at every step, so ``torch.optim.lr_scheduler`` schedulers (and
    ``book_lr_scheduler``) drive it as they drive ``torch.optim.SGD``. Parameters without a gradient are
    skipped (their velocity is not decayed).
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, momentum: float = 0.9) -> None:
        lr = check_lr(lr)
        momentum = check_momentum(momentum)
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Apply one update to every parameter that has a gradient; return the closure's loss, if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                grad: Tensor | None = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise RuntimeError("BookSGDMomentum does not support sparse gradients")
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                velocity: Tensor = state["velocity"]
                velocity.mul_(momentum).add_(grad, alpha=lr)
                p.sub_(velocity)
        return loss


def book_lr_scheduler(optimizer: Optimizer, decay_type: str | None, final_lr: float, epochs: int) -> LRScheduler | None:
    """The torch scheduler for the book's decay of ``optimizer``'s lr to ``final_lr`` over ``epochs`` epochs.

    With lr the starting rate (``param_groups[0]["initial_lr"]`` if a scheduler already set it, else
    ``param_groups[0]["lr"]``):

    * ``"linear"``: ``LinearLR(optimizer, start_factor=1, end_factor=final_lr / lr, total_iters=epochs - 1)``;
    * ``"exponential"``: ``ExponentialLR(optimizer, gamma=(final_lr / lr) ** (1 / (epochs - 1)))``;
    * ``None``: no scheduler (returns ``None``).

    Step it once after every epoch. Factors apply to every parameter group, so groups keep their ratios.
    Checks as in the book's ``Optimizer`` (messages name the argument): ``decay_type`` in
    ``(None, "linear", "exponential")``; ``final_lr >= 0`` and ``<= lr``; ``final_lr > 0`` for exponential
    decay; ``epochs >= 2`` when decaying. Unlike the book's code, ``final_lr=0`` decays linearly to 0
    instead of silently switching decay off.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; received {describe(optimizer)}")
    decay_type = check_choice(decay_type, "decay_type", DECAY_TYPES)
    final_lr = check_non_negative(final_lr, "final_lr")
    epochs = check_int(epochs, "epochs", 1)
    if decay_type is None:
        return None
    group = optimizer.param_groups[0]
    lr = float(group.get("initial_lr", group["lr"]))
    if lr <= 0:
        raise ValueError(f"optimizer lr must be > 0 for decay; received lr={lr!r}")
    if final_lr > lr:
        raise ValueError(f"final_lr must be <= lr for decay (lr={lr}); received final_lr={final_lr!r}")
    if decay_type == "exponential" and final_lr == 0:
        raise ValueError("final_lr must be > 0 for exponential decay; received final_lr=0")
    if epochs < 2:
        raise ValueError(f"epochs must be >= 2 for learning-rate decay; received epochs={epochs}")
    if decay_type == "linear":
        return LinearLR(optimizer, start_factor=1.0, end_factor=final_lr / lr, total_iters=epochs - 1)
    return ExponentialLR(optimizer, gamma=(final_lr / lr) ** (1.0 / (epochs - 1)))
