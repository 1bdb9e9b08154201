"""``scratch.autodiff`` against hand-computed derivatives and float64 central differences.

NumPy only (this file must not import torch). Covers:

* ``NumberWithGrad`` on the book's example (a.grad = 35) and on reuse cases the book's recursion gets wrong
  (``c = b + b``, ``c = b·b``, a diamond, a value used three times);
* every ``Tensor`` op against central differences of J = Σ f(inputs) ⊙ G with random inputs and a random
  upstream gradient G, including broadcasting, batched matmul, reductions over axes and indexing with
  repeated integer indices;
* bad input (types and messages);
* the ordering itself: replacing ``_backward_order`` with a naive order gives wrong answers on a diamond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from scratch import autodiff
from scratch.autodiff import NumberWithGrad, Tensor, _backward_order
from scratch.gradcheck import central_difference


def _bad(x: Any) -> Any:
    """Pass a deliberately wrong-typed argument past the type checker."""
    return x


# ------------------------------------------------------------------------------------------------------
# NumberWithGrad
# ------------------------------------------------------------------------------------------------------


def test_book_example():
    a = NumberWithGrad(3)
    b = a * 4
    c = b + 3
    d = c * (a + 2)  # d = (4a + 3)(a + 2): dd/da = 8a + 11 = 35
    d.backward()
    assert d.num == 75.0
    assert a.grad == 35.0
    assert b.grad == 5.0  # dd/db = a + 2
    assert c.grad == 5.0


def test_sum_of_a_value_with_itself():
    a = NumberWithGrad(1.5)
    b = a * 2
    c = b + b  # 4a; the book's recursion gives 6
    c.backward()
    assert a.grad == 4.0
    assert b.grad == 2.0


def test_square_of_a_reused_value():
    a = NumberWithGrad(3)
    b = 2 * a
    c = b * b  # 4a²: 8a = 24; the book's recursion gives 36
    c.backward()
    assert a.grad == 24.0


def test_diamond_through_a_shared_interior_node():
    a = NumberWithGrad(2.0)
    e = a * 3  # shared interior node
    b = e * 2
    c = e + 1
    d = b * c  # 2e(e + 1) = 6a(3a + 1): dd/da = 36a + 6 = 78
    d.backward()
    assert a.grad == 78.0
    assert e.grad == 26.0  # 4e + 2


def test_value_used_three_times():
    a = NumberWithGrad(-1.25)
    b = a * a  # b used three times below
    d = b * b + b * 5 + (b + 1)  # a⁴ + 6a² + 1: 4a³ + 12a
    d.backward()
    assert a.grad == pytest.approx(4 * (-1.25) ** 3 + 12 * (-1.25), rel=1e-15)


def test_numbers_on_either_side_and_explicit_construction():
    a = NumberWithGrad(2)
    out = 3 + a * 5 + 2 * a  # 7a + 3
    out.backward()
    assert out.num == 17.0
    assert a.grad == 7.0
    x, y = NumberWithGrad(4), NumberWithGrad(-2)
    z = NumberWithGrad(x.num * y.num, depends_on=[x, y], creation_op="mul")
    z.backward(backward_grad=0.5)
    assert (x.grad, y.grad, z.grad) == (-1.0, 2.0, 0.5)


def test_backward_accumulates_and_zero_grad_resets():
    a = NumberWithGrad(3)
    c = (a * 4 + 3) * (a + 2)
    c.backward()
    c.backward()
    assert a.grad == 70.0
    a.zero_grad()
    assert a.grad is None
    c.backward()
    assert a.grad == 35.0  # a's own .grad restarted (the intermediates kept accumulating)


def test_deep_chain_has_no_recursion_limit():
    a = NumberWithGrad(1.0)
    x = a
    for _ in range(5000):
        x = x * 1.0 + 0.0
    x.backward()
    assert a.grad == 1.0


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: NumberWithGrad(_bad("3")), TypeError, "num must be a real number; received str"),
        (lambda: NumberWithGrad(float("nan")), ValueError, "num must be finite"),
        (lambda: NumberWithGrad(1, creation_op="pow"), ValueError, r"creation_op must be one of .*received 'pow'"),
        (lambda: NumberWithGrad(1, depends_on=[NumberWithGrad(1)], creation_op="add"), ValueError, "needs 2"),
        (lambda: NumberWithGrad(1, depends_on=_bad([1, 2]), creation_op="add"), TypeError, r"depends_on\[0\] must be"),
        (lambda: NumberWithGrad(1) + _bad("x"), TypeError, "NumberWithGrad or a real number; received str"),
        (lambda: NumberWithGrad(1) * True, TypeError, "received bool"),
        (lambda: NumberWithGrad(1).backward(_bad("1")), TypeError, "backward_grad must be a real number"),
    ],
)
def test_number_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------------------------------------------------------------
# Tensor against central differences
# ------------------------------------------------------------------------------------------------------

EPS = 1e-6


def _draw(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    if domain == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "wide":
        return rng.normal(scale=6.0, size=shape)
    return rng.normal(size=shape)


def _check(fn: Callable[..., Tensor], shapes: list[tuple[int, ...]], domain: str = "any", seed: int = 0) -> None:
    """Compare ``backward`` with central differences of J = Σ fn(*inputs) ⊙ G for every input."""
    rng = np.random.default_rng(seed)
    inputs = [_draw(rng, s, domain) for s in shapes]
    leaves = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    out = fn(*leaves)
    G = rng.normal(size=out.shape)
    out.backward(G)

    def objective() -> float:
        return float(np.sum(fn(*[Tensor(x) for x in inputs]).value * G))

    for x, leaf in zip(inputs, leaves, strict=True):
        numeric = central_difference(objective, x, EPS)  # perturbs x in place (objective reads it), restores it
        assert leaf.grad is not None
        assert leaf.grad.shape == x.shape
        scale = max(1.0, float(np.abs(numeric).max()))
        np.testing.assert_allclose(leaf.grad, numeric, rtol=1e-6, atol=1e-7 * scale)


REP = np.array([0, 0, 2, 0, 1])

CASES: list[tuple[str, Callable[..., Tensor], list[tuple[int, ...]], str]] = [
    ("add_broadcast_(3,1)+(1,4)", lambda a, b: a + b, [(3, 1), (1, 4)], "any"),
    ("sub_(2,3,4)-(4,)", lambda a, b: a - b, [(2, 3, 4), (4,)], "any"),
    ("mul_(2,3,4)*(4,)", lambda a, b: a * b, [(2, 3, 4), (4,)], "any"),
    ("mul_(2,1,4)*(3,1)", lambda a, b: a * b, [(2, 1, 4), (3, 1)], "any"),
    ("div_(3,1)/(1,4)", lambda a, b: a / b, [(3, 1), (1, 4)], "pos"),
    ("div_scalar_shape_()", lambda a, b: a / b, [(2, 3), ()], "pos"),
    ("neg", lambda a: -a, [(2, 3)], "any"),
    ("matmul_2d", lambda a, b: a @ b, [(3, 4), (4, 2)], "any"),
    ("matmul_batch_(2,3,4)@(4,5)", lambda a, b: a @ b, [(2, 3, 4), (4, 5)], "any"),
    ("matmul_batch_broadcast", lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)], "any"),
    ("matmul_1d_left", lambda a, b: a @ b, [(4,), (2, 4, 3)], "any"),
    ("matmul_1d_right", lambda a, b: a @ b, [(2, 3, 4), (4,)], "any"),
    ("matmul_1d_both", lambda a, b: a @ b, [(4,), (4,)], "any"),
    ("pow_3", lambda a: a**3, [(2, 3)], "any"),
    ("pow_half", lambda a: a**0.5, [(2, 3)], "pos"),
    ("pow_minus_2", lambda a: a**-2, [(2, 3)], "pos"),
    ("exp", lambda a: a.exp(), [(2, 3)], "any"),
    ("log", lambda a: a.log(), [(2, 3)], "pos"),
    ("tanh", lambda a: a.tanh(), [(2, 3)], "any"),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)], "any"),
    ("sigmoid_wide", lambda a: a.sigmoid(), [(3, 4)], "wide"),
    ("sum_all", lambda a: a.sum(), [(2, 3, 4)], "any"),
    ("sum_axis0", lambda a: a.sum(axis=0), [(2, 3, 4)], "any"),
    ("sum_axis-1_keepdims", lambda a: a.sum(axis=-1, keepdims=True), [(2, 3, 4)], "any"),
    ("sum_axes(0,2)", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)], "any"),
    ("sum_axes(2,0)_keepdims", lambda a: a.sum(axis=(2, 0), keepdims=True), [(2, 3, 4)], "any"),
    ("mean_all_keepdims", lambda a: a.mean(keepdims=True), [(2, 3, 4)], "any"),
    ("mean_axis1", lambda a: a.mean(axis=1), [(2, 3, 4)], "any"),
    ("mean_axes(1,2)_keepdims", lambda a: a.mean(axis=(1, 2), keepdims=True), [(2, 3, 4)], "any"),
    ("reshape", lambda a: a.reshape(4, -1) * np.arange(24.0).reshape(4, 6), [(2, 3, 4)], "any"),
    ("reshape_tuple", lambda a: a.reshape((6, 4)), [(2, 3, 4)], "any"),
    ("transpose_axes", lambda a: a.transpose((1, 2, 0)), [(2, 3, 4)], "any"),
    ("transpose_default_T", lambda a: a.T, [(2, 3, 4)], "any"),
    ("index_repeated_rows", lambda a: a[REP], [(3, 4)], "any"),
    ("index_repeated_columns", lambda a: a[:, np.array([1, 1, 3, 1])], [(3, 4)], "any"),
    ("index_pairs_repeated", lambda a: a[np.array([0, 0, 2]), np.array([1, 1, 0])], [(3, 4)], "any"),
    ("index_slices", lambda a: a[1:, ::2], [(3, 4)], "any"),
    ("index_int", lambda a: a[1, -1], [(3, 4)], "any"),
    ("index_ellipsis_none", lambda a: a[..., None, 1], [(2, 3, 4)], "any"),
    ("scalars_either_side", lambda a: (2.0 - a) * 3 + 1.5 / (a * a + 1.0) - a / 4 + 2 * a, [(2, 3)], "any"),
    (
        "ndarray_either_side",
        lambda a: np.ones((3, 1)) + a * np.arange(4.0) - np.full(4, 2.0) / (a * a + 1),
        [(3, 4)],
        "any",
    ),
    ("ndarray_matmul_left", lambda a: np.arange(6.0).reshape(2, 3) @ a, [(3, 4)], "any"),
    ("reuse_diamond", lambda a: (a * 2).tanh() * (a * 2) + (a * 2).sigmoid(), [(3, 4)], "any"),
    ("reuse_three_times", lambda a, b: (lambda c: (c * c.exp() - c) @ b)(a @ b.T), [(3, 4), (2, 4)], "any"),
    ("reuse_chain", lambda a, w: ((a @ w).tanh() @ w + a).sigmoid().sum(axis=0), [(3, 4), (4, 4)], "any"),
]


@pytest.mark.parametrize(("fn", "shapes", "domain"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_tensor_op_against_central_differences(fn, shapes, domain):
    _check(fn, shapes, domain)


def test_forward_values_match_numpy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 3, 4)), rng.normal(size=(4,))
    a, b = Tensor(x), Tensor(y)
    np.testing.assert_array_equal((a * b + a - b / 2).value, x * y + x - y / 2)
    np.testing.assert_array_equal((a @ b).value, x @ y)
    np.testing.assert_array_equal(a.mean(axis=(0, 2), keepdims=True).value, x.mean(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(a.sigmoid().value, 1 / (1 + np.exp(-x)), rtol=1e-15)
    big = Tensor(np.array([-800.0, 0.0, 800.0])).sigmoid().value  # no overflow warning
    np.testing.assert_array_equal(big, [0.0, 0.5, 1.0])


def test_scalar_backward_default_and_grads_on_intermediates():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    h = x * x
    loss = h.sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.value)
    np.testing.assert_array_equal(h.grad, np.ones((2, 2)))
    assert loss.grad == 1.0


def test_constants_get_no_gradient_and_accumulation():
    c = Tensor(np.ones(3))
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = (x * c).sum()
    assert y.requires_grad
    assert not (c * 2.0).requires_grad
    y.backward()
    y.backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    x.zero_grad()
    assert x.grad is None


def test_upstream_grad_is_not_aliased():
    x = Tensor(np.zeros(3), requires_grad=True)
    y = x + 0.0
    G = np.array([1.0, 2.0, 3.0])
    y.backward(G)
    G[:] = 0.0
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1).tanh().sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad is not None
    assert x.grad.dtype == np.float32


def test_deep_tensor_chain_has_no_recursion_limit():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_backward_order_is_reverse_topological():
    x = Tensor(np.ones(2), requires_grad=True)
    e = x * 3.0
    b, c = e * 2.0, e + 1.0
    d = b * c
    order = _backward_order(d)
    assert len(order) == len({id(n) for n in order}) == 5
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node._parents:
            assert position[id(node)] < position[id(parent)]


X2 = Tensor(np.ones((2, 3)), requires_grad=True)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Tensor(_bad([1.0, 2.0])), TypeError, "value must be a numpy.ndarray of floats; received list"),
        (lambda: Tensor(np.arange(3)), TypeError, "floating-point dtype"),
        (lambda: Tensor(np.array([np.nan])), ValueError, "finite"),
        (lambda: Tensor(np.ones(2), requires_grad=_bad(1)), TypeError, "requires_grad must be a bool; received int"),
        (
            lambda: X2 + _bad("a"),
            TypeError,
            r"\+: the other operand must be a Tensor, a float ndarray or a real number",
        ),
        (lambda: X2 * np.ones(3, dtype=int), TypeError, "floating-point dtype; received dtype int"),
        (lambda: X2 + np.ones((3, 2)), ValueError, r"broadcast-compatible; received \(2, 3\) and \(3, 2\)"),
        (lambda: X2 @ np.ones((2, 3)), ValueError, r"received shapes \(2, 3\) and \(2, 3\)"),
        (lambda: X2 @ np.array(2.0), ValueError, "at least 1-D"),
        (lambda: X2 / np.zeros(3), ValueError, "non-zero"),
        (lambda: X2 ** _bad(X2), TypeError, "exponent must be a real number"),
        (lambda: (X2 - 1.0).log(), ValueError, "strictly positive"),
        (lambda: X2.sum(axis=2), ValueError, "axis 2 is out of range for a 2-D tensor"),
        (lambda: X2.mean(axis=(0, 0)), ValueError, "must not repeat"),
        (lambda: X2.sum(axis=_bad(1.0)), TypeError, "axis must be None, an int or a tuple of ints"),
        (lambda: X2.reshape(4, 2), ValueError, r"cannot reshape shape \(2, 3\)"),
        (lambda: X2.transpose((0, 0)), ValueError, "permutation"),
        (lambda: X2[np.array([0.0])], TypeError, "integer dtype; received dtype float64"),
        (lambda: X2[[0, 1]], TypeError, "not a list"),
        (lambda: X2[5], ValueError, r"out of range for shape \(2, 3\)"),
        (lambda: X2.backward(), ValueError, r"one-element output; received output shape \(2, 3\)"),
        (lambda: X2.backward(np.ones(3)), ValueError, r"grad must have the output's shape \(2, 3\); received shape"),
        (lambda: Tensor(np.ones(1)).backward(), ValueError, "requires_grad=False"),
    ],
)
def test_tensor_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------------------------------------------------------------
# Why the ordering matters: naive orders give wrong answers
# ------------------------------------------------------------------------------------------------------


def _per_path_order(root: Any) -> list[Any]:
    """The book's walk: depth-first, a node listed once per path to it (so it propagates once per path,
    each time with its accumulated gradient)."""
    out: list[Any] = []

    def visit(node: Any) -> None:
        out.append(node)
        for parent in node._parents:
            visit(parent)

    visit(root)
    return out


def _pre_order(root: Any) -> list[Any]:
    """Depth-first pre-order, each node once: a shared node can propagate before all consumers report."""
    out: list[Any] = []
    seen: set[int] = set()

    def visit(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        out.append(node)
        for parent in node._parents:
            visit(parent)

    visit(root)
    return out


def _number_diamond() -> tuple[NumberWithGrad, NumberWithGrad]:
    a = NumberWithGrad(2.0)
    e = a * 3
    d = (e * 2) * (e + 1)
    return a, d  # dd/da = 78


def _tensor_diamond() -> tuple[Tensor, Tensor]:
    a = Tensor(np.array([2.0, -1.0]), requires_grad=True)
    e = a * 3.0
    d = ((e * 2.0) * (e + 1.0)).sum()
    return a, d  # dd/da = 36a + 6


@pytest.mark.parametrize("naive", [_per_path_order, _pre_order])
def test_naive_order_gives_wrong_answers_on_a_diamond(monkeypatch, naive):
    a, d = _number_diamond()
    d.backward()
    assert a.grad == 78.0
    t, s = _tensor_diamond()
    s.backward()
    np.testing.assert_array_equal(t.grad, 36 * t.value + 6)

    monkeypatch.setattr(autodiff, "_backward_order", naive)
    a, d = _number_diamond()
    d.backward()
    assert a.grad != pytest.approx(78.0)
    t, s = _tensor_diamond()
    s.backward()
    assert t.grad is not None
    assert not np.allclose(t.grad, 36 * t.value + 6)


def test_per_path_order_over_counts_b_plus_b(monkeypatch):
    monkeypatch.setattr(autodiff, "_backward_order", _per_path_order)
    a = NumberWithGrad(1.0)
    b = a * 2
    c = b + b
    c.backward()
    assert a.grad == 8.0  # true 4 (each visit of b re-sends its accumulated gradient)
