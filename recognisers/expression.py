"""Expression measures (smile, mouth open, eyes open) from face-mesh landmarks, in the face's own frame."""
from __future__ import annotations

import numpy as np

from recognisers.head_pose import EYE_OUTER, MOUTH_CORNERS, face_frame

INNER_LIPS = ((13, 14), (82, 87), (312, 317))  # (upper, lower) inner-lip pairs
LIP_MIDDLE = (13, 14, 0, 17)
EYELIDS = (((159, 145), (160, 144), (158, 153)), ((386, 374), (385, 380), (387, 373)))
EYE_CORNERS = ((33, 133), (263, 362))


def to_face_frame(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks rotated into the face frame (x right, y up), centred between the eyes, in inter-ocular units."""
    p = landmarks.astype(np.float64) * np.array([1.0, -1.0, -1.0])
    centre = p[:, EYE_OUTER].mean(1, keepdims=True)
    iod = np.linalg.norm(p[:, EYE_OUTER[1]] - p[:, EYE_OUTER[0]], axis=-1)[:, None, None]
    return np.einsum("nkc,ncd->nkd", (p - centre) / iod, face_frame(landmarks))


def mouth_open(landmarks: np.ndarray) -> np.ndarray:
    """Gap between the inner lips over the inter-ocular distance (0 closed, ~0.3 wide open)."""
    f = to_face_frame(landmarks)
    gaps = [f[:, u, 1] - f[:, d, 1] for u, d in INNER_LIPS]
    return np.clip(np.mean(gaps, axis=0), 0.0, None).astype(np.float32)


def eyes_open(landmarks: np.ndarray) -> np.ndarray:
    """Mean eyelid gap over eye width of both eyes (eye aspect ratio; ~0.3 open, <0.1 closed)."""
    f = to_face_frame(landmarks)
    ratios = []
    for lids, (a, b) in zip(EYELIDS, EYE_CORNERS):
        width = np.linalg.norm(f[:, a, :2] - f[:, b, :2], axis=-1)
        ratios.append(np.mean([f[:, u, 1] - f[:, d, 1] for u, d in lids], axis=0) / width)
    return np.clip(np.mean(ratios, axis=0), 0.0, None).astype(np.float32)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the mouth corners over the inter-ocular distance."""
    f = to_face_frame(landmarks)
    return np.linalg.norm(f[:, MOUTH_CORNERS[1], :2] - f[:, MOUTH_CORNERS[0], :2], axis=-1).astype(np.float32)


def corner_lift(landmarks: np.ndarray) -> np.ndarray:
    """How far the mouth corners sit above the middle of the lips, in inter-ocular units (+ = upturned)."""
    f = to_face_frame(landmarks)
    return (f[:, MOUTH_CORNERS, 1].mean(1) - f[:, LIP_MIDDLE, 1].mean(1)).astype(np.float32)


def smile(landmarks: np.ndarray) -> np.ndarray:
    """Smile score: upturned corners plus a widened mouth (both in inter-ocular units, roughly 0 neutral)."""
    return (corner_lift(landmarks) + 0.5 * (mouth_width(landmarks) - 0.55)).astype(np.float32)
