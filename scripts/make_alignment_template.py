"""Compute models/default/alignment.json: where the default generator puts eyes and mouth in its faces.

The faces are either the generator's own renders or, with --photos, the aligned real photos it was trained on
(the generator reproduces their framing, and the encoder is trained on them). The face mesh runs on 4× upscaled
copies (it needs more than 64 px); the template is the median eye and mouth centres of every face it finds.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
import torch
from tqdm import tqdm

from engines.generator_file import load_generator_file
from stream.alignment import AlignmentTemplate, face_keypoints
from training.face_folder import load_faces

UPSCALE = 4


def render_faces(generator_path: Path, n: int, seed: int) -> np.ndarray:
    """n renders of the generator as uint8 RGB (n, R, R, 3)."""
    g = load_generator_file(generator_path)
    z = torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = torch.cat([g(chunk) for chunk in z.split(64)])
    return ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)


def photo_faces(folder: Path, n: int, size: int) -> np.ndarray:
    """The first n training-split photos of the folder at size×size, uint8 RGB."""
    return load_faces(folder, size, "train", limit=n).images.permute(0, 2, 3, 1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=Path("models/default/generator.safetensors"))
    parser.add_argument("--photos", type=Path, help="folder of the aligned photos the generator was trained on")
    parser.add_argument("--size", type=int, default=64, help="template size with --photos")
    parser.add_argument("--output", type=Path, default=Path("models/default/alignment.json"))
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    faces = photo_faces(args.photos, args.count, args.size) if args.photos else render_faces(args.generator, args.count, args.seed)
    size = faces.shape[1]
    found = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for rgb in tqdm(faces, desc="face mesh"):
            big = cv2.resize(rgb, (size * UPSCALE, size * UPSCALE), interpolation=cv2.INTER_CUBIC)
            result = mesh.process(big)
            if not result.multi_face_landmarks:
                continue
            lm = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark]) * size
            found.append(face_keypoints(lm))
    if len(found) < 20:
        raise SystemExit(f"the face mesh found only {len(found)} faces in {len(faces)}; check the input")
    pts = np.stack(found)
    template = AlignmentTemplate(size=size, points=np.median(pts, axis=0))
    source = {"photos": args.photos.name} if args.photos else {"renders": args.count, "seed": args.seed}
    template.save(args.output, extra={**source, "faces": len(faces), "faces_found": len(found),
                                      "spread_px": pts.std(0).round(3).tolist()})
    print(f"wrote {args.output}: {len(found)}/{len(faces)} faces found; points {template.points.round(2).tolist()}")


if __name__ == "__main__":
    main()
