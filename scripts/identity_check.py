"""Same-person vs different-person cosine of the IdentityEmbedder on real photos and generator renders.

    python scripts/identity_check.py --out docs/recognisers/identity_check.json
Same person: one face against its own flip / blur / light change / 2-px shift. Different people: every pair of
distinct faces (scikit-image's LFW subset + the astronaut, aligned like the live pipeline; renders of different
latents).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from recognisers_faces import aligned_crops, astronaut_photo, augmentations, lfw_photos, renders, to_tensor  # noqa: E402

from recognisers.identity import IdentityEmbedder, cosine  # noqa: E402


def check(embedder: IdentityEmbedder, images: np.ndarray) -> dict:
    with torch.no_grad():
        base = embedder(to_tensor(images))
        others = (base @ base.T)[~torch.eye(len(images), dtype=torch.bool)]
        result = {"faces": len(images), "different_mean": float(others.mean()), "different_p99": float(others.quantile(0.99)),
                  "different_max": float(others.max())}  # fmt: skip
        for name in ("flip", "blur", "light", "shift"):
            same = cosine(base, embedder(to_tensor(np.stack([augmentations(im)[name] for im in images]))))
            result[f"same_{name}_mean"], result[f"same_{name}_min"] = float(same.mean()), float(same.min())
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--renders", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    embedder = IdentityEmbedder()
    photos = [c for c in aligned_crops([astronaut_photo()] + lfw_photos(100)) if c is not None]
    report = {"photos": check(embedder, np.stack(photos)), "renders": check(embedder, renders(list(range(args.renders))))}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
