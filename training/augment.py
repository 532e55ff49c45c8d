"""Degradations that make a render look like an aligned webcam crop: misalignment, colour, blur, noise, JPEG."""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def augment_faces(images: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Randomly degrade a batch (N,3,H,W) in [-1,1]; strength 0 returns it unchanged, 1 is the trained range."""
    if strength <= 0:
        return images
    x = misalign(images, strength, rng)
    x = jitter_colour(x, strength, rng)
    x = blur(x, strength, rng)
    x = x + torch.randn(x.shape, generator=rng) * (0.04 * strength * torch.rand(len(x), 1, 1, 1, generator=rng))
    x = jpeg(x.clamp(-1, 1), strength, rng)
    return x


def misalign(images: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Small rotation (±8°), scale (±8 %) and shift (±5 %): what a landmark-based aligner leaves behind."""
    n = len(images)
    angle = _uniform(rng, strength, n) * math.radians(8)
    scale = 1 + _uniform(rng, strength, n) * 0.08
    tx, ty = _uniform(rng, strength, n) * 0.1, _uniform(rng, strength, n) * 0.1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def jitter_colour(images: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Brightness, contrast, saturation and white-balance changes of a different camera and lamp."""
    n = len(images)
    x = (images + 1) / 2
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * (1 + 0.3 * _uniform(rng, strength, n, 1, 1, 1))
    x = x * (1 + 0.08 * _uniform(rng, strength, n, 3, 1, 1))
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * (1 + 0.25 * _uniform(rng, strength, n, 1, 1, 1))
    x = x + 0.12 * _uniform(rng, strength, n, 1, 1, 1)
    return (x * 2 - 1).clamp(-1, 1)


def blur(images: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """Gaussian blur of random width (σ up to 1.2 px) on about half of the faces: defocus, upscaled crops."""
    sigma = torch.rand(len(images), generator=rng) * 1.2 * strength
    sigma = torch.where(torch.rand(len(images), generator=rng) < 0.5, sigma, torch.zeros_like(sigma))
    taps = torch.arange(-2, 3, dtype=images.dtype)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)
    n, c, h, w = images.shape
    x = images.reshape(1, n * c, h, w)
    k = kernel.repeat_interleave(c, 0)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="reflect"), k.view(n * c, 1, 1, 5), groups=n * c)
    x = F.conv2d(F.pad(x, (0, 0, 2, 2), mode="reflect"), k.view(n * c, 1, 5, 1), groups=n * c)
    return x.view(n, c, h, w)


def jpeg(images: torch.Tensor, strength: float, rng: torch.Generator) -> torch.Tensor:
    """JPEG round trip at quality 30–95 on about half of the faces: the compression of webcams and streams."""
    out = images.clone()
    pick = torch.rand(len(images), generator=rng) < 0.5 * min(strength, 1.0)
    quality = 95 - (torch.rand(len(images), generator=rng) * 65 * min(strength, 1.0)).long()
    for i in torch.nonzero(pick).flatten().tolist():
        pixels = ((images[i].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", pixels[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
        if ok:
            decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
            out[i] = torch.from_numpy(decoded).permute(2, 0, 1).float() / 127.5 - 1
    return out


def _uniform(rng: torch.Generator, strength: float, *shape: int) -> torch.Tensor:
    """Uniform draws in [-strength, strength]."""
    return (torch.rand(*shape, generator=rng) * 2 - 1) * strength
