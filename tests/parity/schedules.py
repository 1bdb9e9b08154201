"""The learning rate of each epoch under ``torch_impl.book_lr_scheduler`` (shared by the schedule tests)."""

from __future__ import annotations

import torch
from torch import nn

import torch_impl as ti


def torch_lrs(decay: str, lr: float, final_lr: float, epochs: int) -> list[float]:
    """The learning rate at the start of each epoch, the scheduler stepped after every epoch."""
    optim = torch.optim.SGD([nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=lr)
    scheduler = ti.book_lr_scheduler(optim, decay, final_lr, epochs)
    if scheduler is None:
        raise ValueError(f"book_lr_scheduler gave no scheduler for decay={decay!r}")
    lrs = []
    for _ in range(epochs):
        lrs.append(optim.param_groups[0]["lr"])
        optim.step()
        scheduler.step()
    return lrs
