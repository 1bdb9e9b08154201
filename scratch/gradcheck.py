"""A central-difference gradient checker for any ``Operation``, ``Layer`` or ``Loss``.

For a component f with input x, parameters θ and a fixed upstream gradient G, the checker uses the
scalar objective

    J(x, θ) = Σ f(x; θ) ⊙ G

whose exact gradients are what ``backward(G)`` returns (``input_grad`` and the parameter gradients),
and estimates each entry by the central difference

    dJ/dz ≈ (J(z + ε) - J(z - ε)) / (2 ε)

perturbing one entry of x or θ at a time, in place, in float64. For a ``Loss`` the objective is the loss
value itself and only the prediction gradient is checked. Use small shapes: the cost is two forward
passes per entry.

A dropout operation draws a new mask on every training forward; the checker fixes one mask for all
evaluations, and a network-free check of a component with dropout is therefore deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import Operation, ParamOperation
from .dropout import Dropout
from .layers import Layer
from .losses import Loss

Component = Operation | Layer


@dataclass(frozen=True)
class GradCheckResult:
    """Analytic and numerical gradients by name (``"input"``, ``"param"``, ``"param_0"`` ...)."""

    analytic: dict[str, np.ndarray]
    numeric: dict[str, np.ndarray]

    def max_rel_error(self) -> dict[str, float]:
        """max |analytic - numeric| / max(max |numeric|, 1e-300) per gradient."""
        out = {}
        for name, numeric in self.numeric.items():
            scale = max(float(np.max(np.abs(numeric))), 1e-300)
            out[name] = float(np.max(np.abs(self.analytic[name] - numeric))) / scale
        return out


def central_difference(objective: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """dJ/d(array) by (J(a + eps) - J(a - eps)) / (2 eps), one entry at a time.

    ``array`` is perturbed in place (and restored), so ``objective`` must read it; returns float64 of its shape.
    """
    grad = np.zeros_like(array, dtype=np.float64)
    flat = array.reshape(-1)  # a view: writing into it perturbs ``array`` in place
    out = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
        flat[i] = original
        out[i] = (plus - minus) / (2 * eps)
    return grad


def _freeze_dropout(component: Component) -> None:
    ops = component.operations if isinstance(component, Layer) else [component]
    for op in ops:
        if isinstance(op, Dropout) and hasattr(op, "mask"):
            op.set_mask(op.mask, persistent=True)


def _params_of(component: Component, grads: bool = False) -> dict[str, np.ndarray]:
    """The component's parameters (``grads``: their gradients) by name: ``param`` for one operation, ``param_i``
    for a layer's i-th."""
    if isinstance(component, ParamOperation):
        return {"param": component.param_grad if grads else component.param}
    if isinstance(component, Layer):
        values = component.param_grads if grads else component.params
        return {f"param_{i}": v for i, v in enumerate(values)}
    return {}


def _param_grads_of(component: Component) -> dict[str, np.ndarray]:
    return _params_of(component, grads=True)


def check_gradients(
    component: Component,
    input_: np.ndarray,
    output_grad: np.ndarray | None = None,
    *,
    eps: float = 1e-6,
    rng: np.random.Generator | None = None,
) -> GradCheckResult:
    """Compare ``component.backward`` with central differences of J = Σ forward(x) ⊙ G (float64).

    ``output_grad`` defaults to a random standard-normal G drawn from ``rng`` (seed 0 if not given).
    """
    if input_.dtype != np.float64:
        raise TypeError(f"check_gradients needs a float64 input_; received dtype {input_.dtype}")
    x = input_.copy()
    out = component.forward(x)
    _freeze_dropout(component)
    if output_grad is None:
        output_grad = (rng or np.random.default_rng(0)).standard_normal(out.shape)
    G = output_grad

    analytic = {"input": component.backward(G).copy()}
    analytic.update({k: v.copy() for k, v in _param_grads_of(component).items()})

    def objective() -> float:
        return float(np.sum(component.forward(x) * G))

    numeric = {"input": central_difference(objective, x, eps)}
    for name, param in _params_of(component).items():
        numeric[name] = central_difference(objective, param, eps)
    component.forward(x)  # leave the component as after the original forward
    return GradCheckResult(analytic, numeric)


def check_loss_gradient(
    loss: Loss, prediction: np.ndarray, target: np.ndarray, *, eps: float = 1e-6
) -> GradCheckResult:
    """Compare ``loss.backward()`` with central differences of the loss value w.r.t. the prediction."""
    if prediction.dtype != np.float64:
        raise TypeError(f"check_loss_gradient needs float64 predictions; received dtype {prediction.dtype}")
    p = prediction.copy()
    loss.forward(p, target)
    analytic = {"input": loss.backward().copy()}
    numeric = {"input": central_difference(lambda: loss.forward(p, target), p, eps)}
    return GradCheckResult(analytic, numeric)
