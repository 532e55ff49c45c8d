"""Kernel Inception Distance (Binkowski et al., 2018) on any feature vectors: unbiased MMD² with the cubic
polynomial kernel, averaged over random subsets. The features here are dlib face descriptors (no Inception
network is available offline), so it measures how far generated faces are from real ones as a face network sees them."""
from __future__ import annotations

import numpy as np


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 50, subset_size: int = 200, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² between subsets of `real` (N,D) and `fake` (M,D)."""
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature rows on each side, got {len(real)} and {len(fake)}")
    d = real.shape[1]
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)].astype(np.float64)
        y = fake[rng.choice(len(fake), m, replace=False)].astype(np.float64)
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))
