"""mediapipe face-mesh landmarks for small face crops (upscaled and padded so the detector sees a whole face)."""
from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np

N_LANDMARKS = 478  # 468 mesh points + 10 iris points (refine_landmarks=True)


class FaceMesher:
    """Landmarks in the crop's own pixel coordinates; z is depth in the same pixel scale (smaller = nearer)."""

    def __init__(self, work_size: int = 256, pad: float = 0.5, min_confidence: float = 0.3):
        self.work_size = work_size
        # Renders fill the whole frame; the face detector finds them far more often with a border around them.
        self.pad = int(round(pad * work_size))
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=min_confidence
        )

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """images uint8 (N,H,W,3) RGB → landmarks float32 (N,478,3) (NaN where none) and found bool (N,)."""
        n, h, w = images.shape[:3]
        landmarks = np.full((n, N_LANDMARKS, 3), np.nan, np.float32)
        found = np.zeros(n, bool)
        s, p = self.work_size, self.pad
        side = s + 2 * p
        for i, image in enumerate(images):
            big = cv2.resize(image, (s, s), interpolation=cv2.INTER_CUBIC)
            big = cv2.copyMakeBorder(big, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            result = self._mesh.process(big)
            if not result.multi_face_landmarks:
                continue
            pts = np.array([(q.x, q.y, q.z) for q in result.multi_face_landmarks[0].landmark], np.float32)
            pts = pts * side - np.array([p, p, 0], np.float32)
            landmarks[i] = pts * np.array([w / s, h / s, w / s], np.float32)
            found[i] = True
        return landmarks, found

    def close(self) -> None:
        self._mesh.close()
