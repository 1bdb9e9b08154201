"""The porting toolkit (``parity_tests.port``): six injected port bugs, each named in the failure message; the
checked parameter map; ``compare`` with explicit tiers; the pytest plugin through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from parity_tests.port import (
    MappingError,
    ParamMap,
    ParityError,
    assert_parity,
    check_model,
    compare,
    compare_all,
    load_arrays,
    relative_error,
    tolerance,
)

from .guide_code import run_section

GUIDE = run_section("6. Port and verify your own model")
NumpyMLP, NumpyLSTM, TorchLSTM = GUIDE["NumpyMLP"], GUIDE["NumpyLSTM"], GUIDE["TorchLSTM"]
X_MLP = np.random.default_rng(11).normal(size=(64, 6))
X_SEQ = np.random.default_rng(12).normal(size=(8, 6, 5))  # [N, T, V] with N != T
LSTM_GATES = {"i": "i", "f": "f", "g": "c", "o": "o"}


def mlp_torch(p: float = 0.2, middle: nn.Module | None = None) -> nn.Module:
    parts = [nn.Linear(6, 6), nn.Sigmoid(), *([middle] if middle is not None else []), nn.Dropout(p), nn.Linear(6, 3)]
    return nn.Sequential(*parts).double()


def mlp_map(last: str = "3") -> ParamMap:
    return ParamMap().linear("W1", "B1", "0").linear("W2", "B2", last)


def lstm_map(gates: dict[str, str] = LSTM_GATES) -> ParamMap:
    return (
        ParamMap()
        .recurrent(
            "lstm",
            "LSTM",
            input_size=5,
            weights={t: f"W_{b}" for t, b in gates.items()},
            biases={t: f"B_{b}" for t, b in gates.items()},
        )
        .linear("W_v", "B_v", "fc")
    )


def sgd_pair(numpy_model: Any, torch_model: nn.Module, lr: float = 0.1) -> tuple[Any, torch.optim.Optimizer]:
    params = numpy_model.named_params()

    def step() -> None:
        grads = numpy_model.named_grads()
        for name, value in params.items():
            value -= lr * grads[name]

    return step, torch.optim.SGD([p for p in torch_model.parameters() if p.requires_grad], lr=lr)


def failure(numpy_model: Any, torch_model: nn.Module, x: np.ndarray, **kwargs: Any) -> str:
    with pytest.raises(ParityError) as info:
        assert_parity(numpy_model, torch_model, x, **kwargs)
    return str(info.value)


# ---- correct ports pass -------------------------------------------------------------------------------


def test_correct_ports_pass_with_steps_both_ways() -> None:
    m = NumpyMLP()
    t = mlp_torch()
    report = assert_parity(m, t, X_MLP, mapping=mlp_map(), steps=3, optimizers=sgd_pair(m, t))
    assert report.passed
    assert [lm.torch for lm in report.layers] == ["2", "2", "3"]  # Dense(sigmoid)+identity dropout, dropout, Linear
    assert report.grads is not None
    assert [c.key for c in report.grads.comparisons] == ["W1", "B1", "W2", "B2"]
    assert report.grads.max_error("gradient") < 1e-14
    assert len(report.steps) == 3
    lstm, tl = NumpyLSTM(), TorchLSTM().double()
    tl.lstm.bias_hh_l0.requires_grad_(False)
    assert assert_parity(lstm, tl, X_SEQ, mapping=lstm_map(), steps=3, optimizers=sgd_pair(lstm, tl)).passed
    fresh = TorchLSTM().double()  # torch's own init, two non-zero biases summed into the NumPy one
    assert assert_parity(NumpyLSTM(seed=3), fresh, X_SEQ, mapping=lstm_map(), copy="to_numpy").passed


# ---- the six injected bugs ----------------------------------------------------------------------------


def test_bug_square_weight_loaded_untransposed() -> None:
    bad = ParamMap().rename("W1", "0.weight").bias_row("B1", "0.bias").linear("W2", "B2", "3")
    msg = failure(NumpyMLP(), mlp_torch(), X_MLP, mapping=bad)
    assert "first diverging layer: numpy 'layers[0] Dense'" in msg
    assert "first diverging parameter gradient: 'W1'" in msg


def test_bug_lstm_gates_in_the_wrong_order() -> None:
    book_order_as_torch = {"i": "f", "f": "i", "g": "c", "o": "o"}
    msg = failure(NumpyLSTM(), TorchLSTM().double(), X_SEQ, mapping=lstm_map(book_order_as_torch))
    assert "first diverging layer: numpy 'layers[0] LSTMCore' vs torch 'lstm'" in msg


def test_bug_recurrent_bias_counted_twice() -> None:
    t = TorchLSTM().double()
    numpy_model = NumpyLSTM()
    lstm_map().load_into(t, numpy_model.named_params())
    with torch.no_grad():
        t.lstm.bias_hh_l0.copy_(t.lstm.bias_ih_l0)  # the bias written into both torch biases
    msg = failure(numpy_model, t, X_SEQ, mapping=lstm_map(), copy="none")
    assert "first diverging layer: numpy 'layers[0] LSTMCore' vs torch 'lstm'" in msg


def test_bug_batch_first_forgotten() -> None:
    t = TorchLSTM().double()
    t.lstm = nn.LSTM(5, 4).double()  # batch_first=False: [8, 6, 5] read as [T=8, N=6, V=5], same output shape
    msg = failure(NumpyLSTM(), t, X_SEQ, mapping=lstm_map())
    assert "first diverging layer: numpy 'layers[0] LSTMCore' vs torch 'lstm'" in msg
    assert "batch_first=True" in msg


def test_bug_keep_probability_given_as_drop_probability() -> None:
    m = NumpyMLP(keep=0.8)
    msg = failure(m, mlp_torch(p=0.8), X_MLP, mapping=mlp_map())
    assert "training mode: layer 'layers[1] Dropout' (torch '2')" in msg
    assert "first diverging layer" not in msg  # at inference both are the identity
    report = check_model(NumpyMLP(keep=0.8), mlp_torch(p=0.2), X_MLP, mapping=mlp_map())
    assert report.passed, report.message()


class Float32Round(nn.Module):
    """A float32 cast in the middle of a float64 model (and back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().double()


def test_bug_float32_cast_in_the_middle() -> None:
    msg = failure(NumpyMLP(), mlp_torch(middle=Float32Round()), X_MLP, mapping=mlp_map(last="4"))
    assert "first diverging layer: numpy 'layers[2] Dense'" in msg
    assert "since the last agreement (torch '1'): '2' Float32Round" in msg
    assert "error 2." in msg or "e-08" in msg  # a float32 rounding, not a wrong formula


def test_bug_in_the_optimizer_names_the_step() -> None:
    m, t = NumpyMLP(), mlp_torch()
    step, _ = sgd_pair(m, t)
    momentum = torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9)  # the NumPy side has none
    msg = failure(m, t, X_MLP, mapping=mlp_map(), steps=3, optimizers=(step, momentum))
    assert "first diverging step: step 2 of 3" in msg
    assert "first diverging layer" not in msg


def test_two_trained_biases_diverge_at_the_first_step() -> None:
    lstm, tl = NumpyLSTM(), TorchLSTM().double()  # bias_hh left trainable: SGD moves the sum twice
    msg = failure(lstm, tl, X_SEQ, mapping=lstm_map(), steps=2, optimizers=sgd_pair(lstm, tl))
    assert "first diverging step: step 1 of 2, parameter 'B_" in msg


# ---- the checked map ----------------------------------------------------------------------------------


def test_map_round_trip_and_key_table() -> None:
    params = NumpyLSTM().named_params()
    pmap = lstm_map()
    back = pmap.to_numpy(pmap.to_torch(params))
    assert set(back) == set(params)
    assert all(np.array_equal(back[k], params[k]) for k in params)
    table = pmap.table()
    assert "`W_c` | (V+H, H) | `lstm.weight_ih_l0`" in table
    hx = (
        ParamMap()
        .recurrent("lstm", "LSTM", input_size=5, concat="hx", weights={t: f"W_{b}" for t, b in LSTM_GATES.items()})
        .to_torch({f"W_{b}": params[f"W_{b}"] for b in LSTM_GATES.values()})
    )
    xh = pmap.to_torch(params)
    assert not np.array_equal(hx["lstm.weight_ih_l0"][:, :4], xh["lstm.weight_ih_l0"][:, :4])  # [h, x] reads other rows


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ({"W1": 1, "B1": 1, "W2": 1, "B2": 1, "W3": 1}, r"not in the map \['W3'\]"),
        ({"W1": 1, "B1": 1, "W2": 1}, r"missing \['B2'\]"),
    ],
)
def test_map_unknown_and_missing_names(given: dict[str, int], match: str) -> None:
    arrays = {k: np.ones((2, 2)) if k.startswith("W") else np.ones((1, 2)) for k in given}
    with pytest.raises(MappingError, match=match):
        mlp_map().to_torch(arrays)


def test_map_shape_dtype_and_module_checks() -> None:
    params = NumpyMLP().named_params()
    with pytest.raises(MappingError, match=r"'0.weight': the module expects shape \(5, 6\); received \(6, 6\)"):
        mlp_map().load_into(
            nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Dropout(), nn.Linear(5, 3)).double(), params
        )
    with pytest.raises(TypeError, match=r"holds torch\.float32 and the array is torch\.float64; loading would cast"):
        mlp_map().load_into(nn.Sequential(nn.Linear(6, 6), nn.Sigmoid(), nn.Dropout(), nn.Linear(6, 3)), params)
    with pytest.raises(
        MappingError,
        match=r"not given \['2.bias', '2.weight', '4.bias', '4.weight'\]; keys the module does not have",
    ):
        mlp_map().load_into(mlp_torch(middle=nn.Linear(6, 6).double()), params)
    with pytest.raises(MappingError, match="lazily created parameter"):
        mlp_map().load_into(
            nn.Sequential(nn.LazyLinear(6), nn.Sigmoid(), nn.Dropout(), nn.Linear(6, 3)).double(), params
        )
    with pytest.raises(MappingError, match="must be a \\(1, n\\) row"):
        ParamMap().bias_row("B", "bias").to_torch({"B": np.ones(3)})
    with pytest.raises(MappingError, match="already mapped"):
        ParamMap().rename("W", "a").rename("W", "b")
    with pytest.raises(MappingError, match="every LSTM gate needs a name; missing \\['o'\\]"):
        ParamMap().recurrent("lstm", "LSTM", input_size=5, weights={"i": "a", "f": "b", "c": "c"})
    with pytest.raises(TypeError, match="mix dtypes"):
        mlp_map().to_torch({**params, "B2": params["B2"].astype(np.float32)})


def test_gru_hidden_candidate_bias_is_not_folded() -> None:
    gru = nn.GRU(3, 2, batch_first=True).double()
    gates: dict[str, Any] = {
        "weights_ih": {"r": "Wxr", "u": "Wxu", "h": "Wxh"},
        "weights_hh": {"r": "Whr", "u": "Whu", "h": "Whh"},
        "biases": {"r": "Br", "u": "Bu", "h": "Bh"},
    }
    pmap = ParamMap().recurrent("", "GRU", **gates)
    with pytest.raises(MappingError, match=r"b_hn.*cannot be folded into b_in"):
        pmap.from_module(gru)
    two = ParamMap().recurrent("", "GRU", **gates, biases_hh={"h": "Bhn"})
    params = two.from_module(gru)
    state = two.to_torch(params)
    ref = {k: v.numpy() for k, v in gru.state_dict().items()}
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4, 3, 3)))
    moved = nn.GRU(3, 2, batch_first=True).double()
    load_arrays(moved, state)
    assert relative_error(moved(x)[0], gru(x)[0]) < 1e-15
    assert np.array_equal(state["bias_hh_l0"][4:], ref["bias_hh_l0"][4:])  # b_hn kept where it was


# ---- compare ------------------------------------------------------------------------------------------


def test_compare_tiers_are_explicit() -> None:
    want = np.random.default_rng(0).normal(size=(4, 3))
    got = want * (1 + 1e-9)
    assert not compare(got, want, dtype="float64", category="forward").passed
    assert compare(got, want, dtype="float32", category="forward").passed
    assert tolerance("float64", "trajectory") == 1e-10
    with pytest.raises(ValueError, match="category must be one of"):
        compare(got, want, dtype="float64", category="grad")
    with pytest.raises(ValueError, match="dtype must be one of"):
        compare(got, want, dtype="float16", category="forward")
    bad = got.copy()
    bad[2, 1] = np.nan
    assert "non-finite values at index (2, 1)" in compare(bad, want, dtype="float64", category="forward").describe()
    result = compare_all({"a": want}, {"a": want, "b": want}, dtype="float64", category="gradient")
    assert not result.passed
    assert "b: missing on the numpy side" in result.failure_message()
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.zeros(3)) == float("inf")


def test_a_scratch_network_is_a_numpy_model_too() -> None:
    import scratch
    from parity_tests.converters import dense_stack

    net = scratch.NeuralNetwork([scratch.Dense(6, scratch.Sigmoid()), scratch.Dense(3)], scratch.MeanSquaredError(), 4)
    net.forward(X_MLP)  # creates the parameters
    model = nn.Sequential(nn.Linear(6, 6), nn.Sigmoid(), nn.Linear(6, 3)).double()
    pmap = ParamMap().linear("0.W", "0.B", "0").linear("1.W", "1.B", "2")
    assert pmap.to_torch(dict(zip(dense_stack(2).book_names, net.params(), strict=True))).keys() == set(
        pmap.torch_names
    )
    assert assert_parity(net, model, X_MLP, mapping=pmap).passed


# ---- the pytest plugin --------------------------------------------------------------------------------


def test_plugin_fixture_through_the_entry_point(tmp_path: Path) -> None:
    """A porter's test file in a fresh pytest process: the installed entry point provides ``parity``."""
    (tmp_path / "test_my_port.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import torch
            from torch import nn
            from parity_tests.port import ParamMap

            W, B = np.random.default_rng(0).normal(size=(4, 4)), np.random.default_rng(1).normal(size=(1, 4))

            class Mine:
                layers = []
                def forward(self, x): self.x = x; return x @ W + B
                def backward(self, dy): self.g = {"W": self.x.T @ dy, "B": dy.sum(0, keepdims=True)}; return dy @ W.T
                def named_params(self): return {"W": W, "B": B}
                def named_grads(self): return self.g

            def test_good(parity):
                parity.assert_parity(Mine(), nn.Linear(4, 4).double(), np.ones((3, 4)),
                                     mapping=ParamMap().linear("W", "B", ""))

            def test_untransposed(parity):
                parity.assert_parity(Mine(), nn.Linear(4, 4).double(), np.ones((3, 4)),
                                     mapping=ParamMap().rename("W", "weight").bias_row("B", "bias"))
            """
        )
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--parity-seed", "3", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed" in out
    assert "first diverging parameter gradient: 'W'" in out
    assert "2 parity checks, 1 failed; worst errors: float64 forward" in out
