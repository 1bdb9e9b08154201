"""Specs: Conv2D_Op (vectorised and loop), ChannelBiasAdd, Conv2D, Flatten, Reshape, MaxPool2D, AvgPool2D
(chapter 5 and the convolutional half of chapter 7).

The Conv2D_Op cases are a grid: kernel sizes 1, 2, 3, 5 (odd and even), the book's default padding k//2,
explicit paddings 0, 1, 2 and "same", strides 1 and 2, non-square images, batch 1 and > 1, one and several
channels in and out; every kernel is random (asymmetric), every upstream gradient random.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import numpy as np

import scratch

from .. import floors
from ..converters import CHANNEL_BIAS_ADD, CONV2D, CONV2D_BIAS, CONV2D_OP, DENSE, TensorConverter, combine
from ..harness import to_tensor
from ._inputs import nan_array, seq, tensor, torch_dtype
from .base import (
    Argument,
    Case,
    ComponentSpec,
    ErrorCase,
    Problem,
    Shape,
    ShapeCase,
    Skip,
    Sweep,
    TorchClass,
    operation_spec,
)
from .training import TrainCase, training_spec


def _ti() -> Any:
    import torch_impl

    return torch_impl


Padding = int | str | None


@dataclass(frozen=True)
class ConvCase(Case):
    """A convolution of ``n`` images ``cin`` x ``h`` x ``w`` with ``cout`` kernels ``k`` x ``k``; ``padding``
    ``None`` is the book's k // 2."""

    n: int
    cin: int
    cout: int
    h: int
    w: int
    k: int
    padding: Padding = None
    stride: int = 1


@dataclass(frozen=True)
class ConvLayerCase(ConvCase):
    """A Conv2D layer: its activation (a class name of both packages), flatten, dropout keep probability, bias."""

    act: str = "Tanh"
    flatten: bool = False
    keep: float = 1.0
    bias: bool = False


@dataclass(frozen=True)
class PoolCase(Case):
    """Pooling windows ``k`` x ``k`` moved by ``stride`` (``None``: k) over ``shape`` [N, C, H, W]; ``ties``
    clips the input at zero like a preceding ReLU, so that windows hold tied maxima."""

    shape: Shape
    k: int
    stride: int | None = None
    ties: bool = False


@dataclass(frozen=True)
class ReshapeCase(Case):
    """``n`` rows of prod(shape) values reshaped to ``[n, *shape]``."""

    n: int
    shape: Shape


def pads(k: int, padding: int | str | None) -> tuple[int, int]:
    """(before, after) zero padding on each spatial axis, as both implementations define it."""
    if padding is None:
        return k // 2, k // 2
    if padding == "same":
        return (k - 1) // 2, k // 2
    if isinstance(padding, int):
        return padding, padding
    raise ValueError(f"unknown padding {padding!r}")


def conv_out(size: int, k: int, padding: int | str | None, stride: int) -> int:
    """Output length of one spatial axis."""
    before, after = pads(k, padding)
    return (size + before + after - k) // stride + 1


#: Beyond the grid: an even kernel of 4, a padding wider than k // 2 and a stride of 3 (the geometries of the torch
#: unit test of the padding modes), each (k, padding, stride).
EXTRA_GEOMETRIES: tuple[tuple[int, Padding, int], ...] = (
    (4, None, 1),
    (4, 1, 2),
    (4, "same", 1),
    (4, 3, 3),
    (3, 3, 1),
    (5, 3, 2),
    (2, 0, 3),
    (1, None, 3),
)


def _conv_cases() -> tuple[ConvCase, ...]:
    cases = []
    shapes = ((1, 1, 1, 7, 6), (3, 2, 3, 8, 9))  # (N, C_in, C_out, H, W)
    grid = product((1, 2, 3, 5), (None, 0, 1, 2, "same"), (1, 2))
    for index, (k, padding, stride) in enumerate((*grid, *EXTRA_GEOMETRIES)):
        if padding == "same" and stride > 1:
            continue  # refused by both implementations (an error case below)
        n, cin, cout, h, w = shapes[index % 2]
        if conv_out(h, k, padding, stride) < 1 or conv_out(w, k, padding, stride) < 1:
            continue
        pad_name = "book" if padding is None else padding
        name = f"N{n}-{cin}to{cout}-{h}x{w}-k{k}-pad{pad_name}-s{stride}"
        cases.append(ConvCase(name, n, cin, cout, h, w, k, padding, stride))
    return tuple(cases)


def _conv_shapes(c: ConvCase) -> tuple[Shape, Shape]:
    h_out, w_out = conv_out(c.h, c.k, c.padding, c.stride), conv_out(c.w, c.k, c.padding, c.stride)
    return (c.n, c.cin, c.h, c.w), (c.n, c.cout, h_out, w_out)


def _conv_params(case: ConvCase) -> dict[str, Shape]:
    return {"W": (case.cin, case.cout, case.k, case.k)}


def _scratch_conv_op(kind: type[scratch.Conv2D_Op] | type[scratch.Conv2D_OpLoop]) -> Any:
    def build(problem: Problem) -> Any:
        c = problem.case_as(ConvCase)
        return kind(problem.params["W"].copy(), padding=c.padding, stride=c.stride)

    return build


def _torch_conv_op(problem: Problem) -> Any:
    c = problem.case_as(ConvCase)
    return _ti().Conv2D_Op(c.cin, c.cout, c.k, padding=c.padding, stride=c.stride, dtype=torch_dtype(problem.dtype))


def _conv_errors(make_scratch: Any) -> tuple[ErrorCase, ...]:
    f64 = np.float64

    def torch_op(cin: int, cout: int, k: int, **kw: Any) -> Any:
        return _ti().Conv2D_Op(cin, cout, k, dtype=torch_dtype(f64), **kw)

    return (
        ErrorCase(
            "input-not-4d",
            scratch=lambda: make_scratch(seq((2, 3, 3, 3))).forward(seq((2, 2, 5))),
            torch=lambda: torch_op(2, 3, 3)(tensor(seq((2, 2, 5)))),
            exc=ValueError,
            match=r"4-D",
        ),
        ErrorCase(
            "channel-mismatch",
            scratch=lambda: make_scratch(seq((2, 3, 3, 3))).forward(seq((1, 3, 5, 5))),
            torch=lambda: torch_op(2, 3, 3)(tensor(seq((1, 3, 5, 5)))),
            exc=ValueError,
            match=r"channel",
        ),
        ErrorCase(
            "kernel-larger-than-padded-input",
            scratch=lambda: make_scratch(seq((1, 1, 5, 5)), padding=0).forward(seq((1, 1, 3, 3))),
            torch=lambda: torch_op(1, 1, 5, padding=0)(tensor(seq((1, 1, 3, 3)))),
            exc=ValueError,
            match=r"(?i)kernel",
        ),
        ErrorCase(
            "stride-zero",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3)), stride=0),
            torch=lambda: torch_op(1, 1, 3, stride=0),
            exc=ValueError,
            match=r"stride",
        ),
        ErrorCase(
            "stride-float",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3)), stride=1.5),
            torch=lambda: torch_op(1, 1, 3, stride=1.5),
            exc=TypeError,
            match=r"stride",
        ),
        ErrorCase(
            "padding-negative",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3)), padding=-1),
            torch=lambda: torch_op(1, 1, 3, padding=-1),
            exc=ValueError,
            match=r"padding",
        ),
        ErrorCase(
            "padding-unknown",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3)), padding="full"),
            torch=lambda: torch_op(1, 1, 3, padding="full"),
            exc=ValueError,
            match=r"padding",
        ),
        ErrorCase(
            "same-with-stride-2",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3)), padding="same", stride=2),
            torch=lambda: torch_op(1, 1, 3, padding="same", stride=2),
            exc=ValueError,
            match=r"same",
        ),
        ErrorCase(
            "int-input",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3))).forward(np.ones((1, 1, 4, 4), dtype=int)),
            torch=lambda: torch_op(1, 1, 3)(tensor(np.ones((1, 1, 4, 4), dtype=int))),
            exc=TypeError,
            match=r"float",
        ),
        ErrorCase(
            "nan-input",
            scratch=lambda: make_scratch(seq((1, 1, 3, 3))).forward(nan_array((1, 1, 4, 4))),
            torch=lambda: torch_op(1, 1, 3)(tensor(nan_array((1, 1, 4, 4)))),
            exc=ValueError,
            match=r"(?i)finite|nan",
        ),
    )


CONV2D_OP_SPEC = operation_spec(
    name="Conv2D_Op",
    chapter=5,
    scratch_class=scratch.Conv2D_Op,
    torch_class=TorchClass("Conv2D_Op"),
    cases=_conv_cases(),
    shapes=_conv_shapes,
    param_shapes=_conv_params,
    converter=CONV2D_OP,
    build_scratch=_scratch_conv_op(scratch.Conv2D_Op),
    build_torch=_torch_conv_op,
    bench=(
        ConvCase("N32-1to16-28x28-k5-pad2", 32, 1, 16, 28, 28, 5, padding=2),
        ConvCase("N32-16to32-14x14-k3-pad1", 32, 16, 32, 14, 14, 3, padding=1),
    ),
    floor=floors.conv_floor(),
    sweep=Sweep(
        "image side",
        tuple(ConvCase(f"sweep-N8-16to16-{s}x{s}-k3-pad1", 8, 16, 16, s, s, 3, padding=1) for s in (8, 16, 32, 64)),
        lambda c: c.h,
    ),
    errors=_conv_errors(lambda W, **kw: scratch.Conv2D_Op(W, **kw)),
    notes="cross-correlation; book W [C_in, C_out, k, k] = torch weight.transpose(0, 1); the book's input "
    "gradient did not flip the kernel and its weight gradient mixed samples for N > 1",
)

CONV2D_OP_LOOP_SPEC = operation_spec(
    name="Conv2D_OpLoop",
    chapter=5,
    scratch_class=scratch.Conv2D_OpLoop,
    torch_class=TorchClass("Conv2D_Op"),
    cases=tuple(c for c in _conv_cases() if c.n == 1 or c.k in (2, 3))[:12],
    shapes=_conv_shapes,
    param_shapes=_conv_params,
    converter=CONV2D_OP,
    build_scratch=_scratch_conv_op(scratch.Conv2D_OpLoop),
    build_torch=_torch_conv_op,
    bench=(ConvCase("N2-2to3-8x8-k3-pad1", 2, 2, 3, 8, 8, 3, padding=1),),
    no_speed_target="the book's loops, kept as a teaching reference and test oracle; timed to show their cost",
    notes="the readable loop version (teaching reference and oracle); never the default",
)

CHANNEL_BIAS_SPEC = operation_spec(
    name="ChannelBiasAdd",
    chapter=5,
    scratch_class=scratch.ChannelBiasAdd,
    torch_class=TorchClass("ChannelBiasAdd"),
    cases=(ShapeCase("N3-4ch-5x6", (3, 4, 5, 6)), ShapeCase("N1-1ch-3x3", (1, 1, 3, 3))),
    shapes=lambda c: (c.shape, c.shape),
    param_shapes=lambda c: {"B": (1, c.shape[1], 1, 1)},
    converter=CHANNEL_BIAS_ADD,
    build_scratch=lambda p: scratch.ChannelBiasAdd(p.params["B"].copy()),
    build_torch=lambda p: _ti().ChannelBiasAdd(p.case_as(ShapeCase).shape[1], dtype=torch_dtype(p.dtype)),
)


def _layer_mask(problem: Problem, rng: np.random.Generator) -> None:
    case = problem.case_as(ConvLayerCase)
    if case.keep < 1.0:
        _, out_shape = _layer_shapes(case)
        problem.extras["mask"] = (rng.random(out_shape) < case.keep).astype(problem.dtype)


def _layer_shapes(case: ConvLayerCase) -> tuple[Shape, Shape]:
    in_shape, out_shape = _conv_shapes(case)
    if case.flatten:
        return in_shape, (out_shape[0], int(np.prod(out_shape[1:])))  # [N, C, H, W] -> [N, C*H*W]
    return in_shape, out_shape


def _layer_params(case: ConvLayerCase) -> dict[str, Shape]:
    params = _conv_params(case)
    if case.bias:
        params["B"] = (1, case.cout, 1, 1)
    return params


def _scratch_layer(problem: Problem) -> scratch.Conv2D:
    c = problem.case_as(ConvLayerCase)
    layer = scratch.Conv2D(
        c.cout,
        c.k,
        dropout=c.keep,
        activation=getattr(scratch, c.act)(),
        flatten=c.flatten,
        padding=c.padding,
        stride=c.stride,
        bias=c.bias,
    )
    layer.load_params([problem.params[k].copy() for k in ("W", "B") if k in problem.params])
    if "mask" in problem.extras:
        op = layer.dropout_op
        if op is None:
            raise RuntimeError("a dropout case needs a Conv2D layer with dropout < 1")
        op.set_mask(problem.extras["mask"], persistent=True)
    return layer


def _torch_layer(problem: Problem) -> Any:
    ti = _ti()
    c = problem.case_as(ConvLayerCase)
    layer = ti.Conv2D(
        c.cin,
        c.cout,
        c.k,
        getattr(ti, c.act)(),
        dropout=c.keep,
        flatten=c.flatten,
        padding=c.padding,
        stride=c.stride,
        bias=c.bias,
        dtype=torch_dtype(problem.dtype),
    )
    if "mask" in problem.extras:
        layer.dropout_module.set_mask(to_tensor(problem.extras["mask"]), persistent=True)
    return layer


def _layer_case(name: str, **options: Any) -> ConvLayerCase:
    base: dict[str, Any] = {"n": 3, "cin": 2, "cout": 4, "h": 7, "w": 8, "k": 3, "act": "Tanh"}
    return ConvLayerCase(name, **{**base, **options})


def _conv2d_layer_spec(bias: bool) -> ComponentSpec[ConvLayerCase]:
    cases: tuple[ConvLayerCase, ...] = (
        _layer_case("tanh-book-padding"),
        _layer_case("relu-pad0-stride2", act="ReLU", padding=0, stride=2),
        _layer_case("sigmoid-flatten", act="Sigmoid", flatten=True),
        _layer_case("tanh-flatten-dropout0.8-train", flatten=True, keep=0.8, k=5),
        _layer_case("tanh-flatten-dropout0.8-inference", flatten=True, keep=0.8, k=5, inference=True),
        _layer_case("linear-even-k2-same", act="Linear", k=2, padding="same"),
        _layer_case("tanh-N1-1to1-9x5", n=1, cin=1, cout=1, h=9, w=5, k=3),
    )
    if bias:
        cases = tuple(replace(c, bias=True) for c in cases)
    return operation_spec(
        name="Conv2D+bias" if bias else "Conv2D",
        chapter=5,
        scratch_class=scratch.Conv2D,
        torch_class=TorchClass("Conv2D"),
        scratch_detail="(bias=True)" if bias else "",
        torch_detail="(bias=True)" if bias else "",
        cases=cases,
        shapes=_layer_shapes,
        param_shapes=_layer_params,
        converter=CONV2D_BIAS if bias else CONV2D,
        build_scratch=_scratch_layer,
        build_torch=_torch_layer,
        prepare=_layer_mask,
        torch_call=lambda module, x, problem: module(x, inference=problem.case.inference),
        arguments=(
            Argument("out_channels", "positive_int", lambda v: scratch.Conv2D(v, 3), lambda v: _ti().Conv2D(2, v, 3)),
            Argument("param_size", "positive_int", lambda v: scratch.Conv2D(4, v), lambda v: _ti().Conv2D(2, 4, v)),
            Argument(
                "stride",
                "positive_int",
                lambda v: scratch.Conv2D(4, 3, stride=v),
                lambda v: _ti().Conv2D(2, 4, 3, stride=v),
            ),
            Argument(
                "dropout",
                "keep_prob",
                lambda v: scratch.Conv2D(4, 3, dropout=v),
                lambda v: _ti().Conv2D(2, 4, 3, dropout=v),
            ),
        ),
        bench=() if bias else (ConvLayerCase("N32-1to16-28x28-k5-tanh-flatten", 32, 1, 16, 28, 28, 5, flatten=True),),
        floor=None if bias else floors.conv_layer_floor(),
        errors=()
        if bias
        else (
            ErrorCase(
                "channels-changed",
                scratch=lambda: [
                    layer := scratch.Conv2D(2, 3),
                    layer.forward(seq((1, 1, 5, 5))),
                    layer.forward(seq((1, 2, 5, 5))),
                ],
                torch=lambda: _ti().Conv2D(1, 2, 3, dtype=torch_dtype(np.float64))(tensor(seq((1, 2, 5, 5)))),
                exc=ValueError,
                match=r"channel",
            ),
            ErrorCase(
                "unknown-weight-init",
                scratch=lambda: scratch.Conv2D(2, 3, weight_init="he"),
                torch=lambda: _ti().Conv2D(1, 2, 3, weight_init="he"),
                exc=ValueError,
                match=r"weight_init",
            ),
            ErrorCase(
                "keep-prob-zero",
                scratch=lambda: scratch.Conv2D(2, 3, dropout=0.0),
                torch=lambda: _ti().Conv2D(1, 2, 3, dropout=0.0),
                exc=ValueError,
                match=r"dropout|keep",
            ),
        ),
        notes="ops: conv, (channel bias), activation, (flatten), (dropout); the book's Conv2D has no bias",
    )


def _pool_shapes(case: PoolCase) -> tuple[Shape, Shape]:
    n, c, h, w = case.shape
    k = case.k
    s = case.stride or k
    return (n, c, h, w), (n, c, (h - k) // s + 1, (w - k) // s + 1)


def _relu_ties(problem: Problem, rng: np.random.Generator) -> None:
    """Clip at zero like a preceding ReLU: many windows then hold several tied maxima (zeros)."""
    if problem.case_as(PoolCase).ties:
        problem.inputs["x"] = np.maximum(problem.inputs["x"] - 0.8, 0).astype(problem.dtype)


def _pool_spec(name: str) -> ComponentSpec[PoolCase]:
    cases = (
        PoolCase("N2-3ch-6x8-k2", (2, 3, 6, 8), 2),
        PoolCase("N2-2ch-7x9-k3-s2-overlap", (2, 2, 7, 9), 3, 2),
        PoolCase("N1-2ch-6x5-k2-s1-overlap", (1, 2, 6, 5), 2, 1),
        PoolCase("N3-2ch-8x8-k2-relu-ties", (3, 2, 8, 8), 2, ties=True),
        PoolCase("N2-1ch-9x7-k3-s1-relu-ties", (2, 1, 9, 7), 3, 1, ties=True),
    )
    skips: tuple[Skip, ...] = ()
    if name == "MaxPool2D":
        tied = tuple(c.name for c in cases if c.ties)
        skips = (Skip("fd", "tied maxima are kinks of max: no derivative for central differences to estimate", tied),)

    def build_scratch(p: Problem) -> Any:
        return getattr(scratch, name)(p.case_as(PoolCase).k, p.case_as(PoolCase).stride)

    def build_torch(p: Problem) -> Any:
        return getattr(_ti(), name)(p.case_as(PoolCase).k, p.case_as(PoolCase).stride)

    return operation_spec(
        name=name,
        chapter=5,
        scratch_class=getattr(scratch, name),
        torch_class=TorchClass(name),
        cases=cases,
        skips=skips,
        shapes=_pool_shapes,
        build_scratch=build_scratch,
        build_torch=build_torch,
        prepare=_relu_ties,
        bench=(PoolCase("N32-16ch-28x28-k2", (32, 16, 28, 28), 2),),
        arguments=(
            Argument(
                "kernel_size", "positive_int", lambda v: getattr(scratch, name)(v), lambda v: getattr(_ti(), name)(v)
            ),
            Argument(
                "stride",
                "positive_int",
                lambda v: getattr(scratch, name)(2, v),
                lambda v: getattr(_ti(), name)(2, v),
                choices=(None,),
            ),
        ),
        errors=(
            ErrorCase(
                "window-larger-than-input",
                scratch=lambda: getattr(scratch, name)(4).forward(seq((1, 1, 3, 3))),
                torch=lambda: getattr(_ti(), name)(4)(tensor(seq((1, 1, 3, 3)))),
                exc=ValueError,
                match=r"(?i)window|kernel",
            ),
            ErrorCase(
                "kernel-zero",
                scratch=lambda: getattr(scratch, name)(0),
                torch=lambda: getattr(_ti(), name)(0),
                exc=ValueError,
                match=r"kernel_size",
            ),
            ErrorCase(
                "input-not-4d",
                scratch=lambda: getattr(scratch, name)(2).forward(seq((2, 4, 4))),
                torch=lambda: getattr(_ti(), name)(2)(tensor(seq((2, 4, 4)))),
                exc=ValueError,
                match=r"4-D",
            ),
        ),
        notes="max-pool routes a window's gradient to its first maximum (row-major), like torch, so ties agree"
        if name == "MaxPool2D"
        else "mean over each window",
    )


FLATTEN_SPEC = operation_spec(
    name="Flatten",
    chapter=5,
    scratch_class=scratch.Flatten,
    torch_class=TorchClass("Flatten"),
    cases=(ShapeCase("N3-2x4x5", (3, 2, 4, 5)), ShapeCase("N2-7", (2, 7))),
    shapes=lambda c: (c.shape, (c.shape[0], int(np.prod(c.shape[1:])))),
    build_scratch=lambda p: scratch.Flatten(),
    build_torch=lambda p: _ti().Flatten(),
)

RESHAPE_SPEC = operation_spec(
    name="Reshape",
    chapter=7,
    scratch_class=scratch.Reshape,
    torch_class=TorchClass("Reshape"),
    cases=(ReshapeCase("N3-40-to-2x4x5", 3, (2, 4, 5)), ReshapeCase("N2-12-to-3x4", 2, (3, 4))),
    shapes=lambda c: ((c.n, int(np.prod(c.shape))), (c.n, *c.shape)),
    build_scratch=lambda p: scratch.Reshape(p.case_as(ReshapeCase).shape),
    build_torch=lambda p: _ti().Reshape(p.case_as(ReshapeCase).shape),
    errors=(
        ErrorCase(
            "size-mismatch",
            scratch=lambda: scratch.Reshape((2, 3)).forward(seq((2, 7))),
            torch=lambda: _ti().Reshape((2, 3))(tensor(seq((2, 7)))),
            exc=ValueError,
            match=r"(?i)size|shape",
        ),
    ),
)

SPECS: tuple[ComponentSpec, ...] = (
    CONV2D_OP_SPEC,
    CONV2D_OP_LOOP_SPEC,
    CHANNEL_BIAS_SPEC,
    _conv2d_layer_spec(bias=False),
    _conv2d_layer_spec(bias=True),
    FLATTEN_SPEC,
    RESHAPE_SPEC,
    _pool_spec("MaxPool2D"),
    _pool_spec("AvgPool2D"),
)


def _cnn_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """48 + 24 random 1x8x8 images labelled by a fixed random linear teacher (4 classes): learnable signal."""
    images = rng.standard_normal((72, 1, 8, 8))
    teacher = rng.standard_normal((64, 4))
    labels = np.argmax(images.reshape(72, 64) @ teacher, axis=1)
    one_hot = np.eye(4)[labels]
    return images[:48], images[48:], one_hot[:48], one_hot[48:]


def _cnn_twin(dtype: Any) -> Any:
    ti = _ti()
    return ti.SequentialModel(
        ti.Conv2D(1, 3, 3, ti.Tanh(), flatten=True, bias=True, dtype=dtype), ti.Dense(3 * 8 * 8, 4, dtype=dtype)
    )


def _torch_sce() -> Any:
    return _ti().SoftmaxCrossEntropy()


#: The small CNN's layout: scratch ``NeuralNetwork`` layer i's ``W``/``B`` as ``"{i}.W"`` <-> the twin
#: ``SequentialModel``'s ``layers.{i}.*``.
SMALL_CNN_CONVERTER: TensorConverter = combine(
    "Conv2D+bias -> Dense", [CONV2D_BIAS.prefixed("0.", "layers.0."), DENSE.prefixed("1.", "layers.1.")]
)

SMALL_CNN_TRAINING_SPEC = training_spec(
    name="SmallCNNTraining",
    chapter=5,
    converter=SMALL_CNN_CONVERTER,
    param_shapes={"0.W": (1, 3, 3, 3), "0.B": (1, 3, 1, 1), "1.W": (192, 4), "1.B": (1, 4)},
    make_data=_cnn_data,
    build_scratch=lambda: scratch.NeuralNetwork(
        [scratch.Conv2D(3, 3, activation=scratch.Tanh(), flatten=True, bias=True), scratch.Dense(4)],
        scratch.SoftmaxCrossEntropy(),
    ),
    build_torch=_cnn_twin,
    torch_loss=_torch_sce,
    batch_size=16,
    init_scale=0.3,
    cases=(
        TrainCase("momentum-4-epochs", "SGDMomentum", 0.05, 4),
        TrainCase("sgd-exponential-decay", "SGD", 0.1, 4, final_lr=0.02, decay="exponential"),
    ),
    notes="Conv2D(3, k3, tanh, flatten, bias) -> Dense(4), softmax cross-entropy, batch 16, shared weights/batches",
)

SPECS = (*SPECS, SMALL_CNN_TRAINING_SPEC)
