"""Real faces for the recogniser tests: aligned photo crops (scikit-image) and stored renders of the earlier DCGAN."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch

from recognisers.face_mesh import FaceMesher
from stream.alignment import AlignmentTemplate, align_face, face_keypoints

ROOT = Path(__file__).resolve().parents[1]


def aligned_crops(photos: list[np.ndarray], size: int = 64) -> list[np.ndarray | None]:
    """Align photos the way the live pipeline does (the renders' template), None where no face is found."""
    template = AlignmentTemplate.load(ROOT / "tests/data/dcgan_alignment.json")
    template = AlignmentTemplate(size=size, points=template.points * size / template.size)
    mesher = FaceMesher()
    crops = []
    for photo in photos:
        landmarks, found = mesher(photo[None])
        crops.append(align_face(photo, face_keypoints(landmarks[0]), template)[0] if found[0] else None)
    mesher.close()
    return crops


def astronaut_photo() -> np.ndarray:
    """Eileen Collins' head and shoulders from skimage's astronaut photo (256×256 RGB)."""
    return np.ascontiguousarray(skimage.data.astronaut()[0:256, 110:366])


def lfw_photos(count: int) -> list[np.ndarray]:
    """The first `count` LFW faces of skimage's lfw_subset (different people), as 128×128 RGB."""
    faces = skimage.data.lfw_subset()[:count]
    grey = [np.repeat((f[..., None] * 255).astype(np.uint8), 3, 2) for f in faces]
    return [cv2.resize(g, (128, 128), interpolation=cv2.INTER_CUBIC) for g in grey]


def renders(indices: list[int]) -> np.ndarray:
    """Renders uint8 (K,64,64,3) of the earlier DigiFace DCGAN: latents `indices` of 1000 drawn with seed 0 (the
    numbering of scripts/recogniser_grids.py at the time), stored in tests/data so the recogniser tests do not
    change with the shipped generator."""
    stored = np.load(ROOT / "tests/data/dcgan_renders.npz")
    where = {int(i): k for k, i in enumerate(stored["indices"])}
    return stored["images"][[where[i] for i in indices]]


def augmentations(image: np.ndarray) -> dict[str, np.ndarray]:
    """Same face, different picture: mirror, blur, dimmer and warmer light, a 2-pixel shift."""
    light = np.clip(image.astype(np.float32) * np.array([0.8, 0.75, 0.7]) + 20, 0, 255).astype(np.uint8)
    return {
        "flip": np.ascontiguousarray(image[:, ::-1]),
        "blur": cv2.GaussianBlur(image, (0, 0), 0.8),
        "light": light,
        "shift": np.roll(image, 2, axis=1),
    }


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N,H,W,3) → float (N,3,H,W) in [-1,1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
