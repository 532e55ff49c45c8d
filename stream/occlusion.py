"""Where something covers the face: the camera crop disagrees with the re-rendered face G(w) far more than
the inversion's usual error. The edit is faded there, so nothing is painted on a hand or a cup."""
from __future__ import annotations

import cv2
import numpy as np

from stream.blending import match_colours

# Disagreement in multiples of the face's median disagreement: below LOW the edit stays, above HIGH it is gone.
LOW, HIGH = 1.5, 2.3


def disagreement(camera: np.ndarray, render: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(S,S) per-pixel colour distance between the camera crop and G(w) (both BGR 0…255), after matching
    the render's colours to the camera's and blurring both a little (texture the generator cannot draw
    is not an occluder)."""
    size = camera.shape[0]
    sigma = max(1.0, size / 20)  # coarse: the renders' missing detail (eyes, lashes) must not count
    cam = cv2.GaussianBlur(camera.astype(np.float32), (0, 0), sigma)
    ren = cv2.GaussianBlur(match_colours(render, camera, mask), (0, 0), sigma)
    return np.sqrt(((cam - ren) ** 2).sum(-1))


def occlusion_keep(camera: np.ndarray, render: np.ndarray, mask: np.ndarray,
                   usual: np.ndarray | None = None) -> np.ndarray:
    """(S,S) in [0, 1]: 1 where the edit may show, 0 where the face is covered. `render` is G(w) in [-1, 1];
    `usual` is the face's usual disagreement per pixel (see OcclusionTracker), else only the median is used."""
    return keep_from(disagreement(camera, (render + 1.0) * 127.5, mask), mask, usual)


def keep_from(dist: np.ndarray, mask: np.ndarray, usual: np.ndarray | None) -> np.ndarray:
    inside = mask > 0.5
    if inside.sum() < 16:
        return np.ones(mask.shape, np.float32)
    typical = float(np.median(dist[inside]))
    typical = np.maximum(usual, typical) if usual is not None else typical
    ratio = dist / (typical + 4.0)  # +4: a perfect inversion must not make noise an occluder
    covered = np.clip((ratio - LOW) / (HIGH - LOW), 0.0, 1.0)
    # An occluder is a blob, not a speckle: open away isolated pixels, then grow and soften its edge.
    size = mask.shape[0]
    k = max(3, (size // 16) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    covered = cv2.morphologyEx(covered, cv2.MORPH_OPEN, kernel)
    covered = cv2.dilate(covered, kernel)
    covered = cv2.GaussianBlur(covered, (0, 0), k / 2)
    return np.clip(1.0 - 2.5 * covered, 0.0, 1.0).astype(np.float32)


class OcclusionTracker:
    """Per face id, the face's usual disagreement with G(w) at each crop pixel (a slow running mean over
    the frames where it was not covered). A weak generator disagrees with the eyes, brows and hairline of
    every frame; an occluder is what disagrees far more than usual."""

    def __init__(self, rate: float = 0.08):
        self.rate = rate
        self._usual: dict[int, np.ndarray] = {}

    def keep(self, face_id: int, camera: np.ndarray, render: np.ndarray, mask: np.ndarray) -> np.ndarray:
        dist = disagreement(camera, (render + 1.0) * 127.5, mask)
        usual = self._usual.get(face_id)
        keep = keep_from(dist, mask, usual)
        if usual is None:
            usual = dist
        else:
            update = self.rate * (keep > 0.9)
            usual = usual + update * (dist - usual)
        self._usual[face_id] = usual
        return keep

    def forget_except(self, ids: set[int]) -> None:
        self._usual = {k: v for k, v in self._usual.items() if k in ids}
