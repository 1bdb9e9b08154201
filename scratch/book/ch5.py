"""Chapter 5 (``05_convolutions/Code.ipynb``): convolutions in 1-D, in 2-D and with channels, and their
gradients, under the book's function names.

The 2-D and channel functions run ``scratch.Conv2D_Op`` (the book's layout, kernel ``[C_in, C_out, k, k]``,
padding ``k // 2`` so that odd kernels keep the image size): a single-channel image batch ``[N, H, W]`` is the
channel case with ``C_in = C_out = 1``. The 1-D functions are the same operation along one axis, written with
NumPy's ``correlate`` (the project has no 1-D layer). With ``k`` the kernel length and ``m = k // 2``:

    forward:       out[o]      = Σ_p param[p] · x_pad[o + p]                  x_pad = x with m zeros each side
    input grad:    dx[i]       = Σ_f g_pad[i + k - 1 - f] · param[f]         g_pad = g with m zeros each side
    param grad:    dparam[p]   = Σ_o x_pad[o + p] · g[o]                      (g = ones when not given)

Values keep the book's dtypes: padding keeps the input's dtype, a convolution's output is float, an input
gradient has the input's dtype and a parameter gradient the parameter's (so integer examples print integer
gradients, as in the book). Shape checks raise ``ValueError`` where the book used ``assert``.
``param_grad_1d_batch`` pads by ``k // 2``; the book hard-coded 1, the same for the chapter's 3-long kernel.
Nothing here draws random numbers: the notebook's own cells seed and draw NumPy's global generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conv import Conv2D_Op

__all__ = [
    "_compute_grads_2d",
    "_compute_grads_obs",
    "_compute_grads_obs_2d",
    "_compute_output_2d",
    "_compute_output_2d_sum",
    "_compute_output_obs",
    "_compute_output_obs_2d",
    "_compute_output_sum",
    "_input_grad",
    "_input_grad_1d",
    "_output",
    "_pad_1d",
    "_pad_1d_batch",
    "_pad_2d",
    "_pad_2d_channel",
    "_pad_2d_obs",
    "_pad_conv_input",
    "_param_grad",
    "_param_grad_1d",
    "_param_grad_2d",
    "assert_dim",
    "assert_same_shape",
    "conv_1d",
    "conv_1d_batch",
    "conv_1d_batch_sum",
    "conv_1d_sum",
    "input_grad_1d_batch",
    "param_grad_1d_batch",
]


def assert_same_shape(output: np.ndarray, output_grad: np.ndarray) -> None:
    """Raise ``ValueError`` unless the two arrays have the same shape."""
    if np.shape(output) != np.shape(output_grad):
        raise ValueError(
            f"the two arrays must have the same shape; received {np.shape(output)} and {np.shape(output_grad)}"
        )


def assert_dim(t: np.ndarray, dim: int) -> None:
    """Raise ``ValueError`` unless ``t`` has ``dim`` axes."""
    if np.ndim(t) != dim:
        raise ValueError(f"the array must have {dim} dimensions; received shape {np.shape(t)}")


# ---------------------------------------------------------------------------------------------------------
# 1-D
# ---------------------------------------------------------------------------------------------------------


def _pad_1d(inp: np.ndarray, num: int) -> np.ndarray:
    """``inp`` ``[L]`` with ``num`` zeros on each side: ``[L + 2 num]``, in ``inp``'s dtype."""
    assert_dim(inp, 1)
    return np.pad(inp, num)


def _correlate(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Σ_p kernel[p] · x[o + p] for every o with the kernel inside x: ``[len(x) - len(kernel) + 1]``, float."""
    return np.correlate(np.asarray(x, dtype=np.float64), np.asarray(kernel, dtype=np.float64), mode="valid")


def conv_1d(inp: np.ndarray, param: np.ndarray) -> np.ndarray:
    """out[o] = Σ_p param[p] · inp_pad[o + p]: ``[L]`` for ``inp`` ``[L]`` and an odd kernel ``[k]`` (float)."""
    assert_dim(inp, 1)
    assert_dim(param, 1)
    return _correlate(_pad_1d(inp, param.shape[0] // 2), param)


def conv_1d_sum(inp: np.ndarray, param: np.ndarray) -> np.float64:
    """Σ_o conv_1d(inp, param)[o]: the scalar whose gradients the chapter checks."""
    total: np.float64 = np.sum(conv_1d(inp, param))  # a NumPy float, shown as the book shows it
    return total


def _param_grad_1d(inp: np.ndarray, param: np.ndarray, output_grad: np.ndarray | None = None) -> np.ndarray:
    """dparam[p] = Σ_o inp_pad[o + p] · output_grad[o] (output_grad: ones if None); ``[k]``, param's dtype."""
    assert_dim(inp, 1)
    assert_dim(param, 1)
    grad = np.ones_like(inp) if output_grad is None else output_grad
    assert_same_shape(inp, grad)
    return _correlate(_pad_1d(inp, param.shape[0] // 2), grad).astype(param.dtype)


def _input_grad_1d(inp: np.ndarray, param: np.ndarray, output_grad: np.ndarray | None = None) -> np.ndarray:
    """dinp[i] = Σ_f grad_pad[i + k - 1 - f] · param[f] (output_grad: ones if None); ``[L]``, inp's dtype."""
    assert_dim(inp, 1)
    assert_dim(param, 1)
    grad = np.ones_like(inp) if output_grad is None else output_grad
    assert_same_shape(inp, grad)
    return _correlate(_pad_1d(grad, param.shape[0] // 2), param[::-1]).astype(inp.dtype)


def _pad_1d_batch(inp: np.ndarray, num: int) -> np.ndarray:
    """Every row of ``inp`` ``[N, L]`` padded with ``num`` zeros on each side: ``[N, L + 2 num]``."""
    assert_dim(inp, 2)
    return np.pad(inp, ((0, 0), (num, num)))


def conv_1d_batch(inp: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``conv_1d`` of every row: ``[N, L]`` -> ``[N, L]`` (float)."""
    assert_dim(inp, 2)
    return np.stack([conv_1d(row, param) for row in inp])


def input_grad_1d_batch(inp: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient of Σ conv_1d_batch(inp, param) with respect to ``inp``: ``[N, L]``, inp's dtype."""
    assert_dim(inp, 2)
    return np.stack([_input_grad_1d(row, param, np.ones(row.shape)) for row in inp]).astype(inp.dtype)


def param_grad_1d_batch(inp: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient of Σ conv_1d_batch(inp, param) with respect to ``param``: Σ over rows of
    ``_param_grad_1d``; ``[k]``, param's dtype."""
    assert_dim(inp, 2)
    total: np.ndarray = np.sum([_param_grad_1d(row, param.astype(np.float64)) for row in inp], axis=0)  # [k]
    return total.astype(param.dtype)


def conv_1d_batch_sum(inp: np.ndarray, fil: np.ndarray) -> np.float64:
    """Σ conv_1d_batch(inp, fil)."""
    total: np.float64 = np.sum(conv_1d_batch(inp, fil))
    return total


# ---------------------------------------------------------------------------------------------------------
# 2-D, one channel: [N, H, W] images, [k, k] kernels
# ---------------------------------------------------------------------------------------------------------


def _single_channel_op(param: np.ndarray) -> Conv2D_Op:
    assert_dim(param, 2)
    return Conv2D_Op(np.asarray(param, dtype=np.float64)[None, None])  # [k, k] -> [1, 1, k, k]


def _as_channel(img_batch: np.ndarray) -> np.ndarray:
    assert_dim(img_batch, 3)
    return np.asarray(img_batch, dtype=np.float64)[:, None]  # [N, H, W] -> [N, 1, H, W]


def _pad_2d(inp: np.ndarray, num: int) -> np.ndarray:
    """Every image of ``inp`` ``[N, H, W]`` with ``num`` zeros around it: ``[N, H + 2 num, W + 2 num]``."""
    assert_dim(inp, 3)
    return np.pad(inp, ((0, 0), (num, num), (num, num)))


def _pad_2d_obs(inp: np.ndarray, num: int) -> np.ndarray:
    """One image ``[H, W]`` with ``num`` zeros around it: ``[H + 2 num, W + 2 num]``."""
    assert_dim(inp, 2)
    return np.pad(inp, num)


def _compute_output_2d(img_batch: np.ndarray, param: np.ndarray) -> np.ndarray:
    """out[n, y, x] = Σ_{i, j} param[i, j] · img_pad[n, y + i, x + j]: ``[N, H, W]`` -> ``[N, H, W]``."""
    return _single_channel_op(param).forward(_as_channel(img_batch))[:, 0]  # [N, 1, H, W] -> [N, H, W]


def _compute_output_obs_2d(obs: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``_compute_output_2d`` of one image ``[H, W]``."""
    assert_dim(obs, 2)
    out: np.ndarray = _compute_output_2d(obs[None], param)[0]  # [H, W] -> [1, H, W] -> [H, W]
    return out


def _compute_grads_2d(inp: np.ndarray, output_grad: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient with respect to ``inp`` ``[N, H, W]`` for the upstream ``output_grad`` ``[N, H, W]``."""
    op = _single_channel_op(param)
    op.forward(_as_channel(inp))
    return op.backward(_as_channel(output_grad))[:, 0]  # [N, 1, H, W] -> [N, H, W]


def _compute_grads_obs_2d(input_obs: np.ndarray, output_grad_obs: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``_compute_grads_2d`` of one image ``[H, W]``."""
    assert_dim(input_obs, 2)
    grad: np.ndarray = _compute_grads_2d(input_obs[None], np.asarray(output_grad_obs)[None], param)[0]  # [H, W]
    return grad


def _param_grad_2d(inp: np.ndarray, output_grad: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient with respect to the kernel ``[k, k]`` for the upstream ``output_grad`` ``[N, H, W]``."""
    op = _single_channel_op(param)
    op.forward(_as_channel(inp))
    op.backward(_as_channel(output_grad))
    grad: np.ndarray = op.param_grad[0, 0]  # [1, 1, k, k] -> [k, k]
    return grad


def _compute_output_2d_sum(img_batch: np.ndarray, param: np.ndarray) -> np.float64:
    """Σ _compute_output_2d(img_batch, param) (computed in float64)."""
    total: np.float64 = _compute_output_2d(img_batch, param).sum()
    return total


# ---------------------------------------------------------------------------------------------------------
# With channels: [N, C_in, H, W] images, [C_in, C_out, k, k] kernels
# ---------------------------------------------------------------------------------------------------------


def _pad_2d_channel(inp: np.ndarray, num: int) -> np.ndarray:
    """One image ``[C, H, W]`` with ``num`` zeros around every channel: ``[C, H + 2 num, W + 2 num]``."""
    assert_dim(inp, 3)
    return np.pad(inp, ((0, 0), (num, num), (num, num)))


def _pad_conv_input(inp: np.ndarray, num: int) -> np.ndarray:
    """A batch ``[N, C, H, W]`` with ``num`` zeros around every image: ``[N, C, H + 2 num, W + 2 num]``."""
    assert_dim(inp, 4)
    return np.pad(inp, ((0, 0), (0, 0), (num, num), (num, num)))


def _output(inp: np.ndarray, param: np.ndarray) -> np.ndarray:
    """out[n, o] = Σ_c conv(inp[n, c], param[c, o]): ``[N, C_in, H, W]`` -> ``[N, C_out, H, W]``."""
    assert_dim(inp, 4)
    assert_dim(param, 4)
    return Conv2D_Op(param).forward(inp)


def _compute_output_obs(obs: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``_output`` of one image ``[C_in, H, W]`` -> ``[C_out, H, W]``."""
    assert_dim(obs, 3)
    out: np.ndarray = _output(obs[None], param)[0]  # [C_in, H, W] -> [1, C_in, H, W] -> [C_out, H, W]
    return out


def _input_grad(inp: np.ndarray, output_grad: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient with respect to ``inp`` ``[N, C_in, H, W]`` for the upstream ``output_grad``
    ``[N, C_out, H, W]``."""
    assert_dim(inp, 4)
    op = Conv2D_Op(param)
    op.forward(inp)
    return op.backward(output_grad)


def _compute_grads_obs(input_obs: np.ndarray, output_grad_obs: np.ndarray, param: np.ndarray) -> np.ndarray:
    """``_input_grad`` of one image ``[C_in, H, W]``."""
    assert_dim(input_obs, 3)
    grad: np.ndarray = _input_grad(input_obs[None], np.asarray(output_grad_obs)[None], param)[0]  # [C_in, H, W]
    return grad


def _param_grad(inp: np.ndarray, output_grad: np.ndarray, param: np.ndarray) -> np.ndarray:
    """The gradient with respect to the kernel ``[C_in, C_out, k, k]``, summed over the batch."""
    assert_dim(inp, 4)
    op = Conv2D_Op(param)
    op.forward(inp)
    op.backward(output_grad)
    return op.param_grad


def _compute_output_sum(imgs: np.ndarray, param: np.ndarray) -> np.floating[Any]:
    """Σ _output(imgs, param) (a NumPy float in the kernel's dtype)."""
    total: np.floating[Any] = _output(imgs, param).sum()
    return total
