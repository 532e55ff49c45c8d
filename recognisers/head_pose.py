"""Head pose (yaw, pitch, roll in degrees) from face-mesh landmarks, by building the face's own frame."""
from __future__ import annotations

import numpy as np

EYE_OUTER = (33, 263)  # image-left eye (subject's right), image-right eye
MOUTH_CORNERS = (61, 291)


def face_frame(landmarks: np.ndarray) -> np.ndarray:
    """(N,478,3) crop-pixel landmarks → (N,3,3) rotations whose columns are the face's right, up and forward
    axes in camera space (x right, y up, z towards the camera)."""
    p = landmarks.astype(np.float64) * np.array([1.0, -1.0, -1.0])
    right = p[:, EYE_OUTER[1]] - p[:, EYE_OUTER[0]]
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    up = p[:, EYE_OUTER].mean(1) - p[:, MOUTH_CORNERS].mean(1)
    up -= (up * right).sum(-1, keepdims=True) * right
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    forward = np.cross(right, up)
    return np.stack([right, up, forward], axis=-1)


def head_pose(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw (+ = nose towards image right), pitch (+ = nose up), roll (+ = image-right eye higher), degrees.

    Zero pitch means the plane through the eye corners and mouth corners faces the camera."""
    rot = face_frame(landmarks)
    right, forward = rot[..., 0], rot[..., 2]
    yaw = np.arctan2(forward[:, 0], forward[:, 2])
    pitch = np.arctan2(forward[:, 1], np.hypot(forward[:, 0], forward[:, 2]))
    # Roll is measured against the frame the head would have with the same forward axis and no roll.
    right0 = np.cross(np.array([0.0, 1.0, 0.0]), forward)
    right0 /= np.linalg.norm(right0, axis=-1, keepdims=True)
    up0 = np.cross(forward, right0)
    roll = np.arctan2((right * up0).sum(-1), (right * right0).sum(-1))
    return tuple(np.degrees(a).astype(np.float32) for a in (yaw, pitch, roll))
