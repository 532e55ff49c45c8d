"""Webcam-like variations of a real face crop: misalignment, mirror, colour, blur, sensor noise.

Misalignment moves the keypoints before the crop is cut from the full frame, so the border a shifted crop
reveals is the real frame around the face, as it is live.
"""
from __future__ import annotations

import cv2
import numpy as np

from stream.alignment import AlignmentTemplate, align_face


def jitter_keypoints(keypoints: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Keypoints shifted (≤ 4 % of the eye-mouth size), turned (≤ 4°) and scaled (≤ 5 %) about their centre."""
    centre = keypoints.mean(0)
    size = float(np.linalg.norm(keypoints[2] - keypoints[:2].mean(0)))
    angle = np.deg2rad(rng.uniform(-4, 4) * strength)
    scale = 1.0 + rng.uniform(-0.05, 0.05) * strength
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = rng.uniform(-0.04, 0.04, 2) * size * strength
    return (keypoints - centre) @ rot.T + centre + shift


def vary_colour(crop: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Exposure, contrast, saturation and white balance as different cameras and rooms give them (uint8 in and out)."""
    x = crop.astype(np.float32)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * (1.0 + rng.uniform(-0.35, 0.35) * strength)  # saturation
    x = x * (1.0 + rng.uniform(-0.08, 0.08, 3) * strength)  # white balance, per channel
    mean = x.mean()
    x = (x - mean) * (1.0 + rng.uniform(-0.25, 0.25) * strength) + mean  # contrast
    x = x * (1.0 + rng.uniform(-0.3, 0.3) * strength)  # exposure
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def degrade(crop: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Defocus or motion-free blur on some crops, then Gaussian sensor noise (uint8 in and out)."""
    x = crop
    if rng.random() < 0.5 * strength:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0) * max(strength, 0.3))
    sigma = rng.uniform(0.0, 6.0) * strength
    noisy = x.astype(np.float32) + rng.normal(0.0, sigma, x.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def augmented_crops(
    frame: np.ndarray, keypoints: np.ndarray, template: AlignmentTemplate, count: int, rng: np.random.Generator, strength: float = 1.0
) -> np.ndarray:
    """`count` aligned RGB crops (count, R, R, 3) of one face: the first as the live pipeline cuts it, the rest varied."""
    crops = []
    for i in range(count):
        points = keypoints if i == 0 else jitter_keypoints(keypoints, rng, strength)
        crop, _ = align_face(frame, points, template)
        if i > 0:
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            crop = degrade(vary_colour(crop, rng, strength), rng, strength)
        crops.append(cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2RGB))
    return np.stack(crops)
