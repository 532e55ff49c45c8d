"""FaceLabeller: every offline attribute label for a batch of face crops (renders or aligned real faces)."""
from __future__ import annotations

import numpy as np
import torch

from recognisers import expression
from recognisers.age_gender import AgeGenderNet
from recognisers.beard import beard_score
from recognisers.config import LabellerConfig
from recognisers.emotion import EMOTIONS, EmotionClassifier
from recognisers.face_mesh import FaceMesher
from recognisers.glasses import glasses_score
from recognisers.head_pose import head_pose
from recognisers.onnx_plugin import OnnxHead

KEYS = ("age", "gender", "yaw", "pitch", "roll", "smile", "mouth_open", "eyes_open", "beard", "glasses")


class FaceLabeller:
    """label(images uint8 (N,H,W,3) RGB) → {name: float32 (N,)}; NaN in every label of a row where face_found is 0.

    Units: age in years; gender = P(male); yaw/pitch/roll in degrees (see head_pose); smile, mouth_open,
    eyes_open in inter-ocular or eye-width units (see expression); beard, glasses are unitless scores;
    emotion_<name> are the 7 FER2013 class probabilities (when config.emotion is on)."""

    def __init__(self, config: LabellerConfig | None = None):
        self.config = config or LabellerConfig()
        self.config.validate()
        self._mesh = FaceMesher(self.config.mesh_size)
        self._age_gender = AgeGenderNet(self.config.resolved_models_dir(), self.config.threads)
        self._heads = [OnnxHead(h, self.config.threads) for h in self.config.heads()]
        self._emotion = EmotionClassifier() if self.config.emotion else None

    @property
    def keys(self) -> tuple[str, ...]:
        emotions = tuple(f"emotion_{e}" for e in EMOTIONS) if self._emotion is not None else ()
        return KEYS + emotions + tuple(n for h in self._heads for n in h.config.outputs) + ("face_found",)

    def label(self, images: np.ndarray) -> dict[str, np.ndarray]:
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"FaceLabeller.label wants uint8 (N,H,W,3) RGB images, got {images.dtype} {images.shape}")
        n = len(images)
        landmarks, found = self._mesh(images)
        out = {k: np.full(n, np.nan, np.float32) for k in self.keys}
        out["face_found"] = found.astype(np.float32)
        if found.any():
            ims, lm = images[found], landmarks[found]
            yaw, pitch, roll = head_pose(lm)
            age, male = self._age_gender(ims, lm)
            values = {
                "age": age,
                "gender": male,
                "yaw": yaw,
                "pitch": pitch,
                "roll": roll,
                "smile": expression.smile(lm),
                "mouth_open": expression.mouth_open(lm),
                "eyes_open": expression.eyes_open(lm),
                "beard": np.array([beard_score(a, b, self.config.region_size) for a, b in zip(ims, lm)]),
                "glasses": np.array([glasses_score(a, b, self.config.region_size) for a, b in zip(ims, lm)]),
            }
            for head in self._heads:
                values.update(head(ims, lm))
            if self._emotion is not None:
                with torch.no_grad():
                    x = torch.from_numpy(ims).permute(0, 3, 1, 2).float() / 127.5 - 1
                    p = self._emotion(x).numpy()
                values.update({f"emotion_{e}": p[:, i] for i, e in enumerate(EMOTIONS)})
            for k, v in values.items():
                out[k][found] = v
        return out

    def close(self) -> None:
        self._mesh.close()
