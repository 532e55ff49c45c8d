"""Latent-to-Latent mapper f(w, Δ): a residual MLP, so Δ = 0 starts as the identity."""
from __future__ import annotations

import torch
from torch import nn


class L2LMapper(nn.Module):
    """f(w, Δ) → w′; Δ (N, n_attributes) in the label standard deviations of the mapper header, clamped to ±max_delta."""

    REAL_CONFIG = {"max_delta": (0.1, 100.0)}  # header config keys that are real numbers (engines/checkpoint.py)

    def __init__(self, latent_dim: int = 100, n_attributes: int = 6, hidden: int = 512, depth: int = 4,
                 max_delta: float | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.n_attributes = n_attributes
        self.max_delta = max_delta  # Δ beyond the trained range saturates here instead of extrapolating
        layers: list[nn.Module] = [nn.Linear(latent_dim + n_attributes, hidden), nn.LeakyReLU(0.2)]
        for _ in range(depth - 2):
            layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, latent_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, w: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        flat = w.reshape(w.shape[0], -1)
        if self.max_delta is not None:
            delta = delta.clamp(-self.max_delta, self.max_delta)
        step = self.out(self.body(torch.cat([flat, delta], dim=1)))
        return w + step.view_as(w)
