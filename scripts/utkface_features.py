"""Run every recogniser on the UTKFace photos once and cache what they say (for validation and head training).

    python scripts/utkface_features.py --utkface ../shared/data/utkface --out cache/utkface_features.npz

Per photo: the file-name labels (age, gender, race), the face-mesh landmarks, dlib age and P(male), P(glasses),
the blendshape smile, yaw/pitch, and MobileFace embeddings of the "face" and "head" views. The hold-out split
is fixed by the file name (is_holdout): a fifth of the photos, the same on every machine.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from project import REPO_ROOT  # noqa: E402
from recognisers.age_gender import AgeGenderNet  # noqa: E402
from recognisers.blendshapes import FaceBlendshapes  # noqa: E402
from recognisers.embedding_head import view_embeddings  # noqa: E402
from recognisers.face_mesh import FaceMesher  # noqa: E402
from recognisers.glasses import GlassesClassifier  # noqa: E402
from recognisers.head_pose import head_pose  # noqa: E402
from recognisers.identity import IdentityEmbedder  # noqa: E402

VIEWS = ["face", "head"]


def is_holdout(name: str) -> bool:
    """The hold-out rule: first 8 hex digits of sha1(file name) mod 5 == 0 (≈ 20 % of photos)."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 5 == 0


def file_labels(name: str) -> tuple[float, float, float]:
    """(age, P(male) 1/0, race) from AGE_GENDER_RACE_DATE.jpg.chip.jpg; NaN where the name lacks them."""
    parts = name.split("_")
    try:
        return float(parts[0]), 1.0 - float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        return float("nan"), float("nan"), float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utkface", type=Path, default=Path("../shared/data/utkface"))
    parser.add_argument("--out", type=Path, default=Path("cache/utkface_features.npz"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--labels", type=Path, default=REPO_ROOT / "recognisers/labels/beard_bald.csv",
                        help="photos labelled by eye: always included")
    parser.add_argument("--sample", type=int, default=0, help="plus this many other photos (seeded); 0 = all photos")
    args = parser.parse_args()
    names = sorted(p.name for p in args.utkface.glob("*.jpg"))
    if not names:
        parser.error(f"--utkface {args.utkface} holds no .jpg photos; point it at the UTKFace folder")
    if args.sample:
        labelled = {line.split(",")[0] for line in args.labels.read_text().splitlines()[1:]}
        others = [x for x in names if x not in labelled]
        pick = np.random.default_rng(0).choice(len(others), min(args.sample, len(others)), replace=False)
        names = sorted(labelled | {others[i] for i in pick})
    mesher, blend = FaceMesher(), FaceBlendshapes()
    age_gender = AgeGenderNet(REPO_ROOT / "models/recognisers")
    glasses, embedder = GlassesClassifier(), IdentityEmbedder().eval()
    n = len(names)
    cols = {k: np.full(n, np.nan, np.float32) for k in ("dlib_age", "dlib_male", "glasses", "smile", "yaw", "pitch")}
    emb = np.full((n, 256 * len(VIEWS)), np.nan, np.float32)
    landmarks = np.full((n, 478, 3), np.nan, np.float32)
    found = np.zeros(n, bool)
    for s in tqdm(range(0, n, args.batch), desc="utkface"):
        idx = np.arange(s, min(n, s + args.batch))
        ims = np.stack([cv2.cvtColor(cv2.imread(str(args.utkface / names[i])), cv2.COLOR_BGR2RGB) for i in idx])
        lm, ok = mesher(ims)
        cols["smile"][idx] = blend.smile(ims)
        if not ok.any():
            continue
        good, ims, lm = idx[ok], ims[ok], lm[ok]
        found[good], landmarks[good] = True, lm
        cols["dlib_age"][good], cols["dlib_male"][good] = age_gender(ims, lm)
        cols["glasses"][good] = glasses(ims, lm)
        cols["yaw"][good], cols["pitch"][good], _ = head_pose(lm)
        emb[good] = view_embeddings(embedder, ims, lm, VIEWS)
    age, male, race = np.array([file_labels(x) for x in names], np.float32).T
    holdout = np.array([is_holdout(x) for x in names])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, names=np.array(names), age=age, male=male, race=race, holdout=holdout, found=found,
                        landmarks=landmarks, embeddings=emb, views=np.array(VIEWS), **cols)
    print(f"{found.sum()} of {n} photos with a face → {args.out}")


if __name__ == "__main__":
    main()
