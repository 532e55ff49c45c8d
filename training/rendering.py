"""The frozen generator of the default profile and the conversions between its renders and recogniser input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engines.generator_file import load_generator_file


def load_generator(path: str | Path) -> torch.nn.Module:
    """The default profile's generator, frozen (gradients still flow to its input): G(z) with z ~ N(0, I)."""
    return load_generator_file(path).requires_grad_(False)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N,3,H,W) in [-1,1] → (N,H,W,3) uint8 RGB, what the recognisers take."""
    pixels = ((images.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().numpy()


def from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N,H,W,3) uint8 RGB → (N,3,H,W) float in [-1,1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


@torch.no_grad()
def render(generator: torch.nn.Module, latents: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """G(z) in batches, without building a graph."""
    return torch.cat([generator(latents[i : i + batch]) for i in range(0, len(latents), batch)])
