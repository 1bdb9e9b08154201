"""Layers: chapter 7's ``PyTorchLayer`` and ``DenseLayer``; ``Dense``, the torch twin of ``scratch.Dense``.

A dense layer is ``nn.Linear``, then the activation (if any), then dropout (if ``dropout < 1``; ``dropout`` is
the KEEP probability, as in the book):

    forward:  y = a(x @ linear.weight.T + linear.bias), then dropout during training

Layouts are torch's: ``linear.weight`` is ``[neurons, input_size]`` (the book's W transposed) and
``linear.bias`` is ``[neurons]`` (the book's B is ``bias[None]``). Gradients come from autograd.

Dropout variants:

* ``inverted_dropout=True`` (``DenseLayer``'s default, chapter 7): ``nn.Dropout(1 - dropout)``, i.e.
  training ``x ⊙ mask / keep`` and the identity at inference. Because ``nn.Dropout`` cannot take a
  generator, a layer given a ``generator`` uses ``BookDropout(dropout, inverted=True, generator=...)``
  instead, which computes the same function with masks from that generator.
* ``inverted_dropout=False`` (``Dense``'s only mode): ``BookDropout(dropout)``, the book's chapter 4
  semantics (training ``x ⊙ mask``, inference ``keep · x``), the exact twin of ``scratch.Dropout``.

``forward(x, inference=True)`` gives dropout's inference behaviour whatever the module's training flag:
an ``nn.Dropout`` is skipped (its eval behaviour is the identity) and a ``BookDropout`` is called with
``inference=True`` (its eval behaviour). The linear map and the activation do not depend on the mode. The
book's chapter 7 code switched the modules to ``eval()`` for good when it saw ``inference=True``; here the
training flag is never changed by ``forward``, so ``model.eval()`` and ``inference=True`` are two ways to
ask for the same thing, and ``train()`` / ``eval()`` stay under the caller's control.

Initialisation (``weight_init``), drawn from ``generator`` when one is given (else torch's global one):

* ``"torch"``: ``nn.Linear``'s default, weight and bias ~ U(±1/sqrt(input_size));
* ``"standard"``: weight and bias ~ N(0, 1) (the book's default);
* ``"glorot"``: weight and bias ~ N(0, sqrt(2 / (input_size + neurons))). For the weight this is
  ``nn.init.xavier_normal_``; like the book, the bias is drawn from the same normal (xavier leaves biases
  alone). The book's printed code used the variance as the std; this is the corrected scale.

The weight is drawn before the bias (a ``[neurons, input_size]`` tensor, row-major).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from ._validation import (
    boundary,
    check_choice,
    check_features,
    check_generator,
    check_int,
    check_keep_prob,
    check_matches,
    check_module,
    check_tensor,
)
from .dropout import BookDropout, layer_dropout
from .init import book_glorot_std, normal_, torch_linear_init_

__all__ = ["Dense", "DenseLayer", "PyTorchLayer"]

WEIGHT_INITS = ("torch", "standard", "glorot")


class PyTorchLayer(nn.Module, ABC):
    """Chapter 7's layer base class: ``forward(x, inference=False)``.

    ``inference=True`` asks for the layer's inference behaviour (dropout off, or scaled the book's way)
    without changing the module's training flag.
    """

    @abstractmethod
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """Return the layer's output for ``x``."""

    def _check_stages(
        self, activation: nn.Module | None, dropout: float, inverted_dropout: bool, generator: torch.Generator | None
    ) -> nn.Module | None:
        """Check and keep the settings of the stages after the layer's linear map or convolution
        (``finish_layer``): ``keep_prob``, ``inverted_dropout``, ``generator``; return the checked activation,
        which ``_attach_stages`` registers once the layer's own module exists (the modules' order in ``repr``
        and ``named_modules`` is the order they run in)."""
        self.keep_prob = check_keep_prob(dropout, "dropout")
        checked = None if activation is None else check_module(activation, "activation", "Tanh()")
        self.inverted_dropout = bool(inverted_dropout)
        self.generator = check_generator(generator)
        return checked

    def _attach_stages(self, activation: nn.Module | None) -> None:
        """Register the activation and the dropout (``layer_dropout``) after the layer's own module, then draw
        the initial parameters (``reset_parameters``)."""
        self.activation = activation
        self.dropout_module = layer_dropout(self.keep_prob, self.inverted_dropout, self.generator)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """(Re-)draw the layer's parameters (each layer its own scheme)."""
        raise NotImplementedError

    @property
    def dropout_op(self) -> BookDropout | None:
        """The layer's ``BookDropout`` (the name the scratch layers use), or ``None``."""
        module = getattr(self, "dropout_module", None)
        return module if isinstance(module, BookDropout) else None


def finish_layer(
    out: Tensor, activation: nn.Module | None, flatten: bool, dropout: nn.Module | None, inference: bool
) -> Tensor:
    """The stages every book layer applies after its linear map or convolution, in the book's order:
    ``activation`` (if any), then ``flatten`` to ``[N, features]`` (if asked), then ``dropout`` (if any:
    ``BookDropout`` is told about ``inference``; any other dropout module runs only in training)."""
    if activation is not None:
        out = activation(out)
    if flatten:
        out = out.flatten(1)  # [N, C, H, W] -> [N, C·H·W]
    if dropout is not None:
        if isinstance(dropout, BookDropout):
            out = dropout(out, inference=inference)
        elif not inference:
            out = dropout(out)
    return out


class DenseLayer(PyTorchLayer):
    """A fully connected layer (chapter 7): ``nn.Linear``, activation, then dropout if ``dropout < 1``.

    See the module docstring for the dropout variants, ``inference`` and ``weight_init``. Attributes:
    ``linear`` (the ``nn.Linear``), ``activation`` (the module given, or ``None``), ``dropout_module``
    (``nn.Dropout``, ``BookDropout`` or ``None``) and ``keep_prob``.
    """

    dropout_module: nn.Module | None

    def __init__(
        self,
        input_size: int,
        neurons: int,
        dropout: float = 1.0,
        activation: nn.Module | None = None,
        *,
        weight_init: str = "torch",
        inverted_dropout: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        input_size = check_int(input_size, "input_size", 1)
        neurons = check_int(neurons, "neurons", 1)
        activation = self._check_stages(activation, dropout, inverted_dropout, generator)
        self.weight_init = check_choice(weight_init, "weight_init", WEIGHT_INITS)
        # Created without drawing anything, then initialised from the chosen scheme and generator.
        device = torch.get_default_device() if device is None else device
        self.linear = nn.utils.skip_init(nn.Linear, input_size, neurons, dtype=dtype, device=device)
        self._attach_stages(activation)

    @property
    def input_size(self) -> int:
        """Number of input features."""
        return self.linear.in_features

    @property
    def neurons(self) -> int:
        """Number of output features."""
        return self.linear.out_features

    def reset_parameters(self) -> None:
        """(Re-)draw ``linear.weight`` then ``linear.bias`` with ``weight_init`` from ``generator``."""
        weight, bias = self.linear.weight, self.linear.bias
        if self.weight_init == "torch":
            torch_linear_init_(weight, bias, self.generator)
            return
        std = 1.0 if self.weight_init == "standard" else book_glorot_std(self.input_size, self.neurons)
        normal_(weight, std, self.generator)
        normal_(bias, std, self.generator)

    @boundary()
    def forward(self, x: Tensor, inference: bool = False) -> Tensor:
        """``x`` ``[batch, input_size]`` -> ``[batch, neurons]``; ``inference`` as in the module docstring."""
        name = f"{type(self).__name__} input"
        check_tensor(x, name, 2, "[batch, features]")
        check_features(x, name, self.input_size, f"the layer was built for input_size={self.input_size}")
        check_matches(x, name, self.linear.weight, "the layer's weight")
        return finish_layer(self.linear(x), self.activation, False, self.dropout_module, inference)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, weight_init={self.weight_init!r}"


class Dense(DenseLayer):
    """The torch twin of ``scratch.Dense``: the book's chapter 4 dense layer with ``input_size`` given.

    ``DenseLayer`` with ``inverted_dropout=False`` (book dropout: ``x ⊙ mask`` in training, ``keep · x`` at
    inference) and ``weight_init="standard"`` by default. Its ``state_dict`` has the keys ``linear.weight``
    (``= W.T`` of the scratch layer) and ``linear.bias`` (``= B[0]``). ``activation=None`` is the identity,
    like scratch's default ``Linear()``.
    """

    def __init__(
        self,
        input_size: int,
        neurons: int,
        activation: nn.Module | None = None,
        dropout: float = 1.0,
        weight_init: str = "standard",
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(
            input_size,
            neurons,
            dropout,
            activation,
            weight_init=weight_init,
            inverted_dropout=False,
            generator=generator,
            dtype=dtype,
            device=device,
        )
