"""Compute models/default/alignment.json: where the default DCGAN puts eyes and mouth in its renders.

Renders a few hundred faces, runs the face mesh on 4× upscaled copies (the mesh needs more than
64 px), and takes the median eye and mouth centres of every face it finds (robust to mesh misfits).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
import torch
from tqdm import tqdm

from engines.dcgan import load_dcgan
from stream.alignment import AlignmentTemplate, face_keypoints

UPSCALE = 4


def render_faces(generator_path: Path, n: int, seed: int) -> np.ndarray:
    """n renders of the generator as uint8 RGB (n, R, R, 3)."""
    g = load_dcgan(generator_path)
    z = torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = torch.cat([g(chunk) for chunk in z.split(64)])
    return ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=Path("models/default/generator.safetensors"))
    parser.add_argument("--output", type=Path, default=Path("models/default/alignment.json"))
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    renders = render_faces(args.generator, args.count, args.seed)
    size = renders.shape[1]
    found = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for rgb in tqdm(renders, desc="face mesh on renders"):
            big = cv2.resize(rgb, (size * UPSCALE, size * UPSCALE), interpolation=cv2.INTER_CUBIC)
            result = mesh.process(big)
            if not result.multi_face_landmarks:
                continue
            lm = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark]) * size
            found.append(face_keypoints(lm))
    if len(found) < 20:
        raise SystemExit(f"the face mesh found only {len(found)} faces in {args.count} renders; check the generator")
    pts = np.stack(found)
    template = AlignmentTemplate(size=size, points=np.median(pts, axis=0))
    template.save(args.output, extra={"renders": args.count, "faces_found": len(found),
                                      "spread_px": pts.std(0).round(3).tolist(), "seed": args.seed})
    print(f"wrote {args.output}: {len(found)}/{args.count} renders had a face; points {template.points.round(2).tolist()}")


if __name__ == "__main__":
    main()
