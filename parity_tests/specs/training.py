"""Whole-training parity specs, and the builder other chapters use for theirs.

The Boston MLP (13 -> 13 sigmoid -> 1) over 5 epochs (chapters 3-4): both trainers start from the same
weights, see the same batches (``data.batching``) and decay the learning rate the same way; per-epoch
training losses, validation losses and every final weight must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

import scratch

from ..converters import TensorConverter, dense_stack
from ..harness import to_numpy
from ..port import load_arrays
from ._inputs import torch_dtype
from .base import Case, ComponentSpec, ErrorCase, Problem, Results, normal

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def training_spec(
    *,
    name: str,
    chapter: int,
    converter: TensorConverter,
    param_shapes: dict[str, tuple[int, ...]],
    make_data: Callable[[np.random.Generator], Data],
    build_scratch: Callable[[], scratch.NeuralNetwork],
    build_torch: Callable[[Any], Any],
    torch_loss: Callable[[], Any],
    cases: tuple[Case, ...],
    batch_size: int,
    init_scale: float = 0.5,
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[Case, ...] = (),
    notes: str = "",
) -> ComponentSpec:
    """A whole-training parity spec: ``scratch.Trainer`` vs ``torch_impl.PyTorchTrainer``.

    Both start from the same random weights (book layout, ``param_shapes`` in ``converter.book_names``
    order, loaded into torch through ``converter``), train on ``make_data``'s arrays with the same seed
    (hence the same batches) and the same optimizer and decay (case options ``optim``, ``lr``,
    ``final_lr``, ``decay``, ``epochs``, ``eval_every``, ``early_stopping``). Results: per-epoch training
    losses, validation losses and learning rates (``epoch:*``) and every final weight (``traj:*``).
    ``build_torch(torch_dtype)`` returns the twin model; ``torch_loss()`` its loss module.
    """

    def make_problem(case: Case, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        X_train, X_test, y_train, y_test = (a.astype(dtype) for a in make_data(rng))
        params = {k: normal(rng, s, dtype, init_scale) for k, s in param_shapes.items()}
        inputs = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
        return Problem(case, dtype, inputs, params, extras={"seed": int(rng.integers(0, 2**31))})

    def fit_kwargs(problem: Problem) -> dict[str, Any]:
        c = problem.case
        return {
            "epochs": c["epochs"],
            "eval_every": c.get("eval_every", 1),
            "batch_size": batch_size,
            "seed": problem.extras["seed"],
            "early_stopping": c.get("early_stopping", False),
            "verbose": False,
            "progress": False,
        }

    def run_scratch(problem: Problem) -> Results:
        c = problem.case
        net = build_scratch()
        book = iter(converter.book_names)
        for layer, count in zip(net.layers, _param_counts(param_shapes, len(net.layers)), strict=True):
            layer.load_params([problem.params[next(book)] for _ in range(count)])
        kwargs = {"lr": c["lr"], "final_lr": c.get("final_lr", 0), "decay_type": c.get("decay")}
        optim = scratch.SGDMomentum(momentum=0.9, **kwargs) if c["optim"] == "SGDMomentum" else scratch.SGD(**kwargs)
        data = problem.inputs
        history = scratch.Trainer(net, optim).fit(
            data["X_train"], data["y_train"], data["X_test"], data["y_test"], restart=False, **fit_kwargs(problem)
        )
        params = dict(zip(converter.book_names, net.params(), strict=True))
        return {
            "epoch:train_loss": np.array(history.train_losses),
            "epoch:val_loss": np.array(history.val_losses),
            "epoch:lr": np.array(history.lrs),
            **{f"traj:{k}": v.copy() for k, v in params.items()},
        }

    def run_torch(problem: Problem) -> Results:
        import torch

        import torch_impl as ti

        c = problem.case
        model = build_torch(torch_dtype(problem.dtype))
        load_arrays(model, converter.to_torch(problem.params))
        optim: torch.optim.Optimizer
        if c["optim"] == "SGDMomentum":
            optim = ti.BookSGDMomentum(model.parameters(), lr=c["lr"], momentum=0.9)
        else:
            optim = torch.optim.SGD(model.parameters(), lr=c["lr"])
        scheduler = ti.book_lr_scheduler(optim, c.get("decay"), c.get("final_lr", 0), c["epochs"])
        data = problem.inputs
        history = ti.PyTorchTrainer(model, optim, torch_loss()).fit(
            data["X_train"],
            data["y_train"],
            data["X_test"],
            data["y_test"],
            scheduler=scheduler,
            **fit_kwargs(problem),
        )
        state = {k: to_numpy(v) for k, v in model.state_dict().items()}
        return {
            "epoch:train_loss": np.array(history.train_losses),
            "epoch:val_loss": np.array(history.val_losses),
            "epoch:lr": np.array(history.lrs),
            **{f"traj:{k}": v for k, v in converter.to_book(state).items()},
        }

    return ComponentSpec(
        name=name,
        chapter=chapter,
        scratch_name="scratch.Trainer",
        torch_name="torch_impl.PyTorchTrainer",
        converter=converter,
        make_problem=make_problem,
        run_scratch=run_scratch,
        run_torch=run_torch,
        cases=cases,
        errors=errors,
        bench=bench,
        bench_scratch=lambda problem: lambda: run_scratch(problem),
        bench_torch=lambda problem: lambda: run_torch(problem),
        notes=notes,
        slow=True,
    )


def _param_counts(param_shapes: dict[str, tuple[int, ...]], n_layers: int) -> list[int]:
    """How many parameters each layer owns, from book names of the form ``"{layer}.{name}"``."""
    counts = [0] * n_layers
    for key in param_shapes:
        counts[int(key.split(".", 1)[0])] += 1
    return counts


@cache
def _boston() -> Data:
    from data import load_boston

    return load_boston()


def _boston_twin(dtype: Any) -> Any:
    import torch_impl as ti

    return ti.SequentialModel(ti.Dense(13, 13, ti.Sigmoid(), dtype=dtype), ti.Dense(13, 1, dtype=dtype))


def _torch_mse() -> Any:
    import torch_impl as ti

    return ti.MeanSquaredError()


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


SPECS = (
    training_spec(
        name="BostonMLPTraining",
        chapter=4,
        converter=dense_stack(2),
        param_shapes={"0.W": (13, 13), "0.B": (1, 13), "1.W": (13, 1), "1.B": (1, 1)},
        make_data=lambda rng: _boston(),
        build_scratch=lambda: scratch.NeuralNetwork(
            [scratch.Dense(13, scratch.Sigmoid()), scratch.Dense(1)], scratch.MeanSquaredError()
        ),
        build_torch=_boston_twin,
        torch_loss=_torch_mse,
        batch_size=32,
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
        notes="Boston 354/152 split, batch 32, shared initial weights and batch order; restart=False",
    ),
)
