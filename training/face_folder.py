"""A folder of aligned face photos as one uint8 tensor, with a fixed held-out split by file name."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from errors import MissingFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
HOLDOUT_MODULUS = 10  # a file is held out when sha1(name) mod 10 == 0: about one face in ten, never trained on


def is_held_out(name: str) -> bool:
    """The project's one train/held-out rule for face photos, stable across machines and file orders."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % HOLDOUT_MODULUS == 0


@dataclass
class FaceFolder:
    images: torch.Tensor  # (N, 3, size, size) uint8, RGB
    names: list[str]


def list_faces(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"--data {folder}: no such folder; pass a folder of aligned face photos (e.g. UTKFace)")
    files = sorted(p for p in folder.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise MissingFileError(f"--data {folder}: no .jpg/.png face photos in it; pass a folder of aligned faces")
    return files


def load_faces(folder: Path, size: int, split: str = "train", limit: int | None = None,
               evenly: bool = False) -> FaceFolder:
    """Every photo of `split` ("train", "heldout" or "all"), resized (area) to size×size; with a limit, the first
    `limit` files, or with `evenly` that many spread over the whole split (file names often sort by a label)."""
    files = [p for p in list_faces(folder) if split == "all" or is_held_out(p.name) == (split == "heldout")]
    if evenly and limit is not None:
        files = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, min(limit, len(files))).round().astype(int))]
    files = files[:limit]
    out = np.empty((len(files), size, size, 3), np.uint8)
    kept = []
    for path in tqdm(files, desc=f"faces ({split})", dynamic_ncols=True, mininterval=2):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            continue  # unreadable file: skipped rather than ending a long run
        out[len(kept)] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        kept.append(path.name)
    return FaceFolder(torch.from_numpy(out[: len(kept)]).permute(0, 3, 1, 2).contiguous(), kept)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,3,H,W) → float in [-1, 1]."""
    return images.float() / 127.5 - 1
