"""Beard score: how much darker and greyer than the cheeks' skin the chin and upper lip are."""
from __future__ import annotations

import cv2
import numpy as np

from recognisers.face_regions import ALIGNED_EYES, beard_mask, eye_aligned, skin_mask


def beard_score(image: np.ndarray, landmarks: np.ndarray, size: int = 128) -> float:
    """uint8 (H,W,3) RGB crop + (478,3) landmarks → score ≈ 0 (clean-shaven) … 1 (dark full beard).

    Darkness is measured in Lab lightness (roughly additive under lighting), loss of colour in Lab chroma;
    both against the median skin of the mid cheeks and nose tip. The score is the smaller of the two face
    halves, because a beard is symmetric and a side light's shadow is not."""
    warped, pts = eye_aligned(image, landmarks, size)
    lab = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness = lab[..., 0] * (100 / 255)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    skin = skin_mask(lightness.shape, pts)
    region = beard_mask(lightness.shape, pts)
    darker = np.clip(np.median(lightness[skin]) - lightness, 0, None) / 40
    greyer = np.clip(np.median(chroma[skin]) - chroma, 0, None) / 50
    per_pixel = darker + greyer
    left = np.zeros_like(region)
    left[:, : int(round(ALIGNED_EYES[:, 0].mean() * size))] = True
    halves = [per_pixel[region & side].mean() for side in (left, ~left) if (region & side).any()]
    return float(min(halves)) if halves else float("nan")
