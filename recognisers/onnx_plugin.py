"""Any extra ONNX classifier/regressor described by an OnnxHeadConfig, run on face chips or whole crops."""
from __future__ import annotations

import cv2
import numpy as np

from recognisers.age_gender import open_session
from recognisers.config import OnnxHeadConfig
from recognisers.face_chip import extract_chips


class OnnxHead:
    def __init__(self, config: OnnxHeadConfig, threads: int = 1):
        self.config = config
        self._session = open_session(config.resolved_path(), threads)
        self._input = self._session.get_inputs()[0].name

    def prepare(self, images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """uint8 crops → the network's float32 input as the config describes it."""
        c, s = self.config, self.config.input_size
        if c.crop == "chip":
            x = extract_chips(images, landmarks, s, c.padding)
        else:
            x = np.stack([cv2.resize(im, (s, s), interpolation=cv2.INTER_AREA) for im in images])
        x = x.astype(np.float32)
        if c.color == "bgr":
            x = x[..., ::-1]
        elif c.color == "gray":
            x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        x = (x - np.array(c.mean, np.float32)) / np.array(c.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if c.layout == "nchw" else x)

    def __call__(self, images: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray]:
        out = self._session.run(None, {self._input: self.prepare(images, landmarks)})[0].reshape(len(images), -1)
        if self.config.softmax:
            e = np.exp(out - out.max(1, keepdims=True))
            out = e / e.sum(1, keepdims=True)
        return {name: out[:, col].astype(np.float32) for name, col in self.config.outputs.items()}
