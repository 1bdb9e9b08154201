"""The torch MNIST pipeline of chapter 7: a ``Dataset``, torchvision-style transforms and ``DataLoader``s.

The book's chapter 7 feeds MNIST through ``torchvision.datasets.MNIST`` with
``transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1305,), (0.3081,))])`` and
``DataLoader(batch_size=60, shuffle=True)``. Here the images come from :mod:`data.mnist` (uint8 arrays,
found offline) and the transforms are written with torchvision's semantics, so nothing needs torchvision:

    ToTensor():          uint8 ndarray [H, W] (or [H, W, C])  ->  float tensor [1, H, W] (or [C, H, W]) = x / 255
                         (torch's default float dtype, float32 unless changed); a float ndarray is only
                         transposed to channels-first, not scaled (as torchvision does)
    Normalize(mean, std): tensor [..., C, H, W] -> (x - mean[c]) / std[c]
    Compose(transforms):  apply each transform in order

Both follow torchvision's arithmetic step by step (``mean`` and ``std`` are cast to the tensor's dtype
before the subtraction and division), so they give the same bits. :func:`mnist_transforms` returns
torchvision's own pipeline when torchvision imports and ``prefer_torchvision`` is true, ours otherwise;
:func:`torchvision_available` and :func:`transforms_backend` tell which one is in use.

:func:`mnist_loaders` builds the training and test ``DataLoader``s: ``num_workers=0`` and an explicit
``torch.Generator`` for the shuffling, so that the same seed gives the same batches.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from data.mnist import BOOK_NORMALIZE_MEAN, BOOK_NORMALIZE_STD, MnistData

from ._validation import check_generator, check_int, describe

__all__ = [
    "Compose",
    "MNISTDataset",
    "Normalize",
    "ToTensor",
    "mnist_loaders",
    "mnist_transforms",
    "torchvision_available",
    "transforms_backend",
]

Transform = Callable[[Any], Any]


# ---------------------------------------------------------------------------------------------------------
# Transforms (torchvision semantics, no torchvision)
# ---------------------------------------------------------------------------------------------------------
class ToTensor:
    """torchvision's ``ToTensor`` for NumPy images: ``[H, W]`` or ``[H, W, C]`` -> ``[C, H, W]``.

    A ``uint8`` image becomes torch's default float dtype (float32 unless changed) divided by 255, i.e. on
    [0, 1]; a floating-point image keeps its dtype and values (torchvision only scales bytes).
    """

    def __call__(self, pic: Any) -> Tensor:
        if not isinstance(pic, np.ndarray):
            raise TypeError(
                f"ToTensor input must be a numpy.ndarray image [H, W] or [H, W, C]; received {describe(pic)}"
            )
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor input must be a 2-D [H, W] or 3-D [H, W, C] image; received shape {pic.shape}")
        if pic.dtype != np.uint8 and pic.dtype.kind != "f":
            raise TypeError(
                f"ToTensor input must have dtype uint8 (pixels 0..255) or a float dtype; received dtype {pic.dtype}"
            )
        image = pic[:, :, None] if pic.ndim == 2 else pic
        # A fresh C-ordered copy: the tensor never shares (possibly read-only) memory with the dataset.
        out = torch.from_numpy(np.array(image.transpose(2, 0, 1), order="C"))
        if pic.dtype == np.uint8:
            return out.to(dtype=torch.get_default_dtype()).div(255)
        return out

    def __repr__(self) -> str:
        return "ToTensor()"


def _as_float_tuple(value: Any, name: str) -> tuple[float, ...]:
    items = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else (value,)
    if not items:
        raise ValueError(f"{name} must be a real number or a non-empty sequence of them; received {value!r}")
    out: list[float] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, Real):
            raise TypeError(f"{name} must be a real number or a sequence of them; received {describe(value)}")
        if not np.isfinite(float(item)):
            raise ValueError(f"{name} must be finite; received {value!r}")
        out.append(float(item))
    return tuple(out)


class Normalize:
    """torchvision's ``Normalize``: ``(x - mean[c]) / std[c]`` per channel of a ``[..., C, H, W]`` tensor.

    ``mean`` and ``std`` are numbers or sequences with one value per channel (or one value for all). The
    input is not modified. ``std`` must be > 0.
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = _as_float_tuple(mean, "mean")
        self.std = _as_float_tuple(std, "std")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be > 0; received {std!r}")

    def __call__(self, tensor: Any) -> Tensor:
        name = "Normalize input"
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor [..., C, H, W]; received {describe(tensor)}")
        if tensor.dim() < 3:
            raise ValueError(
                f"{name} must have at least 3 dimensions [..., C, H, W]; received shape {tuple(tensor.shape)}"
            )
        channels = tensor.shape[-3]
        for values, what in ((self.mean, "mean"), (self.std, "std")):
            if len(values) not in (1, channels):
                raise ValueError(
                    f"{name} must have {len(values)} channel(s) to match {what}={values}; received shape "
                    f"{tuple(tensor.shape)}"
                )
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        return tensor.sub(mean).div(std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    """Apply ``transforms`` in order (torchvision's ``Compose``)."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence):
            raise TypeError(f"transforms must be a sequence of callables; received {describe(transforms)}")
        for i, t in enumerate(transforms):
            if not callable(t) or isinstance(t, type):
                raise TypeError(
                    f"transforms[{i}] must be a transform instance (a callable such as ToTensor()); received "
                    f"{describe(t) if not isinstance(t, type) else 'the class ' + t.__name__ + ' itself'}"
                )
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


@functools.cache
def torchvision_available() -> bool:
    """Whether ``torchvision.transforms`` imports here (checked once; any import failure counts as no)."""
    try:
        importlib.import_module("torchvision.transforms")
    except Exception:  # ImportError, or OSError/RuntimeError from a wheel built for missing CUDA libraries
        return False
    return True


def transforms_backend(transform: Any) -> str:
    """``"torchvision"`` if ``transform`` is torchvision's object, else ``"torch_impl"``."""
    return "torchvision" if type(transform).__module__.split(".")[0] == "torchvision" else "torch_impl"


def mnist_transforms(
    mean: float = BOOK_NORMALIZE_MEAN, std: float = BOOK_NORMALIZE_STD, prefer_torchvision: bool = True
) -> Transform:
    """Chapter 7's ``Compose([ToTensor(), Normalize((mean,), (std,))])``: ``(x / 255 - mean) / std``.

    torchvision's classes when ``prefer_torchvision`` and torchvision imports, ours otherwise (the same
    values; :func:`transforms_backend` tells which).
    """
    if prefer_torchvision and torchvision_available():
        tv = importlib.import_module("torchvision.transforms")
        return cast(Transform, tv.Compose([tv.ToTensor(), tv.Normalize((mean,), (std,))]))
    return Compose([ToTensor(), Normalize((mean,), (std,))])


# ---------------------------------------------------------------------------------------------------------
# Dataset and loaders
# ---------------------------------------------------------------------------------------------------------
def _check_images_labels(images: Any, labels: Any, images_name: str, labels_name: str) -> None:
    """Raise unless ``images`` is uint8 ``[N, H, W]`` (N >= 1) and ``labels`` integer ``[N]``."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise TypeError(f"{images_name} must be a numpy.ndarray of uint8 pixels [N, H, W]; received {describe(images)}")
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"{images_name} must be a non-empty 3-D array [N, H, W]; received shape {images.shape}")
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu":
        raise TypeError(
            f"{labels_name} must be a numpy.ndarray of integer class labels [N] (not one-hot); received "
            f"{describe(labels)}"
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"{labels_name} must have shape ({images.shape[0]},), one label per image of {images_name}; "
            f"received shape {labels.shape}"
        )


class MNISTDataset(Dataset[tuple[Any, int]]):
    """``(transform(images[i]), int(labels[i]))`` for uint8 images ``[N, H, W]`` and integer labels ``[N]``.

    Without a transform the item is the raw ``uint8`` image ``[H, W]`` (a NumPy view). ``data`` (uint8
    ``[N, H, W]``) and ``targets`` (int64 ``[N]``) are the whole set as tensors, torchvision's attribute names.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Transform | None = None) -> None:
        _check_images_labels(images, labels, "images", "labels")
        if transform is not None and (not callable(transform) or isinstance(transform, type)):
            raise TypeError(
                f"transform must be a callable such as mnist_transforms() or None; received {describe(transform)}"
            )
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def data(self) -> Tensor:
        """Every image as a uint8 tensor ``[N, H, W]`` (pixels 0..255); it shares memory with a writable
        ``images`` array and copies a read-only one."""
        images = self.images if self.images.flags.writeable else self.images.copy()
        return torch.from_numpy(np.ascontiguousarray(images))

    @property
    def targets(self) -> Tensor:
        """Every label as an int64 tensor ``[N]``."""
        return torch.from_numpy(np.array(self.labels, dtype=np.int64))

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        label = int(self.labels[index])
        if self.transform is not None:
            return self.transform(image), label
        return image, label


MnistArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _unpack(data: Any) -> MnistArrays:
    if isinstance(data, MnistData):
        return data.as_tuple()
    if isinstance(data, tuple) and len(data) == 4:
        return cast(MnistArrays, data)
    raise TypeError(
        f"data must be a data.MnistData (from data.load_mnist()) or a tuple (X_train, y_train, X_test, y_test); "
        f"received {describe(data)}"
    )


def mnist_loaders(
    data: MnistData | MnistArrays,
    batch_size: int = 60,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    transform: Transform | None = None,
) -> tuple[DataLoader[tuple[Any, int]], DataLoader[tuple[Any, int]]]:
    """``(train_loader, test_loader)`` over ``data`` (uint8 images ``[N, 28, 28]``, integer labels).

    Batches are ``(images [B, 1, 28, 28] float32, labels [B] int64)`` with the default transform
    (:func:`mnist_transforms`, the book's normalisation). The training loader shuffles (if ``shuffle``)
    with ``generator``, a CPU ``torch.Generator`` (``None``: a fresh one seeded with 0, so runs repeat); the
    test loader keeps the order. Both use ``num_workers=0``; the last batch may be partial.
    """
    X_train, y_train, X_test, y_test = _unpack(data)
    _check_images_labels(X_train, y_train, "X_train", "y_train")
    _check_images_labels(X_test, y_test, "X_test", "y_test")
    batch_size = check_int(batch_size, "batch_size", 1)
    check_generator(generator)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    elif generator.device.type != "cpu":
        raise ValueError(
            f"generator must be a CPU torch.Generator (the DataLoader shuffles on the CPU); received one on "
            f"{generator.device}"
        )
    if transform is None:
        transform = mnist_transforms()
    train = MNISTDataset(X_train, y_train, transform)
    test = MNISTDataset(X_test, y_test, transform)
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=bool(shuffle), generator=generator, num_workers=0)
    test_loader = DataLoader(test, batch_size=batch_size, shuffle=False, num_workers=0)
    return train_loader, test_loader
