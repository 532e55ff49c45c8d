"""Label generator renders (or real photos) and write PNG grids of the highest- and lowest-scored faces.

    python scripts/recogniser_grids.py --n 1000 --out docs/recognisers
    python scripts/recogniser_grids.py --photos lfw --count 16 --out docs/recognisers
Grids are for looking: the top grid of `beard` should show beards, its bottom grid none. `--photos lfw` uses
scikit-image's 100 LFW faces (25-px greyscale, upscaled and aligned like the live pipeline) and prefixes `lfw_`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from engines.dcgan import load_dcgan
from recognisers.labeller import FaceLabeller


def render(n: int, seed: int, batch: int = 250) -> np.ndarray:
    """n renders of the default generator as uint8 (n,64,64,3) RGB."""
    path = Path(__file__).resolve().parents[1] / "models/default/generator.safetensors"
    g = load_dcgan(path)
    z = torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = torch.cat([g(z[i : i + batch]) for i in range(0, n, batch)])
    return ((x.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def lfw_crops(size: int = 64) -> np.ndarray:
    """scikit-image's LFW subset faces, upscaled and aligned to the renders' template; faces the mesh misses are left out."""
    import skimage.data

    from recognisers.face_mesh import FaceMesher
    from stream.alignment import AlignmentTemplate, align_face, face_keypoints

    template = AlignmentTemplate.load(Path(__file__).resolve().parents[1] / "models/default/alignment.json")
    template = AlignmentTemplate(size=size, points=template.points * size / template.size)
    mesher = FaceMesher()
    crops = []
    for face in skimage.data.lfw_subset()[:100]:
        photo = cv2.resize(np.repeat((face[..., None] * 255).astype(np.uint8), 3, 2), (128, 128), interpolation=cv2.INTER_CUBIC)
        landmarks, found = mesher(photo[None])
        if found[0]:
            crops.append(align_face(photo, face_keypoints(landmarks[0]), template)[0])
    mesher.close()
    return np.stack(crops)


def grid(images: np.ndarray, cols: int = 8, scale: int = 2) -> np.ndarray:
    """Tile (K,H,W,3) images into rows of `cols`, padding the last row with black; upscaled for viewing."""
    k, h, w, c = images.shape
    rows = -(-k // cols)
    padded = np.zeros((rows * cols, h, w, c), np.uint8)
    padded[:k] = images
    tiled = padded.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
    return cv2.resize(tiled, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("docs/recognisers"))
    ap.add_argument("--photos", choices=["renders", "lfw"], default="renders")
    ap.add_argument("--labels", type=Path, default=Path("/tmp/recogniser_labels.npz"))
    ap.add_argument("--attributes", default="beard,bald,glasses,smile,age,gender,yaw,pitch,mouth_open,eyes_open")
    args = ap.parse_args()
    torch.set_num_threads(2)
    images = render(args.n, args.seed) if args.photos == "renders" else lfw_crops()
    prefix = "" if args.photos == "renders" else f"{args.photos}_"
    labeller = FaceLabeller()
    labels = {k: [] for k in labeller.keys}
    for i in tqdm(range(0, len(images), 100), desc="labelling"):
        for k, v in labeller.label(images[i : i + 100]).items():
            labels[k].append(v)
    labels = {k: np.concatenate(v) for k, v in labels.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    found = labels["face_found"] > 0
    print(f"face found in {found.sum()}/{len(images)} {args.photos}")
    for name in args.attributes.split(","):
        known = found & np.isfinite(labels[name])  # smile is NaN where the blendshape landmarker finds no face
        idx = np.flatnonzero(known)[np.argsort(labels[name][known])]
        for which, pick in (("top", idx[::-1][: args.count]), ("bottom", idx[: args.count])):
            path = args.out / f"{prefix}{name}_{which}.png"
            cv2.imwrite(str(path), cv2.cvtColor(grid(images[pick]), cv2.COLOR_RGB2BGR))
            print(f"{path}: {name} from {labels[name][pick].min():.3g} to {labels[name][pick].max():.3g}")
    np.savez(args.labels, **labels)
    print(f"labels of all renders: {args.labels}")


if __name__ == "__main__":
    main()
