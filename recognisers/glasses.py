"""Glasses score: thin horizontal lines (frame bridge, lower rims) across the eye-aligned face."""
from __future__ import annotations

import cv2
import numpy as np

from recognisers.face_regions import eye_aligned, skin_mask

# Bands of the eye-aligned frame (fractions of its side: rows, columns) where a frame crosses horizontally.
BRIDGE = ((0.30, 0.48), (0.46, 0.54))
LOWER_RIMS = (((0.46, 0.58), (0.22, 0.42)), ((0.46, 0.58), (0.58, 0.78)))


def line_strength(curvature: np.ndarray, band: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """Largest |row-mean of d²L/dy²| inside a band: a line spanning the band's width stands out, texture averages away."""
    h, w = curvature.shape
    (r0, r1), (c0, c1) = band
    rows = curvature[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)].mean(1)
    return float(np.abs(rows).max())


def glasses_score(image: np.ndarray, landmarks: np.ndarray, size: int = 128) -> float:
    """uint8 (H,W,3) RGB crop + (478,3) landmarks → score ≈ 0.05 (no glasses) … 0.3+ (clear frames).

    Line strength is divided by the skin's lightness so a dim render does not hide its frames."""
    warped, pts = eye_aligned(image, landmarks, size)
    lightness = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) * (100 / 255)
    smooth = cv2.GaussianBlur(lightness, (0, 0), size / 128)
    curvature = cv2.Sobel(smooth, cv2.CV_32F, 0, 2, ksize=5) / 16 * (size / 128) ** 2
    # Floor on the divisor: on very dark renders the ratio would amplify noise into "frames".
    skin = max(float(np.median(lightness[skin_mask(lightness.shape, pts)])), 35.0)
    lines = line_strength(curvature, BRIDGE) + 0.5 * sum(line_strength(curvature, b) for b in LOWER_RIMS)
    return lines / skin
