"""The mutation self-test: deliberately broken variants of scratch components.

Each ``Mutant`` patches one method of one scratch class, or one function of a scratch module (such as the
graph order ``scratch.autodiff._backward_order``), for the duration of a ``with`` block with a plausible bug,
and names the spec whose parity check must catch it. ``detect(mutant)`` runs that spec's
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
import scratch.autodiff

from .converters import RecurrentConverter
from .harness import CaseResult, run_case
from .specs import get_spec


@dataclass(frozen=True)
class Mutant:
    """A bug: ``cls.method`` replaced by ``replacement``; ``spec`` must catch it."""

    name: str
    description: str
    cls: Any  # a class, or a module for module-level functions
    method: str
    replacement: Callable[..., Any]
    spec: str

    @contextmanager
    def applied(self) -> Iterator[None]:
        own = self.method in vars(self.cls)  # False for a method inherited from a base class
        original = vars(self.cls).get(self.method)
        if not own and not hasattr(self.cls, self.method):
            raise AttributeError(f"{self.cls!r} has no attribute {self.method!r} to mutate")
        setattr(self.cls, self.method, self.replacement)
        try:
            yield
        finally:
            if own:
                setattr(self.cls, self.method, original)
            else:
                delattr(self.cls, self.method)  # the inherited method is visible again


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


# --- convolution and pooling bugs (chapter 5): each an independent faulty implementation ------------------


def _windows(x_pad: np.ndarray, k: int, s: int, h_out: int, w_out: int) -> np.ndarray:
    """[N, C, Hp, Wp] -> [N, C, h_out, w_out, k, k] strided view of every window."""
    view = np.lib.stride_tricks.sliding_window_view(x_pad, (k, k), axis=(2, 3))  # [N, C, Hp-k+1, Wp-k+1, k, k]
    return view[:, :, ::s, ::s][:, :, :h_out, :w_out]


def _pad(x: np.ndarray, before: int, after: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))


def _conv_scatter(op: Any, output_grad: np.ndarray, kernel: np.ndarray, step: int) -> np.ndarray:
    """dX by scattering each output gradient through ``kernel`` at ``y*step + i`` (the true gradient
    for ``kernel = W`` and ``step = stride``)."""
    x = op.input_
    before, after = op.pads
    k = op.kernel_size
    dx_pad = np.zeros(_pad(x, before, after).shape, dtype=x.dtype)
    _, _, h_out, w_out = output_grad.shape
    for i in range(k):
        for j in range(k):
            contribution = np.einsum("nohw,co->nchw", output_grad, kernel[:, :, i, j])
            rows = slice(i, i + step * (h_out - 1) + 1, step)
            cols = slice(j, j + step * (w_out - 1) + 1, step)
            dx_pad[:, :, rows, cols] += contribution
    return dx_pad[:, :, before : before + x.shape[2], before : before + x.shape[3]]


def _conv_kernel_not_flipped(self: Any, output_grad: np.ndarray) -> np.ndarray:
    # The book's input gradient correlates with the kernel as it is: the scatter then uses the kernel
    # rotated by 180 degrees, which equals the truth only for symmetric kernels.
    return _conv_scatter(self, output_grad, self.param[:, :, ::-1, ::-1], self.stride)


def _conv_stride_ignored_in_backward(self: Any, output_grad: np.ndarray) -> np.ndarray:
    return _conv_scatter(self, output_grad, self.param, 1)


def _conv_weight_grad_samples_mixed(self: Any, output_grad: np.ndarray) -> np.ndarray:
    # The book's weight gradient: patch rows ordered (pixel, sample), gradient rows (sample, pixel).
    before, after = self.pads
    k = self.kernel_size
    n, c_out, h_out, w_out = output_grad.shape
    c_in = self.param.shape[0]
    win = _windows(_pad(self.input_, before, after), k, self.stride, h_out, w_out)  # [N, C, ho, wo, k, k]
    patches = win.transpose(0, 2, 3, 1, 4, 5).reshape(n, h_out * w_out, c_in * k * k)  # [N, P, C*k*k]
    wrong = patches.transpose(1, 0, 2).reshape(n * h_out * w_out, -1)  # rows (pixel, sample): the bug
    grads = output_grad.transpose(0, 2, 3, 1).reshape(n * h_out * w_out, c_out)  # rows (sample, pixel)
    dW = wrong.T @ grads  # [C*k*k, C_out]
    return dW.reshape(c_in, k, k, c_out).transpose(0, 3, 1, 2)  # [C_in, k, k, C_out] -> [C_in, C_out, k, k]


_CONV_OUTPUT = scratch.Conv2D_Op._output  # the correct forward, which also caches what backward reuses


def _conv_padding_off_by_one(self: Any, inference: bool) -> np.ndarray:
    # One more zero row/column before and one fewer after: same output size, shifted content.
    _CONV_OUTPUT(self, inference)
    before, after = self.pads
    k, s = self.kernel_size, self.stride
    # Where there is no trailing padding to take a pixel from, pad correctly (the shape must not change).
    x_pad = _pad(self.input_, before + 1, after - 1) if after >= 1 else _pad(self.input_, before, after)
    h_out = (x_pad.shape[2] - k) // s + 1
    w_out = (x_pad.shape[3] - k) // s + 1
    return np.einsum("nchwij,coij->nohw", _windows(x_pad, k, s, h_out, w_out), self.param)


def _maxpool_grad_to_every_tie(self: Any, output_grad: np.ndarray) -> np.ndarray:
    # Every element equal to its window's maximum receives the whole gradient.
    x = self.input_
    k = self.kernel_size
    s = self.stride
    _, _, h_out, w_out = output_grad.shape
    dx = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            rows = slice(i, i + s * (h_out - 1) + 1, s)
            cols = slice(j, j + s * (w_out - 1) + 1, s)
            dx[:, :, rows, cols] += output_grad * (x[:, :, rows, cols] == self.output)
    return dx


# ---- chapter 6 -------------------------------------------------------------------------------------------


def _lstm_gates_in_book_order(self: Any) -> tuple[str, ...]:
    # The porting mistake of copying the book's f, i, c, o tensors into torch's i, f, g, o slots.
    return ("f", "i", "c", "o") if self.kind == "LSTM" else ("f",) if self.kind == "RNN" else ("r", "u", "h")


def _bias_copied_into_both(self: Any, bias_ih: np.ndarray, grads: bool) -> np.ndarray:
    return bias_ih.copy()  # b_ih = b_hh = B: torch then adds the bias twice


def _gru_update_uses_reset_weights(self: Any, name: str) -> np.ndarray:
    # The book's GRU bug: u = σ(x W_xr + h W_hr + B_u), so W_xu and W_hu have no effect.
    return self.params[{"W_xu": "W_xr", "W_hu": "W_hr"}.get(name, name)]["value"]


_GRU_BACKWARD_CORE = scratch.GRULayer._backward_core  # inherited: _RecurrentLayer._backward_core


def _gru_backward_ignores_output_grad(self: Any, dH_seq: np.ndarray, derivs: dict[str, np.ndarray]) -> Any:
    # The book's GRU backward dropped dh_out = dy W_vᵀ + dh_next: every core gradient became 0.
    return _GRU_BACKWARD_CORE(self, np.zeros_like(dH_seq), derivs)


def _autodiff_depth_first(root: Any) -> list[Any]:
    # The book's recursion: a node is visited (and propagates what it has so far) once per path to it,
    # before all of its consumers have contributed.
    order: list[Any] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node._parents)
    return order


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
    Mutant(
        "conv-kernel-not-flipped",
        "Conv2D_Op input gradient with the kernel not flipped (the book's bug)",
        scratch.Conv2D_Op,
        "_input_grad",
        _conv_kernel_not_flipped,
        "Conv2D_Op",
    ),
    Mutant(
        "conv-weight-grad-samples-mixed",
        "Conv2D_Op weight gradient with (pixel, sample) patch rows "
        "against (sample, pixel) gradient rows (the book's bug, batch > 1)",
        scratch.Conv2D_Op,
        "_param_grad",
        _conv_weight_grad_samples_mixed,
        "Conv2D_Op",
    ),
    Mutant(
        "conv-padding-off-by-one",
        "Conv2D_Op forward padding shifted by one pixel",
        scratch.Conv2D_Op,
        "_output",
        _conv_padding_off_by_one,
        "Conv2D_Op",
    ),
    Mutant(
        "conv-stride-ignored-in-backward",
        "Conv2D_Op input gradient scattered as if the stride were 1",
        scratch.Conv2D_Op,
        "_input_grad",
        _conv_stride_ignored_in_backward,
        "Conv2D_Op",
    ),
    Mutant(
        "maxpool-grad-to-every-tie",
        "MaxPool2D gradient sent to every tied maximum in a window",
        scratch.MaxPool2D,
        "_input_grad",
        _maxpool_grad_to_every_tie,
        "MaxPool2D",
    ),
    Mutant(
        "lstm-gates-in-book-order",
        "LSTM converter copies the book's f, i, c, o gates into torch's i, f, g, o slots",
        RecurrentConverter,
        "_gate_order",
        _lstm_gates_in_book_order,
        "LSTMLayer",
    ),
    Mutant(
        "bias-copied-into-both-torch-biases",
        "RNN converter writes the book bias into both bias_ih and bias_hh (added twice)",
        RecurrentConverter,
        "_bias_hh",
        _bias_copied_into_both,
        "RNNLayer",
    ),
    Mutant(
        "gru-update-gate-uses-reset-weights",
        "GRU update gate computed with W_xr, W_hr (the book's forward bug)",
        scratch.GRULayer,
        "_v",
        _gru_update_uses_reset_weights,
        "GRULayer(before)",
    ),
    Mutant(
        "gru-backward-ignores-output-grad",
        "GRU backward drops the gradient arriving from the outputs (the book's backward bug)",
        scratch.GRULayer,
        "_backward_core",
        _gru_backward_ignores_output_grad,
        "GRULayer(after)",
    ),
    Mutant(
        "autodiff-backprop-before-consumers-done",
        "autodiff walks depth-first: a reused value propagates before all its consumers contributed",
        scratch.autodiff,
        "_backward_order",
        _autodiff_depth_first,
        "Tensor (autodiff)",
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
