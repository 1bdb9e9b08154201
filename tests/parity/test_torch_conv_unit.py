"""Unit tests of the chapter 5/7 torch components on their own: convolutions, pooling, reshaping,
``MNISTConvNet``, the torch MNIST pipeline and ``PyTorchTrainer`` with DataLoaders (torch only)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the usual PyTorch spelling)
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from data.mnist import MnistData, normalize_torchvision_style
from torch_impl import (
    AvgPool2D,
    ChannelBiasAdd,
    Compose,
    Conv2D,
    Conv2D_Op,
    ConvLayer,
    DenseLayer,
    Dropout,
    Flatten,
    MaxPool2D,
    MNISTConvNet,
    MNISTDataset,
    Normalize,
    PyTorchTrainer,
    Reshape,
    SequentialModel,
    Tanh,
    ToTensor,
    accuracy,
    conv_glorot_std,
    conv_output_size,
    mnist_loaders,
    mnist_transforms,
    torchvision_available,
    transforms_backend,
)

DTYPES = [torch.float32, torch.float64]

# padding="same" with an even kernel makes torch warn that it pads a copy of the input; that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype, generator=gen(seed))


def conv_op(cin: int, cout: int, k: int, seed: int = 1, **kwargs: Any) -> Conv2D_Op:
    op = Conv2D_Op(cin, cout, k, dtype=kwargs.pop("dtype", torch.float64), **kwargs)
    with torch.no_grad():
        op.weight.copy_(randn(*op.weight.shape, dtype=op.weight.dtype, seed=seed))
    return op


def explicit_padding(x: torch.Tensor, padding: Any, k: int) -> torch.Tensor:
    """``x`` zero-padded the way the padding argument is documented (independently of the layers)."""
    if padding == "same":
        before = (k - 1) // 2
        after = k - 1 - before
        return F.pad(x, (before, after, before, after))
    p = k // 2 if padding is None else padding
    return F.pad(x, (p, p, p, p))


def expected_size(size: int, k: int, padding: Any, stride: int) -> int:
    pads = k - 1 if padding == "same" else 2 * (k // 2 if padding is None else padding)
    return (size + pads - k) // stride + 1


# --------------------------------------------------------------------------------------------------------
# Padding modes, strides and output sizes
# --------------------------------------------------------------------------------------------------------
GEOMETRIES = [
    (k, padding, stride)
    for k in (1, 2, 3, 4, 5)
    for padding in (None, 0, 1, 3, "same")
    for stride in (1, 2, 3)
    if not (padding == "same" and stride > 1)
]


@pytest.mark.parametrize(("k", "padding", "stride"), GEOMETRIES)
def test_conv_padding_modes_and_output_sizes(k: int, padding: Any, stride: int) -> None:
    x = randn(2, 3, 7, 9)  # H != W
    op = conv_op(3, 4, k, padding=padding, stride=stride)
    out = op(x)
    h, w = expected_size(7, k, padding, stride), expected_size(9, k, padding, stride)
    assert out.shape == (2, 4, h, w)
    assert (conv_output_size(7, k, padding, stride), conv_output_size(9, k, padding, stride)) == (h, w)
    # the documented padding, applied by hand, then a padding-free convolution
    reference = F.conv2d(explicit_padding(x, padding, k), op.weight, None, stride, 0)
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-12)
    # the layer (nn.Conv2d) pads the same way
    layer = ConvLayer(3, 4, k, padding=padding, stride=stride, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.conv.weight.copy_(op.weight)
    assert layer.padding == op.padding
    assert layer.output_shape(7, 9) == (4, h, w)
    torch.testing.assert_close(layer(x), out, rtol=0, atol=1e-12)


def test_padding_none_is_the_books_k_over_2() -> None:
    assert Conv2D_Op(1, 1, 5).padding == 2
    assert Conv2D_Op(1, 1, 4).padding == 2
    assert Conv2D_Op(1, 1, 4, padding="same").padding == "same"
    assert ConvLayer(1, 1, 3).padding == 1
    # odd k: "same" size; even k: one more row and column than the input
    assert conv_op(1, 1, 5)(randn(1, 1, 6, 8)).shape == (1, 1, 6, 8)
    assert conv_op(1, 1, 4)(randn(1, 1, 6, 8)).shape == (1, 1, 7, 9)
    assert conv_op(1, 1, 4, padding="same")(randn(1, 1, 6, 8)).shape == (1, 1, 6, 8)


# --------------------------------------------------------------------------------------------------------
# Conv2D_Op and ChannelBiasAdd
# --------------------------------------------------------------------------------------------------------
def _loop_cross_correlation(x: torch.Tensor, w: torch.Tensor, p: int, s: int) -> torch.Tensor:
    """out[n, o, h, w] = Σ x_pad[n, c, s·h + i, s·w + j] · w[o, c, i, j], written out with loops."""
    xp = F.pad(x, (p, p, p, p))
    n, _, hp, wp = xp.shape
    cout, _, k, _ = w.shape
    ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
    out = torch.zeros(n, cout, ho, wo, dtype=x.dtype)
    for b in range(n):
        for o in range(cout):
            for r in range(ho):
                for c in range(wo):
                    out[b, o, r, c] = (xp[b, :, s * r : s * r + k, s * c : s * c + k] * w[o]).sum()
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_op_equals_f_conv2d_and_its_definition(dtype: torch.dtype) -> None:
    x = randn(2, 3, 6, 5, dtype=dtype, seed=3).requires_grad_(True)
    op = conv_op(3, 2, 3, padding=1, stride=2, dtype=dtype)
    assert op.weight.shape == (2, 3, 3, 3)  # [C_out, C_in, k, k]
    out = op(x)
    assert out.dtype == dtype
    assert torch.equal(out, F.conv2d(x, op.weight, None, 2, 1))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out, _loop_cross_correlation(x.detach(), op.weight.detach(), 1, 2), rtol=0, atol=tol)
    # autograd gradients are those of F.conv2d
    g = randn(*out.shape, dtype=dtype, seed=4)
    gx, gw = torch.autograd.grad(out, (x, op.weight), g)
    w_ref = op.weight.detach().clone().requires_grad_(True)
    gx_ref, gw_ref = torch.autograd.grad(F.conv2d(x, w_ref, None, 2, 1), (x, w_ref), g)
    assert torch.equal(gx, gx_ref)
    assert torch.equal(gw, gw_ref)


def test_conv2d_op_starts_at_zero_and_loads_state() -> None:
    op = Conv2D_Op(2, 3, 3, dtype=torch.float64)
    assert op.weight.dtype == torch.float64
    assert not op.weight.detach().any()
    w = randn(3, 2, 3, 3)
    op.load_state_dict({"weight": w})
    assert torch.equal(op.weight.detach(), w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_channel_bias_add(dtype: torch.dtype) -> None:
    add = ChannelBiasAdd(3, dtype=dtype)
    assert add.bias.shape == (3,)
    with torch.no_grad():
        add.bias.copy_(torch.tensor([1.0, -2.0, 0.5], dtype=dtype))
    x = randn(2, 3, 4, 5, dtype=dtype)
    out = add(x)
    assert torch.equal(out, x + add.bias.detach().reshape(1, 3, 1, 1))
    g = randn(*out.shape, dtype=dtype, seed=2)
    (gb,) = torch.autograd.grad(out, add.bias, g)
    torch.testing.assert_close(gb, g.sum(dim=(0, 2, 3)))


# --------------------------------------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------------------------------------
def test_conv_init_normal_and_glorot_statistics() -> None:
    normal = ConvLayer(16, 64, 3, weight_init="normal", generator=gen(0), dtype=torch.float64)
    w = normal.conv.weight.detach()
    n = w.numel()  # 9216 draws: the sample std is within 5 standard errors (1/sqrt(2n)) of the true one
    assert abs(float(w.std()) - 1.0) < 5 / math.sqrt(2 * n)
    assert abs(float(w.mean())) < 5 / math.sqrt(n)

    glorot = ConvLayer(16, 64, 3, weight_init="glorot", generator=gen(1), dtype=torch.float64)
    std = math.sqrt(2.0 / ((16 + 64) * 3 * 3))
    assert conv_glorot_std(16, 64, 3) == pytest.approx(std)
    w = glorot.conv.weight.detach()
    assert abs(float(w.std()) / std - 1.0) < 5 / math.sqrt(2 * n)
    # torch's xavier_normal_ has the same scale
    xavier = nn.init.xavier_normal_(torch.empty(64, 16, 3, 3, dtype=torch.float64), generator=gen(2))
    assert abs(float(xavier.std()) / std - 1.0) < 5 / math.sqrt(2 * n)


@pytest.mark.parametrize(("scheme", "std"), [("normal", 1.0), ("glorot", math.sqrt(2.0 / ((3 + 5) * 16)))])
def test_conv_init_draws_weight_then_bias_from_the_generator(scheme: str, std: float) -> None:
    layer = ConvLayer(3, 5, 4, weight_init=scheme, generator=gen(7), dtype=torch.float64)
    g = gen(7)
    weight = torch.empty(5, 3, 4, 4, dtype=torch.float64).normal_(0.0, std, generator=g)
    bias = torch.empty(5, dtype=torch.float64).normal_(0.0, std, generator=g)
    assert torch.equal(layer.conv.weight.detach(), weight)
    assert layer.conv.bias is not None
    assert torch.equal(layer.conv.bias.detach(), bias)


def test_conv_init_torch_equals_nn_conv2d_default_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(0)
    reference = nn.Conv2d(3, 4, 5)
    state = torch.get_rng_state()
    layer = ConvLayer(3, 4, 5, generator=gen(0))
    assert torch.equal(torch.get_rng_state(), state)
    ours = layer.conv.state_dict()
    assert list(ours) == ["weight", "bias"]
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    a, b = Conv2D(2, 3, 3, generator=gen(5)), Conv2D(2, 3, 3, generator=gen(5))
    assert torch.equal(a.conv.weight, b.conv.weight)


# --------------------------------------------------------------------------------------------------------
# ConvLayer / Conv2D
# --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_layer_forward_shapes_and_flatten(dtype: torch.dtype) -> None:
    x = randn(4, 3, 10, 8, dtype=dtype)
    layer = ConvLayer(3, 6, 3, activation=Tanh(), generator=gen(0), dtype=dtype)
    out = layer(x)
    assert out.shape == (4, 6, 10, 8)
    assert out.dtype == dtype
    assert torch.equal(out, torch.tanh(layer.conv(x)))
    flat = ConvLayer(3, 6, 3, activation=Tanh(), flatten=True, generator=gen(0), dtype=dtype)
    assert flat(x).shape == (4, 6 * 10 * 8)
    assert torch.equal(flat(x), out.flatten(1))
    assert flat.output_shape(10, 8) == (480,)
    strided = ConvLayer(3, 2, 5, flatten=True, padding=0, stride=2, dtype=dtype)
    assert strided(x).shape == (4, 2 * 3 * 2)


def test_conv_layer_state_keys_and_dropout_kinds() -> None:
    assert list(ConvLayer(1, 2, 3).state_dict()) == ["conv.weight", "conv.bias"]
    assert list(Conv2D(1, 2, 3).state_dict()) == ["conv.weight"]
    assert list(Conv2D(1, 2, 3, bias=True).state_dict()) == ["conv.weight", "conv.bias"]
    assert ConvLayer(1, 2, 3).dropout_module is None
    assert isinstance(ConvLayer(1, 2, 3, dropout=0.8).dropout_module, nn.Dropout)
    with_gen = ConvLayer(1, 2, 3, dropout=0.8, generator=gen(0)).dropout_module
    assert isinstance(with_gen, Dropout)
    assert with_gen.inverted
    book = Conv2D(1, 2, 3, dropout=0.8)
    assert isinstance(book.dropout_op, Dropout)
    assert not book.dropout_op.inverted
    assert book.dropout_module is book.dropout_op
    assert Conv2D(1, 2, 3).dropout_op is None
    assert book.param_size == book.kernel_size == 3
    assert book.weight_init == "normal"


def test_conv_layer_dropout_modes_and_inference() -> None:
    x = randn(2, 1, 5, 5)
    book = Conv2D(1, 3, 3, activation=Tanh(), dropout=0.8, flatten=True, generator=gen(0), dtype=torch.float64)
    plain = torch.tanh(book.conv(x)).flatten(1)
    torch.testing.assert_close(book(x, inference=True), 0.8 * plain)
    assert book.training  # inference=True leaves the flag alone
    mask = (randn(2, 75, seed=9) > 0).double()
    assert book.dropout_op is not None
    book.dropout_op.set_mask(mask)
    torch.testing.assert_close(book(x), plain * mask)  # book dropout: no rescaling; after flatten
    inverted = ConvLayer(1, 3, 3, activation=Tanh(), dropout=0.8, dtype=torch.float64)
    assert torch.equal(inverted(x, inference=True), torch.tanh(inverted.conv(x)))
    inverted.eval()
    assert torch.equal(inverted(x), torch.tanh(inverted.conv(x)))


# --------------------------------------------------------------------------------------------------------
# MNISTConvNet
# --------------------------------------------------------------------------------------------------------
def test_mnist_conv_net_structure_and_output() -> None:
    model = MNISTConvNet(generator=gen(0))
    assert [name for name, _ in model.named_children()] == ["conv1", "conv2", "dense1", "dense2"]
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {
        "conv1.conv.weight": (14, 1, 5, 5),
        "conv1.conv.bias": (14,),
        "conv2.conv.weight": (7, 14, 5, 5),
        "conv2.conv.bias": (7,),
        "dense1.linear.weight": (32, 5488),
        "dense1.linear.bias": (32,),
        "dense2.linear.weight": (10, 32),
        "dense2.linear.bias": (10,),
    }
    x = randn(3, 1, 28, 28, dtype=torch.float32)
    out = model(x)
    assert out.shape == (3, 10)
    assert out.dtype == torch.float32
    assert torch.equal(model(x, inference=True), model(x, inference=True))  # no dropout at inference
    same = MNISTConvNet(generator=gen(0))
    for (name, a), b in zip(model.state_dict().items(), same.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert MNISTConvNet(dtype=torch.float64)(x.double()).dtype == torch.float64


def test_mnist_conv_net_training_step_reduces_loss() -> None:
    model = MNISTConvNet(generator=gen(1))
    x = randn(8, 1, 28, 28, dtype=torch.float32, seed=2)
    y = torch.arange(8) % 10
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with torch.no_grad():
        before = float(criterion(model(x, inference=True), y))
    for _ in range(3):
        opt.zero_grad()
        criterion(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        after = float(criterion(model(x, inference=True), y))
    assert after < before


# --------------------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------------------
def test_pooling_values_and_output_sizes() -> None:
    a = torch.tensor([[1.0, 5, 2, 6], [3, 4, 0, 1], [9, 2, 7, 3], [0, 8, 1, 2]], dtype=torch.float64)[None, None]
    assert MaxPool2D()(a).squeeze().tolist() == [[5.0, 6.0], [9.0, 7.0]]
    assert AvgPool2D()(a).squeeze().tolist() == [[3.25, 2.25], [4.75, 3.25]]
    x = randn(2, 3, 5, 7)
    for pool_cls, fn in ((MaxPool2D, F.max_pool2d), (AvgPool2D, F.avg_pool2d)):
        for k, s in ((2, None), (3, 2), (2, 1)):
            pool = pool_cls(k, s)
            out = pool(x)
            stride = k if s is None else s
            assert out.shape == (2, 3, (5 - k) // stride + 1, (7 - k) // stride + 1)  # floor
            assert out.shape[2:] == (pool.output_size(5), pool.output_size(7))
            assert torch.equal(out, fn(x, k, stride))


def test_max_pool_ties_route_the_gradient_to_the_first_maximum() -> None:
    # window (0,0): all four equal; window (0,1): tie at its (0,1) and (1,0) entries; window (1,0): tie on
    # the second row; window (1,1): a single maximum
    x = torch.tensor(
        [[3.0, 3, 1, 7], [3, 3, 7, 2], [0, 1, 4, 0], [5, 5, 0, 2]], dtype=torch.float64, requires_grad=True
    )
    out = MaxPool2D(2)(x[None, None])
    assert out.squeeze().tolist() == [[3.0, 7.0], [5.0, 4.0]]
    g = torch.tensor([[[[10.0, 20.0], [30.0, 40.0]]]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(out, x, g)
    expected = torch.tensor(
        [[10.0, 0, 0, 20], [0, 0, 0, 0], [0, 0, 40, 0], [30, 0, 0, 0]], dtype=torch.float64
    )  # hand-computed: the first maximum in row-major order of each window gets the window's gradient
    assert torch.equal(grad, expected)
    # overlapping windows (stride 1): each window sends its gradient to its own first maximum
    z = torch.tensor([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    out_z = MaxPool2D(kernel_size=2, stride=1)(z[None, None])  # windows start at columns 0 and 1
    (grad_z,) = torch.autograd.grad(out_z, z, torch.tensor([[[[1.0, 5.0]]]], dtype=torch.float64))
    assert grad_z.tolist() == [[1.0, 5.0, 0.0], [0.0, 0.0, 0.0]]


def test_avg_pool_gradient_is_spread_evenly() -> None:
    x = randn(1, 1, 4, 4).requires_grad_(True)
    out = AvgPool2D(2)(x)
    g = torch.tensor([[[[4.0, 8.0], [12.0, 16.0]]]], dtype=torch.float64)
    (grad,) = torch.autograd.grad(out, x, g)
    expected = g.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) / 4
    assert torch.equal(grad, expected)


# --------------------------------------------------------------------------------------------------------
# Flatten and Reshape
# --------------------------------------------------------------------------------------------------------
def test_flatten_and_reshape_round_trip() -> None:
    x = randn(3, 7, 4, 5).requires_grad_(True)
    flat = Flatten()(x)
    assert flat.shape == (3, 140)
    assert torch.equal(flat, x.reshape(3, -1))
    back = Reshape((7, 4, 5))(flat)
    assert torch.equal(back, x)
    g = randn(3, 7, 4, 5, seed=1)
    (grad,) = torch.autograd.grad(back, x, g)
    assert torch.equal(grad, g)
    assert Reshape(6)(randn(2, 2, 3)).shape == (2, 6)
    assert Reshape([2, 3]).shape == (2, 3)


# --------------------------------------------------------------------------------------------------------
# Bad input: every error names the argument, what was expected and what was received
# --------------------------------------------------------------------------------------------------------
def _x(*shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.zeros(*shape, dtype=dtype)


def _nan(*shape: int) -> torch.Tensor:
    x = _x(*shape)
    x.view(-1)[0] = float("nan")
    return x


def _inf(*shape: int) -> torch.Tensor:
    x = _x(*shape)
    x.view(-1)[-1] = float("inf")
    return x


LAYERS: dict[str, Any] = {
    "Conv2D_Op": lambda: Conv2D_Op(3, 2, 3, dtype=torch.float64),
    "ConvLayer": lambda: ConvLayer(3, 2, 3, dtype=torch.float64),
    "Conv2D": lambda: Conv2D(3, 2, 3, dtype=torch.float64),
}
INPUT_ERRORS = [
    (
        "not-4d",
        lambda: _x(2, 3, 5),
        ValueError,
        r"input must be a 4-D tensor \[batch, channels, height, width\]; received shape \(2, 3, 5\)",
    ),
    (
        "channels",
        lambda: _x(2, 4, 5, 5),
        ValueError,
        r"input must have 3 channels \(the layer was built for in_channels=3\); received shape \(2, 4, 5, 5\)",
    ),
    (
        "int-dtype",
        lambda: torch.zeros(2, 3, 5, 5, dtype=torch.int64),
        TypeError,
        r"input must have a floating-point dtype .*received dtype torch.int64",
    ),
    ("nan", lambda: _nan(2, 3, 5, 5), ValueError, r"input must contain only finite values; received 1 NaN/inf"),
    ("inf", lambda: _inf(2, 3, 5, 5), ValueError, r"input must contain only finite values; received 1 NaN/inf"),
    ("empty", lambda: _x(0, 3, 5, 5), ValueError, r"input must be a non-empty batch; received shape \(0, 3, 5, 5\)"),
    (
        "dtype-mismatch",
        lambda: _x(2, 3, 5, 5, dtype=torch.float32),
        TypeError,
        r"input must have the dtype of the layer's weight \(torch.float64\); received dtype torch.float32",
    ),
    ("not-a-tensor", lambda: np.zeros((2, 3, 5, 5)), TypeError, r"input must be a torch.Tensor of floats; received"),
]


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize(("case", "make", "exc", "match"), INPUT_ERRORS, ids=[c[0] for c in INPUT_ERRORS])
def test_conv_bad_inputs(layer: str, case: str, make: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=f"{layer} {match}"):
        LAYERS[layer]()(make())


@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_kernel_larger_than_padded_input(layer: str) -> None:
    make = LAYERS[layer]
    module = make()
    module(_x(1, 3, 1, 1))  # k=3, padding 1: 3x3 once padded, just enough
    op = Conv2D_Op(3, 2, 5, padding=0, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"Conv2D_Op input must be at least 5x5 once padded \(kernel_size=5, padding=0\): the kernel is larger "
        r"than the padded input; received shape \(1, 3, 4, 6\), 4x6 once padded",
    ):
        op(_x(1, 3, 4, 6))
    big = ConvLayer(3, 2, 7, padding=1, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"ConvLayer input must be at least 7x7 once padded .*received shape \(1, 3, 8, 4\), 10x6"
    ):
        big(_x(1, 3, 8, 4))
    with pytest.raises(ValueError, match=r"size must be at least 5 once padded"):
        conv_output_size(2, 5, 0)


@pytest.mark.parametrize("cls", [Conv2D_Op, ConvLayer, Conv2D])
def test_conv_bad_arguments(cls: Any) -> None:
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1; received 0"):
        cls(1, 1, 3, stride=0)
    with pytest.raises(TypeError, match=r"stride must be an integer >= 1; received float 1.5"):
        cls(1, 1, 3, stride=1.5)
    with pytest.raises(
        ValueError,
        match=r"padding must be None \(the book's kernel_size // 2\), an integer >= 0 or 'same'; received -1",
    ):
        cls(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"padding must be None .* or 'same'; received 'valid'"):
        cls(1, 1, 3, padding="valid")
    with pytest.raises(TypeError, match=r"padding must be None .* or 'same'; received float 1.0"):
        cls(1, 1, 3, padding=1.0)
    with pytest.raises(ValueError, match=r"padding='same' requires stride=1 .*; received stride=2"):
        cls(1, 1, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"in_channels must be an integer >= 1; received 0"):
        cls(0, 1, 3)
    with pytest.raises(ValueError, match=r"out_channels must be an integer >= 1; received 0"):
        cls(1, 0, 3)
    kernel_name = {Conv2D_Op: "kernel_size", ConvLayer: "filter_size", Conv2D: "param_size"}[cls]
    with pytest.raises(TypeError, match=f"{kernel_name} must be an integer >= 1; received float 3.0"):
        cls(1, 1, 3.0)


def test_conv_layer_bad_options() -> None:
    with pytest.raises(
        ValueError, match=r"weight_init must be one of \('torch', 'normal', 'glorot'\); received 'standard'"
    ):
        ConvLayer(1, 1, 3, weight_init="standard")
    with pytest.raises(ValueError, match=r"dropout must be a keep probability in \(0, 1\]; received 0"):
        Conv2D(1, 1, 3, dropout=0)
    with pytest.raises(
        TypeError, match=r"activation must be an nn.Module instance such as Tanh\(\); received the class Tanh"
    ):
        ConvLayer(1, 1, 3, activation=Tanh)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        Conv2D(1, 1, 3, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"channels must be an integer >= 1; received 0"):
        ChannelBiasAdd(0)
    add = ChannelBiasAdd(3, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"ChannelBiasAdd input must have 3 channels \(bias has shape \(3,\)\); received shape \(1, 2, 4, 4\)",
    ):
        add(_x(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"ChannelBiasAdd input must be a 4-D tensor"):
        add(_x(2, 3))
    with pytest.raises(
        ValueError, match=r"MNISTConvNet input must have shape \[batch, 1, 28, 28\].*received shape \(2, 1, 28, 27\)"
    ):
        MNISTConvNet()(_x(2, 1, 28, 27, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"MNISTConvNet input must be a 4-D tensor"):
        MNISTConvNet()(_x(2, 784, dtype=torch.float32))


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pooling_bad_inputs(cls: Any) -> None:
    name = cls.__name__
    with pytest.raises(
        ValueError,
        match=f"{name} input must be at least 3x3 \\(kernel_size=3\\): the window is larger than the input; "
        r"received shape \(1, 1, 2, 5\)",
    ):
        cls(3)(_x(1, 1, 2, 5))
    with pytest.raises(ValueError, match=f"{name} input must be a 4-D tensor"):
        cls()(_x(4, 4))
    with pytest.raises(ValueError, match=f"{name} input must contain only finite values"):
        cls()(_nan(1, 1, 4, 4))
    with pytest.raises(ValueError, match=f"{name} input must be a non-empty batch"):
        cls()(_x(0, 1, 4, 4))
    with pytest.raises(TypeError, match=f"{name} input must have a floating-point dtype"):
        cls()(torch.zeros(1, 1, 4, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"kernel_size must be an integer >= 1; received 0"):
        cls(0)
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1; received 0"):
        cls(2, 0)


def test_reshape_bad_inputs() -> None:
    with pytest.raises(
        ValueError,
        match=r"Reshape input must have 12 values per sample to be reshaped to \(3, 4\) .*received shape \(2, 10\)",
    ):
        Reshape((3, 4))(_x(2, 10))
    with pytest.raises(ValueError, match=r"Reshape input must have 12 values per sample"):
        Reshape((3, 4))(_x(12))
    with pytest.raises(TypeError, match=r"shape must be an integer or a non-empty sequence of integers"):
        Reshape("34")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape\[1\] must be an integer >= 1; received 0"):
        Reshape((3, 0))
    with pytest.raises(
        ValueError, match=r"Flatten input must have at least 2 dimensions \[batch, ...\]; received shape \(5,\)"
    ):
        Flatten()(_x(5))
    with pytest.raises(ValueError, match=r"Flatten input must contain only finite values"):
        Flatten()(_inf(2, 2))


# --------------------------------------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------------------------------------
def _images(n: int = 5, h: int = 28, w: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w), dtype=np.uint8)


def test_to_tensor_and_normalize_equal_the_formulas() -> None:
    img = _images(1, 6, 9)[0]
    t = ToTensor()(img)
    assert t.dtype == torch.float32
    assert t.shape == (1, 6, 9)
    assert torch.equal(t, torch.from_numpy(img.astype(np.float32))[None] / 255)
    assert float(t.min()) >= 0.0
    assert float(t.max()) <= 1.0
    rgb = np.stack([img, 255 - img, img // 2], axis=-1)  # [H, W, C]
    t3 = ToTensor()(rgb)
    assert t3.shape == (3, 6, 9)
    assert torch.equal(t3[1], torch.from_numpy((255 - img).astype(np.float32)) / 255)
    floats = np.linspace(0, 3, 12).reshape(3, 4)
    assert torch.equal(ToTensor()(floats), torch.from_numpy(floats)[None])  # floats: no scaling, dtype kept

    norm = Normalize((0.1305,), (0.3081,))
    out = norm(t)
    mean32, std32 = torch.tensor(0.1305, dtype=torch.float32), torch.tensor(0.3081, dtype=torch.float32)
    assert torch.equal(out, (t - mean32) / std32)
    assert torch.equal(t, torch.from_numpy(img.astype(np.float32))[None] / 255)  # input untouched
    three = Normalize([0.5, 0.25, 0.0], [0.5, 2.0, 1.0])(t3.double())
    expected = (t3.double() - torch.tensor([0.5, 0.25, 0.0]).double()[:, None, None]) / torch.tensor(
        [0.5, 2.0, 1.0]
    ).double()[:, None, None]
    assert torch.equal(three, expected)
    assert torch.equal(Normalize(0.5, 2.0)(t3), (t3 - 0.5) / 2.0)  # one value for every channel

    pipeline = mnist_transforms(prefer_torchvision=False)
    assert transforms_backend(pipeline) == "torch_impl"
    assert isinstance(pipeline, Compose)
    x = pipeline(img)
    assert torch.equal(x, out)
    np.testing.assert_allclose(x.numpy()[0], normalize_torchvision_style(img), rtol=0, atol=1e-6)


def _require_torchvision() -> None:
    """Skip where torchvision does not import, except in the versions matrix's torchvision combination
    (``DLFS_REQUIRE_TORCHVISION=1``), where that is a failure: the path must run somewhere."""
    if torchvision_available():
        return
    if os.environ.get("DLFS_REQUIRE_TORCHVISION"):
        pytest.fail("DLFS_REQUIRE_TORCHVISION is set, but torchvision does not import next to this torch")
    pytest.skip("torchvision does not import here (the versions session's torchvision combination runs this)")


def test_transforms_equal_torchvision_where_it_imports() -> None:
    _require_torchvision()
    import torchvision.transforms as tv  # type: ignore[import-not-found, unused-ignore]

    assert transforms_backend(mnist_transforms()) == "torchvision"
    img = _images(1)[0]
    assert torch.equal(ToTensor()(img), tv.ToTensor()(img))
    ours = Compose([ToTensor(), Normalize((0.1305,), (0.3081,))])(img)
    theirs = tv.Compose([tv.ToTensor(), tv.Normalize((0.1305,), (0.3081,))])(img)
    assert torch.equal(ours, theirs)
    rgb = np.random.default_rng(1).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)  # [H, W, C]
    assert torch.equal(ToTensor()(rgb), tv.ToTensor()(rgb))
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.5, 1.5)
    assert torch.equal(Normalize(mean, std)(ToTensor()(rgb)), tv.Normalize(mean, std)(tv.ToTensor()(rgb)))
    as_float = rgb.astype(np.float32) / 255  # a float image keeps its values in both
    assert torch.equal(ToTensor()(as_float), tv.ToTensor()(as_float))


def test_mnist_pipeline_through_torchvision_equals_the_fallback_bit_for_bit() -> None:
    """The chapter 7 pipeline, whole: the notebook's MNIST dataset, its transforms and a DataLoader, once with
    torchvision's transforms and once with the project's; every batch equal bit for bit."""
    _require_torchvision()
    from torch.utils.data import DataLoader

    from torch_impl.book import ch7

    assert ch7.transforms.__name__ == "torchvision.transforms"  # the notebook's cells get torchvision's
    try:
        theirs = ch7.MNIST(train=True, transform=mnist_transforms(), rows=512)
    except FileNotFoundError as exc:
        pytest.skip(f"MNIST IDX files not found: {exc}")
    ours = ch7.MNIST(train=True, transform=mnist_transforms(prefer_torchvision=False), rows=512)
    assert transforms_backend(theirs.transform) == "torchvision"
    assert transforms_backend(ours.transform) == "torch_impl"
    batches = zip(DataLoader(theirs, batch_size=100), DataLoader(ours, batch_size=100), strict=True)
    for (x_tv, y_tv), (x_ours, y_ours) in batches:
        assert x_tv.dtype == x_ours.dtype == torch.float32
        assert x_tv.shape[1:] == (1, 28, 28)
        assert torch.equal(x_tv, x_ours)
        assert torch.equal(y_tv, y_ours)


def test_default_transforms_backend_follows_torchvision_availability() -> None:
    expected = "torchvision" if torchvision_available() else "torch_impl"
    assert transforms_backend(mnist_transforms()) == expected
    assert transforms_backend(mnist_transforms(prefer_torchvision=False)) == "torch_impl"


def test_compose_applies_in_order_and_transform_errors() -> None:
    assert Compose([lambda v: v + 1, lambda v: v * 10])(1) == 20
    with pytest.raises(
        TypeError, match=r"transforms\[0\] must be a transform instance .*received the class ToTensor itself"
    ):
        Compose([ToTensor])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"transforms must be a sequence of callables"):
        Compose(ToTensor())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ToTensor input must be a numpy.ndarray image"):
        ToTensor()([[1, 2]])
    with pytest.raises(
        ValueError,
        match=r"ToTensor input must be a 2-D \[H, W\] or 3-D \[H, W, C\] image; received shape \(2, 2, 2, 2\)",
    ):
        ToTensor()(np.zeros((2, 2, 2, 2), dtype=np.uint8))
    with pytest.raises(TypeError, match=r"ToTensor input must have dtype uint8 .*received dtype int64"):
        ToTensor()(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"std must be > 0; received \(0.0,\)"):
        Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match=r"mean must be finite"):
        Normalize(float("nan"), 1.0)
    with pytest.raises(
        ValueError,
        match=r"Normalize input must have 2 channel\(s\) to match mean=\(0.1, 0.2\); received shape \(3, 4, 4\)",
    ):
        Normalize((0.1, 0.2), (1.0, 1.0))(torch.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"Normalize input must be a floating-point torch.Tensor"):
        Normalize(0.1, 1.0)(torch.zeros(1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"Normalize input must have at least 3 dimensions"):
        Normalize(0.1, 1.0)(torch.zeros(4, 4))


# --------------------------------------------------------------------------------------------------------
# MNISTDataset and DataLoaders
# --------------------------------------------------------------------------------------------------------
def _fake_mnist(n_train: int = 50, n_test: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # labels 0..n-1 identify the rows, so every batch can be traced back to its images
    return _images(n_train, seed=1), np.arange(n_train), _images(n_test, seed=2), np.arange(n_test)


def test_mnist_dataset_items() -> None:
    X, y, _, _ = _fake_mnist()
    raw = MNISTDataset(X, y)
    assert len(raw) == 50
    image, label = raw[3]
    assert label == 3
    assert isinstance(label, int)
    assert image.dtype == np.uint8
    assert np.array_equal(image, X[3])
    ds = MNISTDataset(X, y, transform=mnist_transforms(prefer_torchvision=False))
    tensor, label = ds[7]
    assert tensor.shape == (1, 28, 28)
    assert tensor.dtype == torch.float32
    assert torch.equal(tensor, (torch.from_numpy(X[7].astype(np.float32))[None] / 255 - 0.1305) / 0.3081)


def test_mnist_loaders_batches_shapes_dtypes_and_values() -> None:
    X, y, Xt, yt = _fake_mnist()
    transform = mnist_transforms(prefer_torchvision=False)
    train, test = mnist_loaders((X, y, Xt, yt), batch_size=16, generator=gen(3), transform=transform)
    assert train.num_workers == 0
    assert test.num_workers == 0
    batches = list(train)
    assert [len(b[1]) for b in batches] == [16, 16, 16, 2]  # the last batch is partial
    images, labels = batches[0]
    assert images.shape == (16, 1, 28, 28)
    assert images.dtype == torch.float32
    assert labels.shape == (16,)
    assert labels.dtype == torch.int64
    for image, label in zip(images, labels, strict=True):
        assert torch.equal(image, transform(X[int(label)]))
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(50))  # a permutation ...
    assert seen.tolist() != list(range(50))  # ... that is shuffled
    assert torch.cat([b[1] for b in test]).tolist() == list(range(20))  # the test order is kept
    data = MnistData(X, y, Xt, yt, source="subset")
    train2, _ = mnist_loaders(data, batch_size=50, shuffle=False)
    assert next(iter(train2))[1].tolist() == list(range(50))


def test_mnist_loaders_shuffle_is_deterministic_per_generator_seed() -> None:
    arrays = _fake_mnist()

    def order(generator: torch.Generator | None) -> list[list[int]]:
        train, _ = mnist_loaders(arrays, batch_size=10, generator=generator)
        return [torch.cat([b[1] for b in train]).tolist() for _ in range(2)]  # two epochs

    first = order(gen(11))
    assert first == order(gen(11))
    assert first != order(gen(12))
    assert first[0] != first[1]  # each epoch draws a new permutation
    assert order(None) == order(gen(0))  # no generator: a fresh one seeded with 0


def test_mnist_dataset_and_loader_bad_inputs() -> None:
    X, y, Xt, yt = _fake_mnist()
    with pytest.raises(
        TypeError,
        match=r"images must be a numpy.ndarray of uint8 pixels \[N, H, W\]; received ndarray of dtype float64",
    ):
        MNISTDataset(X.astype(np.float64), y)
    with pytest.raises(
        ValueError, match=r"images must be a non-empty 3-D array \[N, H, W\]; received shape \(50, 784\)"
    ):
        MNISTDataset(X.reshape(50, -1), y)
    with pytest.raises(
        TypeError, match=r"labels must be a numpy.ndarray of integer class labels \[N\] \(not one-hot\)"
    ):
        MNISTDataset(X, np.eye(10)[y % 10])
    with pytest.raises(
        ValueError, match=r"labels must have shape \(50,\), one label per image of images; received shape \(49,\)"
    ):
        MNISTDataset(X, y[:49])
    with pytest.raises(TypeError, match=r"transform must be a callable"):
        MNISTDataset(X, y, transform=ToTensor)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"y_test must have shape \(20,\)"):
        mnist_loaders((X, y, Xt, yt[:5]))
    with pytest.raises(
        TypeError, match=r"data must be a data.MnistData .* or a tuple \(X_train, y_train, X_test, y_test\)"
    ):
        mnist_loaders([X, y, Xt, yt])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1; received 0"):
        mnist_loaders((X, y, Xt, yt), batch_size=0)
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        mnist_loaders((X, y, Xt, yt), generator=3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# PyTorchTrainer with DataLoaders; accuracy
# --------------------------------------------------------------------------------------------------------
def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = gen(seed)
    labels = torch.arange(n) % 2
    centres = torch.tensor([[-2.0, 1.0], [2.0, -1.0]], dtype=torch.float64)
    return centres[labels] + 0.5 * torch.randn(n, 2, dtype=torch.float64, generator=g), labels


def _classifier() -> tuple[SequentialModel, PyTorchTrainer]:
    model = SequentialModel(DenseLayer(2, 2, generator=gen(0), dtype=torch.float64))
    return model, PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())


def test_trainer_fits_from_dataloaders() -> None:
    X, y = _blobs(48, 0)
    Xv, yv = _blobs(30, 1)
    train = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, generator=gen(4))
    test = DataLoader(TensorDataset(Xv, yv), batch_size=7)  # uneven batches: 7, 7, 7, 7, 2
    model, trainer = _classifier()
    before = accuracy(model, Xv, yv)
    history = trainer.fit(train, None, test, None, epochs=6, eval_every=2, verbose=False, progress=False)
    assert history.eval_epochs == [2, 4, 6]
    assert len(history.train_losses) == 6
    assert history.train_losses[-1] < history.train_losses[0]
    # the validation loss over the loader is the loss over the whole test set (batches weighted by size)
    with torch.no_grad():
        full = float(nn.CrossEntropyLoss()(model(Xv, inference=True), yv))
    assert history.val_losses[-1] == pytest.approx(full, rel=1e-12)
    assert model.training  # the flag it had before fit
    after = accuracy(model, Xv, yv)
    assert after >= 0.9
    assert after > before
    assert accuracy(model, test) == after
    assert trainer.evaluate_accuracy(test) == after
    assert trainer.evaluate_accuracy(Xv.numpy(), yv.numpy(), batch_size=4) == after
    one_hot = F.one_hot(yv, 2).double()
    assert accuracy(model, Xv, one_hot) == after
    # arrays for the test set and a loader for training also work, and the same seed repeats the run
    model2, trainer2 = _classifier()
    train2 = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, generator=gen(4))
    history2 = trainer2.fit(train2, None, Xv, yv, epochs=6, eval_every=2, verbose=False, progress=False)
    assert history2.train_losses == history.train_losses
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_trainer_trains_mnist_conv_net_from_mnist_loaders() -> None:
    X, y, Xt, yt = _fake_mnist(24, 12)
    train, test = mnist_loaders((X, y % 10, Xt, yt % 10), batch_size=12, generator=gen(0))
    model = MNISTConvNet(generator=gen(0))
    trainer = PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), nn.CrossEntropyLoss())
    history = trainer.fit(train, None, test, None, epochs=1, eval_every=1, verbose=False, progress=False)
    assert len(history.val_losses) == 1
    assert math.isfinite(history.val_losses[0])
    assert 0.0 <= trainer.evaluate_accuracy(test) <= 1.0


def test_trainer_dataloader_bad_inputs() -> None:
    X, y = _blobs(8, 0)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    _model, trainer = _classifier()
    options: dict[str, Any] = {"epochs": 1, "verbose": False, "progress": False}
    with pytest.raises(ValueError, match=r"y_train must be None when X_train is a DataLoader .*received Tensor"):
        trainer.fit(loader, y, loader, None, **options)
    with pytest.raises(ValueError, match=r"y_test must be None when X_test is a DataLoader"):
        trainer.fit(loader, None, loader, y, **options)
    empty = DataLoader(TensorDataset(X[:0], y[:0]), batch_size=4)
    with pytest.raises(ValueError, match=r"X_train must yield at least one batch; received an empty DataLoader"):
        trainer.fit(empty, None, loader, None, **options)
    triples = DataLoader(TensorDataset(X, y, y), batch_size=4)
    with pytest.raises(TypeError, match=r"X_train must yield \(inputs, targets\) pairs; batch 0 is list"):
        trainer.fit(triples, None, loader, None, **options)
    ints = DataLoader(TensorDataset(y[:, None].repeat(1, 2), y), batch_size=4)
    with pytest.raises(
        TypeError, match=r"X_train batch 0 inputs must have a floating-point dtype; received dtype torch.int64"
    ):
        trainer.fit(ints, None, loader, None, **options)
    with pytest.raises(ValueError, match=r"y must have 8 rows like X; received shape \(7,\)"):
        accuracy(trainer.model, X, y[:7])
    with pytest.raises(ValueError, match=r"y must be integer class labels \[N\] or one-hot / scores \[N, C\]"):
        accuracy(trainer.model, X, y.double())
    with pytest.raises(TypeError, match=r"model must be an nn.Module instance"):
        accuracy("model", X, y)  # type: ignore[arg-type]
