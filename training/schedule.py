"""Per-step randomness and learning rate, both pure functions of the step so a resumed run repeats exactly."""
from __future__ import annotations

import math

import torch


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def cosine_lr(base: float, step: int, total: int, floor: float = 0.05) -> float:
    """Short linear warm-up, then cosine decay to floor·base."""
    warmup = min(100, max(total // 20, 1))
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, lr: float) -> None:
    """One optimiser step on `loss` at learning rate `lr`."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
