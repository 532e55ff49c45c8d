"""e4e / pSp encoders (IR-SE50 backbone, feature pyramid, one style head per W+ entry) in the public key layout.

A public checkpoint (`e4e_ffhq_encode.pt`) is a dict with `state_dict` (keys prefixed `encoder.` and `decoder.`),
`latent_avg` and `opts`; `load_e4e` turns it into an `E4EInversion` (image → W+) and the StyleGAN2 generator.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from engines.checkpoint import CheckpointError, load_state_into, load_torch_file
from engines.stylegan2 import EqualLinear, Generator, generator_config

# IR-SE50: (units, stride-2 first unit) per stage; channels are base × 1, 2, 4, 8.
IRSE50_STAGES = (3, 4, 14, 3)
INPUT_SIZE = 256  # e4e and pSp were trained on 256×256 crops
ENCODER_TYPES = ("Encoder4Editing", "GradualStyleEncoder")


class SEModule(nn.Module):
    """Squeeze-and-excitation: channel gates from global average pooling."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * gate


class BottleneckIRSE(nn.Module):
    def __init__(self, in_ch: int, depth: int, stride: int):
        super().__init__()
        if in_ch == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_ch, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_ch),
            nn.Conv2d(in_ch, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SEModule(depth),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class GradualStyleBlock(nn.Module):
    """Stride-2 convolutions down to 1×1, then an equalised linear layer → one style vector."""

    def __init__(self, in_ch: int, out_ch: int, spatial: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).flatten(1))


def upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


class StyleEncoder(nn.Module):
    """IR-SE50 backbone with a 3-level feature pyramid; `Encoder4Editing` and `GradualStyleEncoder` share it.

    Styles 0–2 read the coarsest map, 3–6 the middle one, the rest the finest (e4e's coarse/middle split).
    """

    coarse, middle = 3, 7

    def __init__(self, stylegan_size: int, base: int = 64, style_dim: int = 512, editing: bool = True):
        super().__init__()
        self.editing = editing
        self.style_count = 2 * int(math.log2(stylegan_size)) - 2
        self.input_layer = nn.Sequential(nn.Conv2d(3, base, 3, 1, 1, bias=False), nn.BatchNorm2d(base), nn.PReLU(base))
        units: list[nn.Module] = []
        in_ch = base
        for stage, n in enumerate(IRSE50_STAGES):
            depth = base * 2**stage
            units += [BottleneckIRSE(in_ch if i == 0 else depth, depth, 2 if i == 0 else 1) for i in range(n)]
            in_ch = depth
        self.body = nn.Sequential(*units)
        # Pyramid taps: last unit of stages 2, 3 and 4.
        self.taps = tuple(sum(IRSE50_STAGES[: s + 1]) - 1 for s in (1, 2, 3))
        top = base * 8
        self.styles = nn.ModuleList(
            GradualStyleBlock(top, style_dim, 16 if i < self.coarse else 32 if i < self.middle else 64) for i in range(self.style_count)
        )
        self.latlayer1 = nn.Conv2d(base * 4, top, 1)
        self.latlayer2 = nn.Conv2d(base * 2, top, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.input_layer(image)
        feats = []
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self.taps:
                feats.append(x)
        c1, c2, c3 = feats
        p2 = upsample_add(c3, self.latlayer1(c2))
        p1 = upsample_add(p2, self.latlayer2(c1))
        levels = [c3 if i < self.coarse else p2 if i < self.middle else p1 for i in range(self.style_count)]
        styles = [head(f) for head, f in zip(self.styles, levels)]
        if self.editing:
            # e4e: one base code for every layer plus per-layer offsets, so W+ stays near W.
            styles = [styles[0]] + [styles[0] + s for s in styles[1:]]
        return torch.stack(styles, dim=1)


class E4EInversion(nn.Module):
    """Aligned face (B, 3, R, R) in [-1, 1] → W+ latent (B, n_latent, style_dim), offset by the mean latent."""

    def __init__(self, encoder: StyleEncoder, latent_avg: torch.Tensor):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("latent_avg", latent_avg.expand(encoder.style_count, -1).clone())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(resize_like_e4e(image)) + self.latent_avg


def resize_like_e4e(image: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """(B, C, H, W) → (B, C, size, size) as e4e's data transforms resize (torchvision Resize on a PIL image:
    bilinear, antialiased when shrinking). A shrink by an even factor runs as one strided depthwise convolution
    with PIL's triangle taps, renormalised at the borders as PIL does, so it exports to ONNX."""
    h, w = image.shape[-2:]
    if (h, w) == (size, size):
        return image
    factor = h // size
    if h == w == factor * size and factor % 2 == 0:
        t = torch.arange(2 * factor, dtype=image.dtype, device=image.device)
        taps = 1 - (t + 0.5 - factor).abs() / factor
        kernel = taps[:, None] * taps[None, :]
        c = image.shape[1]
        out = F.conv2d(image, kernel.expand(c, 1, -1, -1), stride=factor, padding=factor // 2, groups=c)
        ones = torch.ones(1, 1, h, w, dtype=image.dtype, device=image.device)
        return out / F.conv2d(ones, kernel[None, None], stride=factor, padding=factor // 2)
    # any other size: torch's antialiased bilinear resize (the same maths; torch only, no ONNX export)
    return F.interpolate(image, size=(size, size), mode="bilinear", antialias=h > size or w > size, align_corners=False)


def load_e4e(path: str | Path, trust_pickle: bool = False) -> tuple[E4EInversion, Generator, dict]:
    """Read a public e4e/pSp checkpoint; returns (encoder, generator, opts). Errors name the file and the fix."""
    path = Path(path)
    ckpt = load_torch_file(path, trust_pickle)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict) or not isinstance(ckpt.get("opts"), dict):
        raise CheckpointError(f"{path}: not an e4e/pSp checkpoint (expected a dict with 'state_dict', 'latent_avg' and 'opts')")
    opts = ckpt["opts"]
    sd = ckpt["state_dict"]
    enc = {k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}
    dec = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
    if not enc or not dec:
        raise CheckpointError(f"{path}: e4e checkpoint needs 'encoder.' and 'decoder.' weights in its state_dict; found neither or only one")
    encoder_type = opts.get("encoder_type", "Encoder4Editing")
    if encoder_type not in ENCODER_TYPES:
        raise CheckpointError(f"{path}: encoder_type '{encoder_type}' is not supported; use one of {', '.join(ENCODER_TYPES)}")
    if "latent_avg" not in ckpt or not torch.is_tensor(ckpt["latent_avg"]):
        raise CheckpointError(f"{path}: e4e checkpoint without 'latent_avg'; re-save it with the mean latent")
    try:
        gen_cfg = generator_config(dec)
        size = int(opts.get("stylegan_size", gen_cfg["size"]))
        base = enc["input_layer.0.weight"].shape[0]
        style_dim = enc["styles.0.linear.weight"].shape[0]
    except (KeyError, IndexError) as e:
        raise CheckpointError(f"{path}: e4e checkpoint lacks the key {e} of the IR-SE50/StyleGAN2 layout") from None
    if size != gen_cfg["size"]:
        raise CheckpointError(f"{path}: opts.stylegan_size={size} but the decoder weights are for {gen_cfg['size']} px")
    generator = Generator(**gen_cfg)
    load_state_into(generator, dec, f"{path} (decoder.)")
    encoder = StyleEncoder(size, base=base, style_dim=style_dim, editing=encoder_type == "Encoder4Editing")
    load_state_into(encoder, enc, f"{path} (encoder.)")
    avg = ckpt["latent_avg"].float().reshape(-1, style_dim)
    if avg.shape[0] not in (1, encoder.style_count):
        raise CheckpointError(f"{path}: latent_avg has {avg.shape[0]} rows, expected 1 or {encoder.style_count}")
    if not opts.get("start_from_latent_avg", True):
        avg = torch.zeros_like(avg)
    inversion = E4EInversion(encoder, avg)
    return inversion.eval(), generator.eval(), opts


def save_e4e(path: str | Path, inversion: E4EInversion, generator: Generator, opts: dict | None = None) -> Path:
    """Write an encoder, its generator and mean latent in the public e4e/pSp layout that `load_e4e` reads
    (tensors, strings and numbers only: it loads with weights_only=True). `opts` adds to the written options."""
    path = Path(path)
    state = {f"encoder.{k}": v for k, v in inversion.encoder.state_dict().items()}
    state |= {f"decoder.{k}": v for k, v in generator.state_dict().items()}
    encoder_type = ENCODER_TYPES[0] if inversion.encoder.editing else ENCODER_TYPES[1]
    written = {"encoder_type": encoder_type, "stylegan_size": generator.size, "start_from_latent_avg": True, **(opts or {})}
    torch.save({"state_dict": state, "latent_avg": inversion.latent_avg.clone(), "opts": written}, path)
    return path
