"""The frozen recognisers training uses, loaded from the recognisers package."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from recognisers.config import LabellerConfig
from recognisers.identity import IdentityEmbedder, arcface_box
from recognisers.labeller import FaceLabeller


def load_identity_embedder(template: Path | None = None) -> torch.nn.Module:
    """The differentiable face embedder, frozen. With an alignment template (the generator's framing), its crop
    box puts that template's eyes where the embedder wants them."""
    if template is None:
        embedder = IdentityEmbedder()
    else:
        points = json.loads(Path(template).read_text())
        embedder = IdentityEmbedder(box=arcface_box(points["points"][0], points["points"][1], points["size"]))
    embedder.eval()
    embedder.requires_grad_(False)
    return embedder


def load_labeller(config: LabellerConfig | None = None) -> FaceLabeller:
    """The image labeller (age, gender, pose, expression, beard, glasses, face_found, and the extra ONNX heads
    that `[train.labeller]` names)."""
    return FaceLabeller(config)
