"""Optimizers: ``Optimizer``, ``SGD``, ``SGDMomentum`` (chapter 4), ``AdaGrad`` (chapter 6) and ``Adam``
(chapter 7, torch's semantics), with the
book's learning-rate decay and chapter 6's element-wise gradient clipping.

Decay happens once per epoch, after the epoch's batches (the ``Trainer`` calls ``_decay_lr``), so that
with E epochs the learning rate during epoch e (0-based) is

    linear:       lr_e = lr - e (lr - final_lr) / (E - 1)
    exponential:  lr_e = lr (final_lr / lr)^(e / (E - 1))

computed in that closed form from e (``Optimizer.lr_at``), so the last epoch trains with exactly ``final_lr``
(the book's repeated subtraction drifted: to -3.5e-18 instead of 0 after 49 epochs).

Differences from the book's code, on purpose:
``decay_type=None`` never decays, and a decay type with ``final_lr=0`` decays (linearly) to 0 instead of
being silently disabled; E < 2 with decay raises ``ValueError`` instead of ``ZeroDivisionError``.

Gradient clipping (chapter 6, the book's ``RNNOptimizer``): with ``clip=c`` every gradient element is
clipped to ``[-c, c]`` before the update rule sees it (element-wise, NOT by norm; the chapter uses c = 2):

    g ← min(max(g, -c), c)

The book clips the network's gradient arrays in place (``np.clip(deriv, -2, 2, deriv)``); here the update
uses a clipped COPY and the network's gradients are left untouched, so the parameters move exactly as in
the book but ``param_grads()`` still holds the raw gradients after ``step()``. The torch equivalent is
``torch.nn.utils.clip_grad_value_(params, c)`` before ``optimizer.step()`` (which does clip ``.grad`` in
place). ``clip=None`` (the default) never clips, as in chapter 4.

The book's RNN notebook switches clipping on with a flag, ``SGD(lr=0.001, gradient_clipping=True)`` and
``AdaGrad(lr=0.01, gradient_clipping=True)``, always at 2: ``SGD`` and ``AdaGrad`` accept that keyword too,
``gradient_clipping=True`` meaning ``clip=BOOK_CLIP`` (2.0). Giving both ``gradient_clipping=True`` and a
``clip`` other than 2.0 is contradictory and raises ``ValueError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from data._checks import check_decay

from ._validation import check_int, check_momentum, check_non_negative, check_positive

if TYPE_CHECKING:
    from .network import NeuralNetwork

DECAY_TYPES = (None, "linear", "exponential")
#: The element-wise clipping bound of the book's chapter 6 optimizers (``gradient_clipping=True``).
BOOK_CLIP = 2.0


def _resolve_clip(clip: float | None, gradient_clipping: bool) -> float | None:
    """The clip value from ``clip=`` and the book's ``gradient_clipping=`` flag (True means ``BOOK_CLIP``)."""
    if not isinstance(gradient_clipping, bool | np.bool_):
        raise TypeError(f"gradient_clipping must be a bool (True clips to [-2, 2]); received {gradient_clipping!r}")
    if not gradient_clipping:
        return clip
    if clip is not None and clip != BOOK_CLIP:
        raise ValueError(
            f"gradient_clipping=True means clip={BOOK_CLIP} (the book's bound); received both gradient_clipping=True "
            f"and clip={clip!r}: pass only one of them"
        )
    return BOOK_CLIP


class Optimizer:
    """Base optimizer: ``step()`` updates every parameter of ``self.net`` in place."""

    net: NeuralNetwork

    def __init__(
        self,
        lr: float = 0.01,
        final_lr: float = 0,
        decay_type: str | None = None,
        *,
        clip: float | None = None,
    ) -> None:
        self.lr = check_positive(lr, "lr")
        self.clip = None if clip is None else check_positive(clip, "clip")
        self.first_lr = self.lr
        self.final_lr = check_non_negative(final_lr, "final_lr")
        self.decay_type = check_decay(decay_type, self.lr, self.final_lr, DECAY_TYPES)
        self.max_epochs = 0
        self.epoch = 0

    def _setup_decay(self, max_epochs: int) -> None:
        """Prepare the per-epoch decay for a run of ``max_epochs`` epochs and reset lr to its start."""
        self.max_epochs = check_int(max_epochs, "epochs", 1)
        self.lr = self.first_lr
        self.epoch = 0
        if self.decay_type is None:
            return
        if self.max_epochs < 2:
            raise ValueError(f"learning-rate decay needs epochs >= 2; received epochs={max_epochs}")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch`` in a run of ``max_epochs`` epochs, in closed form.

        Computed from the epoch number, never by repeated subtraction or multiplication (which drifts: 49
        subtractions from 0.01 towards 0 ended at -3.5e-18), and exactly ``final_lr`` from the last epoch on.
        """
        if self.decay_type is None or self.max_epochs < 2 or epoch <= 0:  # no decay, or not set up yet
            return self.first_lr
        if epoch >= self.max_epochs - 1:
            return self.final_lr
        fraction = epoch / (self.max_epochs - 1)
        if self.decay_type == "linear":
            return self.first_lr - fraction * (self.first_lr - self.final_lr)
        return float(self.first_lr * (self.final_lr / self.first_lr) ** fraction)

    def _decay_lr(self) -> None:
        """Move to the next epoch's learning rate (no-op without a decay type)."""
        self.epoch += 1
        self.lr = self.lr_at(self.epoch)

    def lr_schedule(self, max_epochs: int) -> list[float]:
        """The learning rate used in each of ``max_epochs`` epochs (leaves the optimizer reset)."""
        self._setup_decay(max_epochs)
        lrs = []
        for _ in range(max_epochs):
            lrs.append(self.lr)
            self._decay_lr()
        self._setup_decay(max_epochs)
        return lrs

    def reset_state(self) -> None:
        """Forget per-parameter state (velocities, accumulators): ``Trainer.fit(restart=True)`` calls it."""

    def step(self) -> None:
        """Update every parameter of ``self.net`` with its gradient (creating the per-parameter state first)."""
        if not hasattr(self, "net"):
            raise RuntimeError(f"{type(self).__name__}.step needs .net (the Trainer sets it)")
        self._ensure_state()
        for index, (param, grad) in enumerate(zip(self.net.params(), self.net.param_grads(), strict=True)):
            self._update_rule(param=param, grad=self._clipped(grad), index=index)

    def _clipped(self, grad: np.ndarray) -> np.ndarray:
        """``grad`` clipped element-wise to ``[-clip, clip]`` as a new array (``grad`` itself if no clip)."""
        if self.clip is None:
            return grad
        clipped: np.ndarray = np.clip(grad, -self.clip, self.clip)
        return clipped

    def _ensure_state(self) -> None:
        """Create the per-parameter state the update rule keeps (velocities, accumulators), if there is none yet:
        nothing for plain SGD."""

    def _update_rule(self, **kwargs: Any) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``p ← p - lr · g``.

    With ``clip=c`` (keyword only; chapter 6 uses 2) g is first clipped element-wise to ``[-c, c]``
    (a copy; the network's gradients are not modified). ``gradient_clipping=True`` (the book's RNN
    notebook spelling) is ``clip=2.0``. Torch: ``torch.optim.SGD`` after
    ``torch.nn.utils.clip_grad_value_(params, c)``.
    """

    def __init__(
        self,
        lr: float = 0.01,
        final_lr: float = 0,
        decay_type: str | None = None,
        *,
        clip: float | None = None,
        gradient_clipping: bool = False,
    ) -> None:
        super().__init__(lr, final_lr, decay_type, clip=_resolve_clip(clip, gradient_clipping))

    def _update_rule(self, **kwargs: Any) -> None:
        kwargs["param"] -= self.lr * kwargs["grad"]


class _OneArrayPerParameter(Optimizer):
    """An optimizer whose state is one array per parameter, zeros at first, kept as the list attribute named
    ``_state_attr`` (``None`` until the first ``step``; ``reset_state`` forgets it)."""

    _state_attr: str  # the public attribute holding the list (``velocities``, ``sum_squares``)
    _state_what: str  # what the arrays are, for the error message

    def reset_state(self) -> None:
        setattr(self, self._state_attr, None)

    def _ensure_state(self) -> None:
        if getattr(self, self._state_attr) is None:
            setattr(self, self._state_attr, [np.zeros_like(p) for p in self.net.params()])

    def _not_initialised(self) -> RuntimeError:
        """The error of an update rule that finds no state (``step`` creates it first; the rules test for
        ``None`` inline, once per parameter, which a shared accessor would slow down)."""
        return RuntimeError(f"{type(self).__name__} {self._state_what} are not initialised")


class SGDMomentum(_OneArrayPerParameter):
    """SGD with momentum in the book's (Sutskever et al.) form, the learning rate inside the velocity:

        v ← μ v + lr · g,   p ← p - v          (v starts at 0)

    ``torch.optim.SGD(momentum=μ)`` keeps lr outside: b ← μ b + g, p ← p - lr · b. The two are identical
    while lr is constant, and differ as soon as lr decays, because here past gradients keep the lr they
    were taken with. ``torch_impl.SGDMomentum`` is the exact torch twin of this class.
    ``clip=c`` clips g element-wise to ``[-c, c]`` first (a copy), as for ``SGD``.
    """

    _state_attr, _state_what = "velocities", "velocities"

    def __init__(
        self,
        lr: float = 0.01,
        final_lr: float = 0,
        decay_type: str | None = None,
        momentum: float = 0.9,
        *,
        clip: float | None = None,
    ) -> None:
        super().__init__(lr, final_lr, decay_type, clip=clip)
        self.momentum = check_momentum(momentum)
        self.velocities: list[np.ndarray] | None = None

    def _update_rule(self, **kwargs: Any) -> None:
        if self.velocities is None:  # pragma: no cover - step() creates them first
            raise self._not_initialised()
        velocity = self.velocities[kwargs["index"]]
        velocity *= self.momentum
        velocity += self.lr * kwargs["grad"]
        kwargs["param"] -= velocity


class AdaGrad(_OneArrayPerParameter):
    """AdaGrad in the book's form (chapter 6, ``lincoln/optimizers.py``), epsilon INSIDE the accumulator:

        s ← s + eps + g²,   p ← p - lr · g / √s          (s starts at 0; one s per parameter)

    so every step adds eps to s (after t steps s = t·eps + Σ g²). ``torch.optim.Adagrad`` instead
    computes s ← s + g², p ← p - lr · g / (√s + eps) with eps = 1e-10. The two agree closely for |g| ~ 1
    (3-step displacements 4.7e-8 apart, relative) but not for tiny gradients, where the book's eps
    dominates the denominator: at |g| ~ 1e-6 the book's steps are ~300x smaller than torch's (the
    displacements differ by 100%; ``docs/porting-guide.md`` section 8.4).
    ``torch_impl.AdaGrad`` is the exact torch twin.

    ``lr`` decays per epoch as in ``Optimizer`` (the update uses the current lr). With ``clip=c`` (the
    chapter uses 2) g is clipped element-wise to ``[-c, c]`` before both the accumulator and the step
    (a copy; the network's gradients are not modified); ``gradient_clipping=True`` (the book's RNN notebook
    spelling) is ``clip=2.0``. ``eps`` must be >= 0; with ``eps=0`` an element whose accumulator is still 0
    (only zero gradients so far) is left unchanged instead of getting 0/0.
    """

    _state_attr, _state_what = "sum_squares", "accumulators"

    def __init__(
        self,
        lr: float = 0.01,
        final_lr: float = 0,
        decay_type: str | None = None,
        eps: float = 1e-7,
        clip: float | None = None,
        *,
        gradient_clipping: bool = False,
    ) -> None:
        super().__init__(lr, final_lr, decay_type, clip=_resolve_clip(clip, gradient_clipping))
        self.eps = check_non_negative(eps, "eps")
        self.sum_squares: list[np.ndarray] | None = None

    def _update_rule(self, **kwargs: Any) -> None:
        grad: np.ndarray = kwargs["grad"]
        if self.sum_squares is None:  # pragma: no cover - step() creates them first
            raise self._not_initialised()
        sum_square = self.sum_squares[kwargs["index"]]
        sum_square += self.eps + grad * grad
        if self.eps > 0:
            scaled_lr = self.lr / np.sqrt(sum_square)
        else:
            scaled_lr = np.zeros_like(sum_square)
            np.divide(self.lr, np.sqrt(sum_square), out=scaled_lr, where=sum_square > 0)
        kwargs["param"] -= scaled_lr * grad


class Adam(Optimizer):
    """Adam (chapter 7 trains its character LSTM with ``torch.optim.Adam(lr=0.001, weight_decay=1e-5)``), with
    torch's semantics, so ``torch.optim.Adam`` is its exact twin. Per parameter p with gradient g, at step t
    (counted per parameter from 1), m and v starting at 0:

        g ← g + weight_decay · p                       (L2 added to the gradient, torch's ``weight_decay``)
        m ← β1 m + (1 − β1) g,     v ← β2 v + (1 − β2) g²
        p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)

    ``lr`` decays per epoch as in ``Optimizer`` (the update uses the current lr). With ``clip=c`` the raw
    gradient is clipped element-wise to ``[-c, c]`` first (a copy), as ``clip_grad_value_`` before
    ``torch.optim.Adam.step()`` does. ``reset_state`` forgets m, v and t.
    """

    def __init__(
        self,
        lr: float = 0.001,
        final_lr: float = 0,
        decay_type: str | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        clip: float | None = None,
    ) -> None:
        super().__init__(lr, final_lr, decay_type, clip=clip)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1); received {betas!r}")
        self.betas = (check_momentum(betas[0], "betas[0]"), check_momentum(betas[1], "betas[1]"))
        self.eps = check_non_negative(eps, "eps")
        self.weight_decay = check_non_negative(weight_decay, "weight_decay")
        self.moments: list[tuple[np.ndarray, np.ndarray]] | None = None
        self.steps: list[int] = []

    def reset_state(self) -> None:
        self.moments = None
        self.steps = []

    def _ensure_state(self) -> None:
        if self.moments is None:
            self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self.net.params()]
            self.steps = [0] * len(self.moments)

    def _update_rule(self, **kwargs: Any) -> None:
        if self.moments is None:  # pragma: no cover - step() creates them first
            raise RuntimeError("Adam moments are not initialised")
        index: int = kwargs["index"]
        param: np.ndarray = kwargs["param"]
        grad: np.ndarray = kwargs["grad"]
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        m, v = self.moments[index]
        self.steps[index] += 1
        t = self.steps[index]
        beta1, beta2 = self.betas
        m += (1.0 - beta1) * (grad - m)  # β1 m + (1 − β1) g, as torch's lerp computes it
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        step_size = self.lr / (1.0 - beta1**t)
        denom = np.sqrt(v) / np.sqrt(1.0 - beta2**t) + self.eps
        param -= step_size * (m / denom)
