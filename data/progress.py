"""What the scratch and torch trainers share besides their batches (``data.batching``): the record of a
run (``TrainingHistory``, so both return the very same type) and a dependency-free text progress bar.

By default (``enabled=None``) the bar is drawn only when its stream is a terminal, so logs and CI output
get the trainers' messages without carriage-return noise. ``message`` prints a line (to stdout) without
mangling a bar that is being drawn.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["ProgressBar", "TrainingHistory"]


@dataclass
class TrainingHistory:
    """What a trainer's ``fit`` observed (``scratch.Trainer`` and ``torch_impl.Trainer`` alike)."""

    eval_epochs: list[int] = field(default_factory=list)  # 1-based epoch numbers of evaluations
    val_losses: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)  # mean batch loss per epoch
    lrs: list[float] = field(default_factory=list)  # learning rate used in each epoch
    stopped_early: bool = False
    best_epoch: int | None = None
    best_loss: float = float("inf")


class ProgressBar:
    """``[#####-----] epoch 5/10 note`` redrawn in place on ``stream`` (stderr by default)."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None, width: int = 30) -> None:
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else bool(enabled)
        self.width = width
        self._last = ""

    def update(self, done: int, note: str = "") -> None:
        """Redraw the bar at ``done`` of ``total`` epochs."""
        if not self.enabled:
            return
        filled = int(self.width * min(done, self.total) / self.total)
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] epoch {done}/{self.total} {note}"
        self.stream.write("\r" + line.ljust(len(self._last)))
        self.stream.flush()
        self._last = line

    def message(self, text: str) -> None:
        """Print ``text`` on its own line (stdout), clearing and then restoring the bar."""
        if self.enabled and self._last:
            self.stream.write("\r" + " " * len(self._last) + "\r")
            self.stream.flush()
        print(text, flush=True)
        if self.enabled and self._last:
            self.stream.write(self._last)
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()
        self._last = ""
