"""scratch.autoencoder (chapter 7) on its own: shapes, layouts, seeding, the MSE normalisations, training, errors.

NumPy only (the torch parity is in parity_tests/specs/autoencoder.py and tests/parity/test_autoencoder.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scratch.autoencoder import Autoencoder, Decoder, Encoder
from scratch.optimizers import SGDMomentum

TINY: dict[str, Any] = {"hidden_channels": (3, 2), "kernel_size": 3, "encoding_size": 4, "image_shape": (1, 6, 6)}


def images(n: int = 5, shape: tuple[int, ...] = (1, 6, 6), seed: int = 0) -> np.ndarray:
    return np.tanh(1.5 * np.random.default_rng(seed).standard_normal((n, *shape)))


def test_forward_shapes_and_parameter_shapes() -> None:
    model = Autoencoder((3, 2), 3, 4, (2, 5, 7), seed=2)
    recon, encoding = model.forward(images(3, (2, 5, 7)))
    assert recon.shape == (3, 2, 5, 7)
    assert encoding.shape == (3, 4)
    assert np.all(np.abs(recon) < 1)
    assert np.all(np.abs(encoding) < 1)
    shapes = {k: v.shape for k, v in model.named_params().items()}
    assert shapes == {
        "encoder.conv1.W": (2, 3, 3, 3),
        "encoder.conv1.B": (1, 3, 1, 1),
        "encoder.conv2.W": (3, 2, 3, 3),
        "encoder.conv2.B": (1, 2, 1, 1),
        "encoder.dense.W": (2 * 5 * 7, 4),
        "encoder.dense.B": (1, 4),
        "decoder.dense.W": (4, 2 * 5 * 7),
        "decoder.dense.B": (1, 2 * 5 * 7),
        "decoder.conv1.W": (2, 3, 3, 3),
        "decoder.conv1.B": (1, 3, 1, 1),
        "decoder.conv2.W": (3, 2, 3, 3),
        "decoder.conv2.B": (1, 2, 1, 1),
    }
    assert tuple(shapes) == model.param_names
    dx = model.backward(np.random.default_rng(1).standard_normal(recon.shape))
    assert dx.shape == (3, 2, 5, 7)
    assert [g.shape for g in model.param_grads()] == list(shapes.values())


def test_book_default_sizes() -> None:
    model = Autoencoder(seed=0)
    recon, encoding = model.forward(images(2, (1, 28, 28)))
    assert recon.shape == (2, 1, 28, 28)
    assert encoding.shape == (2, 28)
    assert model.named_params()["encoder.dense.W"].shape == (7 * 28 * 28, 28)


def test_encoding_layout_is_the_channel_major_flatten_of_conv2() -> None:
    """z = tanh(flatten(a2) · W + B) with a2 [N, C2, H, W] flattened in C order (channel slowest), and the
    decoder's reshape is its exact inverse."""
    model = Autoencoder(**TINY, seed=3)
    x = images(4)
    recon, z = model.forward(x)
    a2 = model.encoder.conv2.operations[-2].output  # tanh output before Flatten: [N, C2, H, W]
    assert a2.shape == (4, 2, 6, 6)
    W, B = model.named_params()["encoder.dense.W"], model.named_params()["encoder.dense.B"]
    flat = np.stack([np.concatenate([a2[n, c].ravel() for c in range(2)]) for n in range(4)])  # channel by channel
    np.testing.assert_allclose(z, np.tanh(flat @ W + B), rtol=0, atol=1e-14)
    d = model.decoder.dense.output  # [N, C2·H·W]
    conv1_input = model.decoder.conv1.input_  # [N, C2, H, W]
    for c in range(2):
        np.testing.assert_array_equal(conv1_input[:, c].reshape(4, -1), d[:, c * 36 : (c + 1) * 36])
    assert recon.shape == x.shape


def test_lazy_setup_is_deterministic_per_seed() -> None:
    x = images(3)
    a, b, c = Autoencoder(**TINY, seed=5), Autoencoder(**TINY, seed=5), Autoencoder(**TINY, seed=6)
    assert a.named_params() == {}  # nothing exists before the first forward
    ra, za = a.forward(x)
    rb, zb = b.forward(x)
    rc, _ = c.forward(x)
    np.testing.assert_array_equal(ra, rb)
    np.testing.assert_array_equal(za, zb)
    for (name, pa), pb in zip(a.named_params().items(), b.params(), strict=True):
        np.testing.assert_array_equal(pa, pb, err_msg=name)
    assert not np.allclose(ra, rc)
    # every layer has its own generator: no two same-shape parameters are equal
    p = a.named_params()
    assert not np.array_equal(p["encoder.conv1.B"], p["decoder.conv1.B"])
    # reset() re-creates the same initial weights
    first = {k: v.copy() for k, v in p.items()}
    a.train_batch(x)
    SGD = SGDMomentum(lr=0.1)
    SGD.net = a  # type: ignore[assignment]
    SGD.step()
    assert not np.array_equal(a.named_params()["encoder.dense.W"], first["encoder.dense.W"])
    a.reset()
    a.forward(x)
    for name, value in a.named_params().items():
        np.testing.assert_array_equal(value, first[name], err_msg=name)


def test_dtype_follows_the_input() -> None:
    model = Autoencoder(**TINY, seed=1)
    recon, z = model.forward(images(2).astype(np.float32))
    assert recon.dtype == np.float32
    assert z.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.params())


def test_backward_without_encoding_grad_equals_zero_encoding_grad_and_adds_it_otherwise() -> None:
    model = Autoencoder(**TINY, seed=4)
    x = images(3)
    rng = np.random.default_rng(7)
    g, gz = rng.standard_normal((3, 1, 6, 6)), rng.standard_normal((3, 4))
    model.forward(x)
    dx_none = model.backward(g)
    grads_none = [p.copy() for p in model.param_grads()]
    dx_zero = model.backward(g, np.zeros((3, 4)))
    np.testing.assert_array_equal(dx_none, dx_zero)
    dx_both = model.backward(g, gz)
    assert not np.allclose(dx_both, dx_none)
    # the encoding gradient reaches the encoder only: decoder gradients do not change
    for name, before, after in zip(model.param_names, grads_none, model.param_grads(), strict=True):
        if name.startswith("decoder."):
            np.testing.assert_array_equal(before, after, err_msg=name)
        else:
            assert not np.allclose(before, after), name
    # linearity in the upstream gradients: backward(g, gz) = backward(g) + encoder.backward(gz)
    dx_enc = model.encoder.backward(gz)
    np.testing.assert_allclose(dx_both, dx_none + dx_enc, rtol=1e-12, atol=1e-14)


def test_book_and_mean_mse_differ_by_exactly_chw() -> None:
    x = images(4, (2, 5, 7))
    arch: dict[str, Any] = {"hidden_channels": (3, 2), "kernel_size": 3, "encoding_size": 4, "image_shape": (2, 5, 7)}
    book, mean = Autoencoder(**arch, mse="book", seed=8), Autoencoder(**arch, mse="mean", seed=8)
    loss_book, loss_mean = book.train_batch(x), mean.train_batch(x)
    recon, _ = book.forward(x)
    assert loss_book == pytest.approx(np.sum((recon - x) ** 2) / 4, rel=1e-13)  # Σ / N (rows)
    assert loss_mean == pytest.approx(np.mean((recon - x) ** 2), rel=1e-13)  # Σ / (N·C·H·W)
    assert loss_book / loss_mean == pytest.approx(70.0, rel=1e-13)
    for name, gb, gm in zip(book.param_names, book.param_grads(), mean.param_grads(), strict=True):
        np.testing.assert_allclose(gb, 70.0 * gm, rtol=1e-12, atol=1e-15, err_msg=name)


def test_training_reduces_the_reconstruction_loss() -> None:
    model = Autoencoder(**TINY, seed=9)
    x = images(8)
    optim = SGDMomentum(lr=0.005, momentum=0.9)
    optim.net = model  # type: ignore[assignment]
    losses = []
    for _ in range(40):
        losses.append(model.train_batch(x))
        optim.step()
    assert losses[-1] < 0.7 * losses[0], losses
    assert np.isfinite(losses).all()


def test_load_params_before_setup_builds_the_model_from_them() -> None:
    source = Autoencoder(**TINY, seed=10)
    x = images(2)
    expected, _ = source.forward(x)
    target = Autoencoder(**TINY, seed=11)
    target.load_params({k: v.copy() for k, v in source.named_params().items()})
    got, _ = target.forward(x)
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="keys"):
        target.load_params({"encoder.conv1.W": np.zeros((1, 3, 3, 3))})
    bad = {k: v.copy() for k, v in source.named_params().items()}
    bad["decoder.dense.W"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match="shape"):
        target.load_params(bad)


def test_encode_and_reconstruct_in_chunks_match_forward() -> None:
    model = Autoencoder(**TINY, seed=12)
    x = images(7)
    recon, z = model.forward(x)
    np.testing.assert_allclose(model.encode(x, batch_size=3), z, rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.reconstruct(x, batch_size=2), recon, rtol=0, atol=1e-15)


def test_encoder_and_decoder_alone() -> None:
    enc = Encoder(**TINY, seed=1)
    dec = Decoder(**TINY, seed=2)
    z = enc.forward(images(3))
    assert z.shape == (3, 4)
    assert dec.forward(z).shape == (3, 1, 6, 6)
    with pytest.raises(ValueError, match="4 features"):
        dec.forward(np.ones((3, 5)))
    with pytest.raises(ValueError, match="image shape"):
        enc.forward(np.ones((3, 1, 5, 6)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": 4}, ValueError, "kernel_size must be odd"),
        ({"kernel_size": 0}, ValueError, "kernel_size"),
        ({"hidden_channels": 7}, TypeError, "hidden_channels"),
        ({"hidden_channels": (14,)}, ValueError, "hidden_channels must be a pair"),
        ({"hidden_channels": (14, 0)}, ValueError, r"hidden_channels\[1\]"),
        ({"encoding_size": 2.5}, TypeError, "encoding_size"),
        ({"image_shape": (28, 28)}, TypeError, "image_shape"),
        ({"mse": "sum"}, ValueError, "mse"),
        ({"weight_init": "he"}, ValueError, "weight_init"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Autoencoder(**kwargs)


def test_forward_and_backward_reject_bad_input() -> None:
    model = Autoencoder(**TINY, seed=1)
    with pytest.raises(ValueError, match=r"image shape \[batch, 1, 6, 6\]"):
        model.forward(np.ones((2, 1, 6, 7)))
    with pytest.raises(ValueError, match="4-D"):
        model.forward(np.ones((2, 36)))
    with pytest.raises(TypeError, match="floating-point"):
        model.forward(np.ones((2, 1, 6, 6), dtype=np.int64))
    x = images(2)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.forward(x)
    model.forward(images(2))
    with pytest.raises(ValueError, match="encoding_grad"):
        model.backward(np.ones((2, 1, 6, 6)), np.ones((2, 5)))
