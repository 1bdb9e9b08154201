"""Specs: SGD, SGDMomentum (book form), the learning-rate schedules (chapter 4), AdaGrad (book form),
SGD with element-wise gradient clipping (chapter 6) and Adam (chapter 7, torch's form).

An optimizer case runs ``epochs`` x ``steps`` updates of two parameters from the same start with the same
random gradients in both implementations, decaying the learning rate after every epoch, and compares the
parameters after EVERY step (``traj:W``, ``traj:B`` stack them) and the learning rate of every epoch.

Case options beyond the optimizer's own: ``grad_scale`` / ``param_scale`` scale the random gradients and
starting parameters (``grad_scale=4`` with ``clip=2`` clips about 60% of the gradient elements;
``grad_scale=1e-6`` is where the book's AdaGrad and ``torch.optim.Adagrad`` part ways); ``clip`` clips on
the scratch side through the optimizer's ``clip`` argument and on the torch side with
``torch.nn.utils.clip_grad_value_`` before ``step()``, or, with ``torch_clip="optimizer"``, through
``torch_impl.AdaGrad(clip=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch

from ..harness import to_numpy, to_tensor
from ._inputs import tensor
from .base import Case, ComponentSpec, ErrorCase, Problem, Results, Skip, TorchClass, normal

PARAM_SHAPES = {"W": (6, 4), "B": (1, 4)}


@dataclass(frozen=True)
class RunCase(Case):
    """``epochs`` epochs of ``optim`` (``"SGD"``, ``"SGDMomentum"``, ``"AdaGrad"``, ``"Adam"``) at learning rate
    ``lr``, decayed after every epoch to ``final_lr`` (``decay``: ``"linear"``, ``"exponential"`` or ``None``)."""

    optim: str
    lr: float
    epochs: int
    final_lr: float = 0.0
    decay: str | None = None


@dataclass(frozen=True)
class OptimCase(RunCase):
    """``steps`` updates per epoch of two parameters; ``eps`` ``None`` is the optimizer's default; ``clip`` clips
    every gradient element to [-clip, clip] (torch: ``clip_grad_value_``, or the optimizer's own ``clip`` when
    ``torch_clip="optimizer"``); ``grad_scale`` / ``param_scale`` scale the random gradients and starting
    parameters."""

    steps: int = 1
    momentum: float = 0.9
    eps: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    wd: float = 0.0
    clip: float | None = None
    torch_clip: str = "clip_grad_value_"
    grad_scale: float = 1.0
    param_scale: float = 1.0


@dataclass(frozen=True)
class ScheduleCase(Case):
    """The learning rate of every epoch of ``epochs``, from ``lr`` to ``final_lr`` by ``decay``."""

    lr: float
    final_lr: float
    decay: str
    epochs: int


def _torch_impl() -> Any:
    import torch_impl

    return torch_impl


class _Params:
    """Just enough of a NeuralNetwork for ``Optimizer.step``: parameters and their gradients."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.values = {k: v.copy() for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}

    def params(self) -> Iterator[np.ndarray]:
        yield from self.values.values()

    def param_grads(self) -> Iterator[np.ndarray]:
        yield from self.grads.values()


def _make_problem(case: OptimCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    params = {k: normal(rng, s, dtype, case.param_scale) for k, s in PARAM_SHAPES.items()}
    steps = case.epochs * case.steps
    grads = {k: normal(rng, (steps, *s), dtype, case.grad_scale) for k, s in PARAM_SHAPES.items()}
    return Problem(case, dtype, {}, params, extras={"grads": grads})


def _eps(case: OptimCase) -> float:
    """The case's eps, or its optimizer's default (the book's AdaGrad 1e-7, Adam 1e-8)."""
    if case.eps is not None:
        return case.eps
    return 1e-7 if case.optim == "AdaGrad" else 1e-8


def _scratch_optimizer(case: OptimCase) -> scratch.Optimizer:
    lr, final_lr, decay, clip = case.lr, case.final_lr, case.decay, case.clip
    if case.optim == "SGDMomentum":
        return scratch.SGDMomentum(lr, final_lr, decay, case.momentum, clip=clip)
    if case.optim == "AdaGrad":
        return scratch.AdaGrad(lr, final_lr, decay, _eps(case), clip)
    if case.optim == "Adam":
        return scratch.Adam(lr, final_lr, decay, case.betas, _eps(case), case.wd, clip=clip)
    return scratch.SGD(lr, final_lr, decay, clip=clip)


def _run_scratch(problem: Problem) -> Results:
    case = problem.case_as(OptimCase)
    holder = _Params(problem.params)
    optim = _scratch_optimizer(case)
    optim.net = holder  # type: ignore[assignment]  # duck-typed: params() and param_grads()
    optim._setup_decay(case.epochs)
    snapshots: dict[str, list[np.ndarray]] = {k: [] for k in PARAM_SHAPES}
    lrs = []
    step = 0
    for _ in range(case.epochs):
        lrs.append(optim.lr)
        for _ in range(case.steps):
            for k in PARAM_SHAPES:
                holder.grads[k][...] = problem.extras["grads"][k][step]
            optim.step()
            for k in PARAM_SHAPES:
                snapshots[k].append(holder.values[k].copy())
            step += 1
        optim._decay_lr()
    return {**{f"traj:{k}": np.stack(v) for k, v in snapshots.items()}, "traj:lr": np.array(lrs)}


def _torch_optimizer(case: OptimCase, params: list[Any]) -> Any:
    import torch

    if case.optim == "SGDMomentum":
        return _torch_impl().SGDMomentum(params, lr=case.lr, momentum=case.momentum)
    if case.optim == "AdaGrad":
        clip = case.clip if case.torch_clip == "optimizer" else None
        return _torch_impl().AdaGrad(params, lr=case.lr, eps=_eps(case), clip=clip)
    if case.optim == "Adam":
        return torch.optim.Adam(params, lr=case.lr, betas=case.betas, eps=_eps(case), weight_decay=case.wd)
    return torch.optim.SGD(params, lr=case.lr)


def _torch_clip(case: OptimCase, params: list[Any]) -> None:
    """The torch side of ``clip``: ``clip_grad_value_`` before ``step()`` unless the optimizer clips."""
    import torch

    if case.clip is not None and case.torch_clip != "optimizer":
        torch.nn.utils.clip_grad_value_(params, case.clip)


def _run_torch(problem: Problem) -> Results:
    import torch

    case = problem.case_as(OptimCase)
    params = {k: torch.nn.Parameter(to_tensor(v)) for k, v in problem.params.items()}
    optim = _torch_optimizer(case, list(params.values()))
    scheduler = _torch_impl().book_lr_scheduler(optim, case.decay, case.final_lr, case.epochs)
    snapshots: dict[str, list[np.ndarray]] = {k: [] for k in PARAM_SHAPES}
    lrs = []
    step = 0
    for _ in range(case.epochs):
        lrs.append(optim.param_groups[0]["lr"])
        for _ in range(case.steps):
            for k, p in params.items():
                p.grad = to_tensor(problem.extras["grads"][k][step])
            _torch_clip(case, list(params.values()))
            optim.step()
            for k, p in params.items():
                snapshots[k].append(to_numpy(p))
            step += 1
        if scheduler is not None:
            scheduler.step()
    return {**{f"traj:{k}": np.stack(v) for k, v in snapshots.items()}, "traj:lr": np.array(lrs)}


def _bench_scratch(problem: Problem) -> Any:
    holder = _Params(problem.params)
    optim = _scratch_optimizer(problem.case_as(OptimCase))
    optim.net = holder  # type: ignore[assignment]
    for k in PARAM_SHAPES:
        holder.grads[k][...] = problem.extras["grads"][k][0]
    return optim.step


def _bench_torch(problem: Problem) -> Any:
    import torch

    params = [torch.nn.Parameter(to_tensor(v)) for v in problem.params.values()]
    for p, k in zip(params, PARAM_SHAPES, strict=True):
        p.grad = to_tensor(problem.extras["grads"][k][0])
    case = problem.case_as(OptimCase)
    optim = _torch_optimizer(case, params)

    def step() -> Any:
        _torch_clip(case, params)
        return optim.step()

    return step


def _optimizer_spec(
    optim: str,
    cases: tuple[OptimCase, ...],
    errors: tuple[ErrorCase, ...],
    notes: str,
    *,
    torch_class: TorchClass,
    name: str | None = None,
    chapter: int = 4,
    torch_detail: str = "",
    bench_options: dict[str, Any] | None = None,
) -> ComponentSpec[OptimCase]:
    return ComponentSpec(
        name=name or optim,
        chapter=chapter,
        scratch_class=getattr(scratch, optim),
        torch_class=torch_class,
        torch_detail=torch_detail,
        exercises=(TorchClass("BookLRScheduler"),),  # the decay cases step it after every epoch
        cases=cases,
        make_problem=_make_problem,
        run_scratch=_run_scratch,
        run_torch=_run_torch,
        differentiable=False,
        errors=errors,
        bench=(OptimCase("W6x4+B", optim, 0.1, 1, steps=1, **(bench_options or {})),),
        bench_scratch=_bench_scratch,
        bench_torch=_bench_torch,
        notes=notes,
    )


def _param() -> Any:
    import torch

    return [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]


TORCH_SGD = TorchClass("SGD", "torch.optim")

SGD_SPEC = _optimizer_spec(
    "SGD",
    (
        OptimCase("constant-lr", "SGD", 0.05, 3, steps=4),
        OptimCase("linear-decay", "SGD", 0.1, 4, steps=3, final_lr=0.01, decay="linear"),
        OptimCase("exponential-decay", "SGD", 0.2, 5, steps=3, final_lr=0.02, decay="exponential"),
    ),
    errors=(
        ErrorCase(
            "unknown-decay",
            scratch=lambda: scratch.SGD(0.1, 0.01, "cosine"),
            torch=lambda: _torch_impl().book_lr_scheduler(_sgd(), "cosine", 0.01, 5),
            exc=ValueError,
            match=r"decay_type",
        ),
        ErrorCase(
            "final-lr-above-lr",
            scratch=lambda: scratch.SGD(0.1, 0.5, "linear"),
            torch=lambda: _torch_impl().book_lr_scheduler(_sgd(), "linear", 0.5, 5),
            exc=ValueError,
            match=r"final_lr",
        ),
        ErrorCase(
            "one-epoch-with-decay",
            scratch=lambda: scratch.SGD(0.1, 0.01, "linear")._setup_decay(1),
            torch=lambda: _torch_impl().book_lr_scheduler(_sgd(), "linear", 0.01, 1),
            exc=ValueError,
            match=r"epochs",
        ),
    ),
    notes="p -= lr*g, identical to torch.optim.SGD; decay per epoch = BookLRScheduler stepped after each epoch",
    torch_class=TORCH_SGD,
)


def _sgd() -> Any:
    import torch

    return torch.optim.SGD(_param(), lr=0.1)


SGD_MOMENTUM_SPEC = _optimizer_spec(
    "SGDMomentum",
    (
        OptimCase("constant-lr", "SGDMomentum", 0.05, 3, steps=4),
        OptimCase("linear-decay", "SGDMomentum", 0.15, 4, steps=3, final_lr=0.05, decay="linear"),
        OptimCase(
            "exponential-decay", "SGDMomentum", 0.2, 5, steps=3, final_lr=0.05, decay="exponential", momentum=0.8
        ),
    ),
    errors=(
        ErrorCase(
            "lr-zero",
            scratch=lambda: scratch.SGDMomentum(lr=0.0),
            torch=lambda: _torch_impl().SGDMomentum(_param(), lr=0.0),
            exc=ValueError,
            match=r"lr",
        ),
        ErrorCase(
            "lr-negative",
            scratch=lambda: scratch.SGDMomentum(lr=-0.1),
            torch=lambda: _torch_impl().SGDMomentum(_param(), lr=-0.1),
            exc=ValueError,
            match=r"lr",
        ),
        ErrorCase(
            "lr-string",
            scratch=lambda: scratch.SGDMomentum(lr="0.1"),  # type: ignore[arg-type]
            torch=lambda: _torch_impl().SGDMomentum(_param(), lr=tensor(np.array([0.1]))),
            exc=TypeError,
            match=r"lr",
        ),
    ),
    notes="book form v = mu*v + lr*g, p -= v; torch.optim.SGD keeps lr outside the velocity (differs under decay)",
    torch_class=TorchClass("SGDMomentum"),
)


def _schedule_problem(case: ScheduleCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    return Problem(case, dtype, {})


def _schedule_scratch(problem: Problem) -> Results:
    c = problem.case_as(ScheduleCase)
    return {"traj:lr": np.array(scratch.SGD(c.lr, c.final_lr, c.decay).lr_schedule(c.epochs))}


def _schedule_torch(problem: Problem) -> Results:
    import torch

    c = problem.case_as(ScheduleCase)
    optim = torch.optim.SGD(_param(), lr=c.lr)
    scheduler = _torch_impl().book_lr_scheduler(optim, c.decay, c.final_lr, c.epochs)
    lrs = []
    for _ in range(c.epochs):
        lrs.append(optim.param_groups[0]["lr"])
        optim.step()
        scheduler.step()
    return {"traj:lr": np.array(lrs)}


SCHEDULE_SPEC = ComponentSpec(
    name="LRSchedule",
    chapter=4,
    scratch_class=scratch.Optimizer,
    torch_class=TorchClass("BookLRScheduler"),
    scratch_detail="(decay_type=...)",
    torch_detail=" (book_lr_scheduler)",
    make_problem=_schedule_problem,
    run_scratch=_schedule_scratch,
    run_torch=_schedule_torch,
    differentiable=False,
    skips=(Skip("float32", "learning rates are Python floats on both sides: there is no array dtype to vary"),),
    cases=(
        ScheduleCase("linear-E50", 0.15, 0.05, "linear", 50),
        ScheduleCase("exponential-E50", 0.2, 0.05, "exponential", 50),
        ScheduleCase("linear-E2", 0.1, 0.001, "linear", 2),
        ScheduleCase("exponential-E7", 1.0, 1e-3, "exponential", 7),
    ),
    notes="closed form, the values of LinearLR(1, final/lr, E-1) / ExponentialLR((final/lr)^(1/(E-1))), "
    "ending at exactly final_lr; step after each epoch",
)

ADAGRAD_SPEC = _optimizer_spec(
    "AdaGrad",
    (
        OptimCase("small-lr", "AdaGrad", 0.01, 3, steps=4),
        OptimCase("clip-active", "AdaGrad", 0.05, 3, steps=4, clip=2.0, grad_scale=4.0),
        OptimCase("clip-in-optimizer", "AdaGrad", 0.05, 3, steps=4, clip=2.0, torch_clip="optimizer", grad_scale=4.0),
        OptimCase("exponential-decay", "AdaGrad", 0.2, 5, steps=3, final_lr=0.02, decay="exponential"),
        OptimCase(
            "linear-decay-clip", "AdaGrad", 0.1, 4, steps=3, final_lr=0.01, decay="linear", clip=2.0, grad_scale=4.0
        ),
        OptimCase("tiny-gradients", "AdaGrad", 0.01, 2, steps=3, grad_scale=1e-6, param_scale=1e-4),
        OptimCase("eps-zero", "AdaGrad", 0.01, 2, steps=3, eps=0.0),
    ),
    errors=(
        ErrorCase(
            "lr-zero",
            scratch=lambda: scratch.AdaGrad(lr=0.0),
            torch=lambda: _torch_impl().AdaGrad(_param(), lr=0.0),
            exc=ValueError,
            match=r"lr",
        ),
        ErrorCase(
            "lr-negative",
            scratch=lambda: scratch.AdaGrad(lr=-0.01),
            torch=lambda: _torch_impl().AdaGrad(_param(), lr=-0.01),
            exc=ValueError,
            match=r"lr",
        ),
        ErrorCase(
            "eps-negative",
            scratch=lambda: scratch.AdaGrad(eps=-1e-7),
            torch=lambda: _torch_impl().AdaGrad(_param(), eps=-1e-7),
            exc=ValueError,
            match=r"eps must be >= 0",
        ),
        ErrorCase(
            "clip-zero",
            scratch=lambda: scratch.AdaGrad(clip=0.0),
            torch=lambda: _torch_impl().AdaGrad(_param(), clip=0.0),
            exc=ValueError,
            match=r"clip must be > 0",
        ),
        ErrorCase(
            "clip-string",
            scratch=lambda: scratch.AdaGrad(clip="2"),  # type: ignore[arg-type]
            torch=lambda: _torch_impl().AdaGrad(_param(), clip="2"),
            exc=TypeError,
            match=r"clip must be a real number",
        ),
    ),
    notes=(
        "book form s += eps + g^2, p -= lr*g/sqrt(s) (eps=1e-7 inside); torch.optim.Adagrad uses "
        "p -= lr*g/(sqrt(s)+eps), eps=1e-10 (steps ~300x apart at |g|~1e-6); clip = clip_grad_value_ before step"
    ),
    chapter=6,
    torch_class=TorchClass("AdaGrad"),
    bench_options={"clip": 2.0},
)

SGD_CLIP_SPEC = _optimizer_spec(
    "SGD",
    (
        OptimCase("clip-active", "SGD", 0.05, 3, steps=4, clip=2.0, grad_scale=4.0),
        OptimCase("clip-small-exponential-decay", "SGD", 0.2, 5, steps=3, final_lr=0.02, decay="exponential", clip=0.5),
    ),
    errors=(
        ErrorCase(
            "clip-zero",
            scratch=lambda: scratch.SGD(0.1, clip=0.0),
            torch=lambda: _torch_impl().clip_grads_(_param_with_grad(), 0.0),
            exc=ValueError,
            match=r"clip must be > 0",
        ),
        ErrorCase(
            "clip-negative",
            scratch=lambda: scratch.SGD(0.1, clip=-2.0),
            torch=lambda: _torch_impl().clip_grads_(_param_with_grad(), -2.0),
            exc=ValueError,
            match=r"clip must be > 0",
        ),
        ErrorCase(
            "clip-string",
            scratch=lambda: scratch.SGD(0.1, clip="2"),  # type: ignore[arg-type]
            torch=lambda: _torch_impl().clip_grads_(_param_with_grad(), "2"),
            exc=TypeError,
            match=r"clip must be a real number",
        ),
    ),
    notes=(
        "element-wise clip of each gradient to [-c, c] (c=2 in chapter 6) then p -= lr*g = "
        "clip_grad_value_(params, c) + torch.optim.SGD (not clip_grad_norm_); scratch clips a copy"
    ),
    name="SGD+clip",
    chapter=6,
    torch_class=TORCH_SGD,
    torch_detail=" + clip_grad_value_",
    bench_options={"clip": 2.0},
)


def _param_with_grad() -> Any:
    import torch

    params = _param()
    params[0].grad = torch.ones_like(params[0])
    return params


ADAM_SPEC = _optimizer_spec(
    "Adam",
    (
        OptimCase("constant-lr", "Adam", 0.01, 2, steps=5),
        OptimCase("chapter-7-weight-decay", "Adam", 0.001, 2, steps=5, wd=1e-5),
        OptimCase("large-weight-decay-betas", "Adam", 0.05, 3, steps=3, wd=0.3, betas=(0.8, 0.99)),
        OptimCase(
            "linear-decay-clip", "Adam", 0.02, 4, steps=3, final_lr=0.005, decay="linear", clip=2.0, grad_scale=4.0
        ),
        OptimCase("tiny-gradients", "Adam", 0.01, 2, steps=4, grad_scale=1e-6),
    ),
    errors=(
        ErrorCase(
            "beta-above-one",
            scratch=lambda: scratch.Adam(betas=(1.5, 0.999)),
            torch=lambda: __import__("torch").optim.Adam(_param(), betas=(1.5, 0.999)),
            exc=ValueError,
            match=r"beta",
        ),
        ErrorCase(
            "negative-weight-decay",
            scratch=lambda: scratch.Adam(weight_decay=-0.1),
            torch=lambda: __import__("torch").optim.Adam(_param(), weight_decay=-0.1),
            exc=ValueError,
            match=r"weight_decay",
        ),
        ErrorCase(
            "negative-eps",
            scratch=lambda: scratch.Adam(eps=-1.0),
            torch=lambda: __import__("torch").optim.Adam(_param(), eps=-1.0),
            exc=ValueError,
            match=r"(?i)eps",
        ),
    ),
    notes="torch.optim.Adam's update: L2 weight decay added to the gradient, bias-corrected moments, eps outside "
    "the square root; decay per epoch = BookLRScheduler",
    chapter=7,
    torch_class=TorchClass("Adam", "torch.optim"),
    bench_options={"wd": 1e-5},
)

SPECS = (SGD_SPEC, SGD_MOMENTUM_SPEC, SCHEDULE_SPEC, ADAGRAD_SPEC, SGD_CLIP_SPEC, ADAM_SPEC)
