"""Whole-training parity specs, and the builder other chapters use for theirs.

The Boston MLP (13 -> 13 sigmoid -> 1) over 5 epochs (chapters 3-4): both trainers start from the same
weights, see the same batches (``data.batching``) and decay the learning rate the same way; per-epoch
training losses, validation losses and every final weight must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

import scratch

from ..converters import TensorConverter, dense_stack
from ..harness import to_numpy
from ..port import load_arrays
from ._inputs import torch_dtype
from .base import ComponentSpec, ErrorCase, Problem, Results, TorchClass, normal
from .optimizers import RunCase

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TrainCase(RunCase):
    """A training run (``optim`` ``"SGD"`` or ``"SGDMomentum"`` with momentum 0.9), evaluated every ``eval_every``
    epochs, with or without early stopping."""

    eval_every: int = 1
    early_stopping: bool = False


#: The classes every training spec runs besides the trainers: the models, the optimizers, the histories.
TRAINING_CLASSES: tuple[type | TorchClass, ...] = (
    scratch.NeuralNetwork,
    scratch.SGD,
    scratch.SGDMomentum,
    scratch.TrainingHistory,
    TorchClass("SequentialModel"),
    TorchClass("SGDMomentum"),
    TorchClass("TrainingHistory"),
)


def _history_results(history: Any) -> Results:
    """A training history's per-epoch losses and learning rates (both trainers' histories have these fields)."""
    return {
        "epoch:train_loss": np.array(history.train_losses),
        "epoch:val_loss": np.array(history.val_losses),
        "epoch:lr": np.array(history.lrs),
    }


@dataclass(frozen=True)
class _Training:
    """The callables of a training spec (see ``training_spec`` for the fields)."""

    converter: TensorConverter
    param_shapes: dict[str, tuple[int, ...]]
    make_data: Callable[[np.random.Generator], Data]
    build_scratch: Callable[[], scratch.NeuralNetwork]
    build_torch: Callable[[Any], Any]
    torch_loss: Callable[[], Any]
    batch_size: int
    init_scale: float

    def make_problem(self, case: TrainCase, rng: np.random.Generator, dtype: np.dtype) -> Problem:
        X_train, X_test, y_train, y_test = (a.astype(dtype) for a in self.make_data(rng))
        params = {k: normal(rng, s, dtype, self.init_scale) for k, s in self.param_shapes.items()}
        inputs = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
        return Problem(case, dtype, inputs, params, extras={"seed": int(rng.integers(0, 2**31))})

    def fit_args(self, problem: Problem) -> tuple[Data, dict[str, Any]]:
        """Both trainers' ``fit`` arguments: the data, then the options."""
        c, data = problem.case_as(TrainCase), problem.inputs
        options = {"epochs": c.epochs, "eval_every": c.eval_every, "batch_size": self.batch_size}
        options |= {"seed": problem.extras["seed"], "early_stopping": c.early_stopping}
        options |= {"verbose": False, "progress": False}
        return (data["X_train"], data["y_train"], data["X_test"], data["y_test"]), options

    def run_scratch(self, problem: Problem) -> Results:
        c = problem.case_as(TrainCase)
        net = self.build_scratch()
        book = iter(self.converter.book_names)
        for layer, count in zip(net.layers, _param_counts(self.param_shapes, len(net.layers)), strict=True):
            layer.load_params([problem.params[next(book)] for _ in range(count)])
        optim: scratch.Optimizer
        if c.optim == "SGDMomentum":
            optim = scratch.SGDMomentum(c.lr, c.final_lr, c.decay, momentum=0.9)
        else:
            optim = scratch.SGD(c.lr, c.final_lr, c.decay)
        data, options = self.fit_args(problem)
        history = scratch.Trainer(net, optim).fit(*data, restart=False, **options)
        params = dict(zip(self.converter.book_names, net.params(), strict=True))
        return {**_history_results(history), **{f"traj:{k}": v.copy() for k, v in params.items()}}

    def run_torch(self, problem: Problem) -> Results:
        import torch

        import torch_impl as ti

        c = problem.case_as(TrainCase)
        model = self.build_torch(torch_dtype(problem.dtype))
        load_arrays(model, self.converter.to_torch(problem.params))
        optim: torch.optim.Optimizer
        if c.optim == "SGDMomentum":
            optim = ti.SGDMomentum(model.parameters(), lr=c.lr, momentum=0.9)
        else:
            optim = torch.optim.SGD(model.parameters(), lr=c.lr)
        scheduler = ti.book_lr_scheduler(optim, c.decay, c.final_lr, c.epochs)
        data, options = self.fit_args(problem)
        history = ti.Trainer(model, optim, self.torch_loss()).fit(*data, scheduler=scheduler, **options)
        state = {k: to_numpy(v) for k, v in model.state_dict().items()}
        return {**_history_results(history), **{f"traj:{k}": v for k, v in self.converter.to_book(state).items()}}

    def bench_scratch(self, problem: Problem) -> Callable[[], Any]:
        return lambda: self.run_scratch(problem)

    def bench_torch(self, problem: Problem) -> Callable[[], Any]:
        return lambda: self.run_torch(problem)


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
    cases: tuple[TrainCase, ...],
    batch_size: int,
    init_scale: float = 0.5,
    errors: tuple[ErrorCase, ...] = (),
    bench: tuple[TrainCase, ...] = (),
    notes: str = "",
) -> ComponentSpec[TrainCase]:
    """A whole-training parity spec: ``scratch.Trainer`` vs ``torch_impl.Trainer``.

    Both start from the same random weights (book layout, ``param_shapes`` in ``converter.book_names``
    order, loaded into torch through ``converter``), train on ``make_data``'s arrays with the same seed
    (hence the same batches) and the same optimizer and decay (the ``TrainCase``'s ``optim``, ``lr``,
    ``final_lr``, ``decay``, ``epochs``, ``eval_every``, ``early_stopping``). Results: per-epoch training
    losses, validation losses and learning rates (``epoch:*``) and every final weight (``traj:*``).
    ``build_torch(torch_dtype)`` returns the twin model; ``torch_loss()`` its loss module.
    """
    run = _Training(converter, param_shapes, make_data, build_scratch, build_torch, torch_loss, batch_size, init_scale)
    return ComponentSpec(
        name=name,
        chapter=chapter,
        scratch_class=scratch.Trainer,
        torch_class=TorchClass("Trainer"),
        exercises=TRAINING_CLASSES,
        converter=converter,
        make_problem=run.make_problem,
        run_scratch=run.run_scratch,
        run_torch=run.run_torch,
        differentiable=False,
        cases=cases,
        errors=errors,
        bench=bench,
        bench_scratch=run.bench_scratch,
        bench_torch=run.bench_torch,
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
    trainer = ti.Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), ti.MeanSquaredError())
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
            TrainCase("sgd-5-epochs", "SGD", 0.01, 5),
            TrainCase("momentum-linear-decay", "SGDMomentum", 0.01, 5, final_lr=0.001, decay="linear"),
            TrainCase(
                "momentum-exponential-decay-early-stopping",
                "SGDMomentum",
                0.02,
                5,
                final_lr=0.002,
                decay="exponential",
                early_stopping=True,
            ),
        ),
        bench=(TrainCase("one-epoch", "SGD", 0.01, 1),),
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
