"""Face-mesh regions as pixel masks in an eye-aligned frame: where beards grow, where glasses sit, skin."""
from __future__ import annotations

import cv2
import numpy as np

from recognisers.face_chip import similarity_fit

LOWER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
JAW = (397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172)
UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 327, 326, 2, 97, 98)
INNER_MOUTH = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
SKIN_POINTS = (50, 280, 101, 330, 36, 266, 205, 425, 4)  # mid cheeks and nose tip: below glasses, above beards
EYE_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)
ALIGNED_EYES = np.array([[0.32, 0.40], [0.68, 0.40]])  # eye centres in the aligned frame, as fractions of its side


def eye_aligned(image: np.ndarray, landmarks: np.ndarray, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Warp a crop so the eye centres sit at ALIGNED_EYES; returns the size×size image and the moved 2-D points."""
    centres = np.stack([landmarks[list(c), :2].mean(0) for c in EYE_CONTOURS]).astype(np.float64)
    m = similarity_fit(centres, ALIGNED_EYES * size)
    warped = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    pts = landmarks[:, :2].astype(np.float64) @ m[:, :2].T + m[:, 2]
    return warped, pts


def polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Bool mask of the filled polygon through points (K,2) in pixels."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def disc_mask(shape: tuple[int, int], centres: np.ndarray, radius: float) -> np.ndarray:
    """Bool mask of discs of one radius around each centre (K,2)."""
    mask = np.zeros(shape, np.uint8)
    for x, y in np.round(centres).astype(int):
        cv2.circle(mask, (int(x), int(y)), max(1, int(round(radius))), 1, -1)
    return mask.astype(bool)


def beard_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """Chin (below the lower lip, pulled in from the jaw line to stay off the neck) and upper lip, minus the mouth."""
    centre = pts[[61, 291, 13, 14]].mean(0)
    chin = np.concatenate([pts[list(LOWER_LIP)], centre + 0.8 * (pts[list(JAW)] - centre)])
    mask = polygon_mask(shape, chin) | polygon_mask(shape, pts[list(UPPER_LIP)])
    mouth = cv2.dilate(polygon_mask(shape, pts[list(INNER_MOUTH)]).astype(np.uint8), np.ones((5, 5), np.uint8))
    return mask & ~mouth.astype(bool)


def skin_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """Small discs on the upper cheeks and the nose."""
    iod = np.linalg.norm(pts[263] - pts[33])
    return disc_mask(shape, pts[list(SKIN_POINTS)], 0.06 * iod)
