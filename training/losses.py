"""The four Latent-to-Latent losses as pure functions of tensors (attribute, cycle, identity, neighbourhood)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def attribute_losses(
    before: torch.Tensor,
    after: torch.Tensor,
    delta: torch.Tensor,
    asked: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reach, preserve) from standardised attribute predictions before/after the edit, (B, L) each.

    The first delta.shape[1] columns are the editable attributes. An asked attribute should land at
    before + Δ, clamped to the range the training faces cover (asking glasses +2 on a face that has
    glasses wants nothing); every column not asked should not move.
    """
    k = delta.shape[1]
    target = torch.maximum(torch.minimum(before[:, :k] + delta, high), low)
    asked = asked.float()
    reach = ((after[:, :k] - target).pow(2) * asked).sum() / asked.sum().clamp(min=1)
    keep = torch.cat([1 - asked, torch.ones_like(after[:, k:])], dim=1)
    preserve = ((after - before).pow(2) * keep).sum() / keep.sum().clamp(min=1)
    return reach, preserve


def cycle_loss(back: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    """f(f(w, Δ), −Δ) should return to w: squared latent distance, averaged over the batch."""
    return (back - latents).pow(2).flatten(1).sum(1).mean()


def neighbourhood_loss(edited: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    """The edit should stay near the face it started from: squared latent step, averaged over the batch."""
    return (edited - latents).pow(2).flatten(1).sum(1).mean()


def identity_loss(edited_embedding: torch.Tensor, original_embedding: torch.Tensor) -> torch.Tensor:
    """One minus the cosine between face embeddings of the edited and the original render."""
    return 1 - F.cosine_similarity(edited_embedding, original_embedding, dim=1).mean()


def sample_deltas(
    batch: int, n_attributes: int, max_delta: float, pair_fraction: float, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse asked changes: one attribute per row (two in pair_fraction of rows), |Δ| in [0.25, max_delta]."""
    first = torch.randint(n_attributes, (batch,), generator=rng)
    second = torch.randint(n_attributes, (batch,), generator=rng)
    asked = F.one_hot(first, n_attributes).bool()
    pair = torch.rand(batch, generator=rng) < pair_fraction
    asked |= F.one_hot(second, n_attributes).bool() & pair[:, None]
    size = 0.25 + torch.rand(batch, n_attributes, generator=rng) * (max_delta - 0.25)
    sign = torch.where(torch.rand(batch, n_attributes, generator=rng) < 0.5, -1.0, 1.0)
    return size * sign * asked, asked


def on_face_losses(
    before: torch.Tensor,
    after: torch.Tensor,
    delta: torch.Tensor,
    asked: torch.Tensor,
    units: torch.Tensor,
    logit: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reach, preserve) of recogniser readings (B, C) of real faces before/after the edit was blended in.

    delta/asked (B, C): Δ in units (C,) of each reading (years, or probability per Δ unit). A reading lands at
    before + Δ·unit: in 1…90 for linear readings (age in years); probabilities (where `logit`) are kept in
    0.02…0.98 and judged in logits /2, so a +2 on a confident face asks for what a face can show and the
    gradient does not vanish at P = 0.98. Readings not asked should not move. `weights` (C,) scale each
    reading's reach error."""
    logit = logit.bool()
    target = before + delta * units
    target = torch.where(logit, target.clamp(0.02, 0.98), target.clamp(1.0, 90.0))
    to_logit = lambda p: torch.logit(p.clamp(1e-4, 1 - 1e-4)) / 2  # noqa: E731
    scale = lambda x: torch.where(logit, to_logit(x), x / units)  # noqa: E731
    errors = scale(after) - scale(target)
    drift = scale(after) - scale(before)
    asked = asked.float()
    scale_by = torch.ones_like(units) if weights is None else weights
    reach = (errors.pow(2) * asked * scale_by).sum() / asked.sum().clamp(min=1)
    keep = 1 - asked
    preserve = (drift.pow(2) * keep).sum() / keep.sum().clamp(min=1)
    return reach, preserve
