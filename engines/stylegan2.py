"""StyleGAN2 generator with the key layout of the common PyTorch checkpoints (`g_ema`), plain torch ops only.

Inference only: noise is the fixed `noises.noise_i` buffers, latents are W (B, style_dim) or W+ (B, n_latent,
style_dim). Modulation is applied to activations instead of per-sample weights, which is the same maths and
keeps every convolution weight a constant, so ONNX, TensorRT and INT8 see ordinary convolutions.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

BLUR_KERNEL = (1.0, 3.0, 3.0, 1.0)


def make_kernel(taps: tuple[float, ...]) -> torch.Tensor:
    """Separable FIR taps → normalised 2-D kernel."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Zero-insertion upsampling by `up`, padding, then a depthwise FIR filter (non-negative pads only).

    Run as one depthwise (groups = channels) convolution on the (B, C, H, W) tensor, a transposed one when
    upsampling (zero insertion and filter in one op): no reshape, so a channels_last tensor keeps its layout.
    """
    c = x.shape[1]
    k = kernel.shape[-1]
    if up == 1:
        weight = torch.flip(kernel, (0, 1)).to(x.dtype).expand(c, 1, k, k)
        if pad[0] == pad[1]:
            return F.conv2d(x, weight, padding=pad[0], groups=c)
        return F.conv2d(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), weight, groups=c)
    # The transposed conv's full output, cropped by (k-1-pad0, k-up-pad1), is the upfirdn result.
    weight = kernel.to(x.dtype).expand(c, 1, k, k)
    crop = (k - 1 - pad[0], k - up - pad[1])
    if crop[0] == crop[1] >= 0:
        return F.conv_transpose2d(x, weight, stride=up, padding=crop[0], groups=c)
    out = F.conv_transpose2d(x, weight, stride=up, groups=c)
    return F.pad(out, (-crop[0], -crop[1], -crop[0], -crop[1]))


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Bias, leaky ReLU 0.2, and the √2 gain that keeps activations at unit variance."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * math.sqrt(2.0)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at run time)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, pad: tuple[int, int], gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel(BLUR_KERNEL) * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2× upsampling of the RGB skip path."""

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", make_kernel(BLUR_KERNEL) * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=2, pad=(2, 1))


class ModulatedConv2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            # transposed 3×3 stride-2 conv grows the map by 1 pixel; the blur's pads take it back to 2×.
            self.blur = Blur(pad=(1, 1), gain=4)
        self._kept: tuple | None = None  # (key, weights) of the last inference call; not part of the state dict

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        s = self.modulation(style)  # (B, in)
        x = x * s[:, :, None, None]
        # the weight in the activations' memory format, so cuDNN converts neither (channels_last on a GPU)
        layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() else torch.contiguous_format
        weight, power = self._weights(layout)
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight, stride=2))
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # ‖W·s‖ per output channel, computed as (W²)·(s²) so no per-sample weight is formed.
            demod = torch.rsqrt(F.linear(s.pow(2), power) + 1e-8)
            out = out * demod[:, :, None, None]
        return out

    def _weights(self, layout: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor]:
        """The scaled conv weight ((in, out, k, k) transposed when upsampling) in `layout`, and W² summed over the
        taps (out, in). Constant at inference: kept between calls while the parameter is unchanged, so a captured
        CUDA graph does not recompute them every replay; recomputed when tracing (ONNX) or with gradients on."""
        inference = not torch.is_grad_enabled() and not torch.jit.is_tracing()
        key = (self.weight.data_ptr(), self.weight._version, self.weight.dtype, self.weight.device, layout)
        if inference and self._kept is not None and self._kept[0] == key:
            return self._kept[1]
        w = self.weight[0].transpose(0, 1) if self.upsample else self.weight[0]
        weights = ((w * self.scale).contiguous(memory_format=layout), self.weight[0].pow(2).sum((2, 3)) * self.scale**2)
        if inference:
            self._kept = (key, weights)
        return weights


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


class StyledConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        return out if skip is None else out + self.upsample(skip)


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


def channel_widths(size: int, channel_multiplier: int, max_channels: int, channel_base: int = 16384) -> dict[int, int]:
    """Feature channels per resolution: `max_channels` while channel_base·multiplier/res is larger, then halving as
    the map doubles (the public 16384 base gives 512 up to 32 px; a small base gives a CPU-sized generator)."""
    return {2**i: min(max_channels, channel_base * channel_multiplier // 2**i) for i in range(2, int(math.log2(size)) + 1)}


class Generator(nn.Module):
    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2, max_channels: int = 512, lr_mlp: float = 0.01,
                 channel_base: int = 16384):
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"StyleGAN2 size must be a power of two ≥ 8, got {size}")
        self.size = size
        self.style_dim = style_dim
        self.log_size = int(math.log2(size))
        self.n_latent = self.log_size * 2 - 2
        self.num_layers = (self.log_size - 2) * 2 + 1
        ch = channel_widths(size, channel_multiplier, max_channels, channel_base)

        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)])
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], style_dim)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2**i]
            self.convs.append(StyledConv(in_ch, out_ch, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    @property
    def latent_dim(self) -> int:
        """Width of one W latent (what the default profile's encoder, mapper and regressor see)."""
        return self.style_dim

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, style_dim) → w (B, style_dim)."""
        return self.style(z)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """W (B, style_dim) or W+ (B, n_latent, style_dim) → image (B, 3, size, size), roughly in [-1, 1]."""
        if latent.ndim == 2:
            latent = latent[:, None, :].expand(-1, self.n_latent, -1)
        noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        out = self.conv1(self.input(latent.shape[0]), latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for up_conv, conv, to_rgb, n1, n2 in zip(self.convs[::2], self.convs[1::2], self.to_rgbs, noise[1::2], noise[2::2]):
            out = up_conv(out, latent[:, i], n1)
            out = conv(out, latent[:, i + 1], n2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


def generator_config(state_dict: dict[str, torch.Tensor]) -> dict:
    """Constructor kwargs of the Generator that a `g_ema`-style state dict was saved from."""
    n_mlp = sum(1 for k in state_dict if k.startswith("style.") and k.endswith(".weight"))
    style_dim = state_dict["style.1.weight"].shape[0]
    size = 2 ** (2 + sum(1 for k in state_dict if k.startswith("to_rgbs.") and k.endswith(".bias") and k.count(".") == 2))
    max_channels = state_dict["input.input"].shape[1]
    last = state_dict[f"to_rgbs.{int(math.log2(size)) - 3}.conv.weight"].shape[2]
    channel_multiplier = max(1, math.ceil(last * size / 16384))
    return dict(size=size, style_dim=style_dim, n_mlp=n_mlp, channel_multiplier=channel_multiplier, max_channels=max_channels)
