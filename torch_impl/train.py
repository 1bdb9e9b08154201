"""``Trainer`` (chapter 7's name): the torch twin of ``scratch.Trainer``.

Per epoch e = 0 .. epochs-1, exactly as the NumPy trainer does it:

1. ``lrs[e]`` records ``optim.param_groups[0]["lr"]``, the rate used during the epoch;
2. the training rows are visited in the order ``data.batching.epoch_order(n, rng)`` (one permutation of the
   ORIGINAL rows per epoch, ``rng = np.random.default_rng(seed)``), in consecutive batches of ``batch_size``
   rows (``data.batching.batch_slices``; the last batch may be partial). Each batch, with the model in
   training mode: ``optim.zero_grad()``, forward, ``criterion(prediction, y_batch)``, ``backward()``,
   ``optim.step()``. ``train_losses[e]`` is the mean of the epoch's batch losses;
3. every ``eval_every`` epochs ((e + 1) % eval_every == 0) the validation loss is computed with the model in
   eval mode, ``inference=True`` (for ``PyTorchModel``/``PyTorchLayer`` models) and under
   ``torch.no_grad()``; the model then goes back to training mode. With early stopping, an improvement on
   the best loss so far saves a copy of the ``state_dict``, and a loss that does not improve restores the
   best saved ``state_dict`` (if any) and stops;
4. if training goes on, ``scheduler.step()`` (if a scheduler is given), e.g. from ``book_lr_scheduler``.

Inputs may be NumPy arrays or tensors. Floating-point ones are converted to the dtype and device of the
model's first floating-point parameter; integer targets (class indices for ``nn.CrossEntropyLoss``) become
``torch.long`` on that device. The book's chapter 7 trainer left the model in eval mode after its first
evaluation; here training mode is restored after each evaluation, and at the end of ``fit`` the model gets
back the training flag it had when ``fit`` started.

DataLoaders: ``fit(train_loader, None, test_loader, None, ...)`` trains from a ``torch.utils.data.DataLoader``
of ``(inputs, targets)`` batches (e.g. from ``torch_impl.mnist_loaders``) instead of arrays. The loader decides
the batches and their order (its own sampler and generator), so ``batch_size`` and ``seed`` are not used then;
everything else (losses, evaluation, early stopping, scheduler, modes) is as above. ``train_losses[e]`` is
still the mean of the epoch's batch losses; a validation loss over a loader is the mean of its batch losses
weighted by batch size (the loss over the whole set for a criterion that averages over rows). ``X_test`` may
be a loader (``y_test=None``) or arrays in either mode. :func:`accuracy` (and
``Trainer.evaluate_accuracy``) measures classification accuracy on arrays or a loader.

Like ``scratch.Trainer(restart=False)`` (the only scratch mode that keeps loaded weights), ``fit`` trains
the model as it is and the best validation loss is kept on the trainer (``best_loss``, starting at +inf, so the
first evaluation always counts as an improvement, whatever the loss's scale) across ``fit`` calls; the
optimizer keeps its state (momentum buffers, lr) too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from data.batching import batch_slices, epoch_order
from data.progress import ProgressBar, TrainingHistory

from ._validation import check_int, check_tensor, describe
from .network import accepts_inference

__all__ = ["PyTorchTrainer", "Trainer", "TrainingHistory", "accuracy", "check_labels"]


def _model_reference(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of ``model``'s first floating-point parameter (else torch's defaults)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    return torch.get_default_dtype(), torch.get_default_device()


def _convert(value: Any, name: str, target: bool, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``value`` (ndarray or tensor) checked and moved to ``dtype`` (floats; integer targets: long) and
    ``device``."""
    if isinstance(value, np.ndarray):
        if target and value.dtype.kind in "iu":
            out = torch.as_tensor(value, dtype=torch.long, device=device)
        elif value.dtype.kind != "f":
            kind = "floating-point (or integer class labels)" if target else "floating-point"
            raise TypeError(f"{name} must have a {kind} dtype; received dtype {value.dtype}")
        else:
            out = torch.as_tensor(value, dtype=dtype, device=device)
    elif isinstance(value, Tensor):
        if target and not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool:
            out = value.detach().to(dtype=torch.long, device=device)
        elif not value.is_floating_point():
            kind = "floating-point (or integer class labels)" if target else "floating-point"
            raise TypeError(f"{name} must have a {kind} dtype; received dtype {value.dtype}")
        else:
            out = value.detach().to(dtype=dtype, device=device)
    else:
        raise TypeError(f"{name} must be a numpy.ndarray or a torch.Tensor; received {describe(value)}")
    if out.is_floating_point():
        check_tensor(out, name)
    elif out.dim() == 0 or out.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch; received shape {tuple(out.shape)}")
    return out


def _check_rows(x: Tensor, y: Tensor, x_name: str, y_name: str) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{y_name} must have {x.shape[0]} rows like {x_name}; received shape {tuple(y.shape)}")


def _loader_or_none(x: Any, y: Any, x_name: str, y_name: str) -> DataLoader[Any] | None:
    """``x`` if it is a DataLoader (then ``y`` must be ``None``), else ``None``."""
    if not isinstance(x, DataLoader):
        return None
    if y is not None:
        raise ValueError(
            f"{y_name} must be None when {x_name} is a DataLoader (the loader yields (inputs, targets) batches); "
            f"received {describe(y)}"
        )
    return x


def _loader_batches(
    loader: DataLoader[Any], name: str, dtype: torch.dtype, device: torch.device
) -> Iterator[tuple[Tensor, Tensor]]:
    """The ``(inputs, targets)`` batches of ``loader``, checked and moved like arrays; at least one."""
    count = 0
    for i, batch in enumerate(loader):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f"{name} must yield (inputs, targets) pairs; batch {i} is {describe(batch)}")
        xb = _convert(batch[0], f"{name} batch {i} inputs", False, dtype, device)
        yb = _convert(batch[1], f"{name} batch {i} targets", True, dtype, device)
        _check_rows(xb, yb, f"{name} batch {i} inputs", f"{name} batch {i} targets")
        count += 1
        yield xb, yb
    if count == 0:
        raise ValueError(f"{name} must yield at least one batch; received an empty DataLoader")


def check_labels(labels: Tensor, classes: int, name: str, ignore_index: int | None = None) -> None:
    """Raise ``ValueError`` unless every integer class label is in ``[0, classes)`` (``ignore_index``, the
    label ``nn.CrossEntropyLoss`` skips, is allowed too). Without it a label >= C raises a bare IndexError
    inside ``nn.CrossEntropyLoss`` and silently counts as wrong in an accuracy."""
    bad = (labels < 0) | (labels >= classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bool(bad.any()):
        index = tuple(int(i) for i in torch.nonzero(bad)[0])
        where = ", ".join(str(i) for i in index)
        allowed = f" or the ignore_index {ignore_index}" if ignore_index is not None else ""
        raise ValueError(
            f"{name} must be class labels in [0, {classes}) for {classes} classes{allowed}; {name}[{where}] is "
            f"{int(labels[index])} ({int(bad.sum())} label(s) out of range)"
        )


def _rows_batches(X: Tensor, y: Tensor, order: Tensor, slices: list[slice]) -> Iterator[tuple[Tensor, Tensor]]:
    """``(X[rows], y[rows])`` for ``rows = order[s]``, each ``s`` in ``slices``."""
    for s in slices:
        rows = order[s]
        yield X[rows], y[rows]


def _predict_with(model: nn.Module, x: Tensor, inference: bool) -> Tensor:
    if accepts_inference(model):
        out: Tensor = model(x, inference=inference)
    else:
        out = model(x)
    return out


def accuracy(
    model: nn.Module,
    X: np.ndarray | Tensor | DataLoader[Any],
    y: np.ndarray | Tensor | None = None,
    *,
    batch_size: int | None = None,
) -> float:
    """Classification accuracy of ``model`` (the fraction of rows whose largest output is the true class).

    ``X`` and ``y`` are arrays/tensors (``y``: integer class labels ``[N]``, or one-hot / scores ``[N, C]``
    whose argmax is the class), or ``X`` is a DataLoader of ``(inputs, labels)`` batches and ``y`` is
    ``None``. Array inputs are run in batches of ``batch_size`` rows (``None``: all at once). The model runs
    in eval mode with ``inference=True`` (for chapter 7 models) under ``torch.no_grad()``; its training flag
    is restored afterwards. The model's outputs must be ``[N, C]`` scores.
    """
    if isinstance(model, type) or not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
    dtype, device = _model_reference(model)
    loader = _loader_or_none(X, y, "X", "y")
    if loader is not None:
        batches: Iterator[tuple[Tensor, Tensor]] = _loader_batches(loader, "X", dtype, device)
    else:
        X_t = _convert(X, "X", False, dtype, device)
        y_t = _convert(y, "y", True, dtype, device)
        _check_rows(X_t, y_t, "X", "y")
        step = X_t.shape[0] if batch_size is None else check_int(batch_size, "batch_size", 1)
        batches = ((X_t[s], y_t[s]) for s in batch_slices(X_t.shape[0], step))

    was_training = model.training
    correct = torch.zeros((), dtype=torch.long, device=device)
    total = 0
    model.eval()
    try:
        with torch.no_grad():
            for xb, yb in batches:
                if yb.dim() == 2:
                    labels = yb.argmax(dim=1)
                elif yb.dim() == 1 and not yb.is_floating_point():
                    labels = yb
                else:
                    raise ValueError(
                        f"y must be integer class labels [N] or one-hot / scores [N, C]; received {describe(yb)}"
                    )
                scores = _predict_with(model, xb, inference=True)
                if scores.dim() != 2 or scores.shape[0] != labels.shape[0]:
                    raise ValueError(
                        f"model must return class scores [N, C] for N = {labels.shape[0]} rows; received "
                        f"{describe(scores)}"
                    )
                if yb.dim() == 2 and yb.shape[1] != scores.shape[1]:
                    raise ValueError(
                        f"y must have one column per class ({scores.shape[1]} scores per row); received {describe(yb)}"
                    )
                check_labels(labels, int(scores.shape[1]), "y")
                correct += (scores.argmax(dim=1) == labels.to(scores.device)).sum()
                total += int(labels.shape[0])
    finally:
        model.train(was_training)
    return float(correct) / total


class Trainer:
    """Train ``model`` with ``optim`` on ``criterion`` (the book's chapter 7 ``Trainer``).

    ``criterion(prediction, target)`` must return a scalar tensor, e.g. ``MeanSquaredError()``,
    ``SoftmaxCrossEntropy()`` or any torch loss module. See the module docstring for the exact order of
    events in ``fit``.
    """

    def __init__(self, model: nn.Module, optim: Optimizer, criterion: Callable[[Tensor, Tensor], Tensor]) -> None:
        if isinstance(model, type) or not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
        if isinstance(optim, type) or not isinstance(optim, Optimizer):
            raise TypeError(
                f"optim must be a torch.optim.Optimizer instance (e.g. SGDMomentum(model.parameters())); "
                f"received {describe(optim)}"
            )
        if isinstance(criterion, type):
            raise TypeError(
                f"criterion must be a loss instance such as {criterion.__name__}(); received the class itself"
            )
        if not callable(criterion):
            raise TypeError(
                f"criterion must be a callable loss such as MeanSquaredError(); received {describe(criterion)}"
            )
        self.model = model
        self.optim = optim
        self.criterion = criterion
        self.best_loss = float("inf")
        self.history = TrainingHistory()
        self._best_state: dict[str, Tensor] | None = None  # the best weights of the current fit (early stopping)

    # ----------------------------------------------------------------------------------------------------
    def _reference(self) -> tuple[torch.dtype, torch.device]:
        return _model_reference(self.model)

    def _as_tensor(self, value: Any, name: str, target: bool) -> Tensor:
        """``value`` (ndarray or tensor) checked and moved to the model's dtype and device."""
        dtype, device = self._reference()
        return _convert(value, name, target, dtype, device)

    def _predict(self, x: Tensor, inference: bool) -> Tensor:
        return _predict_with(self.model, x, inference)

    def _loss(self, prediction: Tensor, target: Tensor, name: str = "targets") -> Tensor:
        """``criterion(prediction, target)`` checked to be a scalar; integer targets (class labels for
        ``nn.CrossEntropyLoss``, classes on the prediction's dim 1) are checked to be in range first."""
        if not target.is_floating_point() and prediction.dim() >= 2:
            ignore = getattr(self.criterion, "ignore_index", None)
            check_labels(target, int(prediction.shape[1]), name, ignore if isinstance(ignore, int) else None)
        loss = self.criterion(prediction, target)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError(f"criterion must return a scalar tensor; received {describe(loss)}")
        return loss

    def _loader_loss(self, loader: DataLoader[Any], name: str) -> float:
        """Mean loss over ``loader``'s batches, weighted by batch size (call under ``no_grad``)."""
        dtype, device = self._reference()
        total: Tensor | None = None
        rows = 0
        for xb, yb in _loader_batches(loader, name, dtype, device):
            batch_loss = self._loss(self._predict(xb, inference=True), yb, f"{name} targets")
            loss = batch_loss.detach().reshape(()) * xb.shape[0]
            total = loss if total is None else total + loss
            rows += int(xb.shape[0])
        return float(total) / rows if total is not None else float("nan")

    def evaluate_accuracy(
        self,
        X: np.ndarray | Tensor | DataLoader[Any],
        y: np.ndarray | Tensor | None = None,
        *,
        batch_size: int | None = None,
    ) -> float:
        """:func:`accuracy` of the trainer's model on ``X`` (arrays with ``y``, or a DataLoader)."""
        return accuracy(self.model, X, y, batch_size=batch_size)

    def _check_scheduler(self, scheduler: Any) -> None:
        if scheduler is None:
            return
        if not callable(getattr(scheduler, "step", None)):
            raise TypeError(
                f"scheduler must have a step() method (a torch.optim.lr_scheduler) or be None; "
                f"received {describe(scheduler)}"
            )
        if getattr(scheduler, "optimizer", self.optim) is not self.optim:
            raise ValueError("scheduler must schedule the trainer's optimizer; received one built on another")

    def _train_source(
        self, X: np.ndarray | Tensor | DataLoader[Any], y: np.ndarray | Tensor | None, batch_size: int, seed: int
    ) -> Callable[[], Iterator[tuple[Tensor, Tensor]]]:
        """A function giving one epoch's training batches: a DataLoader's, or for arrays one permutation of the
        original rows per epoch from ``np.random.default_rng(seed)``, drawn when the epoch starts."""
        loader = _loader_or_none(X, y, "X_train", "y_train")
        if loader is not None:
            dataloader = loader

            def from_loader() -> Iterator[tuple[Tensor, Tensor]]:
                dtype, device = self._reference()
                return _loader_batches(dataloader, "X_train", dtype, device)

            return from_loader
        X_tr = self._as_tensor(X, "X_train", target=False)
        y_tr = self._as_tensor(y, "y_train", target=True)
        _check_rows(X_tr, y_tr, "X_train", "y_train")
        n = X_tr.shape[0]
        slices = batch_slices(n, batch_size)
        rng = np.random.default_rng(seed)

        def from_arrays() -> Iterator[tuple[Tensor, Tensor]]:
            order = torch.from_numpy(epoch_order(n, rng)).to(X_tr.device)
            return _rows_batches(X_tr, y_tr, order, slices)

        return from_arrays

    def _validation_source(
        self, X: np.ndarray | Tensor | DataLoader[Any], y: np.ndarray | Tensor | None
    ) -> Callable[[], float]:
        """A function giving the validation loss (of arrays in one batch, or averaged over a DataLoader's rows)."""
        loader = _loader_or_none(X, y, "X_test", "y_test")
        if loader is not None:
            dataloader = loader
            return lambda: self._loader_loss(dataloader, "X_test")
        X_te = self._as_tensor(X, "X_test", target=False)
        y_te = self._as_tensor(y, "y_test", target=True)
        _check_rows(X_te, y_te, "X_test", "y_test")
        return lambda: float(self._loss(self._predict(X_te, inference=True), y_te, "y_test"))

    def _train_epoch(self, batches: Iterator[tuple[Tensor, Tensor]]) -> float:
        """One pass over the batches (zero_grad, loss, backward, step each); the mean batch loss."""
        self.model.train()
        batch_losses: list[Tensor] = []
        for xb, yb in batches:
            self.optim.zero_grad()
            loss = self._loss(self._predict(xb, inference=False), yb, "y_train (a shuffled batch)")
            loss.backward()
            self.optim.step()
            batch_losses.append(loss.detach().reshape(()))
        return float(np.mean(torch.stack(batch_losses).cpu().tolist()))

    def _evaluate(
        self, epoch: int, validation_loss: Callable[[], float], early_stopping: bool, verbose: bool, bar: ProgressBar
    ) -> bool:
        """Evaluate after ``epoch``; keep the best weights; return True to stop early (weights restored)."""
        history = self.history
        self.model.eval()
        with torch.no_grad():
            val_loss = validation_loss()
        self.model.train()
        history.eval_epochs.append(epoch)
        history.val_losses.append(val_loss)
        if val_loss < self.best_loss:
            if verbose:
                bar.message(f"Validation loss after {epoch} epochs is {val_loss:.3f}")
            self.best_loss = val_loss
            history.best_epoch, history.best_loss = epoch, val_loss
            if early_stopping:
                self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            return False
        if not early_stopping:
            return False
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        if verbose:
            bar.message(
                f"Loss increased after epoch {epoch}, final loss was {self.best_loss:.3f}, "
                f"using the model from epoch {history.best_epoch}"
            )
        history.stopped_early = True
        return True

    # ----------------------------------------------------------------------------------------------------
    def fit(
        self,
        X_train: np.ndarray | Tensor | DataLoader[Any],
        y_train: np.ndarray | Tensor | None,
        X_test: np.ndarray | Tensor | DataLoader[Any],
        y_test: np.ndarray | Tensor | None,
        epochs: int = 100,
        eval_every: int = 10,
        batch_size: int = 32,
        seed: int = 1,
        early_stopping: bool = True,
        *,
        scheduler: Any = None,
        verbose: bool = True,
        progress: bool | None = None,
        stream: TextIO | None = None,
    ) -> TrainingHistory:
        """Train for ``epochs`` epochs; see the module docstring for the exact order of events.

        ``X_train`` (with ``y_train=None``) and ``X_test`` (with ``y_test=None``) may be DataLoaders of
        ``(inputs, targets)`` batches; ``batch_size`` and ``seed`` only apply to array training data.
        ``scheduler`` (anything with ``step()``, normally a ``torch.optim.lr_scheduler`` on ``optim``) is
        stepped once after each epoch. ``verbose`` prints each validation loss (as the book does);
        ``progress`` draws a progress bar on ``stream`` (stderr by default; ``None``: only when it is a
        terminal). Returns (and stores as ``self.history``) what happened.
        """
        epochs = check_int(epochs, "epochs", 1)
        eval_every = check_int(eval_every, "eval_every", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        seed = check_int(seed, "seed", 0)
        self._check_scheduler(scheduler)
        train_batches = self._train_source(X_train, y_train, batch_size, seed)
        validation_loss = self._validation_source(X_test, y_test)
        history = TrainingHistory()
        self.history = history
        self._best_state = None
        bar = ProgressBar(epochs, stream, enabled=progress)
        was_training = self.model.training
        try:
            for e in range(epochs):
                history.lrs.append(float(self.optim.param_groups[0]["lr"]))
                history.train_losses.append(self._train_epoch(train_batches()))
                if (e + 1) % eval_every == 0 and self._evaluate(e + 1, validation_loss, early_stopping, verbose, bar):
                    bar.update(e + 1, "(stopped early)")
                    break
                if scheduler is not None:
                    scheduler.step()
                bar.update(e + 1, f"train loss {history.train_losses[-1]:.4g}")
        finally:
            self.model.train(was_training)
            bar.close()
        return history


PyTorchTrainer = Trainer  # the chapter 7 name, kept as an alias
