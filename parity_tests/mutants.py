"""The mutation self-test: deliberately broken variants of scratch components.

Each ``Mutant`` patches one method of one scratch class (for the duration of a ``with`` block) with a
plausible bug, and names the spec whose parity check must catch it. ``detect(mutant)`` runs that spec's
cases in float64 with the patch applied and reports whether any comparison failed: a suite that lets a
mutant through is not proving what it claims.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch

from .harness import CaseResult, run_case
from .specs import get_spec


@dataclass(frozen=True)
class Mutant:
    """A bug: ``cls.method`` replaced by ``replacement``; ``spec`` must catch it."""

    name: str
    description: str
    cls: type
    method: str
    replacement: Callable[..., Any]
    spec: str

    @contextmanager
    def applied(self) -> Iterator[None]:
        original = self.cls.__dict__[self.method]
        setattr(self.cls, self.method, self.replacement)
        try:
            yield
        finally:
            setattr(self.cls, self.method, original)


def _relu_output_mask(self: Any, output_grad: np.ndarray) -> np.ndarray:
    return output_grad * (self.output >= 0)  # the book's bug: always true after clipping


def _transposed_weight_grad(self: Any, output_grad: np.ndarray) -> np.ndarray:
    return output_grad.T @ self.input_  # [out, in] instead of [in, out]


def _bias_grad_wrong_axis(self: Any, output_grad: np.ndarray) -> np.ndarray:
    return output_grad.sum(axis=1, keepdims=True)  # [N, 1] instead of [1, out]


def _momentum_lr_outside(self: Any, **kwargs: Any) -> None:
    # torch.optim.SGD's form: v = mu v + g; p -= lr v (differs from the book's under lr decay)
    if self.velocities is None:
        raise RuntimeError("velocities not initialised")
    velocity = self.velocities[kwargs["index"]]
    velocity *= self.momentum
    velocity += kwargs["grad"]
    kwargs["param"] -= self.lr * velocity


def _dropout_backward_without_mask(self: Any, output_grad: np.ndarray) -> np.ndarray:
    return output_grad  # the mask is forgotten


def _softmax_without_max(self: Any) -> float:
    x = self.prediction
    exp = np.exp(x)  # overflows for large logits
    sums = exp.sum(axis=1, keepdims=True)
    self.softmax_preds = exp / sums
    return float(-np.sum(self.target * np.log(self.softmax_preds)) / x.shape[0])


def _mse_by_elements(self: Any) -> float:
    self._q = self.prediction
    diff = self.prediction - self.target
    return float(np.sum(diff * diff) / diff.size)


def _mse_grad_by_elements(self: Any) -> np.ndarray:
    return 2.0 * (self.prediction - self.target) / self.prediction.size


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "relu-mask-on-output",
        "ReLU backward masks with output >= 0 (the book's bug)",
        scratch.ReLU,
        "_input_grad",
        _relu_output_mask,
        "ReLU",
    ),
    Mutant(
        "transposed-weight-grad",
        "WeightMultiply weight gradient Gᵀ·X instead of Xᵀ·G",
        scratch.WeightMultiply,
        "_param_grad",
        _transposed_weight_grad,
        "WeightMultiply",
    ),
    Mutant(
        "bias-grad-wrong-axis",
        "BiasAdd gradient summed over features instead of samples",
        scratch.BiasAdd,
        "_param_grad",
        _bias_grad_wrong_axis,
        "BiasAdd",
    ),
    Mutant(
        "momentum-lr-outside-velocity",
        "SGDMomentum with lr outside the velocity (torch's form)",
        scratch.SGDMomentum,
        "_update_rule",
        _momentum_lr_outside,
        "SGDMomentum",
    ),
    Mutant(
        "dropout-backward-without-mask",
        "Dropout backward passes the gradient without the mask",
        scratch.Dropout,
        "_input_grad",
        _dropout_backward_without_mask,
        "Dropout",
    ),
    Mutant(
        "softmax-without-max-subtraction",
        "softmax computed as exp(x)/sum without subtracting the max",
        scratch.SoftmaxCrossEntropy,
        "_output",
        _softmax_without_max,
        "SoftmaxCrossEntropy",
    ),
    Mutant(
        "mse-divided-by-elements",
        "MSE value divided by the number of elements instead of rows",
        scratch.MeanSquaredError,
        "_output",
        _mse_by_elements,
        "MeanSquaredError",
    ),
    Mutant(
        "mse-grad-divided-by-elements",
        "MSE gradient divided by the number of elements instead of rows",
        scratch.MeanSquaredError,
        "_input_grad",
        _mse_grad_by_elements,
        "MeanSquaredError",
    ),
)


@dataclass(frozen=True)
class Detection:
    """What running a mutant's spec found."""

    mutant: str
    caught: bool
    evidence: str  # the first failure (or exception) that caught it


def detect(mutant: Mutant, dtype: str = "float64") -> Detection:
    """Run every case of the mutant's spec with the bug applied; caught if any case fails or raises."""
    spec = get_spec(mutant.spec)
    results: list[CaseResult] = []
    with mutant.applied(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for case in spec.cases:
            try:
                result = run_case(spec, case, dtype)
            except (ValueError, TypeError, FloatingPointError, IndexError) as exc:
                return Detection(mutant.name, True, f"{case.name}: raised {type(exc).__name__}: {exc}")
            results.append(result)
            if not result.passed:
                return Detection(mutant.name, True, result.failure_message().splitlines()[1].strip())
    return Detection(mutant.name, False, "every case passed")
