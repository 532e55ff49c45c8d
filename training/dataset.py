"""Stage 1: sample latents, render them, label the renders with the recognisers, cache (latent, labels) in chunks."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from engines.dcgan import DCGANGenerator
from errors import MissingFileError
from training.config import DatasetConfig
from training.rendering import render, to_uint8
from training.schedule import step_generator

Labeller = Callable[[np.ndarray], dict[str, np.ndarray]]
FACE_KEY = "face_found"


@dataclass
class LatentDataset:
    """Latents of renders where a face was found, and their raw (unstandardised) labels."""

    latents: np.ndarray  # (N, latent_dim) float32
    labels: dict[str, np.ndarray]  # name → (N,) float32

    def __len__(self) -> int:
        return len(self.latents)


def chunk_latents(seed: int, index: int, size: int, latent_dim: int) -> torch.Tensor:
    """The latents of one chunk, a pure function of (seed, chunk) so a resumed build draws the same faces."""
    return torch.randn(size, latent_dim, generator=step_generator(seed + 7919, index))


def label_chunk(
    generator: DCGANGenerator, labeller: Labeller, latents: torch.Tensor, batch: int
) -> dict[str, np.ndarray]:
    """Render the latents and label every render; the result includes face_found."""
    parts: list[dict[str, np.ndarray]] = []
    for i in range(0, len(latents), batch):
        parts.append(labeller(to_uint8(render(generator, latents[i : i + batch]))))
    return {k: np.concatenate([np.asarray(p[k], dtype=np.float32) for p in parts]) for k in parts[0]}


def build_dataset(
    cfg: DatasetConfig, generator: DCGANGenerator, labeller: Labeller, folder: Path, seed: int
) -> dict:
    """Write chunk_XXXXX.npz files (skipping those already there), then complete.json with a summary."""
    folder.mkdir(parents=True, exist_ok=True)
    chunks = -(-cfg.samples // cfg.chunk)
    start = time.time()
    labelled = 0
    for index in tqdm(range(chunks), desc="dataset (chunks)", dynamic_ncols=True):
        path = folder / f"chunk_{index:05d}.npz"
        if path.is_file():
            continue
        size = min(cfg.chunk, cfg.samples - index * cfg.chunk)
        latents = chunk_latents(seed, index, size, generator.latent_dim)
        labels = label_chunk(generator, labeller, latents, cfg.batch)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, latents=latents.numpy(), **{f"label_{k}": v for k, v in labels.items()})
        tmp.replace(path)
        labelled += size
    data = load_dataset(folder)
    summary = {
        "samples": cfg.samples,
        "with_face": len(data),
        "labels": sorted(data.labels),
        "seconds_this_run": round(time.time() - start, 1),
        "renders_labelled_this_run": labelled,
    }
    (folder / "complete.json").write_text(json.dumps(summary, indent=2))
    return summary


def load_dataset(folder: Path) -> LatentDataset:
    """Every cached chunk, with rows whose render had no face (or a missing label) dropped."""
    paths = sorted(folder.glob("chunk_*.npz"))
    if not paths:
        raise MissingFileError(f"{folder}: no dataset chunks; run `python run.py train --stages dataset` first")
    latents, labels = [], {}
    for path in paths:
        with np.load(path) as f:
            latents.append(f["latents"])
            for key in f.files:
                if key.startswith("label_"):
                    labels.setdefault(key[6:], []).append(f[key])
    z = np.concatenate(latents)
    table = {k: np.concatenate(v) for k, v in labels.items()}
    keep = table.pop(FACE_KEY, np.ones(len(z), np.float32)) > 0.5
    for value in table.values():
        keep &= np.isfinite(value)
    return LatentDataset(z[keep], {k: v[keep] for k, v in table.items()})
