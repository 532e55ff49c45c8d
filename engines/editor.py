"""The fused `mapper+generator` network: one call renders the original and the edited face."""
from __future__ import annotations

import torch
from torch import nn


class MapperGenerator(nn.Module):
    """(latent, delta) → (G(latent), G(f(latent, delta))), both renders in one batched generator pass.

    The pipeline's delta-blend mode needs both images every frame; batching them halves the launches.
    """

    def __init__(self, mapper: nn.Module, generator: nn.Module):
        super().__init__()
        self.mapper = mapper
        self.generator = generator

    def forward(self, latent: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        edited = self.mapper(latent, delta)
        images = self.generator(torch.cat([latent, edited], dim=0))
        original, edited_image = images.split(latent.shape[0], dim=0)
        return original, edited_image
