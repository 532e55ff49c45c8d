"""Smile from MediaPipe's face blendshapes (face_landmarker.task, Google, Apache-2.0): mean of mouthSmileLeft/Right."""
from __future__ import annotations

from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

from project import REPO_ROOT
from recognisers.age_gender import ModelFileError

DEFAULT_PATH = REPO_ROOT / "models/recognisers/face_landmarker.task"
SMILE = ("mouthSmileLeft", "mouthSmileRight")


class FaceBlendshapes:
    """__call__(crops uint8 (N,H,W,3) RGB) → {blendshape name: float32 (N,)} in 0…1, NaN where no face is found.

    Give face crops (the face fills most of the picture), not whole camera frames: on a frame the face is too
    small for the blendshape network. Crops are scaled so their longer side is `work_size` (aspect kept) and
    padded like FaceMesher so the detector sees a whole face."""

    def __init__(self, path: str | Path = DEFAULT_PATH, work_size: int = 256, pad: float = 0.5):
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: face_landmarker.task not found; it ships in models/recognisers/ (git checkout it)")
        vision = mp.tasks.vision
        options = vision.FaceLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_buffer=path.read_bytes()),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=0.3,
            output_face_blendshapes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self.work_size, self.pad = work_size, int(round(pad * work_size))

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"FaceBlendshapes wants uint8 (N,H,W,3) RGB images, got {images.dtype} {images.shape}")
        out: dict[str, np.ndarray] = {}
        s, p = self.work_size, self.pad
        for i, image in enumerate(images):
            h, w = image.shape[:2]
            f = s / max(h, w)
            scaled = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC if f > 1 else cv2.INTER_AREA)
            big = cv2.copyMakeBorder(scaled, p, p, p, p, cv2.BORDER_CONSTANT)
            result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(big)))
            if not result.face_blendshapes:
                continue
            for c in result.face_blendshapes[0]:
                out.setdefault(c.category_name, np.full(len(images), np.nan, np.float32))[i] = c.score
        return out

    def smile(self, images: np.ndarray) -> np.ndarray:
        """Smile score float32 (N,) in 0…1: mean of mouthSmileLeft and mouthSmileRight (NaN where no face)."""
        shapes = self(images)
        if SMILE[0] not in shapes:
            return np.full(len(images), np.nan, np.float32)
        return ((shapes[SMILE[0]] + shapes[SMILE[1]]) / 2).astype(np.float32)

    def close(self) -> None:
        self._landmarker.close()
