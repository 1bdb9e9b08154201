"""Model-level conversion (``parity_tests.port.models``): every scratch model <-> its ``torch_impl`` twin and plain
``torch.nn`` modules, both ways.

For every model kind and both targets, with random non-zero parameters (biases included) in float64 and a batch
of more than one sample: ``to_torch`` computes what the scratch model computes (to round-off, the float64
forward tier); scratch -> torch -> scratch gives the parameters back bit for bit; torch -> scratch -> torch gives
the ``state_dict`` back bit for bit; and what has no plain equivalent, a model without parameters yet, a module
of the wrong structure or dtype are clear errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import torch_impl
from parity_tests.port import (
    TARGETS,
    Target,
    compare,
    describe_target,
    model_key_table,
    run_plain_recurrent,
    scratch_map,
    scratch_params,
    to_scratch,
    to_torch,
)
from scratch import (
    Autoencoder,
    Conv2D,
    Dense,
    Flatten,
    GRULayer,
    LeakyReLU,
    Linear,
    LSTMLayer,
    MeanSquaredError,
    NeuralNetwork,
    ReLU,
    RNNLayer,
    RNNModel,
    Sigmoid,
    Tanh,
)

Factory = Callable[[], Any]

# name -> (an unbuilt scratch model, the input shape of one batch, the targets it converts to)
MODELS: dict[str, tuple[Factory, tuple[int, ...], tuple[Target, ...]]] = {
    "mlp-sigmoid": (
        lambda: NeuralNetwork([Dense(5, Sigmoid()), Dense(3, Tanh()), Dense(2, Linear())], MeanSquaredError()),
        (4, 6),
        TARGETS,
    ),
    "mlp-leaky-relu": (
        lambda: NeuralNetwork([Dense(5, LeakyReLU(0.3)), Dense(2, LeakyReLU())], MeanSquaredError()),
        (4, 6),
        TARGETS,
    ),
    "mlp-relu-inverted-dropout": (
        lambda: NeuralNetwork([Dense(5, ReLU(), dropout=0.8, inverted_dropout=True), Dense(2)], MeanSquaredError()),
        (3, 4),
        TARGETS,
    ),
    "mlp-book-dropout": (
        lambda: NeuralNetwork([Dense(5, Sigmoid(), dropout=0.7), Dense(2)], MeanSquaredError()),
        (3, 4),
        ("twin",),
    ),
    "cnn": (
        lambda: NeuralNetwork(
            [
                Conv2D(3, 3, activation=Tanh(), bias=True),
                Conv2D(2, 3, activation=ReLU(), flatten=True, padding=0),  # no bias, no padding: 5x5 -> 3x3
                Dense(4, Sigmoid()),
            ],
            MeanSquaredError(),
        ),
        (2, 2, 5, 5),
        TARGETS,
    ),
    "cnn-stride-inverted-dropout": (
        lambda: NeuralNetwork(
            [
                Conv2D(
                    2, 3, activation=Sigmoid(), flatten=True, bias=True, stride=2, dropout=0.9, inverted_dropout=True
                ),
                Dense(3),
            ],
            MeanSquaredError(),
        ),
        (3, 1, 6, 5),
        TARGETS,
    ),
    "rnn-lstm-gru-after": (
        lambda: RNNModel([RNNLayer(6, 5), LSTMLayer(7, 4), GRULayer(5, 3, reset="after")], 4, 3),
        (3, 4, 3),
        TARGETS,
    ),
    "gru-before-lstm": (
        lambda: RNNModel([GRULayer(5, 4, reset="before"), LSTMLayer(4, 3, hidden_state="zeros")], 4, 3),
        (2, 5, 3),
        ("twin",),
    ),
    "autoencoder": (
        lambda: Autoencoder(hidden_channels=(3, 2), kernel_size=3, encoding_size=4, image_shape=(1, 6, 5)),
        (3, 1, 6, 5),
        TARGETS,
    ),
}

CASES = [pytest.param(name, target, id=f"{name}-{target}") for name, (_, _, ts) in MODELS.items() for target in ts]


def _seed(name: str, target: Target) -> int:
    return int.from_bytes(f"{name}/{target}".encode(), "little") % 2**32


def _inputs(name: str, rng: np.random.Generator) -> np.ndarray:
    return np.tanh(rng.normal(size=MODELS[name][1]))


def _random_model(name: str, rng: np.random.Generator) -> Any:
    """The scratch model, set up by one forward, then given random non-zero float64 parameters (biases too)."""
    model = MODELS[name][0]()
    model.forward(_inputs(name, rng))
    params = {k: rng.normal(0.0, 0.6, size=v.shape) for k, v in scratch_params(model).items()}
    _load(model, params)
    if isinstance(model, RNNModel):
        model.reset_state()
    loaded = scratch_params(model)
    assert all(np.all(v != 0) for v in loaded.values()), "the round trips need non-zero parameters"
    assert all(v.dtype == np.float64 for v in loaded.values())
    return model


def _load(model: Any, params: dict[str, np.ndarray]) -> None:
    """Load ``params`` (``scratch_params`` names) into a scratch model with its own API."""
    if isinstance(model, NeuralNetwork):
        for i, layer in enumerate(model.layers):
            layer.load_params([params[f"{i}.{n}"] for n in ("W", "B") if f"{i}.{n}" in params])
    elif isinstance(model, RNNModel):
        for i, cell in enumerate(model.layers):
            cell.load_params({k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(f"{i}.")})
    else:
        model.load_params(params)


def _scratch_forward(model: Any, x: np.ndarray) -> tuple[np.ndarray, ...]:
    if isinstance(model, NeuralNetwork):
        return (model.forward(x, inference=True),)
    if isinstance(model, RNNModel):
        return (model.forward(x),)
    return model.forward(x, inference=True)


def _torch_forward(module: nn.Module, model: Any, target: Target, x: np.ndarray) -> tuple[np.ndarray, ...]:
    xt = torch.from_numpy(x)
    with torch.no_grad():
        if isinstance(model, RNNModel) and target == "plain":
            assert isinstance(module, nn.ModuleList)
            out: Any = run_plain_recurrent(module, xt)
        elif isinstance(model, Autoencoder) and target == "plain":
            out = (module(xt), module.get_submodule("encoder")(xt))  # the plain encoder: the first part
        else:
            out = module(xt)
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(o.numpy() for o in outs)


def _assert_same_forward(model: Any, module: nn.Module, target: Target, x: np.ndarray) -> None:
    for k, (got, want) in enumerate(
        zip(_scratch_forward(model, x), _torch_forward(module, model, target, x), strict=True)
    ):
        result = compare(got, want, dtype="float64", category="forward", name=f"output {k}")
        assert result.passed, result.describe()


def _randomize_module(module: nn.Module, seed: int) -> None:
    """New random non-zero values for every parameter; the summed blocks of each recurrent ``bias_hh`` 0 (the
    canonical form the map writes: only ``bias_ih + bias_hh`` acts there)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.6)
        for sub in module.modules():
            if isinstance(sub, nn.RNNBase | torch_impl.ResetBeforeGRU):
                bias_hh = sub.get_parameter("bias_hh_l0")
                summed = 2 * bias_hh.shape[0] // 3 if isinstance(sub, nn.GRU) else bias_hh.shape[0]
                bias_hh[:summed] = 0.0  # an nn.GRU keeps its n block (the scratch B_hn)


# ---------------------------------------------------------------------------------------------------------
# Forward equality and both round trips, for every model kind and target
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "target"), CASES)
def test_to_torch_computes_what_the_scratch_model_computes(name: str, target: Target) -> None:
    rng = np.random.default_rng(_seed(name, target))
    model = _random_model(name, rng)
    module = to_torch(model, target)
    module.eval()
    assert {p.dtype for p in module.parameters()} == {torch.float64}
    assert set(scratch_map(model, target).torch_names) == {n for n, _ in module.named_parameters()}
    x = _inputs(name, rng)
    _assert_same_forward(model, module, target, x)
    if isinstance(model, RNNModel):  # a second call: the same carried state on both sides (or zeros on both)
        if target == "plain":
            model.reset_state()
        _assert_same_forward(model, module, target, _inputs(name, rng))


@pytest.mark.parametrize(("name", "target"), CASES)
def test_round_trip_scratch_torch_scratch_is_bit_exact(name: str, target: Target) -> None:
    rng = np.random.default_rng(_seed(name, target) + 1)
    model = _random_model(name, rng)
    original = scratch_params(model)
    module = to_torch(model, target)
    fresh = MODELS[name][0]()  # not set up: to_scratch builds its layers from the weights
    to_scratch(module, fresh, target)
    again = scratch_params(fresh)
    assert list(again) == list(original)
    for key, value in original.items():
        assert again[key].dtype == value.dtype, key
        assert np.array_equal(again[key], value), key
    to_scratch(module, model, target)  # and into the set-up model, in place
    for key, value in scratch_params(model).items():
        assert np.array_equal(value, original[key]), key


@pytest.mark.parametrize(("name", "target"), CASES)
def test_round_trip_torch_scratch_torch_is_bit_exact(name: str, target: Target) -> None:
    rng = np.random.default_rng(_seed(name, target) + 2)
    module = to_torch(_random_model(name, rng), target)
    _randomize_module(module, _seed(name, target))
    state = {k: v.clone() for k, v in module.state_dict().items()}
    model = MODELS[name][0]()
    to_scratch(module, model, target)
    back = to_torch(model, target).state_dict()
    assert list(back) == list(state)
    for key, value in state.items():
        assert back[key].dtype == value.dtype, key
        assert torch.equal(back[key], value), key
    module.eval()
    _assert_same_forward(model, module, target, _inputs(name, rng))


def test_carried_state_travels_with_the_twin_both_ways() -> None:
    rng = np.random.default_rng(7)
    model = _random_model("rnn-lstm-gru-after", rng)
    model.forward(_inputs("rnn-lstm-gru-after", rng))  # the book's carry: every layer now holds one
    twin = to_torch(model, "twin")
    twin.eval()
    assert isinstance(twin, torch_impl.SequentialModel)
    assert all(getattr(layer, "carried_state", None) is not None for layer in twin.layers)
    x = _inputs("rnn-lstm-gru-after", rng)
    _assert_same_forward(model, twin, "twin", x)  # both continue from the same carried state

    fresh = MODELS["rnn-lstm-gru-after"][0]()
    to_scratch(twin, fresh, "twin")  # the twin's carry now (its own call's batch mean), exactly
    assert sorted(fresh.state()) == sorted(model.state())  # parameters and every start_H / start_C
    for key, value in to_torch(fresh, "twin").state_dict().items():
        assert torch.equal(value, twin.state_dict()[key]), key
    first = twin.layers[0]
    assert isinstance(first, torch_impl.RNNLayer)
    first.reset_state()
    to_scratch(twin, fresh, "twin")
    assert "0.start_H" not in fresh.state()  # no carry on the twin: none on the scratch layer
    assert "1.start_C" in fresh.state()


def test_a_plain_stack_starts_every_call_from_zeros() -> None:
    """The documented note: in the book's carry mode a plain stack matches the first call (from zeros), and a
    later one only after reset_state(); the twin follows the carry."""
    rng = np.random.default_rng(8)
    model = _random_model("rnn-lstm-gru-after", rng)
    plain = to_torch(model, "plain")
    x1, x2 = _inputs("rnn-lstm-gru-after", rng), _inputs("rnn-lstm-gru-after", rng)
    _assert_same_forward(model, plain, "plain", x1)
    carried = model.forward(x2)
    from_zeros = _torch_forward(plain, model, "plain", x2)[0]
    assert not compare(carried, from_zeros, dtype="float64", category="forward").passed
    model.reset_state()
    _assert_same_forward(model, plain, "plain", x2)


def test_a_plain_recurrent_module_with_two_biases_comes_back_as_their_sum() -> None:
    rng = np.random.default_rng(9)
    model = _random_model("rnn-lstm-gru-after", rng)
    plain = to_torch(model, "plain")
    assert isinstance(plain, nn.ModuleList)
    generator = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for name, p in plain.named_parameters():
            if name.endswith("bias_hh_l0"):  # torch's second bias, non-zero: the scratch layer has only their sum
                p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))
    to_scratch(plain, model, "plain")
    old, new = plain.state_dict(), to_torch(model, "plain").state_dict()
    for i, summed in enumerate((6, 4 * 7, 2 * 5)):  # RNN, LSTM: every row summed; GRU: r, z (n is B_hn)
        ih, hh = old[f"{i}.cell.bias_ih_l0"], old[f"{i}.cell.bias_hh_l0"]
        assert torch.equal(new[f"{i}.cell.bias_ih_l0"][:summed], (ih + hh)[:summed])
        assert torch.all(new[f"{i}.cell.bias_hh_l0"][:summed] == 0)
        assert torch.equal(new[f"{i}.cell.bias_hh_l0"][summed:], hh[summed:])
    x = _inputs("rnn-lstm-gru-after", rng)
    with torch.no_grad():
        want = run_plain_recurrent(plain, torch.from_numpy(x))
    result = compare(model.forward(x), want, dtype="float64", category="forward")
    assert result.passed, result.describe()


def test_float32_models_give_float32_modules() -> None:
    model = NeuralNetwork([Dense(3, Tanh()), Dense(2)], MeanSquaredError())
    x = np.random.default_rng(10).normal(size=(4, 5)).astype(np.float32)
    model.forward(x)
    for target in TARGETS:
        module = to_torch(model, target)
        assert {p.dtype for p in module.parameters()} == {torch.float32}
        result = compare(model.forward(x), module(torch.from_numpy(x)), dtype="float32", category="forward")
        assert result.passed, result.describe()


def test_to_torch_leaves_the_global_torch_generator_alone() -> None:
    model = _random_model("rnn-lstm-gru-after", np.random.default_rng(11))
    before = torch.get_rng_state()
    for target in TARGETS:
        to_torch(model, target)
    assert torch.equal(torch.get_rng_state(), before)


def test_key_tables_and_descriptions() -> None:
    model = MODELS["cnn"][0]()  # names only: no set-up needed, and no torch
    table = model_key_table(model, "plain")
    assert table.splitlines()[0] == "| NumPy | shape | torch key | shape | rule |"
    assert "| `0.W` |" in table
    assert "`5.weight`" in table  # the Linear after Conv2d, Tanh, Conv2d, ReLU, Flatten
    assert "`layers.2.linear.weight`" in model_key_table(model, "twin")
    assert describe_target(model, "plain") == "nn.Sequential(Conv2d, Tanh, Conv2d, ReLU, Flatten, Linear, Sigmoid)"
    rnn = MODELS["rnn-lstm-gru-after"][0]()
    assert "`2.cell.bias_hh_l0`" in model_key_table(rnn, "plain")  # the GRU's B_hn
    assert describe_target(rnn, "twin") == "torch_impl.SequentialModel(RNNLayer, LSTMLayer, GRULayer(reset='after'))"


# ---------------------------------------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "match"),
    [
        pytest.param("mlp-book-dropout", r"book's dropout.*inverted.*target='twin'", id="book-dropout"),
        pytest.param("gru-before-lstm", r"reset='before'.*nn\.GRU resets after.*target='twin'", id="gru-before"),
    ],
)
def test_no_plain_equivalent_is_a_clear_error(name: str, match: str) -> None:
    model = _random_model(name, np.random.default_rng(12))
    with pytest.raises(ValueError, match=match):
        to_torch(model, "plain")
    with pytest.raises(ValueError, match=match):
        scratch_map(model, "plain")
    with pytest.raises(ValueError, match=match):
        describe_target(model, "plain")
    to_torch(model, "twin")  # the twin has it


@pytest.mark.parametrize("name", list(MODELS))
def test_a_model_without_parameters_yet_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match="run one forward or load_params first"):
        to_torch(MODELS[name][0](), "twin")
    with pytest.raises(ValueError, match="run one forward or load_params first"):
        scratch_params(MODELS[name][0]())


def test_bad_arguments_are_clear_errors() -> None:
    model = _random_model("mlp-sigmoid", np.random.default_rng(13))
    with pytest.raises(ValueError, match=r"target must be 'twin'.*or 'plain'.*received 'torch'"):
        to_torch(model, "torch")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="NeuralNetwork, RNNModel or Autoencoder; received dict"):
        to_torch({}, "twin")  # type: ignore[arg-type]
    odd = NeuralNetwork([Dense(3, Flatten())], MeanSquaredError())
    odd.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="activation Flatten has no torch counterpart"):
        to_torch(odd, "plain")
    with pytest.raises(TypeError, match=r"stack must be an nn\.ModuleList"):
        run_plain_recurrent(nn.ModuleList([nn.Identity()]), torch.zeros(1, 2, 3))
    with pytest.raises(TypeError, match=r"x must be a 3-D tensor \[batch, time, features\]; received \(2, 3\)"):
        run_plain_recurrent(nn.ModuleList(), torch.zeros(2, 3))


def test_to_scratch_refuses_a_module_that_does_not_fit() -> None:
    rng = np.random.default_rng(14)
    model = _random_model("mlp-sigmoid", rng)
    with pytest.raises(TypeError, match=r"converts to a Sequential; received a SequentialModel"):
        to_scratch(to_torch(model, "twin"), model, "plain")
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module"):
        to_scratch("weights", model, "twin")  # type: ignore[arg-type]
    tanh_first = to_torch(_tanh(rng), "plain")
    with pytest.raises(ValueError, match=r"structure of to_torch.*'1'.*Sigmoid.*found '1'.*Tanh"):
        to_scratch(tanh_first, model, "plain")
    with pytest.raises(TypeError, match=r"torch\.float32 and the scratch model float64: loading would cast"):
        to_scratch(to_torch(model, "twin").float(), model, "twin")
    rnn = _random_model("rnn-lstm-gru-after", rng)
    other_vocab = RNNModel([RNNLayer(6, 5), LSTMLayer(7, 4), GRULayer(5, 4, reset="after")], 4, 4)
    with pytest.raises(ValueError, match=r"'0\.cell\.weight_ih_l0' must have shape \(6, 4\)"):
        to_scratch(to_torch(rnn, "plain"), other_vocab, "plain")
    gru_before = RNNModel([RNNLayer(6, 5), LSTMLayer(7, 4), GRULayer(5, 3, reset="before")], 4, 3)
    with pytest.raises(ValueError, match=r"ResetBeforeGRU.*found.*GRU"):
        to_scratch(to_torch(rnn, "twin"), gru_before, "twin")


def _tanh(rng: np.random.Generator) -> NeuralNetwork:
    model = NeuralNetwork([Dense(5, Tanh()), Dense(3, Tanh()), Dense(2)], MeanSquaredError())
    model.forward(_inputs("mlp-sigmoid", rng))
    return model


def test_activation_arguments_travel_to_both_targets() -> None:
    """LeakyReLU's slope (0.3 and the book's default 0.2) reaches nn.LeakyReLU and torch_impl.LeakyReLU."""
    model = _random_model("mlp-leaky-relu", np.random.default_rng(5))
    plain = [m.negative_slope for m in to_torch(model, "plain").modules() if isinstance(m, nn.LeakyReLU)]
    twin = [m.negative_slope for m in to_torch(model, "twin").modules() if isinstance(m, torch_impl.LeakyReLU)]
    assert plain == twin == [0.3, 0.2]
