"""The mapper's on-face attribute term: attributes asked of REAL faces with the edit blended in as the live
delta blend adds it (camera face + G(f(w, Δ)) − G(w)), read by differentiable twins of the real recognisers:
dlib's age and gender networks, and the beard and bald heads on MobileFace. The regressor half of the attribute
loss sees only renders; this half sees what `run.py eval --video` judges."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from project import ATTRIBUTES, REPO_ROOT
from recognisers.age_gender_torch import AgeGenderTorch
from recognisers.embedding_head import EmbeddingHeadTorch
from recognisers.identity import IdentityEmbedder
from training.losses import identity_loss, on_face_losses, sample_deltas
from training.real_faces import VIEWS, RealFaces

# attribute → how its reading is compared: "linear" in its own unit (years), "logit" for probabilities
READINGS = {"age": "linear", "gender": "logit", "beard": "logit", "bald": "logit"}
MODELS = REPO_ROOT / "models/recognisers"
CAST_SCALE = 0.05  # a mean change of the whole crop this large ([-1, 1] units, ≈ 6 levels) costs one unit


IN_LOGITS = torch.tensor([kind == "logit" for kind in READINGS.values()])


def blend_delta(crops: torch.Tensor, original: torch.Tensor, edited: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(change, composite): the render difference upsampled to the crops, and the crops with it added, as the
    live delta blend adds it; all in [-1, 1] units."""
    change = F.interpolate(edited - original, size=crops.shape[-1], mode="bilinear", align_corners=False)
    return change, (crops + change).clamp(-1, 1)


class FaceReadings(nn.Module):
    """forward(crops (N,3,S,S) in [-1,1], dlib geometry (N,3,3), view maps (N,V,2,3)) → (N, len(READINGS)):
    age in years, P(male), P(beard), P(bald). Frozen, differentiable."""

    def __init__(self):
        super().__init__()
        self.age_gender = AgeGenderTorch(MODELS)
        embedder = IdentityEmbedder(MODELS / "mobileface.safetensors").eval()
        self.beard = EmbeddingHeadTorch(MODELS / "beard_head.safetensors", embedder)
        self.bald = EmbeddingHeadTorch(MODELS / "bald_head.safetensors", embedder)
        self.embedder = embedder  # also the on-face identity judge (dlib's descriptor, never trained with, judges)
        for head in (self.beard, self.bald):
            if list(head.views) != list(VIEWS):
                raise ValueError(f"{head.attribute} head embeds views {head.views}; the real faces carry {VIEWS}")
        self.requires_grad_(False)

    def forward(self, crops: torch.Tensor, geometry: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        age, male = self.age_gender(crops, geometry)
        return torch.stack([age, male, self.beard(crops, views), self.bald(crops, views)], dim=1)


@dataclass
class OnFace:
    """Real faces, their readers, and what one Δ unit is in each reading (the render labels' spread)."""

    faces: RealFaces
    readings: FaceReadings
    units: torch.Tensor  # (len(READINGS),)
    weights: torch.Tensor | None = None  # (len(READINGS),) of each reading's reach error; None = all 1

    @property
    def columns(self) -> list[int]:
        """Where each reading's attribute sits in Δ."""
        return [ATTRIBUTES.index(a) for a in READINGS]


def on_face_terms(mapper: nn.Module, generator: nn.Module, on_face: OnFace, rows: int, max_delta: float,
                  pair_fraction: float, rng: torch.Generator) -> dict[str, torch.Tensor]:
    """`rows` real faces, each asked one of the on-face attributes (sometimes with a second attribute of any
    kind), judged on the face with G(f(w, Δ)) − G(w) added."""
    k = len(ATTRIBUTES)
    cols = on_face.columns
    index = torch.randint(len(on_face.faces), (rows,), generator=rng)
    crops, latents, geometry, views = on_face.faces.batch(index)
    own, own_asked = sample_deltas(rows, len(cols), max_delta, 0.0, rng)
    other, other_asked = sample_deltas(rows, k, max_delta, 0.0, rng)
    pair = (torch.rand(rows, generator=rng) < pair_fraction)[:, None] & other_asked
    pair[:, cols] = False
    delta = other * pair
    delta[:, cols] = own
    with torch.no_grad():
        original = generator(latents)
        before = on_face.readings(crops, geometry, views)
        identity = on_face.readings.embedder(crops)
    change, composite = blend_delta(crops, original, generator(mapper(latents, delta)))
    after = on_face.readings(composite, geometry, views)
    reach, preserve = on_face_losses(before, after, own, own_asked, on_face.units, IN_LOGITS, on_face.weights)
    return {"on_face": reach, "on_face_preserve": preserve,
            # the person must stay who they are on the real face too, not only on the renders
            "on_face_identity": identity_loss(on_face.readings.embedder(composite), identity),
            # a recogniser can be moved by lighting the whole face (a glow, a red cast): that is no attribute
            "on_face_cast": (change.mean((2, 3)) / CAST_SCALE).pow(2).sum(1).mean()}
