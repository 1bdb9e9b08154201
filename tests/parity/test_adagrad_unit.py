"""AdaGrad (book form) and element-wise gradient clipping, chapter 6: hand-computed updates in both
implementations, the relation with ``torch.optim.Adagrad``, and the clipping semantics.

Book:  s ← s + eps + g²,  p ← p - lr · g / √s          (eps = 1e-7 inside the accumulator)
torch: s ← s + g²,        p ← p - lr · g / (√s + eps)  (eps = 1e-10)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import scratch
from parity_tests.specs import get_spec
from parity_tests.specs.base import normal
from scratch.optimizers import AdaGrad
from torch_impl import BookAdaGrad, book_lr_scheduler, clip_grads_


class _Holder:
    """``params()`` / ``param_grads()`` for one parameter, as ``Optimizer.step`` needs."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value.copy()
        self.grad = np.zeros_like(value)

    def params(self) -> Iterator[np.ndarray]:
        yield self.value

    def param_grads(self) -> Iterator[np.ndarray]:
        yield self.grad


def _run_scratch(optim: scratch.Optimizer, p0: np.ndarray, grads: list[np.ndarray]) -> tuple[np.ndarray, _Holder]:
    holder = _Holder(p0)
    optim.net = holder  # type: ignore[assignment]  # duck-typed
    for g in grads:
        holder.grad[...] = g
        optim.step()
    return holder.value, holder


def _run_torch(optim_factory, p0: np.ndarray, grads: list[np.ndarray], clip: float | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    optim = optim_factory([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        if clip is not None:
            torch.nn.utils.clip_grad_value_([p], clip)
        optim.step()
    return p.detach().numpy()


def _hand_adagrad(p0: np.ndarray, grads: list[np.ndarray], lr: float, eps: float, clip: float | None) -> np.ndarray:
    p = p0.astype(np.float64).copy()
    s = np.zeros_like(p)
    for g in grads:
        g = np.clip(g, -clip, clip) if clip is not None else g
        for i in range(p.size):  # element by element, as written in the docstring
            s.flat[i] = s.flat[i] + eps + g.flat[i] ** 2
            p.flat[i] = p.flat[i] - lr * g.flat[i] / np.sqrt(s.flat[i])
    return p


P0 = np.array([0.5, -1.0, 2.0])
GRADS = [np.array([1.0, -3.0, 0.25]), np.array([-0.5, 4.0, 0.0]), np.array([2.5, 1.0, -1.5])]


def test_first_step_by_hand() -> None:
    # s = eps + g², p = p0 - lr g / sqrt(eps + g²); for g = 1: p0 - 0.01 / sqrt(1 + 1e-7)
    got, _ = _run_scratch(AdaGrad(lr=0.01), P0, GRADS[:1])
    expected = P0 - 0.01 * GRADS[0] / np.sqrt(1e-7 + GRADS[0] ** 2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    assert got[0] == pytest.approx(0.5 - 0.01 / np.sqrt(1.0000001), abs=1e-15)


@pytest.mark.parametrize("clip", [None, 2.0])
def test_scratch_and_torch_match_hand_computation(clip: float | None) -> None:
    expected = _hand_adagrad(P0, GRADS, lr=0.05, eps=1e-7, clip=clip)
    got_scratch, _ = _run_scratch(AdaGrad(lr=0.05, clip=clip), P0, GRADS)
    got_torch = _run_torch(lambda ps: BookAdaGrad(ps, lr=0.05, clip=clip), P0, GRADS)
    got_torch_clip_fn = _run_torch(lambda ps: BookAdaGrad(ps, lr=0.05), P0, GRADS, clip=clip)
    for got in (got_scratch, got_torch, got_torch_clip_fn):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_eps_is_added_every_step() -> None:
    """With zero gradients the book's s still grows by eps per step (and p does not move)."""
    optim = AdaGrad(lr=0.1, eps=1e-3)
    got, _ = _run_scratch(optim, P0, [np.zeros(3)] * 4)
    np.testing.assert_array_equal(got, P0)
    assert optim.sum_squares is not None
    np.testing.assert_allclose(optim.sum_squares[0], 4e-3, rtol=1e-15)


def test_eps_zero_leaves_zero_gradient_elements_alone() -> None:
    grads = [np.array([0.0, 1.0, 0.0]), np.array([0.0, -2.0, 3.0])]
    got_scratch, _ = _run_scratch(AdaGrad(lr=0.1, eps=0.0), P0, grads)
    got_torch = _run_torch(lambda ps: BookAdaGrad(ps, lr=0.1, eps=0.0), P0, grads)
    assert np.isfinite(got_scratch).all()
    np.testing.assert_allclose(got_scratch, got_torch, rtol=0, atol=1e-15)
    assert got_scratch[0] == P0[0]
    assert got_scratch[2] == pytest.approx(P0[2] - 0.1)  # first non-zero step: lr * g / |g|


def _relative_gap_to_torch_adagrad(scale: float, steps: int = 3) -> float:
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(50)
    # |g| in [scale, 1.1 scale] with random signs, so every element sits at the scale being probed
    grads = [rng.choice([-1.0, 1.0], 50) * scale * (1 + 0.1 * rng.random(50)) for _ in range(steps)]
    book = _run_torch(lambda ps: BookAdaGrad(ps, lr=0.01), p0, grads)
    ours, _ = _run_scratch(AdaGrad(lr=0.01), p0, grads)
    np.testing.assert_allclose(ours, book, rtol=0, atol=1e-15)
    theirs = _run_torch(lambda ps: torch.optim.Adagrad(ps, lr=0.01), p0, grads)
    book_step, torch_step = book - p0, theirs - p0
    return float(np.max(np.abs(book_step - torch_step)) / np.max(np.abs(torch_step)))


def test_relation_with_torch_adagrad() -> None:
    """Close for |g| ~ 1 (the eps placement hardly matters), far apart for |g| ~ 1e-6.

    The gap is the largest difference of the 3-step displacements relative to torch's largest
    displacement. Measured: 4.7e-8 at |g| ~ 1, 1.0 at |g| ~ 1e-6 (the book's steps are ~300x smaller:
    after t steps √s ≈ √(t·1e-7) ≫ |g|, while torch's √s + 1e-10 ≈ √t·|g|).
    """
    gap_unit = _relative_gap_to_torch_adagrad(1.0)
    gap_tiny = _relative_gap_to_torch_adagrad(1e-6)
    assert gap_unit < 1e-6
    assert gap_tiny > 0.5


def test_decay_drives_both_the_same_way() -> None:
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(4)
    grads = [rng.standard_normal(4) for _ in range(6)]
    optim = AdaGrad(lr=0.2, final_lr=0.02, decay_type="exponential")
    holder = _Holder(p0)
    optim.net = holder  # type: ignore[assignment]
    optim._setup_decay(3)
    p = torch.nn.Parameter(torch.tensor(p0))
    topt = BookAdaGrad([p], lr=0.2)
    sched = book_lr_scheduler(topt, "exponential", 0.02, 3)
    assert sched is not None
    for epoch in range(3):
        for g in grads[2 * epoch : 2 * epoch + 2]:
            holder.grad[...] = g
            optim.step()
            p.grad = torch.tensor(g)
            topt.step()
        optim._decay_lr()
        sched.step()
    np.testing.assert_allclose(holder.value, p.detach().numpy(), rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: AdaGrad(clip=2.0), lambda: scratch.SGD(0.1, clip=2.0)])
def test_scratch_clipping_does_not_modify_the_gradients(make) -> None:  # type: ignore[no-untyped-def]
    grad = np.array([5.0, -7.0, 0.5])
    _, holder = _run_scratch(make(), P0, [grad])
    np.testing.assert_array_equal(holder.grad, grad)  # the network's gradient is untouched


def test_book_adagrad_clip_does_not_modify_grad() -> None:
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    p.grad = torch.tensor([5.0, -7.0, 0.5], dtype=torch.float64)
    BookAdaGrad([p], clip=2.0).step()
    assert p.grad.tolist() == [5.0, -7.0, 0.5]


def test_sgd_clip_by_hand() -> None:
    grad = np.array([5.0, -7.0, 0.5])
    got, _ = _run_scratch(scratch.SGD(0.1, clip=2.0), P0, [grad])
    np.testing.assert_allclose(got, P0 - 0.1 * np.array([2.0, -2.0, 0.5]), rtol=0, atol=1e-15)
    got_m, _ = _run_scratch(scratch.SGDMomentum(0.1, clip=2.0), P0, [grad])
    np.testing.assert_allclose(got_m, got, rtol=0, atol=1e-15)  # first momentum step = SGD step
    torch_got = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1), P0, [grad], clip=2.0)
    np.testing.assert_allclose(torch_got, got, rtol=0, atol=1e-15)


def test_clip_grads_is_clip_grad_value() -> None:
    a = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    g = torch.tensor([3.0, -3.0, 1.0, -0.5], dtype=torch.float64)
    a.grad, b.grad = g.clone(), g.clone()
    clip_grads_([a], 2.0)
    torch.nn.utils.clip_grad_value_([b], 2.0)
    assert a.grad is not None
    assert a.grad.tolist() == b.grad.tolist() == [2.0, -2.0, 1.0, -0.5]


def test_no_clip_by_default_keeps_chapter_4_behaviour() -> None:
    grad = np.array([50.0, -70.0, 0.5])
    got, _ = _run_scratch(scratch.SGD(0.1), P0, [grad])
    np.testing.assert_array_equal(got, P0 - 0.1 * grad)


@pytest.mark.parametrize(
    ("spec_name", "case_name"),
    [
        ("AdaGrad", "clip-active"),
        ("AdaGrad", "clip-in-optimizer"),
        ("AdaGrad", "linear-decay-clip"),
        ("SGD+clip", "clip-active"),
        ("SGD+clip", "clip-small-exponential-decay"),
    ],
)
def test_spec_clip_cases_really_clip(spec_name: str, case_name: str) -> None:
    """The parity cases with clipping draw gradients large enough that many elements are clipped."""
    spec = get_spec(spec_name)
    case = spec.case(case_name)
    problem = spec.make_problem(case, np.random.default_rng(0), np.dtype(np.float64))
    grads = np.concatenate([g.ravel() for g in problem.extras["grads"].values()])
    clipped = float(np.mean(np.abs(grads) > case["clip"]))
    assert 0.2 < clipped < 0.9, clipped


def test_spec_tiny_gradient_case_is_where_torch_adagrad_differs() -> None:
    case = get_spec("AdaGrad").case("tiny-gradients")
    assert normal(np.random.default_rng(0), (1000,), np.dtype(np.float64), case["grad_scale"]).std() < 1e-5
