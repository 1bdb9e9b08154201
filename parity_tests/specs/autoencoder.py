"""Specs: chapter 7's convolutional autoencoder (``scratch.autoencoder`` vs ``torch_impl.autoencoder``).

``Autoencoder``: one forward (both outputs: reconstruction and encoding) and one backward from random upstream
gradients on BOTH outputs, at tiny sizes (batch > 1, square and non-square images, one and two image channels,
kernels 3 and 5); results ``output:reconstruction``, ``output:encoding``, ``grad:input`` and ``grad:<name>`` for
every parameter (book names ``encoder.conv1.W`` ... ``decoder.conv2.B``). Central differences check the scratch
backward on the tiny cases; the bench case is the book's model (1 x 28 x 28, channels 14/7, k 5, encoding 28)
on a batch of 60.

``AutoencoderTraining``: 5 steps of SGD with momentum 0.9 (constant lr) on the same batches from the same weights.
Scratch always uses its book-form ``SGDMomentum``; torch uses ``torch_impl.SGDMomentum`` (alias ``BookSGDMomentum``)
or ``torch.optim.SGD(momentum=0.9)`` (identical at a constant lr), per case. The loss normalisation differs between
the book (Σ/N) and ``nn.MSELoss()`` (Σ/(N·C·H·W)); the cases convert it three ways: torch_impl's book-style
``MeanSquaredError``; ``nn.MSELoss()`` scaled by C·H·W; or scratch's ``mse="mean"`` against ``nn.MSELoss()``.
Results: ``traj:loss`` (the loss at every step), ``traj:reconstruction`` (the last batch's reconstruction after
training) and ``traj:<name>`` (every final weight)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import scratch
from scratch.autoencoder import Autoencoder as ScratchAutoencoder
from scratch.gradcheck import GradCheckResult, central_difference
from scratch.optimizers import SGDMomentum

from .. import floors
from ..converters import AUTOENCODER_CONVERTER  # defined there; re-exported for the old imports
from ..harness import to_numpy, to_tensor, torch_device
from ..port import load_arrays
from ..tolerances import FD_EPS
from ._inputs import nan_array, seq, tensor, torch_dtype
from .base import Case, ComponentSpec, ErrorCase, Problem, Results, Skip, TorchClass, normal


def _ti() -> Any:
    import torch_impl.autoencoder as tae

    return tae


@dataclass(frozen=True)
class AutoencoderCase(Case):
    """A batch of ``n`` images ``image`` (C, H, W) through the autoencoder with conv channels ``channels``
    (C1, C2), kernels ``k`` and encoding size ``enc``."""

    n: int
    channels: tuple[int, int]
    k: int
    enc: int
    image: tuple[int, int, int]


@dataclass(frozen=True)
class AutoencoderTrainCase(AutoencoderCase):
    """Training steps at learning rate ``lr``: ``loss`` is how the MSE normalisation is converted (``"book"``,
    ``"mse-scaled"``, ``"mse-mean"``), ``torch_optim`` the torch optimizer (``"BookSGDMomentum"`` or ``"SGD"``)."""

    lr: float = 0.01
    loss: str = "book"
    torch_optim: str = "BookSGDMomentum"


def _arch(case: AutoencoderCase) -> dict[str, Any]:
    return {
        "hidden_channels": case.channels,
        "kernel_size": case.k,
        "encoding_size": case.enc,
        "image_shape": case.image,
    }


def param_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    """Book-layout parameter shapes of an ``AutoencoderCase``, in ``Autoencoder.param_names`` order."""
    if not isinstance(case, AutoencoderCase):
        raise TypeError(f"param_shapes needs an AutoencoderCase; received {type(case).__name__}")
    (c1, c2), k, enc, (c, h, w) = case.channels, case.k, case.enc, case.image
    flat = c2 * h * w
    return {
        "encoder.conv1.W": (c, c1, k, k),
        "encoder.conv1.B": (1, c1, 1, 1),
        "encoder.conv2.W": (c1, c2, k, k),
        "encoder.conv2.B": (1, c2, 1, 1),
        "encoder.dense.W": (flat, enc),
        "encoder.dense.B": (1, enc),
        "decoder.dense.W": (enc, flat),
        "decoder.dense.B": (1, flat),
        "decoder.conv1.W": (c2, c1, k, k),
        "decoder.conv1.B": (1, c1, 1, 1),
        "decoder.conv2.W": (c1, c, k, k),
        "decoder.conv2.B": (1, c, 1, 1),
    }


def _init_scales(case: AutoencoderCase) -> dict[str, float]:
    """Per-parameter std of the random weights: 1/sqrt(fan_in), so no tanh unit saturates (gradients stay
    informative) whatever the size; biases get the same scale as their weight."""
    scales = {}
    for name, _shape in param_shapes(case).items():
        weight = param_shapes(case)[name[:-1] + "W"]
        fan_in = weight[0] * weight[2] * weight[3] if len(weight) == 4 else weight[0]
        scales[name] = 1.0 / math.sqrt(fan_in)
    return scales


def _random_params(case: AutoencoderCase, rng: np.random.Generator, dtype: np.dtype) -> dict[str, np.ndarray]:
    scales = _init_scales(case)
    return {k: normal(rng, s, dtype, scales[k]) for k, s in param_shapes(case).items()}


def build_scratch(problem: Problem, **options: Any) -> ScratchAutoencoder:
    """A scratch autoencoder holding copies of ``problem.params``."""
    model = ScratchAutoencoder(**_arch(problem.case_as(AutoencoderCase)), **options)
    model.load_params({k: v.copy() for k, v in problem.params.items()})
    return model


def build_torch(problem: Problem) -> Any:
    """The torch twin with ``problem.params`` loaded through the converter."""
    arch = _arch(problem.case_as(AutoencoderCase))
    model = _ti().Autoencoder(**arch, dtype=torch_dtype(problem.dtype), device=torch_device())
    load_arrays(model, AUTOENCODER_CONVERTER.to_torch(problem.params))
    return model


# ---------------------------------------------------------------------------------------------------------
# (a) one forward + backward
# ---------------------------------------------------------------------------------------------------------


CASES = (
    AutoencoderCase("N3-1x6x6-ch3.2-k3-enc4", 3, (3, 2), 3, 4, (1, 6, 6)),
    AutoencoderCase("N2-2x5x7-ch2.3-k3-enc5", 2, (2, 3), 3, 5, (2, 5, 7)),
    AutoencoderCase("N2-1x7x7-ch2.2-k5-enc3", 2, (2, 2), 5, 3, (1, 7, 7)),
    AutoencoderCase("N4-1x8x8-ch4.3-k5-enc6", 4, (4, 3), 5, 6, (1, 8, 8)),
)
BOOK_BENCH = AutoencoderCase("N60-1x28x28-ch14.7-k5-enc28", 60, (14, 7), 5, 28, (1, 28, 28))


def make_problem(case: AutoencoderCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    n, (c, h, w), enc = case.n, case.image, case.enc
    x = np.tanh(normal(rng, (n, c, h, w), dtype, 1.5)).astype(dtype)  # images in (-1, 1), like scaled MNIST
    params = _random_params(case, rng, dtype)
    problem = Problem(case, dtype, {"x": x}, params, upstream=normal(rng, (n, c, h, w), dtype))
    problem.extras["encoding_grad"] = normal(rng, (n, enc), dtype)
    return problem


def run_scratch(problem: Problem) -> Results:
    model = build_scratch(problem)
    recon, encoding = model.forward(problem.inputs["x"].copy())
    if problem.upstream is None:
        raise ValueError("the Autoencoder spec needs an upstream gradient")
    grad_x = model.backward(problem.upstream.copy(), problem.extras["encoding_grad"].copy())
    grads = dict(zip(model.param_names, model.param_grads(), strict=True))
    return {
        "output:reconstruction": recon.copy(),
        "output:encoding": encoding.copy(),
        "grad:input": grad_x,
        **{f"grad:{k}": v for k, v in grads.items()},
    }


def run_torch(problem: Problem) -> Results:
    import torch

    model = build_torch(problem)
    x = to_tensor(problem.inputs["x"], requires_grad=True)
    recon, encoding = model(x)
    if problem.upstream is None:
        raise ValueError("the Autoencoder spec needs an upstream gradient")
    torch.autograd.backward(
        [recon, encoding], [to_tensor(problem.upstream), to_tensor(problem.extras["encoding_grad"])]
    )
    named = dict(model.named_parameters())
    torch_grads = {k: to_numpy(named[k].grad) for k in AUTOENCODER_CONVERTER.torch_names}
    return {
        "output:reconstruction": to_numpy(recon),
        "output:encoding": to_numpy(encoding),
        "grad:input": to_numpy(x.grad),
        **{f"grad:{k}": v for k, v in AUTOENCODER_CONVERTER.grads_to_book(torch_grads).items()},
    }


def fd_check(problem: Problem) -> GradCheckResult:
    """Scratch's backward against central differences of J = Σ x̂ ⊙ G_x̂ + Σ z ⊙ G_z (float64)."""
    if problem.upstream is None:
        raise ValueError("the Autoencoder spec needs an upstream gradient")
    model = build_scratch(problem)
    x = problem.inputs["x"].astype(np.float64)
    g_recon, g_enc = problem.upstream, problem.extras["encoding_grad"]
    model.forward(x)
    analytic = {"input": model.backward(g_recon, g_enc).copy()}
    analytic.update({name: g.copy() for name, g in zip(model.param_names, model.param_grads(), strict=True)})

    def objective() -> float:
        recon, encoding = model.forward(x)
        return float(np.sum(recon * g_recon) + np.sum(encoding * g_enc))

    numeric = {"input": central_difference(objective, x, FD_EPS)}
    for name, param in model.named_params().items():
        numeric[name] = central_difference(objective, param, FD_EPS)
    return GradCheckResult(analytic, numeric)


def bench_scratch(problem: Problem) -> Callable[[], Any]:
    model = build_scratch(problem)
    x, g_recon, g_enc = problem.inputs["x"], problem.upstream, problem.extras["encoding_grad"]
    if g_recon is None:
        raise ValueError("the Autoencoder spec needs an upstream gradient")

    def step() -> Any:
        model.forward(x)
        return model.backward(g_recon, g_enc)

    return step


def bench_torch(problem: Problem) -> Callable[[], Any]:
    import torch

    model = build_torch(problem)
    x = to_tensor(problem.inputs["x"], requires_grad=True)
    if problem.upstream is None:
        raise ValueError("the Autoencoder spec needs an upstream gradient")
    grads = [to_tensor(problem.upstream), to_tensor(problem.extras["encoding_grad"])]

    def step() -> Any:
        x.grad = None
        model.zero_grad(set_to_none=True)
        torch.autograd.backward(list(model(x)), grads)
        return x.grad

    return step


_TINY: dict[str, Any] = {"hidden_channels": (3, 2), "kernel_size": 3, "encoding_size": 4, "image_shape": (1, 6, 6)}


def _scratch_tiny() -> ScratchAutoencoder:
    return ScratchAutoencoder(**_TINY)


def _torch_tiny() -> Any:
    import torch

    return _ti().Autoencoder(**_TINY, dtype=torch.float64)


ERRORS = (
    ErrorCase(
        "wrong-image-shape",
        scratch=lambda: _scratch_tiny().forward(seq((2, 1, 6, 5))),
        torch=lambda: _torch_tiny()(tensor(seq((2, 1, 6, 5)))),
        exc=ValueError,
        match=r"image shape \[batch, 1, 6, 6\]",
    ),
    ErrorCase(
        "wrong-channels",
        scratch=lambda: _scratch_tiny().forward(seq((2, 3, 6, 6))),
        torch=lambda: _torch_tiny()(tensor(seq((2, 3, 6, 6)))),
        exc=ValueError,
        match=r"image shape",
    ),
    ErrorCase(
        "input-not-4d",
        scratch=lambda: _scratch_tiny().forward(seq((2, 36))),
        torch=lambda: _torch_tiny()(tensor(seq((2, 36)))),
        exc=ValueError,
        match=r"4-D",
    ),
    ErrorCase(
        "int-input",
        scratch=lambda: _scratch_tiny().forward(np.ones((2, 1, 6, 6), dtype=int)),
        torch=lambda: _torch_tiny()(tensor(np.ones((2, 1, 6, 6), dtype=int))),
        exc=TypeError,
        match=r"floating-point",
    ),
    ErrorCase(
        "nan-input",
        scratch=lambda: _scratch_tiny().forward(nan_array((2, 1, 6, 6))),
        torch=lambda: _torch_tiny()(tensor(nan_array((2, 1, 6, 6)))),
        exc=ValueError,
        match=r"finite",
    ),
    ErrorCase(
        "even-kernel",
        scratch=lambda: ScratchAutoencoder(kernel_size=4),
        torch=lambda: _ti().Autoencoder(kernel_size=4),
        exc=ValueError,
        match=r"kernel_size must be odd",
    ),
    ErrorCase(
        "hidden-channels-not-a-pair",
        scratch=lambda: ScratchAutoencoder(hidden_channels=(14, 7, 3)),
        torch=lambda: _ti().Autoencoder(hidden_channels=(14, 7, 3)),
        exc=ValueError,
        match=r"hidden_channels must be a pair",
    ),
    ErrorCase(
        "encoding-size-zero",
        scratch=lambda: ScratchAutoencoder(encoding_size=0),
        torch=lambda: _ti().Autoencoder(encoding_size=0),
        exc=ValueError,
        match=r"encoding_size",
    ),
)

AUTOENCODER_SPEC = ComponentSpec(
    name="Autoencoder",
    chapter=7,
    scratch_class=ScratchAutoencoder,
    torch_class=TorchClass("Autoencoder"),
    exercises=(
        scratch.Encoder,
        scratch.Decoder,
        TorchClass("Encoder"),
        TorchClass("Decoder"),
        TorchClass("ConvLayer"),  # the twin's four convolutions
    ),
    cases=CASES,
    make_problem=make_problem,
    run_scratch=run_scratch,
    run_torch=run_torch,
    differentiable=True,
    converter=AUTOENCODER_CONVERTER,
    fd_check=fd_check,
    skips=(
        Skip(
            "fd",
            "the largest case costs most of the central differences' time; the three smaller cases run the same code",
            ("N4-1x8x8-ch4.3-k5-enc6",),
        ),
    ),
    errors=ERRORS,
    bench=(BOOK_BENCH,),
    floor=floors.autoencoder_floor(),
    bench_scratch=bench_scratch,
    bench_torch=bench_torch,
    notes="conv(tanh, bias) x2 + flatten -> dense(tanh) -> encoding; dense(tanh) -> reshape -> conv(tanh, bias) x2; "
    "gradients from random upstream gradients on both the reconstruction and the encoding",
)


# ---------------------------------------------------------------------------------------------------------
# (b) a few training steps: SGD with momentum, the MSE normalisation converted
# ---------------------------------------------------------------------------------------------------------

TRAIN_STEPS = 5
TRAIN_BATCH = 4


def _train_case(name: str, **options: Any) -> AutoencoderTrainCase:
    base: dict[str, Any] = {"n": TRAIN_BATCH, "channels": (3, 2), "k": 3, "enc": 4, "image": (1, 6, 6), "lr": 0.01}
    return AutoencoderTrainCase(name, **{**base, **options})


TRAIN_CASES = (
    # torch_impl.MeanSquaredError is the book's Σ/N: the same loss on both sides, book-form momentum on both
    _train_case("book-mse-BookSGDMomentum", loss="book", torch_optim="BookSGDMomentum"),
    # the book's chapter 7 criterion nn.MSELoss() (mean over N·C·H·W) times C·H·W = the book's Σ/N;
    # torch's own momentum form, identical to the book's at a constant lr
    _train_case("MSELoss-x-CHW-torch-SGD", loss="mse-scaled", torch_optim="SGD"),
    # the other way round: scratch divides by N·C·H·W too (mse="mean") and torch trains on nn.MSELoss() as is
    _train_case(
        "mean-mse-torch-SGD-2x5x7", loss="mse-mean", torch_optim="SGD", lr=0.5, channels=(2, 3), enc=5, image=(2, 5, 7)
    ),
)


def make_train_problem(case: AutoencoderTrainCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    c, h, w = case.image
    batches = np.tanh(normal(rng, (TRAIN_STEPS, case.n, c, h, w), np.dtype(np.float64), 1.5)).astype(dtype)
    return Problem(case, dtype, {"batches": batches}, _random_params(case, rng, dtype))


def run_train_scratch(problem: Problem) -> Results:
    case = problem.case_as(AutoencoderTrainCase)
    model = build_scratch(problem, mse="mean" if case.loss == "mse-mean" else "book")
    optim = SGDMomentum(lr=case.lr, momentum=0.9)
    # the optimizer reads .net.params() / .net.param_grads(), which the autoencoder provides
    optim.net = model  # type: ignore[assignment]
    losses = []
    for xb in problem.inputs["batches"]:
        losses.append(model.train_batch(xb.copy()))
        optim.step()
    recon, _ = model.forward(problem.inputs["batches"][-1].copy())
    return {
        "traj:loss": np.array(losses),
        "traj:reconstruction": recon,
        **{f"traj:{k}": v.copy() for k, v in model.named_params().items()},
    }


def run_train_torch(problem: Problem) -> Results:
    import torch
    from torch import nn

    import torch_impl as ti

    case = problem.case_as(AutoencoderTrainCase)
    model = build_torch(problem)
    optim: torch.optim.Optimizer
    if case.torch_optim == "BookSGDMomentum":
        optim = ti.SGDMomentum(model.parameters(), lr=case.lr, momentum=0.9)
    else:
        optim = torch.optim.SGD(model.parameters(), lr=case.lr, momentum=0.9)
    per_sample = math.prod(case.image)  # C·H·W
    criterion: Callable[[Any, Any], Any]
    if case.loss == "book":
        criterion = ti.MeanSquaredError()
    elif case.loss == "mse-scaled":
        mse = nn.MSELoss()

        def criterion(p: Any, y: Any) -> Any:
            return mse(p, y) * per_sample

    else:
        criterion = nn.MSELoss()
    losses = []
    for xb in problem.inputs["batches"]:
        x = to_tensor(xb)
        optim.zero_grad()
        loss = criterion(model(x)[0], x)
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        recon, _ = model(to_tensor(problem.inputs["batches"][-1]))
    state = {k: to_numpy(v) for k, v in model.state_dict().items()}
    return {
        "traj:loss": np.array(losses),
        "traj:reconstruction": to_numpy(recon),
        **{f"traj:{k}": v for k, v in AUTOENCODER_CONVERTER.to_book(state).items()},
    }


AUTOENCODER_TRAINING_SPEC = ComponentSpec(
    name="AutoencoderTraining",
    chapter=7,
    scratch_class=ScratchAutoencoder,
    torch_class=TorchClass("Autoencoder"),
    scratch_detail=" + SGDMomentum",
    torch_detail=" + SGDMomentum / torch.optim.SGD",
    exercises=(SGDMomentum, TorchClass("SGDMomentum")),
    cases=TRAIN_CASES,
    make_problem=make_train_problem,
    run_scratch=run_train_scratch,
    run_torch=run_train_torch,
    differentiable=False,
    converter=AUTOENCODER_CONVERTER,
    notes=f"{TRAIN_STEPS} steps of momentum 0.9 (constant lr) on batches of {TRAIN_BATCH}, shared initial weights; "
    "MSE: book Σ/N = C·H·W · nn.MSELoss()",
)

SPECS: tuple[ComponentSpec, ...] = (AUTOENCODER_SPEC, AUTOENCODER_TRAINING_SPEC)
