"""Small helpers for spec modules: lazily imported torch tensors for the torch side of error cases."""

from __future__ import annotations

from typing import Any

import numpy as np


def tensor(array: Any) -> Any:
    """``torch.from_numpy`` of a copy of ``array`` (torch imported here, lazily)."""
    import torch

    return torch.from_numpy(np.array(array, copy=True))


def nan_array(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Standard-normal-free filler with one NaN: a bad input for finiteness checks."""
    out = np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape).astype(dtype)
    out.flat[0] = np.nan
    return out


def seq(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Deterministic non-zero values of ``shape`` for error cases (the values do not matter there)."""
    return np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape).astype(dtype)


def torch_dtype(dtype: Any) -> Any:
    """The torch dtype of the same name as a NumPy dtype (``float64`` -> ``torch.float64``)."""
    import torch

    return getattr(torch, np.dtype(dtype).name)
