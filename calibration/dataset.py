"""The calibration set: aligned real-face crops (augmented) and a few renders, with the float encoder's latents;
plus the held-out faces the quality gate measures on. One .npz file, no pickles."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from tqdm import tqdm

from calibration.augment import augmented_crops
from calibration.faces import FacePhoto
from errors import UserError
from stream.alignment import AlignmentTemplate

Encode = Callable[[np.ndarray], np.ndarray]  # (N,3,R,R) float32 in [-1,1] → (N, latent_dim)
Render = Callable[[np.ndarray], np.ndarray]  # (N, latent_dim) → (N,3,R,R) float32 in [-1,1]


class CalibrationSetError(UserError):
    """The calibration set on disk is unreadable, or the faces given cannot make one."""


@dataclass
class CalibrationSet:
    """crops: uint8 RGB (N,R,R,3); latents: float32 (N,D) the float encoder gives for them; sources name each crop."""

    crops: np.ndarray
    latents: np.ndarray
    sources: np.ndarray  # str (N,): "lfw#3", "demo_face.mp4#40", "render#7", …
    heldout_crops: np.ndarray  # uint8 RGB (M,R,R,3) of people absent from `crops`
    heldout_sources: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def images(self) -> np.ndarray:
        """The encoder's input for every crop: float32 (N,3,R,R) in [-1,1]."""
        return to_network(self.crops)

    @property
    def real_fraction(self) -> float:
        return float(np.mean([not s.startswith("render#") for s in self.sources]))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            crops=self.crops,
            latents=self.latents,
            sources=self.sources.astype(str),
            heldout_crops=self.heldout_crops,
            heldout_sources=self.heldout_sources.astype(str),
            meta=np.array(json.dumps(self.meta)),
        )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> "CalibrationSet":
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    data["crops"], data["latents"], data["sources"], data["heldout_crops"], data["heldout_sources"], json.loads(str(data["meta"]))
                )
        except (OSError, KeyError, ValueError) as e:
            raise CalibrationSetError(f"{path}: not a calibration set ({e}); delete it and run `python run.py calibrate` again") from None


def to_network(crops: np.ndarray) -> np.ndarray:
    """uint8 RGB (N,R,R,3) → float32 (N,3,R,R) in [-1,1], as the pipeline's EncodeStage feeds the encoder."""
    return crops.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def to_crops(images: np.ndarray) -> np.ndarray:
    """float (N,3,R,R) in [-1,1] → uint8 RGB (N,R,R,3)."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def split_people(faces: list[FacePhoto], heldout: float, seed: int, always: tuple[str, ...] = ()) -> tuple[list[FacePhoto], list[FacePhoto]]:
    """(calibration faces, held-out faces): whole people go to one side, so the gate never sees a calibrated person.

    `always` names people held out whatever the draw (while someone is left to calibrate on)."""
    people = sorted({f.identity for f in faces})
    rng = np.random.default_rng(seed)
    n_held = min(max(1, round(len(people) * heldout)), len(people) - 1) if len(people) > 1 else 0
    held = {p for p in always if p in people}
    held |= set(rng.permutation([p for p in people if p not in held])[: max(n_held - len(held), 0)].tolist())
    if len(held) >= len(people):
        held = set(sorted(held)[: len(people) - 1])
    return [f for f in faces if f.identity not in held], [f for f in faces if f.identity in held]


def crops_of(faces: list[FacePhoto], template: AlignmentTemplate, total: int, strength: float, seed: int, desc: str) -> tuple[np.ndarray, list[str]]:
    """About `total` crops spread evenly over the faces (each face's first crop unaugmented)."""
    rng = np.random.default_rng(seed)
    per_face = np.full(len(faces), total // len(faces))
    per_face[rng.permutation(len(faces))[: total % len(faces)]] += 1
    crops, sources = [], []
    for face, n in zip(tqdm(faces, desc=desc, unit="face", leave=False), per_face):
        if n:
            crops.append(augmented_crops(face.frame, face.keypoints, template, int(n), rng, strength))
            sources += [face.source] * int(n)
    return np.concatenate(crops), sources


def build_calibration_set(
    faces: list[FacePhoto], template: AlignmentTemplate, encode: Encode, render: Render, crops: int, renders: int,
    heldout: float, heldout_variants: int, strength: float, seed: int, latent_dim: int, heldout_people: tuple[str, ...] = (),
) -> CalibrationSet:
    """Split people, cut and vary the crops, add renders of encoder latents, and record the float encoder's latents."""
    if not faces:
        raise CalibrationSetError("no real face was found in any source; add photos or videos with --faces DIR")
    calib, held = split_people(faces, heldout, seed, heldout_people)
    if not held:
        raise CalibrationSetError("only one person among the faces, so none can be held out for the gate; add faces with --faces DIR")
    real, real_sources = crops_of(calib, template, crops - renders, strength, seed, "calibration crops")
    heldout_crops, heldout_sources = crops_of(held, template, len(held) * heldout_variants, strength * 0.5, seed + 1, "held-out crops")
    latents = encode(to_network(real))
    if renders:
        # Renders of latents near the real faces' encodings: the generator is calibrated where the encoder sends it.
        rng = np.random.default_rng(seed + 2)
        picks = latents[rng.integers(0, len(latents), renders)]
        noise = rng.standard_normal((renders, latent_dim)).astype(np.float32) * 0.5
        rendered = to_crops(render(picks + noise))
        real = np.concatenate([real, rendered])
        real_sources += [f"render#{i}" for i in range(renders)]
        latents = np.concatenate([latents, encode(to_network(rendered))])
    meta = {
        "people_calibration": len({f.identity for f in calib}),
        "people_heldout": sorted({f.identity for f in held}),
        "template": template.points.round(3).tolist(),
        "augment": strength,
        "seed": seed,
    }
    return CalibrationSet(real, latents.astype(np.float32), np.array(real_sources), heldout_crops, np.array(heldout_sources), meta)


def save_grid(crops: np.ndarray, path: Path, columns: int = 16, rows: int = 8) -> Path:
    """The first rows×columns crops as one PNG a person can look at."""
    n = min(len(crops), columns * rows)
    size = crops.shape[1]
    grid = np.full((-(-n // columns) * size, columns * size, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * size : (r + 1) * size, c * size : (c + 1) * size] = crops[i]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return path
