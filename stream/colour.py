"""Keeping an edit's colour the camera's: the residual's contrast matched to the camera face, its cast
removed and its chroma clamped, so an edit changes shape and shade but never tints the face."""
from __future__ import annotations

import cv2
import numpy as np

# BGR → (luma, blue-difference, red-difference), BT.601; rows act on BGR pixel vectors.
TO_YCC = np.array([[0.114, 0.587, 0.299], [0.5, -0.331264, -0.168736], [-0.081312, -0.418688, 0.5]], np.float32)
FROM_YCC = np.linalg.inv(TO_YCC).astype(np.float32)
MAX_LUMA = 96.0  # largest luma change one pixel may get (0…255 units): more is a pasted artefact, not an edit
CHROMA_SPREAD = 2.0  # chroma change allowed, in standard deviations of the camera face's own chroma
MIN_CHROMA = 4.0  # … but never less than this (0…255 units), so a grey face can still redden a lip


def tame_residual(residual: np.ndarray, camera: np.ndarray, render: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """residual (S,S,3) BGR change in 0…255 units, camera and render (S,S,3) BGR 0…255 at the same place,
    mask (S,S) → the residual as the camera would show it:

    - luma scaled by the camera face's luma spread over the render's (clipped to 0.5…2), so a render with
      more contrast than the camera does not over-paint;
    - the mean chroma change over the face removed (a uniform cast is never what an attribute means);
    - chroma clamped to CHROMA_SPREAD camera-face standard deviations, luma to ±MAX_LUMA."""
    # cv2.transform and cv2.meanStdDev, not matmuls and numpy reductions over 3-wide rows: on a 64-px crop
    # numpy's per-call overhead and BLAS threads cost more than the arithmetic.
    inside = (mask > 0.5).astype(np.uint8)
    ycc = cv2.transform(residual.astype(np.float32), TO_YCC)
    if cv2.countNonZero(inside) >= 16:
        cam_std = cv2.meanStdDev(cv2.transform(camera.astype(np.float32), TO_YCC), mask=inside)[1].ravel()
        ren_std = cv2.meanStdDev(cv2.transform(render.astype(np.float32), TO_YCC), mask=inside)[1].ravel()
        ycc[..., 0] *= float(np.clip((cam_std[0] + 1.0) / (ren_std[0] + 1.0), 0.5, 2.0))
        weights = mask * inside
        ycc[..., 1:] -= np.einsum("ijc,ij->c", ycc[..., 1:], weights) / weights.sum()
        limit = np.maximum(CHROMA_SPREAD * cam_std[1:], MIN_CHROMA)
    else:
        limit = np.full(2, MIN_CHROMA)
    high = (MAX_LUMA, float(limit[0]), float(limit[1]), 0.0)
    return cv2.transform(cv2.max(cv2.min(ycc, high), tuple(-v for v in high)), FROM_YCC)
