"""Glasses: SlinkoIgor/glasses_detector's MobileNetV3 classifier (Apache-2.0, converted to ONNX) on an eye band."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from project import REPO_ROOT
from recognisers.age_gender import open_session

DEFAULT_PATH = REPO_ROOT / "models/recognisers/glasses.onnx"
BAND_SIZE = (128, 64)  # width, height of the network's input
# Face-mesh stand-ins for the dlib points the classifier was trained on: both eyebrows (dlib 17–26) and the
# bottom of the nose (dlib 31–35).
EYEBROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
NOSE_BOTTOM = (98, 97, 2, 326, 327)


def eye_band(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The original's crop: the box around brows and nose bottom, widened by a third of its width on each side,
    resized to 128×64; float32 (64,128,3) RGB in 0…255."""
    pts = landmarks[list(EYEBROWS + NOSE_BOTTOM), :2]
    h, w = image.shape[:2]
    left, right = pts[:, 0].min(), pts[:, 0].max()
    top, bottom = pts[:, 1].min(), pts[:, 1].max()
    width = right - left
    x0, x1 = int(max(0, left - width / 3)), int(min(w - 1, right + width / 3))
    y0, y1 = int(max(0, top)), int(min(h, bottom))
    if x1 - x0 < 4 or y1 - y0 < 2:
        raise ValueError(f"eye band {x1 - x0}×{y1 - y0} px is too small; give a face crop with its landmarks")
    band = image[y0:y1, x0:x1]
    return cv2.resize(band, BAND_SIZE, interpolation=cv2.INTER_LINEAR).astype(np.float32)


class GlassesClassifier:
    """__call__(crops uint8 (N,H,W,3) RGB, landmarks (N,478,3)) → P(glasses) float32 (N,)."""

    def __init__(self, path: str | Path = DEFAULT_PATH, threads: int = 1):
        self._session = open_session(Path(path), threads)

    def logits(self, bands: np.ndarray) -> np.ndarray:
        """Eye bands float32 (N,64,128,3) → logits (N,), negative = glasses."""
        return self._session.run(None, {"eyes": np.ascontiguousarray(bands, np.float32)})[0][:, 0]

    def __call__(self, images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        bands = np.stack([eye_band(im, lm) for im, lm in zip(images, landmarks)])
        return (1.0 / (1.0 + np.exp(self.logits(bands)))).astype(np.float32)
