"""Fast encoder of the default profile: an aligned 64×64 face in [-1, 1] → its latent z."""
from __future__ import annotations

import torch
from torch import nn


class DownBlock(nn.Sequential):
    """Stride-2 convolution then a 3×3 refinement, both with LeakyReLU."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, 1, 1),
            nn.LeakyReLU(0.2, inplace=True),
        )


class FaceEncoder(nn.Module):
    def __init__(self, latent_dim: int = 100, channels: int = 32, size: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.size = size
        c = channels
        self.blocks = nn.Sequential(
            DownBlock(3, c),  # 32×32
            DownBlock(c, c * 2),  # 16×16
            DownBlock(c * 2, c * 4),  # 8×8
            DownBlock(c * 4, c * 8),  # 4×4
        )
        self.to_latent = nn.Linear(c * 8 * 4 * 4, latent_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.blocks(image).flatten(1))
