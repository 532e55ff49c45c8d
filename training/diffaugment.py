"""Differentiable augmentation (colour, translation, cutout) applied to real and fake alike, so a discriminator
trained on a few thousand faces does not memorise them (Zhao et al., DiffAugment, 2020)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation, contrast, a shift of up to 1/8 and one cutout of 1/2 the size, per image."""
    return cutout(translate(colour(x)))


def colour(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) * 2) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device) + 0.5) + mean


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Integer shift with zero fill, by gathering from a padded copy."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    ys = (torch.arange(h, device=x.device)[None, :, None] + dy + sh).expand(n, h, w)
    xs = (torch.arange(w, device=x.device)[None, None, :] + dx + sw).expand(n, h, w)
    padded = F.pad(x, (sw, sw, sh, sh))
    flat = padded.flatten(2)  # (n, c, (h+2sh)(w+2sw))
    index = (ys * (w + 2 * sw) + xs).flatten(1)[:, None, :].expand(-1, x.shape[1], -1)
    return flat.gather(2, index).view_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ratio·size at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = ((ys - cy).abs() < ch // 2 + ch % 2) & ((xs - cx).abs() < cw // 2 + cw % 2)
    return x * (~inside)[:, None].to(x.dtype)
