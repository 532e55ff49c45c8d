"""Encoder training on renders of the frozen generator: latent, pixel, prior and identity losses on degraded inputs."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from engines.checkpoint import CheckpointHeader, save_checkpoint
from engines.dcgan import DCGANGenerator
from engines.face_encoder import FaceEncoder
from training.augment import augment_faces
from training.config import EncoderConfig
from training.resume import load_state, save_state
from training.schedule import cosine_lr, descend, step_generator


def encoder_losses(
    encoder: FaceEncoder,
    generator: DCGANGenerator,
    latents: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    embedder: torch.nn.Module | None,
    identity_rows: int | None = None,
) -> dict[str, torch.Tensor]:
    """Losses of one batch: inputs are the degraded renders, targets the clean renders of `latents`.

    The embedder term looks at the first identity_rows faces (all when None): it costs more than the rest."""
    predicted = encoder(inputs)
    again = generator(predicted)
    losses = {
        "latent": F.mse_loss(predicted, latents),
        "pixel": F.l1_loss(again, targets),
        "prior": (predicted.pow(2).mean(1) - 1).pow(2).mean(),
    }
    if embedder is not None:
        rows = slice(0, identity_rows)
        with torch.no_grad():
            wanted = embedder(targets[rows])
        losses["identity"] = 1 - F.cosine_similarity(embedder(again[rows]), wanted, dim=1).mean()
    return losses


def train_encoder(
    cfg: EncoderConfig,
    generator: DCGANGenerator,
    embedder: torch.nn.Module | None,
    out_path: Path,
    state_path: Path,
    seed: int,
    extra: dict,
) -> dict[str, float]:
    """Train (or resume) the encoder, then write the shipped checkpoint; returns the last losses."""
    torch.manual_seed(seed)
    encoder = FaceEncoder(latent_dim=generator.latent_dim, channels=cfg.channels, size=generator.size)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    start = load_state(state_path, encoder, optimizer)
    weights = {
        "latent": cfg.latent_weight,
        "pixel": cfg.pixel_weight,
        "prior": cfg.prior_weight,
        "identity": cfg.identity_weight,
    }
    last: dict[str, float] = {}
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="encoder", dynamic_ncols=True)
    for step in bar:
        rng = step_generator(seed, step)
        latents = torch.randn(cfg.batch, generator.latent_dim, generator=rng)
        with torch.no_grad():
            clean = generator(latents)
        degraded = augment_faces(clean, cfg.augment, rng)
        active = embedder if step >= cfg.identity_start else None
        losses = encoder_losses(encoder, generator, latents, degraded, clean, active, cfg.identity_batch)
        total = sum(weights[k] * v for k, v in losses.items())
        descend(optimizer, total, cosine_lr(cfg.lr, step, cfg.steps))
        last = {k: float(v.detach()) for k, v in losses.items()}
        bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(state_path, encoder, optimizer, step + 1)
    header = CheckpointHeader(
        network="face_encoder",
        profile="default",
        resolution=generator.size,
        latent_shape=[generator.latent_dim],
        config={"latent_dim": generator.latent_dim, "channels": cfg.channels, "size": generator.size},
        extra={**extra, "train": asdict(cfg), "identity_loss": embedder is not None, "final_losses": last},
    )
    save_checkpoint(out_path, encoder.state_dict(), header)
    return last
