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
    before: tuple[torch.Tensor, torch.Tensor],
    after: tuple[torch.Tensor, torch.Tensor],
    delta: torch.Tensor,
    asked: torch.Tensor,
    units: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reach, preserve) of age and gender read by the real recognisers on real faces with the edit blended in.

    before/after: (age in years, P(male)) of the camera face and of the composite; delta/asked: (B, 2) columns
    of age and gender, Δ in units (years per unit, P(male) per unit). Age lands at before + Δ·unit (kept in
    1…90 years); gender is judged in logits, its target P(male) kept in 0.02…0.98 so a +2 on a confident man
    asks for what a face can show. Unasked columns should not move."""
    age0, male0 = before
    age1, male1 = after
    age_target = (age0 + delta[:, 0] * units[0]).clamp(1.0, 90.0)
    male_target = (male0 + delta[:, 1] * units[1]).clamp(0.02, 0.98)
    logit = lambda p: torch.logit(p.clamp(1e-4, 1 - 1e-4))  # noqa: E731
    errors = torch.stack([(age1 - age_target) / units[0], (logit(male1) - logit(male_target)) / 2], dim=1)
    drift = torch.stack([(age1 - age0) / units[0], (logit(male1) - logit(male0)) / 2], dim=1)
    asked = asked.float()
    reach = (errors.pow(2) * asked).sum() / asked.sum().clamp(min=1)
    keep = 1 - asked
    preserve = (drift.pow(2) * keep).sum() / keep.sum().clamp(min=1)
    return reach, preserve
