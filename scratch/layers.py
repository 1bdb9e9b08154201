"""Layers (chapters 3-5): ``Layer``, ``Dense`` and ``Conv2D``.

A layer is a list of operations applied in order. Its parameters are created lazily on the first
``forward`` from the input's shape (``_setup_layer``), as in the book. ``params`` and ``param_grads``
list the parameter operations' arrays in operation order; ``params[i]`` is the very array the
operation uses, so optimizers update it in place.

Randomness is explicit: every layer draws its initial weights (and its dropout masks) from ``self.rng``,
a ``np.random.Generator``. A ``NeuralNetwork`` gives each of its layers an independent generator derived
from the network's seed, so two layers of the same shape do not get identical weights (the book's
``np.random.seed(seed)`` in every layer did exactly that).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ._validation import (
    check_choice,
    check_dtype_matches,
    check_float_array,
    check_int,
    check_keep_prob,
    check_output_finite,
)
from .activations import Linear
from .base import Operation, ParamOperation, check_output_grad
from .conv import IMPLS, ChannelBiasAdd, Conv2D_Op, conv_pads
from .dropout import Dropout
from .operations import BiasAdd, WeightMultiply
from .reshape import Flatten


class Layer:
    """A sequence of operations with lazily created parameters (the book's ``Layer``).

    ``forward`` checks its input (type, dtype, finiteness, shape) and its output: a non-finite output from a
    finite input names its cause, the first non-finite parameter (``param_names``) or an overflow.
    """

    param_names: tuple[str, ...] = ("W", "B")
    input_: np.ndarray
    output: np.ndarray
    input_grad: np.ndarray

    def __init__(self, neurons: int, *, rng: np.random.Generator | int | None = None) -> None:
        self.neurons = check_int(neurons, "neurons", 1)
        self.first = True
        self.loaded = False  # True after load_params, until NeuralNetwork.reset() re-initialises the layer
        self.params: list[np.ndarray] = []
        self.param_grads: list[np.ndarray] = []
        self.operations: list[Operation] = []
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    def _setup_layer(self, input_: np.ndarray) -> None:
        raise NotImplementedError

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, f"{type(self).__name__} input_")

    def forward(self, input_: np.ndarray, inference: bool = False) -> np.ndarray:
        """Run the operations in order; set up the parameters on the first call (in the input's dtype).

        After set-up the input must have the parameters' dtype: a float32 network refuses a float64 batch
        (and the other way round) with a ``TypeError`` instead of casting it."""
        self._check_input(input_)
        if not self.first and self.params:
            check_dtype_matches(input_, f"{type(self).__name__} input_", self.params[0], "the layer's parameters")
        if self.first:
            self._setup_layer(input_)
            self.first = False
        self.input_ = input_
        out = input_
        # The layer checked its input (type, dtype, finiteness, features); its operations were built
        # for that shape, so they skip re-checking what flows between them.
        for operation in self.operations:
            out = operation._forward(out, inference)
        check_output_finite(out, type(self).__name__, lambda: dict(zip(self.param_names, self.params, strict=False)))
        self.output = out
        return out

    def backward(self, output_grad: np.ndarray) -> np.ndarray:
        """Run the operations' backward passes in reverse; collect ``param_grads``."""
        if not hasattr(self, "output"):
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        check_output_grad(output_grad, self.output, f"{type(self).__name__} output_grad")
        grad = output_grad
        for operation in reversed(self.operations):
            grad = operation.backward(grad)
        self.input_grad = grad
        self._param_grads()
        return grad

    def _make_dropout(self, keep_prob: float, inverted: bool) -> Dropout:
        """The ``Dropout`` operation the layer appends when ``dropout < 1``, drawing its masks from ``self.rng``.
        A subclass may return another (the book modules' draws the book's stream)."""
        return Dropout(keep_prob, inverted=inverted, rng=self.rng)

    @property
    def dropout_op(self) -> Dropout | None:
        """The layer's ``Dropout`` operation, if it has one (after setup)."""
        for op in self.operations:
            if isinstance(op, Dropout):
                return op
        return None

    def _param_grads(self) -> None:
        self.param_grads = [op.param_grad for op in self.operations if isinstance(op, ParamOperation)]

    def _params(self) -> None:
        self.params = [op.param for op in self.operations if isinstance(op, ParamOperation)]

    def load_params(self, params: Sequence[np.ndarray]) -> None:
        """Copy ``params`` (in ``self.params`` order and shapes) into the layer.

        Before the first forward the layer is built from them (so the input size comes from the
        weights); afterwards they are copied in place, keeping the arrays shared with the optimizer. The
        layer is marked ``loaded``: ``Trainer.fit(restart=True)`` then refuses to re-initialise it.

        The arrays must be float32 or float64 and all of one dtype; after set-up, of the layer's dtype (a
        ``TypeError`` otherwise: loading never casts).
        """
        if not isinstance(params, Sequence) or isinstance(params, np.ndarray):
            raise TypeError(
                f"{type(self).__name__}.load_params needs a list of arrays in params order; received "
                f"{type(params).__name__}"
            )
        for i, new in enumerate(params):
            check_float_array(new, f"{type(self).__name__}.load_params parameter {i}")
            check_dtype_matches(new, f"{type(self).__name__}.load_params parameter {i}", params[0], "parameter 0")
        if self.first:
            self._build_from_params([np.array(p, copy=True) for p in params])
            self.first = False
            self.loaded = True
            return
        if len(params) != len(self.params):
            raise ValueError(
                f"{type(self).__name__}.load_params expects {len(self.params)} arrays; received {len(params)}"
            )
        for i, (own, new) in enumerate(zip(self.params, params, strict=True)):
            if own.shape != np.shape(new):
                raise ValueError(
                    f"{type(self).__name__}.load_params: parameter {i} must have shape {own.shape}; "
                    f"received shape {np.shape(new)}"
                )
            check_dtype_matches(new, f"{type(self).__name__}.load_params parameter {i}", own, "the layer's parameters")
            own[...] = new
        self.loaded = True

    def _build_from_params(self, params: list[np.ndarray]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be built from parameters")


class Dense(Layer):
    """A fully connected layer: ``WeightMultiply``, ``BiasAdd``, activation, then ``Dropout`` if
    ``dropout < 1``.

    Shapes: input ``[N, in]``, W ``[in, neurons]``, B ``[1, neurons]``, output ``[N, neurons]``.

        forward:   Y = a(X · W + B), then Y ⊙ mask during training if dropout < 1
        backward:  dA = a'(·) ⊙ (G, masked),  dW = Xᵀ · dA,  dB = Σ_n dA,  dX = dA · Wᵀ

    ``weight_init="standard"`` draws W and B from N(0, 1) (the book). ``"glorot"`` draws both from
    N(0, sqrt(2 / (in + neurons))): the Glorot/Xavier normal scale, which the book's printed code got
    wrong by using the variance 2 / (in + neurons) as the standard deviation. Like the book, the bias
    is drawn from the same distribution (torch's ``xavier_normal_`` leaves the bias alone).

    ``activation`` defaults to a fresh ``Linear()``; the instance given is copied, so one activation
    object is never shared between layers (the book's shared default broke backward).

    ``inverted_dropout=True`` switches the dropout to torch's convention (training scales the kept
    activations by 1 / keep, inference is the identity), for porting chapter 7 models; the default is
    the book's (no scaling in training, times keep at inference).
    """

    def __init__(
        self,
        neurons: int,
        activation: Operation | None = None,
        dropout: float = 1.0,
        weight_init: str = "standard",
        *,
        rng: np.random.Generator | int | None = None,
        inverted_dropout: bool = False,
    ) -> None:
        super().__init__(neurons, rng=rng)
        if activation is not None and not isinstance(activation, Operation):
            raise TypeError(
                f"activation must be a scratch Operation such as Sigmoid(); received {type(activation).__name__}"
            )
        self.activation = copy.deepcopy(activation) if activation is not None else Linear()
        self.dropout = check_keep_prob(dropout, "dropout")
        self.inverted_dropout = bool(inverted_dropout)
        self.weight_init = check_choice(weight_init, "weight_init", ("standard", "glorot"))

    def _check_input(self, input_: np.ndarray) -> None:
        check_float_array(input_, "Dense input_", ndim=2, layout="[batch, features]")
        if not self.first and input_.shape[1] != self.params[0].shape[0]:
            raise ValueError(
                f"Dense input_ must have {self.params[0].shape[0]} features (the layer was set up for them); received "
                f"shape {input_.shape}"
            )

    def init_scale(self, n_in: int) -> float:
        """Standard deviation of the initial weights for ``n_in`` inputs."""
        return 1.0 if self.weight_init == "standard" else float(np.sqrt(2.0 / (n_in + self.neurons)))

    def _setup_layer(self, input_: np.ndarray) -> None:
        n_in = input_.shape[1]
        scale = self.init_scale(n_in)
        W = self.rng.normal(0.0, scale, size=(n_in, self.neurons)).astype(input_.dtype)
        B = self.rng.normal(0.0, scale, size=(1, self.neurons)).astype(input_.dtype)
        self._build_from_params([W, B])

    def _build_from_params(self, params: list[np.ndarray]) -> None:
        if len(params) != 2:
            raise ValueError(f"Dense parameters are [W, B]; received {len(params)} arrays")
        W, B = params
        if W.ndim != 2 or W.shape[1] != self.neurons:
            raise ValueError(f"Dense W must have shape [in, {self.neurons}]; received shape {W.shape}")
        if B.shape != (1, self.neurons):
            raise ValueError(f"Dense B must have shape (1, {self.neurons}); received shape {B.shape}")
        self.operations = [WeightMultiply(W), BiasAdd(B), self.activation]
        if self.dropout < 1.0:
            self.operations.append(self._make_dropout(self.dropout, self.inverted_dropout))
        self._params()


class Conv2D(Layer):
    """A convolutional layer (chapter 5): ``Conv2D_Op``, ``ChannelBiasAdd`` (if ``bias``), activation, then
    ``Flatten`` (if ``flatten``) and ``Dropout`` (if ``dropout < 1``), the book's order.

    Shapes: input ``[N, C_in, H, W]``, W ``[C_in, out_channels, k, k]`` with ``k = param_size``, B
    ``[1, out_channels, 1, 1]``, output ``[N, out_channels, H_out, W_out]`` (``[N, out_channels·H_out·W_out]``
    with ``flatten=True``); H_out and W_out as in ``scratch.conv`` (``padding=None``, the book's default, pads
    ``k // 2``, which keeps H and W for odd k at stride 1).

        forward:   Y = a(conv(X, W) + B), then Flatten, then Y ⊙ mask during training if dropout < 1
        backward:  dA = a'(·) ⊙ (G reshaped, masked); dW, dX from ``Conv2D_Op``; dB = Σ_{n, y, x} dA

    ``params`` is ``[W]`` (``bias=False``, the book) or ``[W, B]``. W (and B) are created on the first forward
    with ``C_in`` taken from the input and the input's dtype, or from ``load_params`` before it.

    ``weight_init="normal"`` (the book's default) draws from N(0, 1). ``"glorot"`` draws from
    N(0, sqrt(2 / ((C_in + out_channels) · k²))): Glorot/Xavier normal with the receptive field counted,
    fan_in = C_in·k² and fan_out = out_channels·k², exactly ``torch.nn.init.xavier_normal_``'s standard
    deviation. The book's conv layer used ``2 / (C_in + out_channels)`` as the standard deviation: the variance
    used as a standard deviation, and no k², so its scale is off by a factor that depends on the layer (0.112
    instead of 0.069 for 1 -> 16 channels with 5x5 kernels, 0.042 instead of 0.068 for 16 -> 32 with 3x3).
    The bias, when there is one, is drawn from the same distribution as W (the book's convention for Dense).

    ``activation`` defaults to a fresh ``Linear()``; the instance given is copied, so one activation object is
    never shared between layers. ``padding``, ``stride`` and ``impl`` (``"fast"``, the default, or
    ``"readable"``: which code computes the convolution, see ``Conv2D_Op``) are passed to ``Conv2D_Op``.
    """

    def __init__(
        self,
        out_channels: int,
        param_size: int,
        dropout: float = 1.0,
        weight_init: str = "normal",
        activation: Operation | None = None,
        flatten: bool = False,
        *,
        padding: int | str | None = None,
        stride: int = 1,
        bias: bool = False,
        rng: np.random.Generator | int | None = None,
        inverted_dropout: bool = False,
        impl: str = "fast",
    ) -> None:
        super().__init__(out_channels, rng=rng)
        self.out_channels = self.neurons
        self.impl = check_choice(impl, "impl", IMPLS)
        self.param_size = check_int(param_size, "param_size", 1)
        self.dropout = check_keep_prob(dropout, "dropout")
        self.inverted_dropout = bool(inverted_dropout)
        self.weight_init = check_choice(weight_init, "weight_init", ("normal", "glorot"))
        if activation is not None and not isinstance(activation, Operation):
            raise TypeError(
                f"activation must be a scratch Operation such as ReLU(); received {type(activation).__name__}"
            )
        self.activation = copy.deepcopy(activation) if activation is not None else Linear()
        for flag, flag_name in ((flatten, "flatten"), (bias, "bias")):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{flag_name} must be True or False; received {type(flag).__name__} {flag!r}")
        self.flatten = bool(flatten)
        self.bias = bool(bias)
        self.stride = check_int(stride, "stride", 1)
        # validates padding (and padding="same" with stride > 1) now rather than at the first forward
        self.pads = conv_pads(padding, self.param_size, self.stride)
        self.padding = padding

    def init_scale(self, in_channels: int) -> float:
        """Standard deviation of the initial weights for ``in_channels`` input channels."""
        if self.weight_init == "normal":
            return 1.0
        k2 = self.param_size * self.param_size
        return float(np.sqrt(2.0 / ((in_channels + self.out_channels) * k2)))

    def _check_input(self, input_: np.ndarray) -> None:
        name = "Conv2D input_"
        check_float_array(input_, name, ndim=4, layout="[batch, channels, height, width]")
        if not self.first:
            in_channels = self.params[0].shape[0]
            if input_.shape[1] != in_channels:
                raise ValueError(
                    f"Conv2D input_ must have {in_channels} channels (the layer was set up for them); received input "
                    f"of shape {input_.shape}"
                )
        k = self.param_size
        before, after = self.pads
        height, width = input_.shape[2] + before + after, input_.shape[3] + before + after
        if height < k or width < k:
            raise ValueError(
                f"{name} must be at least {k}x{k} once padded (param_size={k}, padding={self.padding!r}): the "
                f"kernel is larger than the padded input; received shape {input_.shape}, {height}x{width} once padded"
            )

    def _setup_layer(self, input_: np.ndarray) -> None:
        in_channels = input_.shape[1]
        scale = self.init_scale(in_channels)
        k = self.param_size
        W = self.rng.normal(0.0, scale, size=(in_channels, self.out_channels, k, k)).astype(input_.dtype)
        params = [W]
        if self.bias:
            params.append(self.rng.normal(0.0, scale, size=(1, self.out_channels, 1, 1)).astype(input_.dtype))
        self._build_from_params(params)

    def _build_from_params(self, params: list[np.ndarray]) -> None:
        expected = 2 if self.bias else 1
        if len(params) != expected:
            names = "[W, B]" if self.bias else "[W]"
            raise ValueError(f"Conv2D parameters are {names} (bias={self.bias}); received {len(params)} arrays")
        W = params[0]
        k = self.param_size
        if W.ndim != 4 or W.shape[1:] != (self.out_channels, k, k):
            raise ValueError(
                f"Conv2D W must have shape [in_channels, {self.out_channels}, {k}, {k}]; received shape {W.shape}"
            )
        self.operations = [Conv2D_Op(W, padding=self.padding, stride=self.stride, impl=self.impl)]
        if self.bias:
            B = params[1]
            if B.shape != (1, self.out_channels, 1, 1):
                raise ValueError(f"Conv2D B must have shape (1, {self.out_channels}, 1, 1); received shape {B.shape}")
            self.operations.append(ChannelBiasAdd(B))
        self.operations.append(self.activation)
        if self.flatten:
            self.operations.append(Flatten())
        if self.dropout < 1.0:
            self.operations.append(self._make_dropout(self.dropout, self.inverted_dropout))
        self._params()
