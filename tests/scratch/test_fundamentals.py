"""Chapters 1 and 2 in scratch: every backward against central finite differences, metrics, training, errors.

NumPy only (this file must not import torch). Finite differences are float64 central differences with
step 1e-6; the hand-written backward functions that take sigma' numerically are run with ``diff=1e-5``
so that their own O(diff²) error (about 1e-11) is far below the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import scratch
from parity_tests.port import relative_error
from scratch import linear_regression as lr
from scratch import one_hidden_layer as nn
from scratch.fundamentals import (
    chain_deriv_2,
    chain_deriv_3,
    chain_length_2,
    chain_length_3,
    deriv,
    leaky_relu,
    matmul_backward_first,
    matmul_forward,
    matrix_forward_extra,
    matrix_function_backward_1,
    matrix_function_backward_sum_1,
    matrix_function_forward_sum,
    multiple_inputs_add,
    multiple_inputs_add_backward,
    sigmoid,
    square,
)
from scratch.metrics import mae, rmse

EPS = 1e-6  # finite-difference step
RTOL = 1e-7  # relative tolerance against finite differences
DIFF = 1e-5  # step for the library's own numerical sigma' in the FD comparisons


def fd_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (float64, any shape)."""
    x = x.astype(np.float64, copy=True)
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)  # views: [x.size]
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + eps
        up = f(x)
        flat_x[i] = old - eps
        down = f(x)
        flat_x[i] = old
        flat_g[i] = (up - down) / (2 * eps)
    return grad


def rel_err(actual: np.ndarray, reference: np.ndarray) -> float:
    """max |actual - reference| / max |reference| (the reference must not be near zero, ``port.relative_error``)."""
    return relative_error(actual, reference, min_scale=1e-3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20190901)


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in ±[0.2, 2] (away from leaky_relu's kink, where finite differences are meaningless)."""
    return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------------------------------------------------
# Chapter 1: basic functions and deriv
# ---------------------------------------------------------------------------------------------------------


def test_basic_function_values() -> None:
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    np.testing.assert_array_equal(square(x), [4.0, 0.25, 0.0, 2.25])
    np.testing.assert_array_equal(leaky_relu(x), [-0.4, -0.1, 0.0, 1.5])
    np.testing.assert_allclose(sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-15)
    assert sigmoid(np.array([0.0]))[0] == 0.5


def test_sigmoid_is_stable_for_large_inputs() -> None:
    # pytest turns RuntimeWarning (overflow in exp) into an error, so this also checks there is none
    out = sigmoid(np.array([-1000.0, -50.0, 50.0, 1000.0]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, np.exp(-50.0), 1.0, 1.0], rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("func", "derivative"),
    [
        (np.sin, np.cos),
        (np.exp, np.exp),
        (square, lambda x: 2 * x),
        (sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    ],
    ids=["sin", "exp", "square", "sigmoid"],
)
def test_deriv_on_known_functions(func: Callable[[np.ndarray], np.ndarray], derivative: Callable) -> None:
    x = np.linspace(-2.0, 2.0, 41)
    exact = derivative(x)
    # default diff 0.001: central-difference error ≈ diff²·|f'''|/6 ≤ 1.3e-6 on [-2, 2] for these functions
    np.testing.assert_allclose(deriv(func, x), exact, rtol=0, atol=2e-6)
    np.testing.assert_allclose(deriv(func, x, diff=1e-5), exact, rtol=0, atol=1e-9)


def test_deriv_of_square_is_exact_and_leaky_relu_slopes() -> None:
    x = np.array([-3.0, -1.0, 0.5, 2.0])
    np.testing.assert_allclose(deriv(square, x), 2 * x, rtol=1e-10)  # exact for quadratics up to rounding
    np.testing.assert_allclose(deriv(leaky_relu, x), [0.2, 0.2, 1.0, 1.0], rtol=1e-10)
    assert float(deriv(np.sin, 0.0)) == pytest.approx(1.0, abs=1e-6)  # scalars are accepted


def test_deriv_keeps_the_book_formula() -> None:
    x = np.array([0.3, -1.2])
    expected = (np.exp(x + 0.001) - np.exp(x - 0.001)) / 0.002
    np.testing.assert_array_equal(deriv(np.exp, x), expected)


# ---------------------------------------------------------------------------------------------------------
# Chapter 1: chains
# ---------------------------------------------------------------------------------------------------------


def test_chain_values() -> None:
    x = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(chain_length_2([square, sigmoid], x), sigmoid(square(x)))
    np.testing.assert_array_equal(chain_length_3([leaky_relu, square, sigmoid], x), sigmoid(square(leaky_relu(x))))


@pytest.mark.parametrize("order", [(square, sigmoid), (sigmoid, square), (leaky_relu, sigmoid)])
def test_chain_deriv_2_matches_finite_differences(rng: np.random.Generator, order: tuple) -> None:
    chain = list(order)
    x = _away_from_zero(rng, (5, 4))
    reference = fd_grad(lambda v: float(np.sum(chain_length_2(chain, v))), x)
    assert rel_err(chain_deriv_2(chain, x, diff=DIFF), reference) <= RTOL
    # with the book's default diff the error is O(1e-6) but the values are the same derivative
    assert rel_err(chain_deriv_2(chain, x), reference) <= 1e-5


def test_chain_deriv_2_analytic() -> None:
    x = np.linspace(-2, 2, 9)
    s = sigmoid(x**2)
    np.testing.assert_allclose(chain_deriv_2([square, sigmoid], x, diff=DIFF), s * (1 - s) * 2 * x, atol=1e-10)


@pytest.mark.parametrize("order", [(leaky_relu, square, sigmoid), (sigmoid, square, leaky_relu)])
def test_chain_deriv_3_matches_finite_differences(rng: np.random.Generator, order: tuple) -> None:
    chain = list(order)
    x = _away_from_zero(rng, (6,))
    reference = fd_grad(lambda v: float(np.sum(chain_length_3(chain, v))), x)
    assert rel_err(chain_deriv_3(chain, x, diff=DIFF), reference) <= RTOL
    assert rel_err(chain_deriv_3(chain, x), reference) <= 1e-5


# ---------------------------------------------------------------------------------------------------------
# Chapter 1: several inputs, matrices
# ---------------------------------------------------------------------------------------------------------


def test_multiple_inputs_add_backward(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    np.testing.assert_array_equal(multiple_inputs_add(x, y, sigmoid), sigmoid(x + y))
    dx, dy = multiple_inputs_add_backward(x, y, sigmoid, diff=DIFF)
    ref_x = fd_grad(lambda v: float(np.sum(multiple_inputs_add(v, y, sigmoid))), x)
    ref_y = fd_grad(lambda v: float(np.sum(multiple_inputs_add(x, v, sigmoid))), y)
    assert rel_err(dx, ref_x) <= RTOL
    assert rel_err(dy, ref_y) <= RTOL


def test_matmul_forward_and_backward(rng: np.random.Generator) -> None:
    X, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(matmul_forward(X, W), X @ W, rtol=1e-15)
    reference = fd_grad(lambda v: float(np.sum(matmul_forward(v, W))), X)
    assert rel_err(matmul_backward_first(X, W), reference) <= RTOL


def test_matmul_backward_first_is_the_book_transpose_for_its_shapes(rng: np.random.Generator) -> None:
    X, W = rng.normal(size=(1, 3)), rng.normal(size=(3, 1))
    np.testing.assert_allclose(matmul_backward_first(X, W), W.T, rtol=1e-15)


def test_matrix_function_backward_1(rng: np.random.Generator) -> None:
    X, W = rng.normal(size=(5, 3)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(matrix_forward_extra(X, W, sigmoid), sigmoid(X @ W), rtol=1e-15)
    reference = fd_grad(lambda v: float(np.sum(matrix_forward_extra(v, W, sigmoid))), X)
    assert rel_err(matrix_function_backward_1(X, W, sigmoid, diff=DIFF), reference) <= RTOL
    assert rel_err(matrix_function_backward_1(X, W, sigmoid), reference) <= 1e-5


def test_matrix_function_backward_sum_1(rng: np.random.Generator) -> None:
    X, W = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))  # the book's example shapes
    assert matrix_function_forward_sum(X, W, sigmoid) == pytest.approx(float(np.sum(sigmoid(X @ W))), rel=1e-15)
    reference = fd_grad(lambda v: matrix_function_forward_sum(v, W, sigmoid), X)
    assert rel_err(matrix_function_backward_sum_1(X, W, sigmoid, diff=DIFF), reference) <= RTOL
    assert rel_err(matrix_function_backward_sum_1(X, W, sigmoid), reference) <= 1e-5


def test_matrix_function_backward_sum_1_book_check(rng: np.random.Generator) -> None:
    # the book's own check: nudging one element of X by 0.01 changes L by about 0.01 * dL/dX there
    X, W = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    grad = matrix_function_backward_sum_1(X, W, sigmoid)
    X2 = X.copy()
    X2[0, 0] += 0.01
    change = matrix_function_forward_sum(X2, W, sigmoid) - matrix_function_forward_sum(X, W, sigmoid)
    assert change / 0.01 == pytest.approx(grad[0, 0], rel=0.02, abs=1e-3)


# ---------------------------------------------------------------------------------------------------------
# Chapter 2: gradients of the linear model and the network
# ---------------------------------------------------------------------------------------------------------


def _lr_data(rng: np.random.Generator, n: int = 7, k: int = 5) -> tuple[np.ndarray, np.ndarray, dict]:
    X = rng.normal(size=(n, k))
    y = rng.normal(size=(n, 1)) * 3 + 1
    weights = {"W": rng.normal(size=(k, 1)), "B": rng.normal(size=(1, 1)) + 0.5}
    return X, y, weights


def test_linear_regression_forward(rng: np.random.Generator) -> None:
    X, y, weights = _lr_data(rng)
    loss, info = lr.forward_linear_regression(X, y, weights)
    P = X @ weights["W"] + weights["B"]
    np.testing.assert_allclose(info["N"], X @ weights["W"], rtol=1e-15)
    np.testing.assert_allclose(info["P"], P, rtol=1e-15)
    assert loss == pytest.approx(float(np.mean((y - P) ** 2)), rel=1e-14)
    np.testing.assert_allclose(lr.predict(X, weights), P, rtol=1e-15)


def test_linear_regression_gradients_match_finite_differences(rng: np.random.Generator) -> None:
    X, y, weights = _lr_data(rng)
    _, info = lr.forward_linear_regression(X, y, weights)
    grads = lr.loss_gradients(info, weights)
    assert set(grads) == {"W", "B"}
    for key in weights:

        def loss_of(value: np.ndarray, key: str = key) -> float:
            return lr.forward_linear_regression(X, y, {**weights, key: value})[0]

        reference = fd_grad(loss_of, weights[key])
        assert grads[key].shape == weights[key].shape
        assert rel_err(grads[key], reference) <= RTOL, key


def _nn_data(rng: np.random.Generator, n: int = 6, k: int = 4, h: int = 3) -> tuple[np.ndarray, np.ndarray, dict]:
    X = rng.normal(size=(n, k))
    y = rng.normal(size=(n, 1)) * 2 + 1
    weights = nn.init_weights(k, h, rng)
    weights["B1"] += 0.3  # make sure no bias is zero
    weights["B2"] += 0.3
    return X, y, weights


def test_one_hidden_layer_forward(rng: np.random.Generator) -> None:
    X, y, weights = _nn_data(rng)
    info, loss = nn.forward_loss(X, y, weights)
    O1 = sigmoid(X @ weights["W1"] + weights["B1"])
    P = O1 @ weights["W2"] + weights["B2"]
    np.testing.assert_allclose(info["O1"], O1, rtol=1e-15)
    np.testing.assert_allclose(info["P"], P, rtol=1e-14)
    assert loss == pytest.approx(float(np.mean((y - P) ** 2)), rel=1e-14)
    np.testing.assert_allclose(nn.predict(X, weights), P, rtol=1e-14)


def test_one_hidden_layer_gradients_match_finite_differences(rng: np.random.Generator) -> None:
    X, y, weights = _nn_data(rng)
    info, _ = nn.forward_loss(X, y, weights)
    grads = nn.loss_gradients(info, weights)
    assert set(grads) == {"W1", "B1", "W2", "B2"}
    for key in weights:

        def loss_of(value: np.ndarray, key: str = key) -> float:
            return nn.forward_loss(X, y, {**weights, key: value})[1]

        reference = fd_grad(loss_of, weights[key])
        assert grads[key].shape == weights[key].shape
        assert rel_err(grads[key], reference) <= RTOL, key


# ---------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------


def test_mae_rmse_hand_computed() -> None:
    preds = np.array([[1.0], [2.0], [3.0], [4.0]])
    actuals = np.array([[2.0], [2.0], [5.0], [3.0]])
    # |errors| = 1, 0, 2, 1  -> MAE = 4/4 = 1;  squares = 1, 0, 4, 1 -> RMSE = sqrt(6/4)
    assert mae(preds, actuals) == 1.0
    assert rmse(preds, actuals) == pytest.approx(np.sqrt(1.5), rel=1e-15)
    assert mae(actuals, actuals) == 0.0
    assert rmse(np.array([3.0, -3.0]), np.array([0.0, 0.0])) == 3.0


def test_metrics_reject_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"actuals must have the same shape as preds \(3, 1\).*\(3,\)"):
        mae(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        rmse(np.zeros((3, 1)), np.zeros((4, 1)))


# ---------------------------------------------------------------------------------------------------------
# Chapter 2: batches and training
# ---------------------------------------------------------------------------------------------------------


def test_permute_data_keeps_rows_paired_and_generate_batch_is_partial_at_the_end() -> None:
    X = np.arange(20, dtype=np.float64).reshape(10, 2)  # row i = [2i, 2i+1]
    y = np.arange(10, dtype=np.float64).reshape(10, 1) * 2  # y_i = 2i = X[i, 0]
    Xp, yp = lr.permute_data(X, y, np.random.default_rng(0))
    np.testing.assert_array_equal(Xp[:, :1], yp)
    assert sorted(yp[:, 0]) == sorted(y[:, 0])
    np.testing.assert_array_equal(Xp, X[np.random.default_rng(0).permutation(10)])
    Xb, yb = lr.generate_batch(X, y, start=8, batch_size=4)
    assert Xb.shape == (2, 2)
    assert yb.shape == (2, 1)


def _synthetic_regression(seed: int = 3, n: int = 120, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    y = np.tanh(X @ rng.normal(size=(k, 1))) * 3 + X[:, :1] + 2 + 0.05 * rng.normal(size=(n, 1))
    return X, y


def test_linear_regression_training_reduces_the_loss() -> None:
    X, y = _synthetic_regression()
    losses, weights = lr.train(X, y, n_iter=300, learning_rate=0.05, batch_size=16, return_losses=True, seed=4)
    assert len(losses) == 300
    assert np.mean(losses[-20:]) < 0.2 * np.mean(losses[:20])
    init_loss = lr.forward_linear_regression(X, y, lr.init_weights(4, np.random.default_rng(4)))[0]
    assert lr.forward_linear_regression(X, y, weights)[0] < 0.2 * init_loss


def test_linear_regression_full_batch_reaches_least_squares() -> None:
    X, y = _synthetic_regression()
    result = lr.train(X, y, n_iter=3000, learning_rate=0.2, batch_size=len(X), seed=5)
    A = np.hstack([X, np.ones((len(X), 1))])  # [n, k + 1]: features and a constant column
    solution = np.linalg.lstsq(A, y, rcond=None)[0]  # [k + 1, 1]
    np.testing.assert_allclose(result.weights["W"], solution[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.weights["B"], solution[-1:], rtol=0, atol=1e-9)


def test_one_hidden_layer_training_reduces_train_and_test_loss() -> None:
    X, y = _synthetic_regression(n=160)
    X_train, X_test, y_train, y_test = X[:120], X[120:], y[:120], y[120:]
    result = nn.train(
        X_train,
        y_train,
        X_test,
        y_test,
        n_iter=2000,
        test_every=500,
        learning_rate=0.02,
        hidden_size=6,
        batch_size=20,
        return_losses=True,
        return_scores=True,
        seed=2,
    )
    assert len(result.losses) == 2000
    assert len(result.scores) == 4
    assert np.mean(result.losses[-50:]) < 0.2 * np.mean(result.losses[:50])
    assert result.scores[-1] < result.scores[0]
    assert result.scores[-1] == pytest.approx(float(np.mean((nn.predict(X_test, result.weights) - y_test) ** 2)))


def test_training_is_reproducible_and_does_not_modify_given_weights() -> None:
    X, y = _synthetic_regression()
    w0 = lr.init_weights(4, 11)
    w0_copy = {key: value.copy() for key, value in w0.items()}
    a = lr.train(X, y, n_iter=50, batch_size=7, return_losses=True, seed=9, weights=w0)
    b = lr.train(X, y, n_iter=50, batch_size=7, return_losses=True, seed=9, weights=w0)
    assert a.losses == b.losses
    for key in w0:
        np.testing.assert_array_equal(w0[key], w0_copy[key])
        np.testing.assert_array_equal(a.weights[key], b.weights[key])
    # without weights, train draws them first from default_rng(seed), as documented
    c = lr.train(X, y, n_iter=1, batch_size=len(X), return_losses=True, seed=9)
    first = lr.forward_linear_regression(X, y, lr.init_weights(4, 9))[0]
    assert c.losses[0] == pytest.approx(first, rel=1e-12)  # full batch: loss is order-independent
    n1 = nn.init_weights(4, 3, 5)
    r1 = nn.train(X, y, X, y, n_iter=30, hidden_size=3, batch_size=9, return_losses=True, seed=5, weights=n1)
    r2 = nn.train(X, y, X, y, n_iter=30, hidden_size=3, batch_size=9, return_losses=True, seed=5, weights=n1)
    assert r1.losses == r2.losses


def test_train_reshuffles_when_the_data_is_exhausted() -> None:
    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    y = X[:, :1].copy()
    # with lr tiny the weights barely move; batch losses identify which rows were used
    losses = lr.train(
        X,
        y,
        n_iter=6,
        learning_rate=1e-300,
        batch_size=2,
        return_losses=True,
        seed=0,
        weights={"W": np.zeros((2, 1)), "B": np.zeros((1, 1))},
    ).losses
    rng = np.random.default_rng(0)
    p1 = rng.permutation(5)
    yp = y[p1]
    expected = [float(np.mean(yp[0:2] ** 2)), float(np.mean(yp[2:4] ** 2)), float(np.mean(yp[4:5] ** 2))]
    yp = yp[rng.permutation(5)]  # the book permutes the already-permuted data
    expected += [float(np.mean(yp[0:2] ** 2)), float(np.mean(yp[2:4] ** 2)), float(np.mean(yp[4:5] ** 2))]
    np.testing.assert_allclose(losses, expected, rtol=1e-12)


def test_train_result_unpacks_like_the_book() -> None:
    X, y = _synthetic_regression()
    losses, weights = lr.train(X, y, n_iter=5, return_losses=True, return_weights=True)
    assert len(losses) == 5
    assert weights["W"].shape == (4, 1)
    losses, weights, scores = nn.train(
        X,
        y,
        X,
        y,
        n_iter=4,
        test_every=2,
        hidden_size=2,
        return_losses=True,
        return_weights=True,
        return_scores=True,
    )
    assert (len(losses), len(scores)) == (4, 2)
    assert weights["W1"].shape == (4, 2)


# ---------------------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------------------


def test_chapter_1_errors() -> None:
    with pytest.raises(ValueError, match=r"W must have as many rows as X has columns \(3\).*\(2, 2\)"):
        matmul_forward(np.ones((4, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        matrix_function_backward_sum_1(np.ones(3), np.ones((3, 1)), sigmoid)
    with pytest.raises(ValueError, match="chain must be a list of 2 functions; received a list of 3"):
        chain_deriv_2([square, square, square], np.ones(2))
    with pytest.raises(TypeError, match=r"chain\[1\] must be a callable"):
        chain_length_3([square, 3, square], np.ones(2))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="diff must be > 0; received 0"):
        deriv(square, np.ones(2), diff=0)
    with pytest.raises(TypeError, match="input_ must have a floating-point dtype"):
        deriv(square, np.ones(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"y must have the same shape as x \(2,\); received shape \(3,\)"):
        multiple_inputs_add_backward(np.ones(2), np.ones(3), sigmoid)


def test_chapter_2_shape_errors() -> None:
    X, y = np.ones((5, 3)), np.ones((5, 1))
    w = lr.init_weights(3, 0)
    with pytest.raises(ValueError, match=r"y_batch must have as many rows as X_batch \(5\); received shape \(4, 1\)"):
        lr.forward_linear_regression(X, np.ones((4, 1)), w)
    with pytest.raises(ValueError, match=r"y_batch must be a column vector of shape \[n, 1\]"):
        lr.forward_linear_regression(X, np.ones((5, 2)), w)
    with pytest.raises(ValueError, match=r"y_batch must be a 2-D array"):
        lr.forward_linear_regression(X, np.ones(5), w)
    with pytest.raises(ValueError, match=r"weights\['W'\] must have shape \(3, 1\); received shape \(4, 1\)"):
        lr.forward_linear_regression(X, y, {"W": np.ones((4, 1)), "B": np.ones((1, 1))})
    with pytest.raises(ValueError, match=r"weights must have exactly the keys \['B', 'W'\]"):
        lr.predict(X, {"W": np.ones((3, 1))})
    with pytest.raises(ValueError, match=r"y must have as many rows as X \(5\)"):
        lr.train(X, np.ones((6, 1)))
    with pytest.raises(ValueError, match=r"X_test must have as many columns as X_train \(3\)"):
        nn.train(X, y, np.ones((2, 4)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"weights\['W1'\] must have shape \(3, 13\); received shape \(3, 4\)"):
        nn.train(X, y, X, y, weights=nn.init_weights(3, 4, 0))
    with pytest.raises(TypeError, match="X must have a floating-point dtype"):
        lr.train(np.ones((5, 3), dtype=np.int64), y)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_iter": 0}, "n_iter must be an integer >= 1; received 0"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1; received 0"),
        ({"learning_rate": 0.0}, r"learning_rate must be > 0; received 0\.0"),
        ({"learning_rate": -0.1}, r"learning_rate must be > 0; received -0\.1"),
    ],
)
def test_training_argument_errors(kwargs: dict, message: str) -> None:
    X, y = np.ones((5, 3)), np.ones((5, 1))
    with pytest.raises(ValueError, match=message):
        lr.train(X, y, **kwargs)
    with pytest.raises(ValueError, match=message):
        nn.train(X, y, X, y, **kwargs)


def test_training_argument_type_and_test_every_errors() -> None:
    X, y = np.ones((5, 3)), np.ones((5, 1))
    with pytest.raises(TypeError, match=r"n_iter must be an integer >= 1; received float 10\.0"):
        lr.train(X, y, n_iter=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_every must be an integer >= 1; received 0"):
        nn.train(X, y, X, y, test_every=0)
    with pytest.raises(ValueError, match="start must be < the number of rows"):
        lr.generate_batch(X, y, start=5, batch_size=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("slope", [0.2, 0.01, 0.0, 0.1, 1.0, 3.7, 1e20])
def test_leaky_relu_equals_its_definition_bit_for_bit(slope: float, dtype: type) -> None:
    """``LeakyReLU`` builds its slope array arithmetically (1·(1 - a) + a); for a slope where that would not
    round to 1 (1e20) it selects exactly instead: either way y and dL/dx equal the definition to the bit."""
    rng = np.random.default_rng(5)
    x: np.ndarray = rng.standard_normal((16, 9)).astype(dtype)
    x[0, :3] = 0.0  # at exactly 0 the slope is a, like torch
    g: np.ndarray = rng.standard_normal((16, 9)).astype(dtype)
    op = scratch.LeakyReLU(slope)
    y, grad = op.forward(x), op.backward(g)
    a = dtype(slope)
    assert y.dtype == grad.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, np.where(x > 0, x, a * x))
    np.testing.assert_array_equal(grad, np.where(x > 0, g, a * g))
