"""dlib-style face chips (the 5-point template with padding) cut from a crop using face-mesh landmarks."""
from __future__ import annotations

import cv2
import numpy as np

# dlib get_face_chip_details' 5-point template on the unit square: image-right eye outer and inner corner,
# image-left eye outer and inner corner, base of the nose.
DLIB_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
MESH_FIVE = (263, 362, 33, 133, 2)  # the same five points on the mediapipe mesh


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation taking src (K,2) onto dst (K,2), as a 2×3 matrix."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    a = (s * d).sum()
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()
    k = 1.0 / (s**2).sum()
    m = np.array([[a, -b], [b, a]]) * k
    return np.concatenate([m, (md - m @ ms)[:, None]], axis=1)


def chip_affine(landmarks: np.ndarray, size: int, padding: float = 0.2) -> np.ndarray:
    """(478,3) landmarks → 2×3 affine from crop pixels to a size×size dlib chip with the given padding."""
    dst = (DLIB_TEMPLATE + padding) / (1 + 2 * padding) * size
    return similarity_fit(landmarks[list(MESH_FIVE), :2].astype(np.float64), dst)


def extract_chips(images: np.ndarray, landmarks: np.ndarray, size: int, padding: float = 0.2) -> np.ndarray:
    """uint8 (N,H,W,3) crops + (N,478,3) landmarks → uint8 (N,size,size,3) chips; outside the crop is black,
    as in dlib's extract_image_chip. Rows without landmarks give black chips."""
    chips = np.zeros((len(images), size, size, 3), np.uint8)
    for i, (image, pts) in enumerate(zip(images, landmarks)):
        if np.isfinite(pts).all():
            m = chip_affine(pts, size, padding)
            scale = float(np.hypot(m[0, 0], m[1, 0]))
            source = image
            if scale < 0.5:  # a large crop: shrink it first, bilinear warping alone would alias
                side = max(1, round(image.shape[1] * scale))
                source = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
                f = side / image.shape[1]  # crop pixel x lands on (x + 0.5) f - 0.5 in the shrunk copy
                m = m @ np.linalg.inv([[f, 0, 0.5 * f - 0.5], [0, f, 0.5 * f - 0.5], [0, 0, 1]])
            chips[i] = cv2.warpAffine(source, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return chips
