"""Every scratch model <-> torch, both ways: its ``torch_impl`` twin or plain ``torch.nn`` modules.

``to_torch(model, target)`` builds the torch module that computes what the scratch ``model`` computes, in the
model's dtype, and copies the model's weights into it through ``scratch_map(model, target)`` (a checked
``ParamMap``). ``to_scratch(module, model, target)`` goes back: the module's weights into an existing scratch
model, in place through its ``load_params`` (a model whose layers are not set up yet is built from the weights).
``model_key_table(model, target)`` is the map's key table in Markdown (the porting guide shows one per kind).

Models and targets (``{i}`` a scratch layer's index, ``{k}`` a position in an ``nn.Sequential``):

* ``NeuralNetwork`` of ``Dense`` / ``Conv2D`` layers (NumPy names ``{i}.W``, ``{i}.B``; a ``Conv2D`` without
  bias has only ``{i}.W``):

  - twin: ``torch_impl.SequentialModel`` of ``Dense`` / ``Conv2D`` (``DenseLayer`` / ``ConvLayer`` for a layer
    with inverted dropout), keys ``layers.{i}.linear.*`` / ``layers.{i}.conv.*``;
  - plain: ``nn.Sequential`` with, per layer, ``nn.Linear`` or ``nn.Conv2d(stride, padding, bias)`` (padding
    ``k // 2`` for the book's default), the activation (the ``torch.nn`` class of the scratch one's name, with its
    arguments: ``nn.Sigmoid``, ``nn.LeakyReLU(a)``, ...; nothing for ``Linear``), ``nn.Flatten()`` for a
    ``Conv2D(flatten=True)``, and ``nn.Dropout(1 - keep)`` for inverted dropout; keys ``{k}.weight`` / ``{k}.bias``.

* ``RNNModel`` of ``RNNLayer`` / ``LSTMLayer`` / ``GRULayer`` (names ``{i}.W_f`` ... as
  ``parity_tests.converters.recurrent_stack``):

  - twin: ``torch_impl.SequentialModel`` of ``RNNLayer`` / ``LSTMLayer`` / ``GRULayer(reset=...)`` with the
    same sizes and ``hidden_state``, keys ``layers.{i}.lstm.weight_ih_l0`` ..., ``layers.{i}.fc.*``; the
    book-mode carried state goes along (``start_H``/``start_C`` <-> the twin's ``carry`` buffer);
  - plain: ``nn.ModuleList`` of ``nn.ModuleDict({"cell": nn.RNN | nn.LSTM | nn.GRU(V, H, batch_first=True),
    "fc": nn.Linear(H, O)})``, keys ``{i}.cell.weight_ih_l0`` ..., ``{i}.fc.*``, run by
    ``run_plain_recurrent(stack, x)``: ``x = layer["fc"](layer["cell"](x)[0])`` per layer.

* ``Autoencoder`` (names ``encoder.conv1.W`` ... ``decoder.conv2.B``, its ``param_names``):

  - twin: ``torch_impl.Autoencoder`` with the same sizes, keys ``encoder.conv1.conv.weight`` ...;
  - plain: one ``nn.Sequential`` whose first part is the encoder: ``nn.Sequential(encoder=nn.Sequential(
    Conv2d, Tanh, Conv2d, Tanh, Flatten, Linear, Tanh), decoder=nn.Sequential(Linear, Tanh, Unflatten,
    Conv2d, Tanh, Conv2d, Tanh))``; ``module(x)`` is the reconstruction, ``module.encoder(x)`` the encoding;
    keys ``encoder.{k}.weight`` ....

What has no plain-torch equivalent, and what is only a note:

* the book's (non-inverted) dropout (``x ⊙ mask`` in training, ``keep · x`` at inference): ``nn.Dropout`` is
  inverted (``x ⊙ mask / keep``, identity at inference), so ``target="plain"`` is a ``ValueError``; the twin
  has ``torch_impl.Dropout``;
* ``GRULayer(reset="before")`` (the book's ``(r ⊙ h) W_hh``): ``nn.GRU`` resets after (``r ⊙ (h W_hh + b_hn)``),
  another function, so ``target="plain"`` is a ``ValueError``; the twin has ``torch_impl.ResetBeforeGRU``;
* ``hidden_state="book"`` (the carried state) is a note, not an error: the weights are the same, only the
  starting state differs. A plain stack starts every call from zeros, so it matches the scratch model on every
  call in ``hidden_state="zeros"`` and, in ``"book"`` mode, on a call that starts from zeros (the first one,
  or the next one after ``reset_state()``). To continue a carried state use ``target="twin"``, which copies it
  both ways. ``to_scratch`` from a plain stack leaves the scratch model's carried state as it was.

Exactness. Every rule is a transpose, a reshape or a block copy, so ``to_scratch(to_torch(model))`` gives the
model's parameters back bit for bit, and ``to_torch`` of what ``to_scratch`` loaded gives the module's
``state_dict`` back bit for bit. One exception: a recurrent layer has one bias per gate, torch two
(``bias_ih``, ``bias_hh``) that only act summed (except the reset-after GRU's ``b_hn``, the scratch ``B_hn``).
``to_torch`` puts the bias into ``bias_ih`` and 0 into ``bias_hh``; ``to_scratch`` reads ``bias_ih + bias_hh``.
A module whose summed ``bias_hh`` blocks are 0 (what ``to_torch`` builds, and what the twins keep with
``single_bias=True``) comes back exactly; a plain module trained with both biases comes back with their sum in
``bias_ih`` (the same function, up to one rounding per bias).

Conventions: the modules are returned in training mode (torch's default): call ``module.eval()`` (or pass the
twins ``inference=True``) where the scratch model runs with ``inference=True``. They are built inside
``torch.random.fork_rng``, so torch's global generator is left as it was (the initial values are overwritten
anyway). Nothing is ever cast: the module gets the scratch model's dtype (float32 or float64), and
``to_scratch`` refuses a module whose dtype differs from a set-up scratch model's. ``to_scratch`` first checks
that the module has the target's structure for this model (module types in order, activations, dropout kind,
GRU reset variant; parameter shapes wherever the scratch model determines them) and names the first
difference. This module imports torch only inside the functions that build or read modules.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from scratch import activations as scratch_activations
from scratch.autoencoder import Autoencoder
from scratch.base import Operation
from scratch.layers import Conv2D, Dense
from scratch.network import NeuralNetwork
from scratch.rnn import GRULayer, LSTMLayer, RNNLayer
from scratch.rnn_model import RNNModel

from ..converters import (
    AUTOENCODER_CONVERTER,
    CONV2D,
    CONV2D_BIAS,
    DENSE,
    GRU_AFTER,
    GRU_BEFORE,
    LSTM,
    RNN,
    RecurrentConverter,
    StackConverter,
    carry_of,
    combine,
    recurrent_stack,
)
from .mapping import ParamMap

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "TARGETS",
    "ScratchModel",
    "Target",
    "describe_target",
    "model_key_table",
    "run_plain_recurrent",
    "scratch_map",
    "scratch_params",
    "to_scratch",
    "to_torch",
]

#: The scratch models this module converts.
ScratchModel = NeuralNetwork | RNNModel | Autoencoder
Target = Literal["twin", "plain"]
#: ``"twin"``: the ``torch_impl`` twin; ``"plain"``: ``torch.nn`` modules only.
TARGETS: tuple[Target, ...] = ("twin", "plain")

#: The activations that convert: every ``Operation`` of ``scratch.activations``, by class name (its twin in
#: ``torch_impl`` and its ``torch.nn`` module have the same name; ``Linear`` is the identity: no module).
_ACTIVATIONS: tuple[str, ...] = tuple(
    name
    for name, cls in vars(scratch_activations).items()
    if isinstance(cls, type) and issubclass(cls, Operation) and cls.__module__ == scratch_activations.__name__
)
_NOT_SET_UP = "run one forward or load_params first"


# ---------------------------------------------------------------------------------------------------------
# Checks and names
# ---------------------------------------------------------------------------------------------------------


def _first_kind(obj: Any, table: tuple[tuple[type, str], ...], message: str) -> str:
    """The name of the first class in ``table`` that ``obj`` is an instance of (subclasses first in the table)."""
    for cls, name in table:
        if isinstance(obj, cls):
            return name
    raise TypeError(message)


def _kind(model: Any) -> str:
    table = ((NeuralNetwork, "network"), (RNNModel, "recurrent"), (Autoencoder, "autoencoder"))
    return _first_kind(
        model, table, f"model must be a scratch NeuralNetwork, RNNModel or Autoencoder; received {type(model).__name__}"
    )


def _check_target(target: Any) -> Target:
    if not isinstance(target, str) or target not in TARGETS:
        raise ValueError(
            f"target must be 'twin' (the torch_impl twin) or 'plain' (torch.nn modules only); received {target!r}"
        )
    return target


def _network_layers(model: NeuralNetwork) -> list[Dense | Conv2D]:
    layers: list[Dense | Conv2D] = []
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, Dense | Conv2D):
            raise ValueError(
                f"layers[{i}] is a {type(layer).__name__}: only Dense and Conv2D layers have a torch counterpart here"
            )
        layers.append(layer)
    return layers


def _layer_names(layer: Dense | Conv2D) -> tuple[str, ...]:
    """The layer's parameter names in ``params`` order: ``W`` and ``B`` (a bias-free ``Conv2D``: ``W``)."""
    return ("W", "B") if isinstance(layer, Dense) or layer.bias else ("W",)


def _activation(layer: Dense | Conv2D, where: str) -> str:
    """The layer's activation's class name (one of ``scratch.activations``)."""
    name = type(layer.activation).__name__
    if name not in _ACTIVATIONS or type(layer.activation).__module__ != scratch_activations.__name__:
        raise ValueError(
            f"{where}: the activation {name} has no torch counterpart here; supported: {', '.join(_ACTIVATIONS)}"
        )
    return name


def _activation_args(layer: Dense | Conv2D) -> dict[str, Any]:
    """The activation's constructor arguments, read back from its attributes of the same names
    (``LeakyReLU``'s ``negative_slope``; none for the others)."""
    op = layer.activation
    names = [n for n in inspect.signature(type(op).__init__).parameters if n != "self"]
    return {n: getattr(op, n) for n in names if hasattr(op, n)}


def _cell(layer: Any) -> str:
    """``"RNN"``, ``"LSTM"`` or ``"GRU"`` for a scratch recurrent layer."""
    table = ((GRULayer, "GRU"), (LSTMLayer, "LSTM"), (RNNLayer, "RNN"))
    try:
        return _first_kind(layer, table, "")
    except TypeError:
        raise ValueError(f"{type(layer).__name__} is not a scratch RNNLayer, LSTMLayer or GRULayer") from None


def _recurrent_inputs(model: RNNModel) -> list[int]:
    """Input features of each layer: ``vocab_size``, then the previous layer's ``output_size``."""
    return [model.vocab_size, *(layer.output_size for layer in model.layers[:-1])]


def _not_set_up(model: Any, kind: str) -> list[str]:
    if kind == "network":
        return [f"layers[{i}]" for i, layer in enumerate(model.layers) if layer.first]
    if kind == "recurrent":
        return [f"layers[{i}]" for i, layer in enumerate(model.layers) if layer.first or not layer.params]
    return [
        f"{part}.{name}"
        for part in ("encoder", "decoder")
        for name, layer in getattr(model, part).named_layers()
        if layer.first
    ]


def _require_set_up(model: Any, kind: str) -> None:
    missing = _not_set_up(model, kind)
    if missing:
        raise ValueError(
            f"the {type(model).__name__}'s parameters do not exist yet ({', '.join(missing)} not set up: scratch "
            f"creates them at the first forward): {_NOT_SET_UP}"
        )


def scratch_params(model: ScratchModel) -> dict[str, np.ndarray]:
    """The scratch model's parameters under the NumPy names of ``scratch_map`` (copies, in ``params()`` order).

    ``NeuralNetwork``: ``{i}.W`` ``(in, out)`` / ``(C_in, C_out, k, k)``, ``{i}.B`` ``(1, out)`` /
    ``(1, C_out, 1, 1)``; ``RNNModel``: ``{i}.<name>`` for every entry of layer i's ``params``; ``Autoencoder``:
    its ``named_params()``. ``ValueError`` before the parameters exist (run one forward or load_params first).
    """
    kind = _kind(model)
    _require_set_up(model, kind)
    if isinstance(model, NeuralNetwork):
        return {
            f"{i}.{name}": value.copy()
            for i, layer in enumerate(_network_layers(model))
            for name, value in zip(_layer_names(layer), layer.params, strict=True)
        }
    if isinstance(model, RNNModel):
        return {
            f"{i}.{name}": p["value"].copy() for i, layer in enumerate(model.layers) for name, p in layer.params.items()
        }
    return {name: value.copy() for name, value in model.named_params().items()}


def _numpy_dtype(model: Any, kind: str) -> np.dtype[Any]:
    if kind == "network":
        return np.dtype(model.layers[0].params[0].dtype)
    if kind == "recurrent":
        return np.dtype(model.dtype)
    return np.dtype(next(iter(model.named_params().values())).dtype)


def _torch_dtype(dtype: np.dtype[Any]) -> torch.dtype:
    import torch

    dtypes = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    if dtype not in dtypes:
        raise TypeError(f"the scratch model's parameters must be float32 or float64; received {dtype}")
    return dtypes[dtype]


# ---------------------------------------------------------------------------------------------------------
# The plain modules, step by step (shared by the builder, the map and the description)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One entry of a plain ``nn.Sequential``: ``kind`` is the ``torch.nn`` class name; ``name`` the scratch
    parameter prefix (``"0."``, ``"encoder.conv1."``) of a ``Linear`` / ``Conv2d``; ``layer`` that scratch
    layer and ``inputs`` its input features / channels where the architecture fixes them (``None``: read from
    the set-up layer's weights); ``arg`` the dropout probability or the unflattened shape."""

    kind: str
    name: str = ""
    layer: Any = None
    arg: Any = None
    inputs: int | None = None


def _layer_steps(layer: Dense | Conv2D, name: str, where: str, inputs: int | None = None) -> list[_Step]:
    """A scratch ``Dense`` / ``Conv2D`` as ``nn.Sequential`` entries, in the scratch layer's order: the affine
    map, the activation (none for ``Linear``), ``Flatten`` (``Conv2D(flatten=True)``), inverted dropout."""
    steps = [_Step("Conv2d" if isinstance(layer, Conv2D) else "Linear", name, layer, inputs=inputs)]
    activation = _activation(layer, where)
    if activation != "Linear":
        steps.append(_Step(activation, arg=_activation_args(layer)))
    if isinstance(layer, Conv2D) and layer.flatten:
        steps.append(_Step("Flatten"))
    if layer.dropout < 1.0:
        if not layer.inverted_dropout:
            raise ValueError(
                f"{where} uses the book's dropout (keep {layer.dropout}: x ⊙ mask in training, keep · x at "
                "inference), which torch.nn has no module for (nn.Dropout is inverted: x ⊙ mask / keep in training, "
                "the identity at inference): use target='twin' (torch_impl's BookDropout), or build the layer with "
                "inverted_dropout=True"
            )
        steps.append(_Step("Dropout", arg=1.0 - layer.dropout))
    return steps


def _plain_parts(model: NeuralNetwork | Autoencoder) -> list[tuple[str, list[_Step]]]:
    """``(prefix, steps)`` per ``nn.Sequential``: one unnamed part for a network; ``encoder`` and ``decoder``
    for the autoencoder."""
    if isinstance(model, NeuralNetwork):
        steps = [
            s for i, layer in enumerate(_network_layers(model)) for s in _layer_steps(layer, f"{i}.", f"layers[{i}]")
        ]
        return [("", steps)]
    enc, dec = model.encoder, model.decoder
    (c1, c2), (channels, height, width) = model.hidden_channels, model.image_shape
    encoder: list[_Step] = []
    for n, inputs in zip(enc.layer_names, (channels, c1, c2 * height * width), strict=True):
        encoder += _layer_steps(getattr(enc, n), f"encoder.{n}.", f"encoder.{n}", inputs)
    decoder = _layer_steps(dec.dense, "decoder.dense.", "decoder.dense", model.encoding_size)
    decoder.append(_Step("Unflatten", arg=(c2, height, width)))  # [N, C2·H·W] -> [N, C2, H, W]
    for n, inputs in (("conv1", c2), ("conv2", c1)):
        decoder += _layer_steps(getattr(dec, n), f"decoder.{n}.", f"decoder.{n}", inputs)
    return [("encoder", encoder), ("decoder", decoder)]


def _check_plain_recurrent(model: RNNModel) -> None:
    for i, layer in enumerate(model.layers):
        if isinstance(layer, GRULayer) and layer.reset == "before":
            raise ValueError(
                f"layers[{i}] is a GRULayer(reset='before') (the book's h̃ = tanh(x W_xh + (r ⊙ h) W_hh + B_h)); "
                "nn.GRU resets after (tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))), another function: use "
                "target='twin' (torch_impl's ResetBeforeGRU), or a GRULayer(reset='after')"
            )


def _padding(layer: Conv2D) -> int | str:
    """``nn.Conv2d``'s padding for the scratch layer's: ``None`` -> ``k // 2`` (the book's), an int or ``"same"``."""
    if layer.padding is None:
        return layer.param_size // 2
    return layer.padding if isinstance(layer.padding, str) else int(layer.padding)


# ---------------------------------------------------------------------------------------------------------
# The maps
# ---------------------------------------------------------------------------------------------------------


def _layer_converter(layer: Any) -> RecurrentConverter:
    cell = _cell(layer)
    if cell == "GRU":
        return GRU_AFTER if layer.reset == "after" else GRU_BEFORE
    return LSTM if cell == "LSTM" else RNN


def _recurrent_converter(model: RNNModel) -> StackConverter:
    return recurrent_stack([_layer_converter(layer) for layer in model.layers])


def _plain_recurrent_map(model: RNNModel) -> ParamMap:
    _check_plain_recurrent(model)
    pmap = ParamMap()
    for i, (layer, inputs) in enumerate(zip(model.layers, _recurrent_inputs(model), strict=True)):
        p, cell = f"{i}.", f"{i}.cell"
        kind = _cell(layer)
        if kind == "RNN":
            pmap.recurrent(cell, "RNN", weights=p + "W_f", input_size=inputs, biases=p + "B_f")
        elif kind == "LSTM":
            gates = {g: p + f"W_{g}" for g in "ifco"}  # c: the book's name of torch's g gate
            pmap.recurrent(cell, "LSTM", weights=gates, input_size=inputs, biases={g: p + f"B_{g}" for g in "ifco"})
        else:  # the book's r, u, h are torch's r, z, n; B_hn is bias_hh's n block
            pmap.recurrent(
                cell,
                "GRU",
                weights_ih={g: p + f"W_x{g}" for g in "ruh"},
                weights_hh={g: p + f"W_h{g}" for g in "ruh"},
                biases={g: p + f"B_{g}" for g in "ruh"},
                biases_hh={"h": p + "B_hn"},
            )
        pmap.linear(p + "W_v", p + "B_v", f"{i}.fc")
    return pmap


def scratch_map(model: ScratchModel, target: Target = "twin") -> ParamMap:
    """The checked map between the scratch model's parameters (``scratch_params`` names) and the ``state_dict``
    keys of ``to_torch(model, target)``'s module.

    Only the names and the architecture are read, so this works before the model is set up (and without torch).
    Twins reuse the project's tested converters (``parity_tests.converters``); the plain targets are built with
    ``ParamMap.linear`` / ``conv`` / ``recurrent``. ``ValueError`` where the model has no plain-torch equivalent
    (the book's dropout, a reset-before GRU; see the module docstring) or an unknown ``target``.
    """
    target = _check_target(target)
    if isinstance(model, NeuralNetwork):
        if target == "twin":
            parts = []
            for i, layer in enumerate(_network_layers(model)):
                base = DENSE if isinstance(layer, Dense) else (CONV2D_BIAS if layer.bias else CONV2D)
                parts.append(base.prefixed(f"{i}.", f"layers.{i}."))
            return ParamMap.from_converter(combine("NeuralNetwork", parts))
    elif isinstance(model, RNNModel):
        if target == "twin":
            return ParamMap.from_converter(_recurrent_converter(model))
        return _plain_recurrent_map(model)
    elif isinstance(model, Autoencoder):
        if target == "twin":
            return ParamMap.from_converter(AUTOENCODER_CONVERTER)
    else:
        _kind(model)  # raises the TypeError
    pmap = ParamMap()
    for prefix, steps in _plain_parts(model):
        for k, step in enumerate(steps):
            key = f"{prefix}.{k}" if prefix else str(k)
            if step.kind == "Linear":
                pmap.linear(step.name + "W", step.name + "B", key)
            elif step.kind == "Conv2d":
                pmap.conv(step.name + "W", step.name + "B" if step.layer.bias else None, key)
    return pmap


def model_key_table(model: ScratchModel, target: Target = "twin") -> str:
    """The key table of ``scratch_map(model, target)`` as Markdown: NumPy name and shape, torch key and shape,
    the rule (``ParamMap.table()``)."""
    return scratch_map(model, target).table()


def describe_target(model: ScratchModel, target: Target = "twin") -> str:
    """A one-line description of the module ``to_torch(model, target)`` builds (its classes, without sizes)."""
    target = _check_target(target)
    _kind(model)
    if isinstance(model, RNNModel):
        if target == "twin":
            names = [
                f"GRULayer(reset={layer.reset!r})" if isinstance(layer, GRULayer) else type(layer).__name__
                for layer in model.layers
            ]
            return f"torch_impl.SequentialModel({', '.join(names)})"
        _check_plain_recurrent(model)
        cells = ", ".join(f"ModuleDict(cell=nn.{_cell(layer)}, fc=nn.Linear)" for layer in model.layers)
        return f"nn.ModuleList([{cells}]), run by run_plain_recurrent(stack, x)"
    if target == "twin":
        if isinstance(model, Autoencoder):
            return (
                "torch_impl.Autoencoder(encoder=Encoder(conv1, conv2, dense), "
                "decoder=Decoder(dense, reshape, conv1, conv2))"
            )
        names = []
        for i, layer in enumerate(_network_layers(model)):
            inverted = layer.dropout < 1.0 and layer.inverted_dropout
            base = (
                ("DenseLayer" if inverted else "Dense")
                if isinstance(layer, Dense)
                else ("ConvLayer" if inverted else "Conv2D")
            )
            activation = _activation(layer, f"layers[{i}]")
            names.append(base if activation == "Linear" else f"{base}({activation})")
        return f"torch_impl.SequentialModel({', '.join(names)})"
    parts = [(prefix, ", ".join(s.kind for s in steps)) for prefix, steps in _plain_parts(model)]
    if len(parts) == 1:
        return f"nn.Sequential({parts[0][1]})"
    return "nn.Sequential(" + ", ".join(f"{prefix}=nn.Sequential({body})" for prefix, body in parts) + ")"


# ---------------------------------------------------------------------------------------------------------
# Building the modules
# ---------------------------------------------------------------------------------------------------------


def _in_size(layer: Dense | Conv2D) -> int:
    """Input features / channels of a set-up layer (1, a placeholder, before set-up: only the structure check
    builds a module for a model that is not set up, and it compares no sizes then)."""
    return int(layer.params[0].shape[0]) if layer.params else 1


def _plain_module(step: _Step, dtype: torch.dtype) -> nn.Module:
    from torch import nn

    if step.kind == "Linear":
        layer: Dense = step.layer
        return nn.Linear(_in_size(layer) if step.inputs is None else step.inputs, layer.neurons, dtype=dtype)
    if step.kind == "Conv2d":
        conv: Conv2D = step.layer
        return nn.Conv2d(
            _in_size(conv) if step.inputs is None else step.inputs,
            conv.out_channels,
            conv.param_size,
            stride=conv.stride,
            padding=_padding(conv),
            bias=conv.bias,
            dtype=dtype,
        )
    if step.kind == "Dropout":
        return nn.Dropout(step.arg)
    if step.kind == "Unflatten":
        return nn.Unflatten(1, step.arg)
    module: nn.Module = getattr(nn, step.kind)(**(step.arg or {}))  # an activation (its arguments), Flatten
    return module


def _twin_activation(layer: Dense | Conv2D, where: str) -> nn.Module | None:
    import torch_impl

    name = _activation(layer, where)
    if name == "Linear":
        return None
    module: nn.Module = getattr(torch_impl, name)(**_activation_args(layer))
    return module


def _twin_network_layer(layer: Dense | Conv2D, where: str, dtype: torch.dtype) -> nn.Module:
    import torch_impl

    activation = _twin_activation(layer, where)
    inverted = layer.dropout < 1.0 and layer.inverted_dropout
    if isinstance(layer, Dense):
        if inverted:
            return torch_impl.DenseLayer(
                _in_size(layer),
                layer.neurons,
                layer.dropout,
                activation,
                weight_init=layer.weight_init,
                inverted_dropout=True,
                dtype=dtype,
            )
        return torch_impl.Dense(
            _in_size(layer), layer.neurons, activation, layer.dropout, layer.weight_init, dtype=dtype
        )
    options: dict[str, Any] = {"padding": layer.padding, "stride": layer.stride, "bias": layer.bias, "dtype": dtype}
    if inverted:
        return torch_impl.ConvLayer(
            _in_size(layer),
            layer.out_channels,
            layer.param_size,
            activation,
            layer.dropout,
            layer.flatten,
            weight_init=layer.weight_init,
            inverted_dropout=True,
            **options,
        )
    return torch_impl.Conv2D(
        _in_size(layer),
        layer.out_channels,
        layer.param_size,
        activation,
        layer.dropout,
        layer.weight_init,
        layer.flatten,
        **options,
    )


def _twin_recurrent_layer(model: RNNModel, layer: Any, inputs: int, dtype: torch.dtype) -> nn.Module:
    import torch_impl

    sizes = (model.sequence_length, inputs, layer.hidden_size, layer.output_size)
    options: dict[str, Any] = {"hidden_state": layer.hidden_state, "dtype": dtype}
    cell = _cell(layer)
    if cell == "GRU":
        return torch_impl.GRULayer(*sizes, reset=layer.reset, **options)
    if cell == "LSTM":
        return torch_impl.LSTMLayer(*sizes, **options)
    return torch_impl.RNNLayer(*sizes, **options)


def _build(model: Any, kind: str, target: str, dtype: torch.dtype) -> nn.Module:
    """The target module for ``model`` (initial values from torch's own initialisation, inside ``fork_rng``)."""
    import torch
    from torch import nn

    import torch_impl

    with torch.random.fork_rng(devices=[]):
        if kind == "recurrent":
            inputs = _recurrent_inputs(model)
            if target == "twin":
                layers = [
                    _twin_recurrent_layer(model, la, v, dtype) for la, v in zip(model.layers, inputs, strict=True)
                ]
                return torch_impl.SequentialModel(*layers)
            _check_plain_recurrent(model)
            return nn.ModuleList(
                nn.ModuleDict(
                    {
                        "cell": getattr(nn, _cell(layer))(v, layer.hidden_size, batch_first=True, dtype=dtype),
                        "fc": nn.Linear(layer.hidden_size, layer.output_size, dtype=dtype),
                    }
                )
                for layer, v in zip(model.layers, inputs, strict=True)
            )
        if target == "twin":
            if kind == "autoencoder":
                return torch_impl.Autoencoder(
                    model.hidden_channels,
                    model.kernel_size,
                    model.encoding_size,
                    model.image_shape,
                    weight_init=model.encoder.weight_init,
                    dtype=dtype,
                )
            return torch_impl.SequentialModel(
                *(_twin_network_layer(la, f"layers[{i}]", dtype) for i, la in enumerate(_network_layers(model)))
            )
        parts = [(prefix, [_plain_module(s, dtype) for s in steps]) for prefix, steps in _plain_parts(model)]
        if len(parts) == 1:
            return nn.Sequential(*parts[0][1])
        return nn.Sequential(OrderedDict((prefix, nn.Sequential(*modules)) for prefix, modules in parts))


def _recurrent_layers(model: RNNModel) -> Iterator[tuple[Any, RecurrentConverter]]:
    """Each scratch layer with its prefixed converter part (``{i}.`` <-> ``layers.{i}.``)."""
    for layer, part in zip(model.layers, _recurrent_converter(model).parts, strict=True):
        assert isinstance(part, RecurrentConverter)  # recurrent_stack makes only these
        yield layer, part


def to_torch(model: ScratchModel, target: Target = "twin") -> nn.Module:
    """The torch module computing what ``model`` computes, holding ``model``'s weights (copies).

    ``target="twin"``: the ``torch_impl`` twin (``SequentialModel`` of ``Dense``/``Conv2D``/``RNNLayer``/
    ``LSTMLayer``/``GRULayer``, or ``Autoencoder``; a recurrent layer's carried state is copied too).
    ``target="plain"``: ``torch.nn`` modules only (``nn.Sequential``; an ``nn.ModuleList`` of
    ``nn.ModuleDict(cell, fc)`` for an ``RNNModel``, run by ``run_plain_recurrent``). Same sizes, activations,
    dropout semantics, conv padding and stride, recurrent sizes and GRU reset variant, and the model's dtype;
    weights loaded through ``scratch_map(model, target)``. The module is in training mode (torch's default).

    ``ValueError`` if the model's parameters do not exist yet (run one forward or load_params first) or the
    model has no plain equivalent (module docstring); ``TypeError`` for anything but a scratch
    ``NeuralNetwork``/``RNNModel``/``Autoencoder``.
    """
    import torch

    kind = _kind(model)
    target = _check_target(target)
    _require_set_up(model, kind)
    pmap = scratch_map(model, target)
    params = scratch_params(model)
    module = _build(model, kind, target, _torch_dtype(_numpy_dtype(model, kind)))
    pmap.load_into(module, params)
    if isinstance(model, RNNModel) and target == "twin":
        state = model.state()
        for _, part in _recurrent_layers(model):
            for key, carry in carry_of(part).to_torch(state).items():  # "layers.{i}.carry"; {} without a carry
                owner, _, buffer = key.rpartition(".")
                where = module.get_buffer(key).device
                setattr(module.get_submodule(owner), buffer, torch.from_numpy(carry.copy()).to(where))  # (S, H)
    return module


# ---------------------------------------------------------------------------------------------------------
# Back to scratch
# ---------------------------------------------------------------------------------------------------------


def _structure(module: nn.Module) -> list[tuple[str, str]]:
    """``(name, class)`` of every submodule, identity activations left out and dropout described by its
    semantics (``nn.Dropout`` and an inverted ``BookDropout`` compute the same function)."""
    from torch import nn

    import torch_impl

    rows = []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Identity | torch_impl.Linear):
            continue
        if isinstance(sub, nn.Dropout | torch_impl.Dropout):
            inverted = sub.inverted if isinstance(sub, torch_impl.Dropout) else True
            label = f"dropout ({'inverted' if inverted else 'the book’s'})"
        else:
            label = f"{type(sub).__module__}.{type(sub).__qualname__}"
        rows.append((name or "(the module)", label))
    return rows


def _check_structure(module: nn.Module, model: Any, kind: str, target: str, set_up: bool) -> None:
    """The module must have the structure ``to_torch`` would build (and, where the scratch model fixes them,
    the same parameter shapes)."""
    expected_module = _build(model, kind, target, _module_dtype(module))
    expected, found = _structure(expected_module), _structure(module)
    for position in range(max(len(expected), len(found))):
        want = expected[position] if position < len(expected) else ("(nothing)", "(nothing)")
        got = found[position] if position < len(found) else ("(nothing)", "(nothing)")
        if want != got:
            raise ValueError(
                f"the module does not have the structure of to_torch(model, target={target!r}) for this "
                f"{type(model).__name__}: submodule {position} should be {want[0]!r} ({want[1]}); found {got[0]!r} "
                f"({got[1]}). Build it with to_torch, or pass the other target"
            )
    if kind == "network" and not set_up:
        return  # the input sizes come from the weights when the scratch layers are built from them
    shapes = {name: tuple(p.shape) for name, p in module.named_parameters()}
    for name, p in expected_module.named_parameters():
        if shapes.get(name) != tuple(p.shape):
            raise ValueError(
                f"the module's {name!r} must have shape {tuple(p.shape)} for this {type(model).__name__}; received "
                f"{shapes.get(name)}"
            )


def _module_dtype(module: nn.Module) -> torch.dtype:
    import torch

    dtypes = {p.dtype for p in module.parameters()}
    if len(dtypes) != 1 or not dtypes <= {torch.float32, torch.float64}:
        raise TypeError(
            f"the module's parameters must all be float32 or all float64; received {sorted(map(str, dtypes))}"
        )
    return dtypes.pop()


def to_scratch(module: nn.Module, model: ScratchModel, target: Target = "twin") -> None:
    """Copy ``module``'s weights into the scratch ``model`` (in place; the other way of ``to_torch``).

    ``module`` must have the structure ``to_torch(model, target)`` builds (checked first: module classes in
    order, activations, dropout kind, GRU reset variant, and parameter shapes where the scratch model fixes
    them); the weights go through ``scratch_map(model, target)`` into the model's ``load_params`` (a scratch
    layer that is not set up yet is built from them, in the module's dtype; a set-up one keeps its arrays,
    which the optimizers hold, and is refused a module of another dtype with a ``TypeError``). From a twin, a
    recurrent layer's carried state comes along (none on the twin: none on the scratch layer afterwards); from
    a plain stack, which has none, the scratch layers' carried state is left as it was.
    """
    from torch import nn

    import torch_impl

    kind = _kind(model)
    target = _check_target(target)
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; received {type(module).__name__}")
    wanted: tuple[type, ...]
    if target == "twin":
        wanted = (torch_impl.Autoencoder,) if kind == "autoencoder" else (torch_impl.SequentialModel,)
    else:
        wanted = (nn.ModuleList,) if kind == "recurrent" else (nn.Sequential,)
    if not isinstance(module, wanted):
        raise TypeError(
            f"for target={target!r} a {type(model).__name__} converts to a {wanted[0].__name__}; received a "
            f"{type(module).__name__} (pass the other target if it is the other kind of module)"
        )
    set_up = not _not_set_up(model, kind)
    if set_up:
        mine = _numpy_dtype(model, kind)
        theirs = _module_dtype(module)
        if theirs != _torch_dtype(mine):
            raise TypeError(
                f"the module holds {theirs} and the scratch model {mine}: loading would cast. Convert the module "
                f"(module.to({_torch_dtype(mine)})) or use a scratch model of that dtype"
            )
    _check_structure(module, model, kind, target, set_up)
    params = scratch_map(model, target).from_module(module)
    if isinstance(model, NeuralNetwork):
        for i, layer in enumerate(_network_layers(model)):
            layer.load_params([params[f"{i}.{name}"] for name in _layer_names(layer)])
    elif isinstance(model, RNNModel):
        state = {key: value.detach().cpu().numpy() for key, value in module.state_dict().items()}
        for i, (layer, part) in enumerate(_recurrent_layers(model)):
            prefix = f"{i}."
            own = {name[len(prefix) :]: value for name, value in params.items() if name.startswith(prefix)}
            if target == "plain":
                layer.load_params(own)
                continue
            carry = {name[len(prefix) :]: value for name, value in carry_of(part).to_book(state).items()}
            layer.load_state({**own, **carry})  # no start_* entries: no carried state afterwards
    else:
        model.load_params(params)


def run_plain_recurrent(stack: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """Run a plain recurrent stack (``to_torch(rnn_model, "plain")``): ``x [N, T, V] -> logits [N, T, O]``.

    Per layer: ``x = layer["fc"](layer["cell"](x)[0])`` (the cell's outputs h_1 .. h_T ``[N, T, H]``, then the
    book's per-step output projection ``[N, T, O]``). Every call starts from zero states (see the module
    docstring for the book's carried state).
    """
    import torch
    from torch import nn

    if not isinstance(stack, nn.ModuleList) or not all(
        isinstance(layer, nn.ModuleDict) and set(layer.keys()) == {"cell", "fc"} for layer in stack
    ):
        raise TypeError(
            "stack must be an nn.ModuleList of nn.ModuleDict({'cell': nn.RNN | nn.LSTM | nn.GRU, 'fc': nn.Linear}) "
            f"(to_torch(model, 'plain') of an RNNModel); received {type(stack).__name__}"
        )
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x must be a 3-D tensor [batch, time, features]; received {shape}")
    out = x
    for layer in stack:
        parts = cast(nn.ModuleDict, layer)  # checked above
        hidden, _ = parts["cell"](out)  # [N, T, V] -> [N, T, H] (h_1 .. h_T), the last states dropped
        out = parts["fc"](hidden)  # [N, T, H] -> [N, T, O]
    return out
