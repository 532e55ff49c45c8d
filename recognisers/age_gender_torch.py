"""Differentiable age and gender: dlib's CC0 networks run by the torch ONNX interpreter on a fixed face chip."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognisers.config import REPO_ROOT
from recognisers.face_chip import chip_affine
from recognisers.onnx_graph import OnnxGraph

MODELS = REPO_ROOT / "models/recognisers"
# dlib's 5-point chip (padding 0.2) for the mean landmarks of frontal DCGAN renders, as a square of the aligned
# crop (x0, y0, side in crop fractions). The labeller fits the chip per face instead; this fixed box keeps the
# whole path differentiable for crops aligned to the renders' template.
DLIB_CHIP_BOX = (0.088, 0.226, 0.829)


def box_geometry(box: tuple[float, float, float], crop_size: int, n: int) -> torch.Tensor:
    """(n,3,3) maps from chip unit coordinates to crop pixels for a square box (crop fractions x0, y0, side)."""
    x0, y0, side = box
    m = torch.tensor([[side * crop_size, 0.0, x0 * crop_size], [0.0, side * crop_size, y0 * crop_size], [0, 0, 1]])
    return m.expand(n, 3, 3)


def landmark_geometry(landmarks: np.ndarray, padding: float = 0.2) -> torch.Tensor:
    """(N,3,3) maps from chip unit coordinates to crop pixels for each face's own dlib chip, from (N,478,3)
    landmarks in crop pixels (e.g. the source render's, when the edit keeps the pose)."""
    maps = [np.linalg.inv(np.vstack([chip_affine(pts, 1, padding), [0, 0, 1]])) for pts in landmarks]
    return torch.tensor(np.stack(maps), dtype=torch.float32)


def chip(images: torch.Tensor, unit_to_crop: torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable size×size chips of [-1,1] images; outside the crop is black, as in dlib's extract_image_chip
    (chip pixel j sits at unit coordinate j/size, crop pixel centres at integers)."""
    shrink = size / unit_to_crop[:, :2, 0].norm(dim=1).max().item()  # chip pixels per crop pixel
    if shrink < 0.5:  # a large crop: shrink it first, bilinear sampling alone would alias
        side = max(1, round(images.shape[-1] * shrink))
        small = F.interpolate(images, size=(side, side), mode="area")  # as cv2 INTER_AREA in the labeller
        f = side / images.shape[-1]
        unit_to_crop = torch.tensor([[f, 0, 0.5 * f - 0.5], [0, f, 0.5 * f - 0.5], [0, 0, 1]]) @ unit_to_crop.float()
        images = small
    n, _, h, w = images.shape
    k = (size - 1) / (2 * size)  # align_corners=True: output pixel j at normalised 2j/(size-1)-1, unit j/size
    to_unit = torch.tensor([[k, 0, k], [0, k, k], [0, 0, 1]])
    to_norm = torch.tensor([[2 / (w - 1), 0, -1.0], [0, 2 / (h - 1), -1.0], [0, 0, 1]])
    theta = (to_norm @ unit_to_crop.float() @ to_unit)[:, :2].to(images)
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=True)
    return F.grid_sample(images + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=True) - 1


class AgeGenderTorch(nn.Module):
    """forward(images (N,3,H,W) RGB in [-1,1], aligned like the renders[, geometry from landmark_geometry])
    → (age in years (N,), P(male) (N,)). Without a geometry the fixed DLIB_CHIP_BOX is used."""

    def __init__(self, models_dir: str | Path = MODELS, box: tuple[float, float, float] = DLIB_CHIP_BOX):
        super().__init__()
        models_dir = Path(models_dir)
        manifest = json.loads((models_dir / "manifest.json").read_text())
        age, gender = manifest["models"]["age"], manifest["models"]["gender"]
        self.age_net = OnnxGraph(models_dir / age["artifact"]["filename"])
        self.gender_net = OnnxGraph(models_dir / gender["artifact"]["filename"])
        self.age_size, self.gender_size = age["input"]["shape"][2], gender["input"]["shape"][2]
        self.register_buffer("means", torch.tensor(age["input"]["normalization"]["means"]).view(1, 3, 1, 1))
        self.register_buffer("age_weights", torch.tensor(age["age_weights"]))
        self.male_index = gender["labels"].index("male")
        self.box = box
        self.requires_grad_(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) * 127.5 - self.means) / 256.0

    def forward(self, images: torch.Tensor, geometry: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if geometry is None:
            geometry = box_geometry(self.box, images.shape[-1], len(images))
        p_age = self.age_net(self.normalise(chip(images, geometry, self.age_size)))
        p_gender = self.gender_net(self.normalise(chip(images, geometry, self.gender_size)))
        return p_age @ self.age_weights, p_gender[:, self.male_index]
