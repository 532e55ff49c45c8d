"""StyleGAN2-style residual discriminator with minibatch standard deviation (training only)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from engines.stylegan2 import EqualLinear, fused_leaky_relu


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class ConvLayer(nn.Module):
    """Equalised conv, then bias + leaky ReLU (·√2)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int):
        super().__init__()
        self.conv = EqualConv2d(in_ch, out_ch, kernel_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(self.conv(x), self.bias)


class ResBlock(nn.Module):
    """Two 3×3 convs and a 2× average-pool downsample, with a 1×1 skip; sum scaled by 1/√2."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.avg_pool2d(self.conv2(self.conv1(x)), 2)
        return (out + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


def minibatch_stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append the mean over features of the per-group standard deviation as one extra channel."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    std = x.view(g, -1, c, h, w).var(0, unbiased=False).add(1e-8).sqrt().mean((1, 2, 3))  # (b/g,)
    return torch.cat([x, std.repeat(g)[:, None, None, None].expand(b, 1, h, w)], 1)


class Discriminator(nn.Module):
    def __init__(self, size: int, channels: dict[int, int]):
        super().__init__()
        self.from_rgb = ConvLayer(3, channels[size], 1)
        blocks = []
        res = size
        while res > 4:
            blocks.append(ResBlock(channels[res], channels[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = ConvLayer(channels[4] + 1, channels[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(channels[4] * 16, channels[4], activation=True), EqualLinear(channels[4], 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, size, size) in [-1, 1] → (B,) realness logits."""
        out = self.final_conv(minibatch_stddev(self.blocks(self.from_rgb(image))))
        return self.final_linear(out.flatten(1)).squeeze(1)
