"""The default profile's generator from one of our checkpoints: the StyleGAN2 trained here, or the older DCGAN."""
from __future__ import annotations

from pathlib import Path

from torch import nn

from engines.checkpoint import CheckpointError, load_checkpoint, load_state_into, read_header
from engines.dcgan import load_dcgan
from engines.stylegan2 import Generator

GENERATOR_NETWORKS = ("stylegan2_generator", "dcgan_generator")
# Bounds on the header's constructor arguments: a header is checked before anything is allocated.
STYLEGAN2_LIMITS = {"size": (8, 1024), "style_dim": (8, 1024), "n_mlp": (0, 8), "channel_multiplier": (1, 4),
                    "max_channels": (8, 1024), "channel_base": (64, 65536)}


def load_stylegan2_file(path: str | Path) -> Generator:
    """A `stylegan2_generator` checkpoint (fp16 or fp32 tensors) → float32 Generator in eval mode; its latent is
    the standard-normal u of engines/standard_latent.py."""
    tensors, header = load_checkpoint(path, "stylegan2_generator")
    config = header.config
    if set(config) != set(STYLEGAN2_LIMITS) or not all(
            isinstance(config[k], int) and lo <= config[k] <= hi for k, (lo, hi) in STYLEGAN2_LIMITS.items()):
        raise CheckpointError(f"{path}: generator config {config} is not a valid StyleGAN2 configuration; re-export it")
    generator = Generator(**config)
    load_state_into(generator, {k: v.float() for k, v in tensors.items()}, path)
    return generator.eval()


def load_generator_file(path: str | Path) -> nn.Module:
    """Whichever generator the file holds; both take (B, latent_dim) and return (B, 3, size, size) in [-1, 1]."""
    network = read_header(path).network
    if network == "stylegan2_generator":
        return load_stylegan2_file(path)
    if network == "dcgan_generator":
        return load_dcgan(path)
    raise CheckpointError(f"{path}: holds a '{network}' network, expected one of {', '.join(GENERATOR_NETWORKS)}; "
                          "point engine.generator at a generator file")

