"""Converter round trips (book -> torch -> book and back) with random non-zero weights and biases, and
their fit to the torch twins' state dicts."""

from __future__ import annotations

import numpy as np
import pytest

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
