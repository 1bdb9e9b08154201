"""Spec: whole-training parity of the Boston MLP (13 -> 13 sigmoid -> 1) over 5 epochs (chapters 3-4).

Both trainers start from the same weights, see the same batches (``data.batching``) and decay the learning
rate the same way; per-epoch training losses, validation losses and every final weight must agree.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

import scratch

from ..converters import dense_stack
from ..harness import to_numpy, to_tensor
from ._inputs import torch_dtype
from .base import Case, ComponentSpec, ErrorCase, Problem, Results, normal

CONVERTER = dense_stack(2)
SHAPES = {"0.W": (13, 13), "0.B": (1, 13), "1.W": (13, 1), "1.B": (1, 1)}


@cache
def _boston() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from data import load_boston

    return load_boston()


def _make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
    X_train, X_test, y_train, y_test = (a.astype(dtype) for a in _boston())
    params = {k: normal(rng, s, dtype, 0.5) for k, s in SHAPES.items()}
    inputs = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
    return Problem(case, dtype, inputs, params, extras={"seed": int(rng.integers(0, 2**31))})


def _fit_kwargs(problem: Problem) -> dict[str, Any]:
    c = problem.case
    return {
        "epochs": c["epochs"],
        "eval_every": c.get("eval_every", 1),
        "batch_size": 32,
        "seed": problem.extras["seed"],
        "early_stopping": c.get("early_stopping", False),
        "verbose": False,
        "progress": False,
    }


def _run_scratch(problem: Problem) -> Results:
    c = problem.case
    net = scratch.NeuralNetwork([scratch.Dense(13, scratch.Sigmoid()), scratch.Dense(1)], scratch.MeanSquaredError())
    for i, layer in enumerate(net.layers):
        layer.load_params([problem.params[f"{i}.W"], problem.params[f"{i}.B"]])
    kwargs = {"lr": c["lr"], "final_lr": c.get("final_lr", 0), "decay_type": c.get("decay")}
    optim = scratch.SGDMomentum(momentum=0.9, **kwargs) if c["optim"] == "SGDMomentum" else scratch.SGD(**kwargs)
    trainer = scratch.Trainer(net, optim)
    data = problem.inputs
    history = trainer.fit(
        data["X_train"], data["y_train"], data["X_test"], data["y_test"], restart=False, **_fit_kwargs(problem)
    )
    params = dict(zip(CONVERTER.book_names, net.params(), strict=True))
    return {
        "epoch:train_loss": np.array(history.train_losses),
        "epoch:val_loss": np.array(history.val_losses),
        "epoch:lr": np.array(history.lrs),
        **{f"traj:{k}": v.copy() for k, v in params.items()},
    }


def _build_torch_model(problem: Problem) -> Any:
    import torch_impl as ti

    dtype = torch_dtype(problem.dtype)
    model = ti.SequentialModel(ti.Dense(13, 13, ti.Sigmoid(), dtype=dtype), ti.Dense(13, 1, dtype=dtype))
    model.load_state_dict({k: to_tensor(v, device="cpu") for k, v in CONVERTER.to_torch(problem.params).items()})
    return model


def _run_torch(problem: Problem) -> Results:
    import torch

    import torch_impl as ti

    c = problem.case
    model = _build_torch_model(problem)
    optim: torch.optim.Optimizer
    if c["optim"] == "SGDMomentum":
        optim = ti.BookSGDMomentum(model.parameters(), lr=c["lr"], momentum=0.9)
    else:
        optim = torch.optim.SGD(model.parameters(), lr=c["lr"])
    scheduler = ti.book_lr_scheduler(optim, c.get("decay"), c.get("final_lr", 0), c["epochs"])
    trainer = ti.PyTorchTrainer(model, optim, ti.MeanSquaredError())
    data = problem.inputs
    history = trainer.fit(
        data["X_train"], data["y_train"], data["X_test"], data["y_test"], scheduler=scheduler, **_fit_kwargs(problem)
    )
    state = {k: to_numpy(v) for k, v in model.state_dict().items()}
    return {
        "epoch:train_loss": np.array(history.train_losses),
        "epoch:val_loss": np.array(history.val_losses),
        "epoch:lr": np.array(history.lrs),
        **{f"traj:{k}": v for k, v in CONVERTER.to_book(state).items()},
    }


def _tiny() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-1.0, 1.0, 24).reshape(8, 3)
    return x, x[:, :1] * 2.0


def _scratch_fit(**options: Any) -> Any:
    X, y = _tiny()
    net = scratch.NeuralNetwork([scratch.Dense(1)], scratch.MeanSquaredError())
    kwargs = {"epochs": 2, "eval_every": 1, "batch_size": 4, "verbose": False, "progress": False, **options}
    return scratch.Trainer(net, scratch.SGD(0.01)).fit(X, y, X, y, **kwargs)


def _torch_fit(**options: Any) -> Any:
    import torch

    import torch_impl as ti

    X, y = _tiny()
    model = ti.SequentialModel(ti.Dense(3, 1, dtype=torch.float64))
    trainer = ti.PyTorchTrainer(model, torch.optim.SGD(model.parameters(), lr=0.01), ti.MeanSquaredError())
    kwargs = {"epochs": 2, "eval_every": 1, "batch_size": 4, "verbose": False, "progress": False, **options}
    return trainer.fit(X, y, X, y, **kwargs)


def _fit_error(option: str, value: Any, exc: type[Exception]) -> ErrorCase:
    return ErrorCase(
        f"{option}={value!r}",
        scratch=lambda: _scratch_fit(**{option: value}),
        torch=lambda: _torch_fit(**{option: value}),
        exc=exc,
        match=option,
    )


def _bench_scratch(problem: Problem) -> Any:
    return lambda: _run_scratch(problem)


def _bench_torch(problem: Problem) -> Any:
    return lambda: _run_torch(problem)


SPECS = (
    ComponentSpec(
        name="BostonMLPTraining",
        chapter=4,
        scratch_name="scratch.Trainer",
        torch_name="torch_impl.PyTorchTrainer",
        converter=CONVERTER,
        make_problem=_make_problem,
        run_scratch=_run_scratch,
        run_torch=_run_torch,
        cases=(
            Case("sgd-5-epochs", {"optim": "SGD", "lr": 0.01, "epochs": 5}),
            Case(
                "momentum-linear-decay",
                {"optim": "SGDMomentum", "lr": 0.01, "final_lr": 0.001, "decay": "linear", "epochs": 5},
            ),
            Case(
                "momentum-exponential-decay-early-stopping",
                {
                    "optim": "SGDMomentum",
                    "lr": 0.02,
                    "final_lr": 0.002,
                    "decay": "exponential",
                    "epochs": 5,
                    "early_stopping": True,
                },
            ),
        ),
        bench=(Case("one-epoch", {"optim": "SGD", "lr": 0.01, "epochs": 1}),),
        errors=(
            _fit_error("epochs", 0, ValueError),
            _fit_error("eval_every", 0, ValueError),
            _fit_error("batch_size", 0, ValueError),
            _fit_error("batch_size", -3, ValueError),
            _fit_error("epochs", 2.5, TypeError),
        ),
        bench_scratch=_bench_scratch,
        bench_torch=_bench_torch,
        notes="Boston 354/152 split, batch 32, shared initial weights and batch order; restart=False",
        slow=True,
    ),
)
