"""``Trainer`` (chapters 3-4): mini-batch training with evaluation and early stopping.

Per epoch e = 0 .. epochs-1:

1. the training rows are visited in the order ``data.batching.epoch_order(n, rng)`` (one permutation of
   the ORIGINAL rows per epoch, drawn from ``np.random.default_rng(seed)``), in batches of
   ``batch_size``, the last one possibly partial; each batch is ``net.train_batch`` then ``optim.step``;
2. every ``eval_every`` epochs ((e + 1) % eval_every == 0) the validation loss is computed in inference
   mode; with early stopping, an improvement saves a copy of every parameter, and a loss that does not
   improve restores the best saved parameters and stops;
3. the optimizer's learning rate decays once (if it has a decay type).

Differences from the book's code, on purpose: early stopping keeps the best *evaluated* model (the book
restored the model from one epoch before the failing evaluation and printed another epoch number);
the best loss starts at +inf, so the first evaluation always counts as an improvement (the book's 1e9 made
early stopping quit at the first evaluation of any loss above 1e9, e.g. an unscaled regression target);
``restart=True`` re-initialises the weights reproducibly from the network's seed instead of reseeding
NumPy's global generator; the shuffle does not compound across epochs.

Hooks for subclasses (the book modules use them to reproduce the book's trainer; the defaults are this
class's behaviour): ``_epoch_orders`` (the row order of each epoch), ``_after_step`` (called after every
optimizer step; nothing by default), ``_save_best`` / ``_restore_best`` (what early stopping keeps and how it
puts it back: copies of the parameters, copied back in place), ``_report_evaluation`` / ``_report_stop``
(the printed messages).

Loaded weights: ``restart=True`` (the default, the book's) re-initialises every layer, which would silently
throw away weights put in with ``Layer.load_params``. ``fit`` refuses that with a ``ValueError``: pass
``restart=False`` to train from the loaded weights (the torch twin, ``PyTorchTrainer``, always trains the
model as it is), or call ``net.reset()`` first to discard them on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

import numpy as np

from data.batching import epoch_order, iterate_batches
from data.progress import ProgressBar, TrainingHistory

from ._validation import check_float_array, check_int
from .network import NeuralNetwork
from .optimizers import Optimizer

__all__ = ["Trainer", "TrainingHistory"]  # TrainingHistory: data.progress's, shared with torch_impl


def _check_data(X_train: object, y_train: object, X_test: object, y_test: object) -> None:
    """Check the training and test sets: float arrays, each target with its inputs' number of rows."""
    X_train, y_train = check_float_array(X_train, "X_train"), check_float_array(y_train, "y_train")
    X_test, y_test = check_float_array(X_test, "X_test"), check_float_array(y_test, "y_test")
    if X_train.shape[0] != y_train.shape[0]:
        raise ValueError(f"y_train must have {X_train.shape[0]} rows like X_train; received {y_train.shape}")
    if X_test.shape[0] != y_test.shape[0]:
        raise ValueError(f"y_test must have {X_test.shape[0]} rows like X_test; received {y_test.shape}")


class Trainer:
    """Train a ``NeuralNetwork`` with an ``Optimizer`` (the book's ``Trainer``)."""

    def __init__(self, net: NeuralNetwork, optim: Optimizer) -> None:
        if not isinstance(net, NeuralNetwork):
            raise TypeError(f"net must be a scratch NeuralNetwork; received {type(net).__name__}")
        if not isinstance(optim, Optimizer):
            raise TypeError(f"optim must be a scratch Optimizer; received {type(optim).__name__}")
        self.net = net
        self.optim = optim
        self.optim.net = net
        self.best_loss = float("inf")
        self.history = TrainingHistory()

    def fit(
        self,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray,
        y_test: np.ndarray,
        epochs: int = 100,
        eval_every: int = 10,
        batch_size: int = 32,
        seed: int = 1,
        restart: bool = True,
        early_stopping: bool = True,
        *,
        verbose: bool = True,
        progress: bool | None = None,
        stream: TextIO | None = None,
    ) -> TrainingHistory:
        """Train for ``epochs`` epochs; see the module docstring for the exact order of events.

        ``verbose`` prints each validation loss (as the book does); ``progress`` draws a progress bar on
        ``stream`` (stderr by default; ``None``: only when it is a terminal). Returns (and stores as
        ``self.history``) what happened.
        """
        epochs = check_int(epochs, "epochs", 1)
        eval_every = check_int(eval_every, "eval_every", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        seed = check_int(seed, "seed", 0)
        _check_data(X_train, y_train, X_test, y_test)
        if restart and (loaded := self.net.loaded_layers()):
            raise ValueError(
                f"Trainer.fit(restart=True) would re-initialise the weights loaded with load_params into layer(s) "
                f"{loaded}; received restart=True: pass restart=False to train from the loaded weights, or call "
                f"net.reset() first to discard them"
            )
        self.optim.net = self.net
        self.optim._setup_decay(epochs)
        if restart:
            self.net.reset()
            self.optim.reset_state()
            self.best_loss = float("inf")
        orders = self._epoch_orders(X_train.shape[0], seed)
        self.history = TrainingHistory()
        best: object | None = None
        bar = ProgressBar(epochs, stream, enabled=progress)
        for e in range(epochs):
            self.history.lrs.append(self.optim.lr)
            order = next(orders)  # drawn when the epoch starts, before its batches
            self.history.train_losses.append(self._train_epoch(X_train, y_train, X_test, y_test, batch_size, order))
            if (e + 1) % eval_every == 0:
                stop, best = self._evaluate(e + 1, X_test, y_test, best, bar, verbose, early_stopping, eval_every)
                if stop:
                    break
            self.optim._decay_lr()
            bar.update(e + 1, f"train loss {self.history.train_losses[-1]:.4g}")
        bar.close()
        return self.history

    def _train_epoch(
        self,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray,
        y_test: np.ndarray,
        batch_size: int,
        order: np.ndarray,
    ) -> float:
        """One epoch: ``net.train_batch`` then ``optim.step`` on each batch of the rows in ``order``; returns the
        mean batch loss."""
        batch_losses = []
        for i, (X_batch, y_batch) in enumerate(iterate_batches(X_train, y_train, batch_size, order)):
            batch_losses.append(self.net.train_batch(X_batch, y_batch))
            self.optim.step()
            self._after_step(i, X_test, y_test)
        return float(np.mean(batch_losses))

    def _evaluate(
        self,
        epoch: int,
        X_test: np.ndarray,
        y_test: np.ndarray,
        best: object | None,
        bar: ProgressBar,
        verbose: bool,
        early_stopping: bool,
        eval_every: int,
    ) -> tuple[bool, object | None]:
        """The validation loss after 1-based ``epoch`` (inference mode), recorded in ``self.history``; with early
        stopping an improvement saves the parameters and a loss that does not improve restores the best saved
        ones. Returns (whether to stop, what ``_save_best`` kept last)."""
        loss = self.net.loss.forward(self.net.forward(X_test, inference=True), y_test)
        history = self.history
        history.eval_epochs.append(epoch)
        history.val_losses.append(loss)
        improved = loss < self.best_loss
        if verbose:
            self._report_evaluation(bar, epoch, loss, improved, early_stopping)
        if improved:
            self.best_loss = loss
            history.best_epoch, history.best_loss = epoch, loss
            return False, self._save_best() if early_stopping else best
        if not early_stopping:
            return False, best
        if best is not None:
            self._restore_best(best)
        if verbose:
            self._report_stop(bar, epoch, eval_every)
        history.stopped_early = True
        bar.update(epoch, "(stopped early)")
        return True, best

    def _after_step(self, batch_index: int, X_test: np.ndarray, y_test: np.ndarray) -> None:
        """Called after the optimizer step of batch ``batch_index`` (0-based within the epoch): nothing here; the
        chapter 5 book module prints the book's ``conv_testing`` accuracies from it."""

    def _save_best(self) -> object:
        """What early stopping keeps at an improving evaluation: a copy of every parameter array."""
        return [p.copy() for p in self.net.params()]

    def _restore_best(self, saved: object) -> None:
        """Put back what ``_save_best`` kept when the validation loss stops improving: the saved arrays are copied
        in place into ``self.net``'s parameters (so the optimizer and every other holder of the network see them)."""
        if not isinstance(saved, list):
            raise TypeError(
                f"Trainer._restore_best expects the list _save_best returns; received {type(saved).__name__}"
            )
        for own, kept in zip(self.net.params(), saved, strict=True):
            own[...] = kept

    def _report_evaluation(
        self, bar: ProgressBar, epoch: int, loss: float, improved: bool, early_stopping: bool
    ) -> None:
        """Print an evaluation (only when ``verbose``): here, only an improving one."""
        if improved:
            bar.message(f"Validation loss after {epoch} epochs is {loss:.3f}")

    def _report_stop(self, bar: ProgressBar, epoch: int, eval_every: int) -> None:
        """Print the early stop at 1-based ``epoch`` (only when ``verbose``), naming the restored model's epoch."""
        bar.message(
            f"Loss increased after epoch {epoch}, final loss was {self.best_loss:.3f}, "
            f"using the model from epoch {self.history.best_epoch}"
        )

    def _epoch_orders(self, n: int, seed: int) -> Iterator[np.ndarray]:
        """The row order of each epoch, drawn lazily when the epoch starts: one permutation of the ORIGINAL
        rows per epoch from ``np.random.default_rng(seed)``. A subclass may draw another stream (the book
        modules draw the book's)."""
        rng = np.random.default_rng(seed)
        while True:
            yield epoch_order(n, rng)
