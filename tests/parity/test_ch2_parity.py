"""Chapter 2 parity: scratch's hand-written gradients and training against torch_impl's autograd twins.

All comparisons are float64 and use the project's metric ``max |scratch - torch| / max |torch|`` with the
tolerances of ``parity_tests.tolerances`` (1e-12 for one forward or gradient, 1e-10 for whole training
runs), and every reference is checked not to be near zero first.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
import torch

from parity_tests.port import relative_error
from parity_tests.tolerances import TOLERANCES
from scratch import linear_regression as s_lr
from scratch import one_hidden_layer as s_nn
from scratch.metrics import mae as s_mae
from scratch.metrics import rmse as s_rmse
from torch_impl import regression as t_reg

GRAD_TOL = TOLERANCES["float64"]["gradient"]  # 1e-12
FORWARD_TOL = TOLERANCES["float64"]["forward"]  # 1e-12
TRAJ_TOL = TOLERANCES["float64"]["trajectory"]  # 1e-10


def rel_err(scratch_value: np.ndarray | list[float], torch_value: torch.Tensor | list[float]) -> float:
    """max |scratch - torch| / max |torch|, refusing a near-zero reference (``port.relative_error``)."""
    return relative_error(scratch_value, torch_value, min_scale=1e-3)


def _to_torch(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(value.copy()) for key, value in weights.items()}


def _data(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    y = np.sin(X @ rng.normal(size=(k, 1))) * 2 + X[:, :1] + 3 + 0.1 * rng.normal(size=(n, 1))
    return X, y


# ---------------------------------------------------------------------------------------------------------
# Single forward and gradient calls
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_regression_gradients_match_autograd(seed: int) -> None:
    X, y = _data(seed, n=9, k=5)
    rng = np.random.default_rng(100 + seed)
    weights = {"W": rng.normal(size=(5, 1)), "B": rng.normal(size=(1, 1)) + 0.5}
    s_loss, s_info = s_lr.forward_linear_regression(X, y, weights)
    s_grads = s_lr.loss_gradients(s_info, weights)
    t_loss, t_info = t_reg.forward_linear_regression(torch.from_numpy(X), torch.from_numpy(y), _to_torch(weights))
    t_grads = t_reg.linear_regression_loss_gradients(t_info, _to_torch(weights))
    assert t_loss.dtype == torch.float64
    assert rel_err([s_loss], [t_loss.item()]) <= FORWARD_TOL
    for key in ("N", "P"):
        assert rel_err(s_info[key], t_info[key]) <= FORWARD_TOL
    assert set(s_grads) == set(t_grads) == {"W", "B"}
    for key in s_grads:
        assert t_grads[key].dtype == torch.float64
        assert rel_err(s_grads[key], t_grads[key]) <= GRAD_TOL, key


@pytest.mark.parametrize(("seed", "hidden"), [(0, 13), (1, 4), (2, 1)])
def test_one_hidden_layer_gradients_match_autograd(seed: int, hidden: int) -> None:
    X, y = _data(seed, n=11, k=13)
    weights = s_nn.init_weights(13, hidden, 200 + seed)
    weights["B1"] += 0.25  # biases certainly non-zero
    weights["B2"] += 0.25
    s_info, s_loss = s_nn.forward_loss(X, y, weights)
    s_grads = s_nn.loss_gradients(s_info, weights)
    t_info, t_loss = t_reg.forward_loss_nn(torch.from_numpy(X), torch.from_numpy(y), _to_torch(weights))
    t_grads = t_reg.nn_loss_gradients(t_info, _to_torch(weights))
    assert rel_err([s_loss], [t_loss.item()]) <= FORWARD_TOL
    for key in ("M1", "N1", "O1", "M2", "P"):
        assert rel_err(s_info[key], t_info[key]) <= FORWARD_TOL, key
    assert set(s_grads) == set(t_grads) == {"W1", "B1", "W2", "B2"}
    for key in s_grads:
        assert rel_err(s_grads[key], t_grads[key]) <= GRAD_TOL, key


def test_predictions_metrics_and_initial_weights_match() -> None:
    X, y = _data(5, n=20, k=13)
    lr_w = s_lr.init_weights(13, 7)
    assert all(np.array_equal(lr_w[k], v.numpy()) for k, v in t_reg.init_linear_regression_weights(13, 7).items())
    nn_w = s_nn.init_weights(13, 6, 7)
    t_nn_w = t_reg.init_one_hidden_layer_weights(13, 6, 7)
    assert list(t_nn_w) == list(nn_w) == ["W1", "B1", "W2", "B2"]
    assert all(np.array_equal(nn_w[k], v.numpy()) for k, v in t_nn_w.items())
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    s_p = s_lr.predict(X, lr_w)
    t_p = t_reg.predict_linear_regression(tX, _to_torch(lr_w))
    assert rel_err(s_p, t_p) <= FORWARD_TOL
    assert rel_err(s_nn.predict(X, nn_w), t_reg.predict_one_hidden_layer(tX, _to_torch(nn_w))) <= FORWARD_TOL
    assert rel_err([s_mae(s_p, y), s_rmse(s_p, y)], [t_reg.mae(t_p, ty), t_reg.rmse(t_p, ty)]) <= FORWARD_TOL


# ---------------------------------------------------------------------------------------------------------
# Whole training runs
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_iter", "batch_size"), [(200, 23), (57, 7), (10, 100)])
def test_linear_regression_training_parity(n_iter: int, batch_size: int) -> None:
    X, y = _data(3, n=90, k=13)  # 90 rows: batches of 23 and 7 leave a partial last batch
    init = s_lr.init_weights(13, 42)
    s_res = s_lr.train(X, y, n_iter, 0.01, batch_size, return_losses=True, return_weights=True, seed=8, weights=init)
    t_res = t_reg.train_linear_regression(
        torch.from_numpy(X),
        torch.from_numpy(y),
        n_iter,
        0.01,
        batch_size,
        return_losses=True,
        return_weights=True,
        seed=8,
        weights=_to_torch(init),
    )
    assert len(s_res.losses) == len(t_res.losses) == n_iter
    assert rel_err(s_res.losses, t_res.losses) <= TRAJ_TOL
    assert s_res.losses[-1] < s_res.losses[0]
    for key in init:
        assert rel_err(s_res.weights[key], t_res.weights[key]) <= TRAJ_TOL, key
    # the weights really moved, so equality is not just "both returned the initial weights"
    assert np.max(np.abs(s_res.weights["W"] - init["W"])) > 1e-2


def test_linear_regression_training_parity_from_seed_alone() -> None:
    X, y = _data(4, n=50, k=13)
    s_res = s_lr.train(X, y, 120, 0.01, 23, return_losses=True, seed=3)
    t_res = t_reg.train_linear_regression(
        torch.from_numpy(X), torch.from_numpy(y), 120, 0.01, 23, return_losses=True, seed=3
    )
    assert rel_err(s_res.losses, t_res.losses) <= TRAJ_TOL
    for key in s_res.weights:
        assert rel_err(s_res.weights[key], t_res.weights[key]) <= TRAJ_TOL, key


@pytest.mark.parametrize(("hidden", "batch_size", "test_every"), [(13, 23, 100), (5, 9, 37)])
def test_one_hidden_layer_training_parity(hidden: int, batch_size: int, test_every: int) -> None:
    X, y = _data(6, n=100, k=13)
    X_train, X_test, y_train, y_test = X[:70], X[70:], y[:70], y[70:]
    init = s_nn.init_weights(13, hidden, 43)
    n_iter = 400
    settings = (n_iter, test_every, 0.01, hidden, batch_size)
    flags: dict[str, Any] = {"return_losses": True, "return_weights": True, "return_scores": True, "seed": 9}
    s_res = s_nn.train(X_train, y_train, X_test, y_test, *settings, weights=init, **flags)
    tX_train, ty_train, tX_test, ty_test = (torch.from_numpy(a) for a in (X_train, y_train, X_test, y_test))
    t_res = t_reg.train_one_hidden_layer(
        tX_train, ty_train, tX_test, ty_test, *settings, weights=_to_torch(init), **flags
    )
    assert len(s_res.losses) == len(t_res.losses) == n_iter
    assert len(s_res.scores) == len(t_res.scores) == n_iter // test_every
    assert rel_err(s_res.losses, t_res.losses) <= TRAJ_TOL
    assert rel_err(s_res.scores, t_res.scores) <= TRAJ_TOL
    for key in init:
        assert rel_err(s_res.weights[key], t_res.weights[key]) <= TRAJ_TOL, key
    assert np.max(np.abs(s_res.weights["W2"] - init["W2"])) > 1e-2


# ---------------------------------------------------------------------------------------------------------
# torch_impl input errors (the scratch ones are in tests/scratch/test_fundamentals.py)
# ---------------------------------------------------------------------------------------------------------


def test_torch_regression_errors() -> None:
    X, y = torch.ones(5, 3, dtype=torch.float64), torch.ones(5, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"y must have as many rows as X \(5\); received shape \(4, 1\)"):
        t_reg.train_linear_regression(X, torch.ones(4, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_iter must be an integer >= 1; received 0"):
        t_reg.train_linear_regression(X, y, n_iter=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; received 0"):
        t_reg.train_one_hidden_layer(X, y, X, y, batch_size=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0; received -1"):
        t_reg.train_one_hidden_layer(X, y, X, y, learning_rate=-1)
    with pytest.raises(TypeError, match=r"X must be a torch\.Tensor"):
        t_reg.train_linear_regression(np.ones((5, 3)), y)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"weights\['W'\] must have the data's dtype torch.float64"):
        t_reg.predict_linear_regression(X, {"W": torch.ones(3, 1), "B": torch.ones(1, 1)})
    with pytest.raises(ValueError, match="actuals must have the same shape as preds"):
        t_reg.mae(torch.ones(3, 1), torch.ones(3))


# ---------------------------------------------------------------------------------------------------------
# The chapter 2 recipe
# ---------------------------------------------------------------------------------------------------------

needs_boston = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="the Boston data set ships with mlxtend"
)


@needs_boston
def test_ch2_recipe_runs_and_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    from parity_tests.recipes import ch2

    code = ch2.main(["--scale", "0.02", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "354 train / 152 test" in out
    assert "Linear regression: SGD lr 0.023, batch 23, 20 iterations" in out  # the book's step: 0.001 * 23
    assert "(13 -> 13 sigmoid -> 1): SGD lr 0.0115, batch 23, 200 iterations" in out  # 0.001 * 23 / 2
    for label in ("scratch (hand-written gradients)", "torch_impl (autograd)"):
        assert out.count(label) == 2
    if importlib.util.find_spec("sklearn") is not None:
        assert "scikit-learn LinearRegression" in out
    # test losses every 20 iterations: 10 rows, scratch and torch columns equal as printed
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(20, 201, 20))
    assert all(r[1] == r[2] for r in rows)
    # each metrics row: name, MAE, RMSE; the two implementations print the same numbers
    metric_rows = [
        line.rsplit(maxsplit=2) for line in out.splitlines() if "(hand-written" in line or "(autograd)" in line
    ]
    assert metric_rows[0][1:] == metric_rows[1][1:]
    assert metric_rows[2][1:] == metric_rows[3][1:]
    assert "parity: scratch and torch_impl agree" in out


def test_recipes_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    from parity_tests.recipes.__main__ import RECIPES, main

    assert "ch2" in RECIPES
    assert main(["--help"]) == 0
    assert "ch2" in capsys.readouterr().out
    assert main(["no-such-recipe"]) == 2
    assert "unknown recipe 'no-such-recipe'" in capsys.readouterr().err
    assert main(["ch2", "--help"]) == 0
    assert "--seed" in capsys.readouterr().out
