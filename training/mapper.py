"""Stage 3: train the Latent-to-Latent mapper f(w, Δ) against the frozen regressor, generator and face embedder."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engines.checkpoint import CheckpointHeader, save_checkpoint
from engines.dcgan import DCGANGenerator
from engines.mapper import L2LMapper
from project import ATTRIBUTES
from training.config import LABEL_UNITS, MapperConfig
from training.losses import attribute_losses, cycle_loss, identity_loss, neighbourhood_loss, sample_deltas
from training.on_face import OnFace, on_face_terms
from training.regressor import LatentRegressor
from training.resume import load_state, save_state
from training.schedule import cosine_lr, descend, step_generator


def mapper_losses(
    mapper: L2LMapper,
    regressor: LatentRegressor,
    generator: DCGANGenerator,
    embedder: torch.nn.Module | None,
    latents: torch.Tensor,
    delta: torch.Tensor,
    asked: torch.Tensor,
    label_range: tuple[torch.Tensor, torch.Tensor],
    identity_rows: int,
) -> dict[str, torch.Tensor]:
    """Every loss term of one batch; the embedder term runs on the first identity_rows rows (0 skips it)."""
    edited = mapper(latents, delta)
    with torch.no_grad():
        before = regressor(latents)
    reach, preserve = attribute_losses(before, regressor(edited), delta, asked, *label_range)
    losses = {
        "attribute": reach,
        "preserve": preserve,
        "cycle": cycle_loss(mapper(edited, -delta), latents),
        "zero": neighbourhood_loss(mapper(latents, torch.zeros_like(delta)), latents),
        "neighbourhood": neighbourhood_loss(edited, latents),
    }
    if embedder is not None and identity_rows > 0:
        with torch.no_grad():
            original = embedder(generator(latents[:identity_rows]))
        losses["identity"] = identity_loss(embedder(generator(edited[:identity_rows])), original)
    return losses


def train_mapper(
    cfg: MapperConfig,
    regressor: LatentRegressor,
    regressor_stats: dict,
    generator: DCGANGenerator,
    embedder: torch.nn.Module | None,
    out_path: Path,
    state_path: Path,
    seed: int,
    extra: dict,
    on_face: OnFace | None = None,
) -> dict[str, float]:
    """Train (or resume) the mapper on fresh latents from the generator's prior, then write the checkpoint."""
    torch.manual_seed(seed)
    k = len(ATTRIBUTES)
    kwargs = {"latent_dim": generator.latent_dim, "n_attributes": k, "hidden": cfg.hidden, "depth": cfg.depth,
              "max_delta": cfg.max_delta}
    mapper = L2LMapper(**kwargs)
    optimizer = torch.optim.Adam(mapper.parameters(), lr=cfg.lr)
    start = load_state(state_path, mapper, optimizer)
    label_range = attribute_range(regressor, generator.latent_dim, k, seed)
    weights = {
        "attribute": cfg.attribute_weight,
        "preserve": cfg.preserve_weight,
        "cycle": cfg.cycle_weight,
        "zero": cfg.zero_weight,
        "neighbourhood": cfg.neighbourhood_weight,
        "identity": cfg.identity_weight,
        "on_face": cfg.on_face_weight,
        "on_face_preserve": cfg.on_face_weight * cfg.preserve_weight,
        "on_face_identity": cfg.identity_weight,
        "on_face_cast": cfg.on_face_cast_weight,
    }
    last: dict[str, float] = {}
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="mapper", dynamic_ncols=True)
    for step in bar:
        rng = step_generator(seed, step)
        latents = torch.randn(cfg.batch, generator.latent_dim, generator=rng)
        delta, asked = sample_deltas(cfg.batch, k, cfg.max_delta, cfg.pair_fraction, rng)
        rows = cfg.identity_batch if cfg.identity_every and step % cfg.identity_every == 0 else 0
        losses = mapper_losses(mapper, regressor, generator, embedder, latents, delta, asked, label_range, rows)
        if on_face is not None and cfg.on_face_batch > 0:
            losses.update(on_face_terms(mapper, generator, on_face, cfg.on_face_batch, cfg.max_delta,
                                        cfg.pair_fraction, rng))
        total = sum(weights[name] * value for name, value in losses.items())
        descend(optimizer, total, cosine_lr(cfg.lr, step, cfg.steps))
        last.update({name: float(value.detach()) for name, value in losses.items()})
        bar.set_postfix({name: f"{value:.3f}" for name, value in last.items()})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(state_path, mapper, optimizer, step + 1)
    save_mapper(out_path, mapper, kwargs, regressor_stats, {**extra, "train": asdict(cfg), "final_losses": last,
                                                    "identity_loss": embedder is not None,
                                                    "on_face_loss": on_face is not None})
    return last


@torch.no_grad()
def attribute_range(
    regressor: LatentRegressor, latent_dim: int, k: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1st and 99th percentile of each predicted attribute over prior samples: where a target is clamped."""
    pred = regressor(torch.randn(8192, latent_dim, generator=torch.Generator().manual_seed(seed + 17)))[:, :k]
    return torch.quantile(pred, 0.01, dim=0), torch.quantile(pred, 0.99, dim=0)


def save_mapper(path: Path, mapper: L2LMapper, kwargs: dict, regressor_stats: dict, extra: dict) -> None:
    """The shipped checkpoint: L2LMapper kwargs, attribute order and the label statistics Δ is measured in."""
    k = len(ATTRIBUTES)
    header = CheckpointHeader(
        network="l2l_mapper",
        latent_shape=[mapper.latent_dim],
        attributes=list(ATTRIBUTES),
        config=dict(kwargs),
        extra={**extra, "label_mean": np.round(regressor_stats["label_mean"][:k], 6).tolist(),
               "label_std": np.round(regressor_stats["label_std"][:k], 6).tolist(),
               "units": {a: {"per_step": round(float(regressor_stats["label_std"][i]), 4), "unit": LABEL_UNITS[a]}
                         for i, a in enumerate(ATTRIBUTES)}},
    )
    save_checkpoint(path, mapper.state_dict(), header)
