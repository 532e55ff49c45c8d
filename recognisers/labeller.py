"""FaceLabeller: every offline attribute label for a batch of face crops (renders or aligned real faces)."""
from __future__ import annotations

import numpy as np
import torch

from recognisers import expression
from recognisers.age_gender import AgeGenderNet
from recognisers.blendshapes import FaceBlendshapes
from recognisers.config import LabellerConfig
from recognisers.embedding_head import EmbeddingHead
from recognisers.emotion import EMOTIONS, EmotionClassifier
from recognisers.face_mesh import FaceMesher
from recognisers.glasses import GlassesClassifier
from recognisers.head_pose import head_pose
from recognisers.identity import IdentityEmbedder
from recognisers.onnx_plugin import OnnxHead

KEYS = ("age", "gender", "yaw", "pitch", "roll", "smile", "mouth_open", "eyes_open", "beard", "bald", "glasses")


class FaceLabeller:
    """label(images uint8 (N,H,W,3) RGB) → {name: float32 (N,)}; NaN in every label of a row where face_found is 0,
    and in `smile` alone where the blendshape landmarker misses a face the mesh found (3 % of 64-px renders).

    Units: age in years; gender = P(male); yaw/pitch/roll in degrees (see head_pose); smile = MediaPipe's
    mouthSmile blendshape score 0…1 (see blendshapes); mouth_open, eyes_open in inter-ocular or eye-width units
    (see expression); beard, bald, glasses are probabilities (embedding heads, MobileNetV3 eye-band classifier);
    emotion_<name> are the 7 FER2013 class probabilities (when config.emotion is on). Validation figures on
    held-out real photos: docs/recognisers/README.md."""

    def __init__(self, config: LabellerConfig | None = None):
        self.config = config or LabellerConfig()
        self.config.validate()
        self._mesh = FaceMesher(self.config.mesh_size)
        self._age_gender = AgeGenderNet(self.config.resolved_models_dir(), self.config.threads)
        self._heads = [OnnxHead(h, self.config.threads) for h in self.config.heads()]
        models = self.config.resolved_models_dir()
        self._blendshapes = FaceBlendshapes(models / "face_landmarker.task", self.config.mesh_size)
        self._glasses = GlassesClassifier(models / "glasses.onnx", self.config.threads)
        embedder = IdentityEmbedder(models / "mobileface.safetensors").eval()
        self._attribute_heads = [EmbeddingHead(models / f"{a}_head.safetensors", embedder) for a in ("beard", "bald")]
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
                "smile": self._blendshapes.smile(ims),
                "mouth_open": expression.mouth_open(lm),
                "eyes_open": expression.eyes_open(lm),
                "glasses": self._glasses(ims, lm),
            }
            values.update({h.attribute: h(ims, lm) for h in self._attribute_heads})
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
        self._blendshapes.close()
