"""Attribute heads on a frozen embedding: logistic regression on MobileFace embeddings of aligned face views."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

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
