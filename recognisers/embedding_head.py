"""Attribute heads on a frozen embedding: logistic regression on MobileFace embeddings of aligned face views."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from recognisers.age_gender import ModelFileError
from recognisers.face_views import face_view
from recognisers.identity import IdentityEmbedder

HEADER_KEY = "livel2l"
VIEW_SIZE = 112


def view_embeddings(embedder: IdentityEmbedder, images: np.ndarray, landmarks: np.ndarray, views: list[str]) -> np.ndarray:
    """uint8 (N,H,W,3) crops + landmarks → float32 (N, 256·len(views)): one MobileFace embedding per view."""
    parts = []
    for view in views:
        cut = np.stack([face_view(im, lm, view, VIEW_SIZE) for im, lm in zip(images, landmarks)])
        x = torch.from_numpy(cut).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            parts.append(embedder(x).numpy())
    return np.concatenate(parts, axis=1).astype(np.float32)


def save_head(path: str | Path, weight: np.ndarray, bias: float, mean: np.ndarray, std: np.ndarray, header: dict) -> None:
    """Write a head: tensors weight, bias, mean, std (features are standardised first) and a JSON header."""
    tensors = {
        "weight": torch.as_tensor(weight, dtype=torch.float32),
        "bias": torch.tensor([bias], dtype=torch.float32),
        "mean": torch.as_tensor(mean, dtype=torch.float32),
        "std": torch.as_tensor(std, dtype=torch.float32),
    }
    save_file(tensors, str(path), metadata={HEADER_KEY: json.dumps(header)})


class EmbeddingHead:
    """__call__(crops uint8 (N,H,W,3) RGB, landmarks (N,478,3)) → P(attribute) float32 (N,).

    The head file names its attribute, the views it embeds and how it was trained and measured (header)."""

    def __init__(self, path: str | Path, embedder: IdentityEmbedder | None = None):
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: attribute head not found; it ships in models/recognisers/ (git checkout it)")
        try:
            tensors = load_file(str(path))
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                self.header = json.loads(json.loads(f.read(n))["__metadata__"][HEADER_KEY])
        except (SafetensorError, KeyError, ValueError) as e:
            raise ModelFileError(f"{path}: not an attribute head ({e}); rebuild it with scripts/train_attribute_heads.py") from None
        self.attribute = self.header["attribute"]
        self.views = list(self.header["views"])
        self.weight, self.bias = tensors["weight"].numpy(), float(tensors["bias"][0])
        self.mean, self.std = tensors["mean"].numpy(), tensors["std"].numpy()
        self.embedder = embedder or IdentityEmbedder().eval()

    def from_features(self, features: np.ndarray) -> np.ndarray:
        """Embeddings (N, D) → P(attribute) (N,)."""
        z = ((features - self.mean) / self.std) @ self.weight + self.bias
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def __call__(self, images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        return self.from_features(view_embeddings(self.embedder, images, landmarks, self.views))


def warp_views(images: torch.Tensor, crop_to_view: torch.Tensor, size: int = VIEW_SIZE) -> torch.Tensor:
    """Differentiable face_view: images (N,3,H,W) in [-1,1] and (N,2,3) crop→view pixel affines (view_matrix) →
    (N,3,size,size), bilinear with the border repeated, on cv2.warpAffine's pixel-centre convention. The view
    must not shrink the crop by more than 2× (face_view area-resizes first there; training crops never do)."""
    n, _, h, w = images.shape
    full = torch.cat([crop_to_view.double(), crop_to_view.new_tensor([0.0, 0.0, 1.0]).double().expand(n, 1, 3)], dim=1)
    to_norm = torch.tensor([[2 / (w - 1), 0, -1.0], [0, 2 / (h - 1), -1.0], [0, 0, 1]], dtype=torch.float64)
    from_norm = torch.tensor([[(size - 1) / 2, 0, (size - 1) / 2], [0, (size - 1) / 2, (size - 1) / 2], [0, 0, 1]],
                             dtype=torch.float64)
    theta = (to_norm @ torch.linalg.inv(full) @ from_norm)[:, :2].to(images)
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=True)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


class EmbeddingHeadTorch(nn.Module):
    """The differentiable twin of EmbeddingHead: forward(crops (N,3,H,W) RGB in [-1,1], view maps (N,V,2,3) from
    view_matrix for each of `views`) → P(attribute) (N,). Frozen."""

    def __init__(self, path: str | Path, embedder: IdentityEmbedder | None = None):
        super().__init__()
        head = EmbeddingHead(path, embedder)
        self.attribute, self.views = head.attribute, head.views
        self.embedder = head.embedder
        for name in ("weight", "mean", "std"):
            self.register_buffer(name, torch.from_numpy(np.asarray(getattr(head, name), np.float32)))
        self.bias = head.bias
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor, view_maps: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.embedder(warp_views(images, view_maps[:, i])) for i in range(len(self.views))], dim=1)
        return torch.sigmoid(((features - self.mean) / self.std) @ self.weight + self.bias)
