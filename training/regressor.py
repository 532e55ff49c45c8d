"""Latent attribute regressor A(z): predicts every recogniser label, standardised, from the latent alone."""
from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from engines.checkpoint import CheckpointHeader, load_network, save_checkpoint
from project import ATTRIBUTES
from training.config import RegressorConfig
from training.dataset import LatentDataset

CLIP = 4.0  # standardised labels are clipped here for training


class LatentRegressor(nn.Module):
    """MLP from a latent to standardised labels; the first outputs are the editable attributes."""

    def __init__(self, latent_dim: int = 100, n_outputs: int = 6, hidden: int = 256, depth: int = 3):
        super().__init__()
        self.config = {"latent_dim": latent_dim, "n_outputs": n_outputs, "hidden": hidden, "depth": depth}
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(depth - 1):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(latent.flatten(1)))


def label_order(names: list[str] | set[str]) -> list[str]:
    """The editable attributes first (the mapper's Δ order), then the other labels alphabetically."""
    missing = [a for a in ATTRIBUTES if a not in names]
    if missing:
        raise ValueError(f"the labeller gave no {missing}; the recognisers must label every editable attribute")
    return list(ATTRIBUTES) + sorted(set(names) - set(ATTRIBUTES))


def label_matrix(data: LatentDataset, names: list[str]) -> np.ndarray:
    """(N, len(names)) raw labels in the given order."""
    return np.stack([data.labels[n] for n in names], 1).astype(np.float32)


def train_regressor(
    cfg: RegressorConfig, data: LatentDataset, seed: int
) -> tuple[LatentRegressor, dict]:
    """Fit A on standardised labels; returns the network and its stats (names, means, stds, held-out R²)."""
    names = label_order(set(data.labels))
    raw = label_matrix(data, names)
    mean, std = raw.mean(0), raw.std(0) + 1e-6
    # Clipped targets and a Huber loss: a few renders score 10+ std (a frame-like shadow read as glasses).
    y = torch.from_numpy((raw - mean) / std).clamp(-CLIP, CLIP)
    z = torch.from_numpy(data.latents).float()
    order = torch.randperm(len(z), generator=torch.Generator().manual_seed(seed))
    n_val = max(int(len(z) * cfg.holdout), 1)
    val, fit = order[:n_val], order[n_val:]
    torch.manual_seed(seed)
    net = LatentRegressor(z.shape[1], len(names), cfg.hidden, cfg.depth)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(fit) // cfg.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    shuffle = torch.Generator().manual_seed(seed + 1)
    best, best_state = float("inf"), copy.deepcopy(net.state_dict())
    bar = tqdm(range(cfg.epochs), desc="regressor (epochs)", dynamic_ncols=True)
    for _ in bar:
        net.train()
        for idx in fit[torch.randperm(len(fit), generator=shuffle)].split(cfg.batch):
            loss = F.huber_loss(net(z[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            held_out = float((net(z[val]) - y[val]).pow(2).mean())
        bar.set_postfix(heldout_mse=f"{held_out:.3f}")
        if held_out < best:  # early stopping: the weak labels (age, gender) overfit within a few epochs
            best, best_state = held_out, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    with torch.no_grad():
        err = (net(z[val]) - y[val]).pow(2).mean(0)
    r2 = (1 - err / y[val].var(0)).tolist()
    stats = {
        "labels": names,
        "label_mean": mean.tolist(),
        "label_std": std.tolist(),
        "heldout_r2": dict(zip(names, [round(v, 4) for v in r2])),
        "rows": len(z),
    }
    return net, stats


def save_regressor(path: Path, net: LatentRegressor, stats: dict, cfg: RegressorConfig, extra: dict) -> None:
    """Write the shipped checkpoint; the header carries the label names, means and stds (Δ units)."""
    header = CheckpointHeader(
        network="latent_regressor",
        latent_shape=[net.config["latent_dim"]],
        attributes=list(ATTRIBUTES),
        config=dict(net.config),
        extra={**extra, **stats, "train": asdict(cfg)},
    )
    save_checkpoint(path, net.state_dict(), header)


def load_regressor(path: Path) -> tuple[LatentRegressor, dict]:
    """The frozen regressor and its header extra (label names, means, stds)."""
    net, header = load_network(LatentRegressor, path, "latent_regressor")
    net.requires_grad_(False)
    return net, header.extra
