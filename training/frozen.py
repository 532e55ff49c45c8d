"""The frozen recognisers training uses, loaded from the recognisers package."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from recognisers.labeller import FaceLabeller


def load_identity_embedder() -> torch.nn.Module | None:
    """The differentiable face embedder, frozen, or None when the recognisers package has none."""
    try:
        from recognisers.identity import IdentityEmbedder
    except ImportError:
        return None
    embedder = IdentityEmbedder()
    embedder.eval()
    embedder.requires_grad_(False)
    return embedder


def load_labeller() -> FaceLabeller:
    """The image labeller (age, gender, pose, expression, beard, glasses, face_found)."""
    from recognisers.labeller import FaceLabeller

    return FaceLabeller()
