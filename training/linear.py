"""The baseline: one linear direction per attribute in the same latent space (InterFaceGAN-style)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engines.checkpoint import CheckpointError, CheckpointHeader, load_checkpoint, save_checkpoint
from project import ATTRIBUTES


def fit_directions(latents: np.ndarray, labels: dict[str, np.ndarray]) -> np.ndarray:
    """(K, D) unit normals of least-squares linear models label ≈ a·z + b, one per editable attribute.

    A ridge-free least-squares fit on standardised labels is the regression form of InterFaceGAN's
    separating hyperplane; its normal is the direction the attribute grows along.
    """
    z = np.concatenate([latents.astype(np.float64), np.ones((len(latents), 1))], 1)
    rows = []
    for name in ATTRIBUTES:
        y = labels[name].astype(np.float64)
        y = (y - y.mean()) / (y.std() + 1e-9)
        coef = np.linalg.lstsq(z, y, rcond=None)[0][:-1]
        rows.append(coef / np.linalg.norm(coef))
    return np.stack(rows).astype(np.float32)


def save_directions(path: Path, directions: np.ndarray, extra: dict) -> None:
    """Write the baseline's directions with the attribute order in the header."""
    header = CheckpointHeader(
        network="linear_directions", latent_shape=[directions.shape[1]], attributes=list(ATTRIBUTES), extra=extra
    )
    save_checkpoint(path, {"directions": torch.from_numpy(directions)}, header)


def load_directions(path: Path) -> np.ndarray:
    """(K, D) directions in ATTRIBUTES order."""
    tensors, header = load_checkpoint(path, "linear_directions")
    if header.attributes != list(ATTRIBUTES):
        raise CheckpointError(
            f"{path}: directions for {header.attributes}, expected {list(ATTRIBUTES)}; rerun the regressor stage"
        )
    return tensors["directions"].numpy()
