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


def _rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(N,3,3) rotations by `angle` (radians) about camera axis 0 (x), 1 (y) or 2 (z)."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros(angle.shape + (3, 3))
    i, j = [k for k in range(3) if k != axis]
    r[:, axis, axis] = 1.0
    r[:, i, i], r[:, j, j] = c, c
    sign = -1.0 if axis == 1 else 1.0  # about y the sine terms swap (right-handed frame)
    r[:, i, j], r[:, j, i] = -s * sign, s * sign
    return r


def head_pose(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw (+ = nose towards image right), pitch (+ = nose up), roll (+ = image-right eye higher), degrees.

    The face frame is decomposed as Rz(roll)·Ry(yaw)·Rx(pitch): roll is outermost, so turning the picture
    in its plane changes roll alone. Zero pitch means the eye-corner/mouth-corner plane faces the camera."""
    rot = face_frame(landmarks)
    right = rot[..., 0]
    yaw = np.arctan2(-right[:, 2], np.hypot(right[:, 0], right[:, 1]))
    roll = np.arctan2(right[:, 1], right[:, 0])
    rest = _rotation(1, -yaw) @ _rotation(2, -roll) @ rot  # = Rx(pitch)
    pitch = np.arctan2(rest[:, 1, 2], rest[:, 2, 2])
    return tuple(np.degrees(a).astype(np.float32) for a in (yaw, pitch, roll))
