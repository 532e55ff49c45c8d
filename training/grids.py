"""Before/after PNG grids of an evaluation: rows are faces, columns the original then L2L and linear per attribute."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engines.dcgan import DCGANGenerator
from training.rendering import render, to_uint8

SCALE = 2
HEADER = 22


def _labelled_columns(columns: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Stack (title, (rows,H,W,3)) columns side by side under a white header strip with the titles."""
    tiles = []
    for title, faces in columns:
        faces = np.concatenate(list(faces), axis=0)
        faces = cv2.resize(faces, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
        head = np.full((HEADER, faces.shape[1], 3), 255, np.uint8)
        cv2.putText(head, title, (3, HEADER - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([head, faces], axis=0))
    return np.concatenate(tiles, axis=1)


def write_grids(generator: DCGANGenerator, edits: dict, rows: int, folder: Path) -> list[Path]:
    """grid_all.png with every attribute, and grid_<attribute>.png with original | L2L | linear."""
    folder.mkdir(parents=True, exist_ok=True)
    original = to_uint8(render(generator, edits["original"]["latents"][:rows]))
    columns = [("original", original)]
    written = []
    for name, methods in edits.items():
        if name == "original":
            continue
        pair = [(f"{name} {m}", to_uint8(render(generator, methods[m][:rows]))) for m in ("l2l", "linear")]
        columns += pair
        path = folder / f"grid_{name}.png"
        cv2.imwrite(str(path), _labelled_columns([("original", original), *pair])[:, :, ::-1])
        written.append(path)
    path = folder / "grid_all.png"
    cv2.imwrite(str(path), _labelled_columns(columns)[:, :, ::-1])
    return [path, *written]
