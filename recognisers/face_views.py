"""Aligned views of a face cut from any crop by its face-mesh landmarks: the face itself, and the whole head."""
from __future__ import annotations

import cv2
import numpy as np

from recognisers.face_chip import similarity_fit

# Face-mesh eye corners and mouth corners (as stream.alignment uses them).
EYE_A, EYE_B, MOUTH = (33, 133), (362, 263), (61, 291)
# Eye and mouth centres of the live pipeline's 64-px template (models/default/alignment.json), as fractions of
# the side: MobileFace's ARCFACE_BOX was fitted on this framing.
FACE_POINTS = np.array([[22.399, 30.328], [41.701, 30.16], [32.225, 51.894]]) / 64
# view name → (scale, x offset, y offset) of FACE_POINTS: "head" shrinks the face to 3/4 and moves it down so the
# view reaches 2.2 eye-to-mouth distances above the eyes (hairline, top of the head).
VIEWS = {"face": (1.0, 0.0, 0.0), "head": (0.75, 0.125, 0.2)}


def keypoints(landmarks: np.ndarray) -> np.ndarray:
    """(478,3) landmarks → (3,2) eye_a, eye_b and mouth centres in crop pixels."""
    pts = landmarks[:, :2].astype(np.float64)
    return np.stack([pts[list(EYE_A)].mean(0), pts[list(EYE_B)].mean(0), pts[list(MOUTH)].mean(0)])


def view_matrix(landmarks: np.ndarray, view: str, size: int = 112) -> np.ndarray:
    """2×3 affine from crop pixels to the size×size view of a face with these (478,3) landmarks."""
    if view not in VIEWS:
        raise ValueError(f"face view '{view}' is unknown; choose {', '.join(VIEWS)}")
    scale, dx, dy = VIEWS[view]
    dst = (FACE_POINTS * scale + np.array([dx, dy])) * size
    return similarity_fit(keypoints(landmarks), dst)


def face_view(image: np.ndarray, landmarks: np.ndarray, view: str, size: int = 112) -> np.ndarray:
    """uint8 (H,W,3) crop + its landmarks → uint8 (size,size,3) view; outside the crop repeats its border."""
    m = view_matrix(landmarks, view, size)
    source = image
    shrink = float(np.hypot(m[0, 0], m[1, 0]))
    if shrink < 0.5:  # large crop: area-resize first so the bilinear warp does not alias
        f = 2 * shrink
        source = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m = m @ np.linalg.inv([[f, 0, 0.5 * f - 0.5], [0, f, 0.5 * f - 0.5], [0, 0, 1]])
    return cv2.warpAffine(source, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
