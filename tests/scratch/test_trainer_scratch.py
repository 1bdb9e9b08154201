"""scratch.Trainer behaviour not covered by the generated parity specs (NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scratch as scratch_pkg


@pytest.mark.parametrize(
    "make_optim",
    [
        lambda: scratch_pkg.SGDMomentum(0.05, momentum=0.9),
        lambda: scratch_pkg.AdaGrad(0.05),
    ],
    ids=["momentum", "adagrad"],
)
def test_restart_forgets_optimizer_state(make_optim):
    """fit(restart=True) twice from the same seed gives bit-identical runs: the weights are re-drawn and
    the optimizer's velocities/accumulators are forgotten."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 3))
    y = X @ rng.standard_normal((3, 1))
    net = scratch_pkg.NeuralNetwork(
        [scratch_pkg.Dense(4, scratch_pkg.Tanh()), scratch_pkg.Dense(1)], scratch_pkg.MeanSquaredError(), seed=5
    )
    trainer = scratch_pkg.Trainer(net, make_optim())
    options: dict[str, Any] = {"epochs": 3, "eval_every": 1, "batch_size": 8, "verbose": False, "progress": False}
    first = trainer.fit(X, y, X, y, **options)
    weights = [p.copy() for p in net.params()]
    second = trainer.fit(X, y, X, y, **options)
    assert first.train_losses == second.train_losses
    for a, b in zip(weights, net.params(), strict=True):
        np.testing.assert_array_equal(a, b)
