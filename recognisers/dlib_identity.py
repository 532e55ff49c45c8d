"""dlib's 128-D face descriptor (ResNet, from the PyPI packages dlib-bin and face-recognition-models; the
models are CC0): an identity judge that no LiveL2L network was trained with. Same person: distance < 0.6."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SAME_PERSON = 0.6  # dlib's own threshold on the descriptor distance


def dlib_available() -> bool:
    return importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face_recognition_models is not installed; pip install -e '.[eval]'")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibIdentity:
    """descriptor(image RGB uint8, box x0, y0, x1, y1) → (128,) float; distance(a, b) → float."""

    def __init__(self):
        import dlib

        models = _models_dir()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._rect = dlib.rectangle

    def descriptor(self, image_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._shape(image_rgb, self._rect(x0, y0, x1, y1))
        return np.asarray(self._net.compute_face_descriptor(image_rgb, shape), np.float32)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))
