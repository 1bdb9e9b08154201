"""The book's momentum optimizer, learning-rate decay (chapter 4), AdaGrad and clipping (chapter 6) for
``torch.optim``.

``SGDMomentum`` and ``AdaGrad`` are ``torch.optim.Optimizer``s with the book's updates;
``book_lr_scheduler`` builds the ``torch.optim.lr_scheduler`` that reproduces the book's per-epoch decay.
Plain SGD needs nothing new: ``torch.optim.SGD(params, lr)`` is the book's ``SGD`` (p ← p - lr·g).

Chapter 6's gradient clipping (each gradient ELEMENT clipped to [-c, c], c = 2, before the update; not a
norm clip) is ``torch.nn.utils.clip_grad_value_(params, c)`` called before ``optimizer.step()``;
``clip_grads_`` is that call with the book's argument check. ``clip_grad_norm_`` is a different
operation (measured 0.14 away from the book's clipping).

The book's decay happens once per epoch, after the epoch's batches, so that with E epochs the learning
rate during epoch e (0-based) is

    linear:       lr_e = lr - e (lr - final_lr) / (E - 1)
    exponential:  lr_e = lr (final_lr / lr)^(e / (E - 1))

computed in that closed form from e (``BookLRScheduler``; torch's ``LinearLR``/``ExponentialLR`` chain one
factor onto the last rate, which drifts like the book's repeated subtraction), so the last epoch trains with
exactly ``final_lr``: call ``scheduler.step()`` once after each epoch (``Trainer.fit(..., scheduler=...)``
does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from data._checks import check_decay

from ._validation import check_choice, check_int, check_lr, check_momentum, check_non_negative, check_positive, describe

__all__ = [
    "DECAY_TYPES",
    "AdaGrad",
    "BookAdaGrad",
    "BookLRScheduler",
    "BookSGDMomentum",
    "SGDMomentum",
    "book_lr_scheduler",
    "clip_grads_",
]

DECAY_TYPES = (None, "linear", "exponential")


class _BookOptimizer(Optimizer):
    """What the book's update rules share as ``torch.optim.Optimizer``s: ``step`` runs the closure, then hands
    every parameter that has a (dense) gradient to ``_update`` with its group and its state; parameters without
    a gradient are skipped, and their state does not change."""

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Apply one update to every parameter that has a gradient; return the closure's loss, if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad: Tensor | None = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                self._update(p, grad, group, self.state[p])
        return loss

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError


class SGDMomentum(_BookOptimizer):
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

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if "velocity" not in state:
            state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        velocity: Tensor = state["velocity"]
        velocity.mul_(group["momentum"]).add_(grad, alpha=group["lr"])  # v ← μ v + lr · g
        p.sub_(velocity)


BookSGDMomentum = SGDMomentum  # the old name, kept as an alias


def _check_clip(clip: Any) -> float | None:
    return None if clip is None else check_positive(clip, "clip")


def clip_grads_(params: Iterable[Tensor] | Tensor, clip: float) -> None:
    """Clip every gradient element of ``params`` to ``[-clip, clip]`` IN PLACE (the book's clipping).

        g ← min(max(g, -clip), clip)       for every element of every ``p.grad``

    ``torch.nn.utils.clip_grad_value_(params, clip)`` after checking that ``clip`` is a real number > 0
    (``clip_grad_value_`` itself accepts 0 or a negative value and then silently maps every gradient
    to a constant). Call it after ``backward()`` and before ``optimizer.step()``.
    """
    clip = check_positive(clip, "clip")
    torch.nn.utils.clip_grad_value_(params, clip)


class AdaGrad(_BookOptimizer):
    """AdaGrad in the book's form (chapter 6), epsilon INSIDE the accumulator:

        s ← s + eps + g²,   p ← p - lr · g / √s          (s starts at 0; one s per parameter, in ``state``)

    ``torch.optim.Adagrad`` (with its defaults lr_decay = weight_decay = 0, initial_accumulator_value = 0)
    computes

        s ← s + g²,         p ← p - lr · g / (√s + eps)   with eps = 1e-10 by default.

    The two agree closely when |g| ~ 1 (3-step displacements 4.7e-8 apart, relative), but not for small
    gradients: the book's s grows by eps = 1e-7 every step, which dominates g² once |g| ≲ 3e-4; at
    |g| ~ 1e-6 the book's steps are ~300x smaller than torch's (``docs/porting-guide.md`` section 8.4). Use
    this class when a run must match the book (or ``scratch.AdaGrad``).

    ``clip=c`` clips each gradient element to ``[-c, c]`` before the update, using a clipped copy
    (``p.grad`` is not modified); the same parameters result from
    ``torch.nn.utils.clip_grad_value_(params, c)`` followed by ``step()`` without ``clip``.
    ``lr`` is read from ``param_groups`` at every step, so ``book_lr_scheduler`` drives it. With
    ``eps=0`` an element whose accumulator is still 0 is left unchanged instead of getting 0/0.
    Parameters without a gradient are skipped (their accumulator does not grow).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.01,
        eps: float = 1e-7,
        clip: float | None = None,
    ) -> None:
        lr = check_lr(lr)
        eps = check_non_negative(eps, "eps")
        clip = _check_clip(clip)
        super().__init__(params, {"lr": lr, "eps": eps, "clip": clip})

    def _update(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, eps, clip = group["lr"], group["eps"], group["clip"]
        if clip is not None:
            grad = grad.clamp(-clip, clip)
        if "sum_square" not in state:
            state["sum_square"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        sum_square: Tensor = state["sum_square"]
        sum_square.add_(grad * grad + eps)  # s ← s + eps + g²
        if eps > 0:
            scaled_lr = lr / sum_square.sqrt()
        else:
            scaled_lr = torch.where(sum_square > 0, lr / sum_square.sqrt(), torch.zeros_like(sum_square))
        p.sub_(scaled_lr * grad)


BookAdaGrad = AdaGrad  # the old name, kept as an alias


class BookLRScheduler(LRScheduler):
    """The book's per-epoch decay as a ``torch.optim.lr_scheduler``, in closed form (build it with
    ``book_lr_scheduler``, which checks the arguments).

    After ``e`` calls of ``step()`` a group whose starting rate is ``b`` has, with ``f = b · final_lr / lr``
    (``f = final_lr`` exactly for the group that starts at ``lr``) and E = ``epochs``:

        linear:       b - (e / (E - 1)) (b - f)        for 0 < e < E - 1
        exponential:  b (f / b)^(e / (E - 1))          for 0 < e < E - 1
        both:         b at e = 0, exactly f from e = E - 1 on

    the same arithmetic as ``scratch.Optimizer.lr_at``, so both packages use bit-identical rates.
    """

    def __init__(self, optimizer: Optimizer, decay_type: str, final_lr: float, epochs: int, lr: float) -> None:
        self.decay_type = decay_type
        self.final_lr = final_lr
        self.epochs = epochs
        self.lr = lr
        super().__init__(optimizer)

    def _rate(self, base: float, epoch: int) -> float:
        final = self.final_lr if base == self.lr else base * (self.final_lr / self.lr)
        if epoch <= 0:
            return base
        if epoch >= self.epochs - 1:
            return final
        fraction = epoch / (self.epochs - 1)
        if self.decay_type == "linear":
            return base - fraction * (base - final)
        return float(base * (final / base) ** fraction)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The closed-form rate of every parameter group at ``last_epoch``."""
        return [self._rate(float(base), self.last_epoch) for base in self.base_lrs]


def book_lr_scheduler(optimizer: Optimizer, decay_type: str | None, final_lr: float, epochs: int) -> LRScheduler | None:
    """The torch scheduler for the book's decay of ``optimizer``'s lr to ``final_lr`` over ``epochs`` epochs.

    With lr the starting rate (``param_groups[0]["initial_lr"]`` if a scheduler already set it, else
    ``param_groups[0]["lr"]``), a ``BookLRScheduler``:

    * ``"linear"``: lr_e = lr - e (lr - final_lr) / (E - 1), the values of
      ``LinearLR(optimizer, start_factor=1, end_factor=final_lr / lr, total_iters=epochs - 1)``;
    * ``"exponential"``: lr_e = lr (final_lr / lr)^(e / (E - 1)), the values of
      ``ExponentialLR(optimizer, gamma=(final_lr / lr) ** (1 / (epochs - 1)))``;
    * ``None``: no scheduler (returns ``None``).

    Computed in closed form, ending at exactly ``final_lr``. Step it once after every epoch. Factors apply to
    every parameter group, so groups keep their ratios. Checks as in the book's ``Optimizer`` (messages name
    the argument): ``decay_type`` in ``(None, "linear", "exponential")``; ``final_lr >= 0`` and ``<= lr``;
    ``final_lr > 0`` for exponential decay; ``epochs >= 2`` when decaying. Unlike the book's code,
    ``final_lr=0`` decays linearly to 0 instead of silently switching decay off.
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
    check_decay(decay_type, lr, final_lr, DECAY_TYPES)
    if epochs < 2:
        raise ValueError(f"epochs must be >= 2 for learning-rate decay; received epochs={epochs}")
    return BookLRScheduler(optimizer, decay_type, final_lr, epochs, lr)
