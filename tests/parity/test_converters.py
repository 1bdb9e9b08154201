"""Converter round trips (book -> torch -> book and back) with random non-zero weights and biases, and
their fit to the torch twins' state dicts."""

from __future__ import annotations

import numpy as np
import pytest

from parity_tests.converters import GRU_AFTER, GRU_BEFORE, LSTM, RNN, TensorConverter, recurrent_stack
from parity_tests.harness import case_seed
from parity_tests.specs import all_specs

WITH_CONVERTER = [pytest.param(s, id=s.name) for s in all_specs() if s.converter is not None]


@pytest.mark.parametrize("spec", WITH_CONVERTER)
def test_round_trip_book_torch_book(spec):
    case = spec.cases[0]
    problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype("float64"))
    book = problem.params
    assert all(np.all(v != 0) for v in book.values()), "round trips must use non-zero parameters (biases too)"
    torch_side = spec.converter.to_torch(book)
    back = spec.converter.to_book(torch_side)
    assert set(back) == set(book)
    for name in book:
        np.testing.assert_array_equal(back[name], book[name], err_msg=name)
    again = spec.converter.to_torch(back)
    for name in torch_side:
        np.testing.assert_array_equal(again[name], torch_side[name], err_msg=name)
    grads_back = spec.converter.grads_to_book(spec.converter.grads_to_torch(book))
    for name in book:
        np.testing.assert_array_equal(grads_back[name], book[name], err_msg=f"grad {name}")


@pytest.mark.parametrize("spec", WITH_CONVERTER)
def test_converter_matches_the_torch_state_dict(spec):
    """The converter's torch names and shapes are exactly those of the twin's state_dict, and the layout
    maps really are layout maps: not the identity where the layouts differ."""
    case = spec.cases[0]
    problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype("float64"))
    torch_side = spec.converter.to_torch(problem.params)
    if not isinstance(spec.converter, TensorConverter):
        # Split/stacked/summed recurrent tensors: their block placement is pinned by the explicit tests
        # below; here every torch tensor must hold exactly the values of the book tensors it is made of.
        book_total = sum(v.size for v in problem.params.values())
        zero_hh = [k for k in torch_side if k.endswith("bias_hh_l0")]
        torch_total = sum(v.size for k, v in torch_side.items() if k not in zero_hh)
        torch_total += sum(int(np.count_nonzero(torch_side[k])) for k in zero_hh)
        assert torch_total == book_total, "every book value must appear exactly once on the torch side"
        return
    for row in spec.converter.maps:
        book_value, torch_value = problem.params[row.book], torch_side[row.torch]
        if row.rule == "transpose":
            np.testing.assert_array_equal(torch_value, book_value.T)
        elif row.rule == "swap axes 0 and 1":
            np.testing.assert_array_equal(torch_value, np.swapaxes(book_value, 0, 1))
        else:  # a reshape: same values in the same order
            np.testing.assert_array_equal(torch_value.reshape(-1), book_value.reshape(-1))
        assert torch_value.size == book_value.size


def test_converter_rejects_missing_or_extra_keys():
    from parity_tests.converters import DENSE

    with pytest.raises(ValueError, match="keys"):
        DENSE.to_torch({"W": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="keys"):
        DENSE.to_book({"linear.weight": np.zeros((3, 2)), "linear.bias": np.zeros(3), "extra": np.zeros(1)})


# ---- recurrent converters: block placement written out independently of the converter code --------------

V, H, OUT = 3, 2, 4


def _book(names_shapes: dict[str, tuple[int, int]], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) + 0.1 for k, s in names_shapes.items()}


def _lstm_book() -> dict[str, np.ndarray]:
    shapes = {f"W_{g}": (V + H, H) for g in "fico"} | {f"B_{g}": (1, H) for g in "fico"}
    return _book(shapes | {"W_v": (H, OUT), "B_v": (1, OUT)}, 1)


def test_lstm_converter_puts_book_gates_in_torch_order_i_f_g_o():
    book = _lstm_book()
    t = LSTM.to_torch(book)
    for block, gate in enumerate("ifco"):  # torch i, f, g, o = book i, f, c, o
        rows = slice(block * H, (block + 1) * H)
        np.testing.assert_array_equal(t["lstm.weight_ih_l0"][rows], book[f"W_{gate}"][:V].T)
        np.testing.assert_array_equal(t["lstm.weight_hh_l0"][rows], book[f"W_{gate}"][V:].T)
        np.testing.assert_array_equal(t["lstm.bias_ih_l0"][rows], book[f"B_{gate}"][0])
    np.testing.assert_array_equal(t["lstm.bias_hh_l0"], np.zeros(4 * H))
    np.testing.assert_array_equal(t["fc.weight"], book["W_v"].T)
    np.testing.assert_array_equal(t["fc.bias"], book["B_v"][0])


def test_rnn_converter_splits_w_f_into_input_and_recurrent_parts():
    book = _book({"W_f": (V + H, H), "B_f": (1, H), "W_v": (H, OUT), "B_v": (1, OUT)}, 2)
    t = RNN.to_torch(book)
    np.testing.assert_array_equal(t["rnn.weight_ih_l0"], book["W_f"][:V].T)
    np.testing.assert_array_equal(t["rnn.weight_hh_l0"], book["W_f"][V:].T)
    # Only the sum of the two torch biases acts: a torch model with the bias split any way maps back to B_f.
    t["rnn.bias_hh_l0"] = np.array([0.25, -1.0])
    t["rnn.bias_ih_l0"] = book["B_f"][0] - t["rnn.bias_hh_l0"]
    np.testing.assert_allclose(RNN.to_book(t)["B_f"], book["B_f"], rtol=0, atol=1e-15)


def _gru_book(after: bool) -> dict[str, np.ndarray]:
    shapes = {f"W_x{g}": (V, H) for g in "ruh"} | {f"W_h{g}": (H, H) for g in "ruh"} | {f"B_{g}": (1, H) for g in "ruh"}
    shapes |= {"W_v": (H, OUT), "B_v": (1, OUT)} | ({"B_hn": (1, H)} if after else {})
    return _book(shapes, 3)


@pytest.mark.parametrize("after", [False, True], ids=["reset-before", "reset-after"])
def test_gru_converter_r_z_n_blocks_and_b_hn(after):
    book = _gru_book(after)
    t = (GRU_AFTER if after else GRU_BEFORE).to_torch(book)
    for block, gate in enumerate("ruh"):  # torch r, z, n = book r, u, h
        rows = slice(block * H, (block + 1) * H)
        np.testing.assert_array_equal(t["gru.weight_ih_l0"][rows], book[f"W_x{gate}"].T)
        np.testing.assert_array_equal(t["gru.weight_hh_l0"][rows], book[f"W_h{gate}"].T)
        np.testing.assert_array_equal(t["gru.bias_ih_l0"][rows], book[f"B_{gate}"][0])
    np.testing.assert_array_equal(t["gru.bias_hh_l0"][: 2 * H], np.zeros(2 * H))
    expected_hn = book["B_hn"][0] if after else np.zeros(H)
    np.testing.assert_array_equal(t["gru.bias_hh_l0"][2 * H :], expected_hn)


def test_summed_bias_gradient_is_taken_once_not_added():
    """torch gives b_ih and b_hh the same gradient; the book's dB is that gradient, not twice it."""
    book = _lstm_book()
    grads = LSTM.grads_to_torch(book)
    np.testing.assert_array_equal(grads["lstm.bias_ih_l0"], grads["lstm.bias_hh_l0"])
    np.testing.assert_array_equal(LSTM.grads_to_book(grads)["B_i"], book["B_i"])


def test_gru_after_b_hn_gradient_comes_from_bias_hh():
    book = _gru_book(True)
    grads = GRU_AFTER.grads_to_torch(book)
    np.testing.assert_array_equal(grads["gru.bias_hh_l0"][2 * H :], book["B_hn"][0])
    np.testing.assert_array_equal(grads["gru.bias_ih_l0"][2 * H :], book["B_h"][0])
    back = GRU_AFTER.grads_to_book(grads)
    np.testing.assert_array_equal(back["B_hn"], book["B_hn"])
    np.testing.assert_array_equal(back["B_h"], book["B_h"])


def test_recurrent_stack_prefixes_and_round_trip():
    stack = recurrent_stack([RNN, LSTM])
    rnn = _book({"W_f": (V + H, H), "B_f": (1, H), "W_v": (H, OUT), "B_v": (1, OUT)}, 4)
    lstm = {k: v for k, v in _lstm_book().items()}
    lstm["W_f"] = np.random.default_rng(5).standard_normal((OUT + H, H))  # the second layer reads OUT features
    for g in "ico":
        lstm[f"W_{g}"] = np.random.default_rng(6).standard_normal((OUT + H, H))
    book = {f"0.{k}": v for k, v in rnn.items()} | {f"1.{k}": v for k, v in lstm.items()}
    t = stack.to_torch(book)
    assert {"layers.0.rnn.weight_ih_l0", "layers.1.lstm.weight_hh_l0", "layers.1.fc.bias"} <= set(t)
    back = stack.to_book(t)
    assert set(back) == set(book)
    for k in book:
        np.testing.assert_array_equal(back[k], book[k])
    with pytest.raises(ValueError, match="keys"):
        stack.to_torch({k: v for k, v in book.items() if k != "1.B_o"})
