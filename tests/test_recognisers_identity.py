"""The identity embedder on real faces: one person across picture changes scores above different people."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recognisers.identity import IdentityEmbedder, cosine
from recognisers_faces import aligned_crops, astronaut_photo, augmentations, lfw_photos, renders, to_tensor


@pytest.fixture(scope="module")
def embedder():
    torch.set_num_threads(2)
    return IdentityEmbedder()


@pytest.fixture(scope="module")
def faces():
    crops = aligned_crops([astronaut_photo()] + lfw_photos(12))
    assert all(c is not None for c in crops)
    return np.stack(crops)


def embed(embedder, images: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return embedder(to_tensor(images))


def test_embeddings_are_unit_vectors_for_any_size(embedder, faces):
    small = embed(embedder, faces[:2])
    big = embedder(torch.nn.functional.interpolate(to_tensor(faces[:2]), size=256, mode="bilinear")).detach()
    assert small.shape == (2, 256)
    torch.testing.assert_close(small.norm(dim=1), torch.ones(2))
    assert (cosine(small, big) > 0.95).all()  # the same crop at 4× the size is the same face


@pytest.mark.parametrize("kind", ["photos", "renders"])
def test_same_person_scores_above_different_people(embedder, faces, kind):
    images = faces if kind == "photos" else renders(list(range(12)))
    base = embed(embedder, images)
    others = base @ base.T
    hardest_other = others.masked_fill(torch.eye(len(images), dtype=torch.bool), -1).max(1).values
    for name in ("flip", "blur", "light", "shift"):
        changed = embed(embedder, np.stack([augmentations(im)[name] for im in images]))
        same = cosine(base, changed)
        assert (same > hardest_other).all(), f"{kind}/{name}: same {same.min():.2f} vs other {hardest_other.max():.2f}"
        assert same.mean() > 0.85


def test_embedder_is_differentiable_and_frozen(embedder):
    x = to_tensor(renders([0, 1])).requires_grad_(True)
    target = embedder(to_tensor(renders([2, 3])))
    (1 - cosine(embedder(x), target)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in embedder.parameters())
