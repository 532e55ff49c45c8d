"""Fast encoder of the default profile: an aligned face in [-1, 1] → its latent."""
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
    """A size×size face in [-1, 1] → its latent: stride-2 blocks down to 4×4 (channels doubling up to 8×), then linear."""

    def __init__(self, latent_dim: int = 100, channels: int = 32, size: int = 64):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"FaceEncoder size must be a power of two ≥ 8, got {size}")
        self.latent_dim = latent_dim
        self.size = size
        widths = [3] + [channels * 2 ** min(i, 3) for i in range(size.bit_length() - 3)]
        self.blocks = nn.Sequential(*[DownBlock(a, b) for a, b in zip(widths, widths[1:])])
        self.to_latent = nn.Linear(widths[-1] * 4 * 4, latent_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.blocks(image).flatten(1))
