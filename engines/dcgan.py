"""DCGAN face generator of the default profile: z ∈ R^100 → 64×64 RGB in [-1, 1]."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from engines.checkpoint import load_checkpoint, load_state_into, network_from_header


class UpBlock(nn.Sequential):
    """Transposed convolution, batch norm (frozen statistics at inference), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2, padding: int = 1):
        super().__init__(
            nn.ConvTranspose2d(in_ch, out_ch, 4, stride, padding, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, channels: int = 64, size: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.size = size
        c = channels
        self.blocks = nn.Sequential(
            UpBlock(latent_dim, c * 8, stride=1, padding=0),  # 4×4
            UpBlock(c * 8, c * 4),  # 8×8
            UpBlock(c * 4, c * 2),  # 16×16
            UpBlock(c * 2, c),  # 32×32
        )
        self.to_rgb = nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False)  # 64×64

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks(z.view(z.shape[0], self.latent_dim, 1, 1))
        return torch.tanh(self.to_rgb(x))


def load_dcgan(path: str | Path) -> DCGANGenerator:
    """The generator of one of our `dcgan_generator` checkpoints, in eval mode (frozen batch-norm statistics)."""
    tensors, header = load_checkpoint(path, "dcgan_generator")
    generator = network_from_header(DCGANGenerator, header.config, path)
    load_state_into(generator, tensors, path)
    return generator.eval()
