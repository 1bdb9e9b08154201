"""``PyTorchTrainer`` (chapter 7's name): the torch twin of ``scratch.Trainer``.

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

Like ``scratch.Trainer(restart=False)`` (the only scratch mode that keeps loaded weights), ``fit`` trains
the model as it is and the best validation loss is kept on the trainer (``best_loss``, starting at 1e9)
across ``fit`` calls; the optimizer keeps its state (momentum buffers, lr) too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from data.batching import batch_slices, epoch_order
from data.progress import ProgressBar

from ._validation import check_int, check_tensor, describe
from .model import accepts_inference

__all__ = ["PyTorchTrainer", "TrainingHistory"]


@dataclass
class TrainingHistory:
    """What ``PyTorchTrainer.fit`` observed (the same fields as ``scratch.TrainingHistory``)."""

    eval_epochs: list[int] = field(default_factory=list)  # 1-based epoch numbers of evaluations
    val_losses: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)  # mean batch loss per epoch
    lrs: list[float] = field(default_factory=list)  # learning rate used in each epoch
    stopped_early: bool = False
    best_epoch: int | None = None
    best_loss: float = float("inf")


class PyTorchTrainer:
    """Train ``model`` with ``optim`` on ``criterion`` (the book's chapter 7 ``PyTorchTrainer``).

    ``criterion(prediction, target)`` must return a scalar tensor, e.g. ``MeanSquaredError()``,
    ``SoftmaxCrossEntropy()`` or any torch loss module. See the module docstring for the exact order of
    events in ``fit``.
    """

    def __init__(self, model: nn.Module, optim: Optimizer, criterion: Callable[[Tensor, Tensor], Tensor]) -> None:
        if isinstance(model, type) or not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module instance; received {describe(model)}")
        if isinstance(optim, type) or not isinstance(optim, Optimizer):
            raise TypeError(
                f"optim must be a torch.optim.Optimizer instance (e.g. BookSGDMomentum(model.parameters())); "
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
        self.best_loss = 1e9
        self.history = TrainingHistory()

    # ----------------------------------------------------------------------------------------------------
    def _reference(self) -> tuple[torch.dtype, torch.device]:
        for p in self.model.parameters():
            if p.is_floating_point():
                return p.dtype, p.device
        return torch.get_default_dtype(), torch.get_default_device()

    def _as_tensor(self, value: Any, name: str, target: bool) -> Tensor:
        """``value`` (ndarray or tensor) checked and moved to the model's dtype and device."""
        dtype, device = self._reference()
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

    def _predict(self, x: Tensor, inference: bool) -> Tensor:
        if accepts_inference(self.model):
            out: Tensor = self.model(x, inference=inference)
        else:
            out = self.model(x)
        return out

    def _loss(self, prediction: Tensor, target: Tensor) -> Tensor:
        loss = self.criterion(prediction, target)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError(f"criterion must return a scalar tensor; received {describe(loss)}")
        return loss

    # ----------------------------------------------------------------------------------------------------
    def fit(
        self,
        X_train: np.ndarray | Tensor,
        y_train: np.ndarray | Tensor,
        X_test: np.ndarray | Tensor,
        y_test: np.ndarray | Tensor,
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

        ``scheduler`` (anything with ``step()``, normally a ``torch.optim.lr_scheduler`` on ``optim``) is
        stepped once after each epoch. ``verbose`` prints each validation loss (as the book does);
        ``progress`` draws a progress bar on ``stream`` (stderr by default; ``None``: only when it is a
        terminal). Returns (and stores as ``self.history``) what happened.
        """
        epochs = check_int(epochs, "epochs", 1)
        eval_every = check_int(eval_every, "eval_every", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        seed = check_int(seed, "seed", 0)
        if scheduler is not None:
            if not callable(getattr(scheduler, "step", None)):
                raise TypeError(
                    f"scheduler must have a step() method (a torch.optim.lr_scheduler) or be None; "
                    f"received {describe(scheduler)}"
                )
            if getattr(scheduler, "optimizer", self.optim) is not self.optim:
                raise ValueError("scheduler must schedule the trainer's optimizer; received one built on another")
        X_tr = self._as_tensor(X_train, "X_train", target=False)
        y_tr = self._as_tensor(y_train, "y_train", target=True)
        X_te = self._as_tensor(X_test, "X_test", target=False)
        y_te = self._as_tensor(y_test, "y_test", target=True)
        if X_tr.shape[0] != y_tr.shape[0]:
            raise ValueError(f"y_train must have {X_tr.shape[0]} rows like X_train; received shape {tuple(y_tr.shape)}")
        if X_te.shape[0] != y_te.shape[0]:
            raise ValueError(f"y_test must have {X_te.shape[0]} rows like X_test; received shape {tuple(y_te.shape)}")

        n = X_tr.shape[0]
        slices = batch_slices(n, batch_size)
        rng = np.random.default_rng(seed)
        history = TrainingHistory()
        self.history = history
        best_state: dict[str, Tensor] | None = None
        bar = ProgressBar(epochs, stream, enabled=progress)
        was_training = self.model.training

        try:
            for e in range(epochs):
                history.lrs.append(float(self.optim.param_groups[0]["lr"]))
                order = torch.from_numpy(epoch_order(n, rng)).to(X_tr.device)
                self.model.train()
                batch_losses: list[Tensor] = []
                for s in slices:
                    rows = order[s]
                    self.optim.zero_grad()
                    loss = self._loss(self._predict(X_tr[rows], inference=False), y_tr[rows])
                    loss.backward()
                    self.optim.step()
                    batch_losses.append(loss.detach().reshape(()))
                history.train_losses.append(float(np.mean(torch.stack(batch_losses).cpu().tolist())))

                if (e + 1) % eval_every == 0:
                    self.model.eval()
                    with torch.no_grad():
                        val_loss = float(self._loss(self._predict(X_te, inference=True), y_te))
                    self.model.train()
                    history.eval_epochs.append(e + 1)
                    history.val_losses.append(val_loss)
                    if val_loss < self.best_loss:
                        if verbose:
                            bar.message(f"Validation loss after {e + 1} epochs is {val_loss:.3f}")
                        self.best_loss = val_loss
                        history.best_epoch, history.best_loss = e + 1, val_loss
                        if early_stopping:
                            best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    elif early_stopping:
                        if best_state is not None:
                            self.model.load_state_dict(best_state)
                        if verbose:
                            bar.message(
                                f"Loss increased after epoch {e + 1}, final loss was {self.best_loss:.3f}, "
                                f"using the model from epoch {history.best_epoch}"
                            )
                        history.stopped_early = True
                        bar.update(e + 1, "(stopped early)")
                        break
                if scheduler is not None:
                    scheduler.step()
                bar.update(e + 1, f"train loss {history.train_losses[-1]:.4g}")
        finally:
            self.model.train(was_training)
            bar.close()
        return history
