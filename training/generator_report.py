"""`run.py eval-generator`: how real the default generator's faces are and how well its encoder inverts real faces.

For the profile in --models and, side by side, a baseline profile folder (e.g. the DCGAN it replaced):
- KID between the generator's samples and held-out real photos, on MobileFace embeddings of face-mesh-aligned
  chips (no Inception network is available offline), with real-vs-real (training photos) as the floor, and the
  share of samples in which the face mesh finds a face;
- inversion of held-out real photos the way the live pipeline does it (face mesh → the profile's alignment
  template → encoder → generator): dlib 128-D distance (never used in training; < 0.6 = same person), PSNR
  and MobileFace cosine between the aligned photo and G(E(photo));
- PNG sheets: samples, and photos above their reconstructions by each profile. The photos of that sheet come
  from --sheet-photos (faces that may be published, e.g. the project's own test frames), never from --data:
  a training set such as UTKFace must not end up in a committed picture.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from engines.checkpoint import load_network
from engines.face_encoder import FaceEncoder
from engines.generator_file import load_generator_file
from project import REPO_ROOT
from recognisers.face_chip import extract_chips
from recognisers.face_mesh import FaceMesher
from recognisers.identity import IdentityEmbedder
from stream.alignment import AlignmentTemplate, align_face, face_keypoints
from training.face_folder import load_faces
from training.generator import to_grid
from training.kid import kid
from training.rendering import from_uint8, render, to_uint8

CHIP = 112


class Profile:
    """A default-profile folder: generator, encoder and alignment template."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.generator = load_generator_file(folder / "generator.safetensors")
        self.encoder, _ = load_network(FaceEncoder, folder / "encoder.safetensors", "face_encoder")
        self.template = AlignmentTemplate.load(folder / "alignment.json")

    def samples(self, n: int, seed: int) -> np.ndarray:
        z = torch.randn(n, self.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        return to_uint8(render(self.generator, z))

    def reconstruct(self, aligned: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return to_uint8(self.generator(self.encoder(from_uint8(aligned))))


def embed_chips(images: np.ndarray, mesher: FaceMesher, embedder: IdentityEmbedder) -> tuple[np.ndarray, np.ndarray]:
    """MobileFace embeddings of face-mesh-aligned chips; returns (embeddings of found faces, found mask)."""
    landmarks, found = mesher(images)
    chips = extract_chips(images[found], landmarks[found], CHIP, padding=0.1)
    with torch.no_grad():
        emb = torch.cat([embedder(from_uint8(chips[i:i + 128])) for i in range(0, len(chips), 128)]) if len(chips) else torch.zeros(0, 256)
    return emb.numpy(), found


def align_photos(photos: np.ndarray, mesher: FaceMesher, template: AlignmentTemplate) -> tuple[np.ndarray, np.ndarray]:
    landmarks, found = mesher(photos)
    crops = np.zeros((len(photos), template.size, template.size, 3), np.uint8)
    for i in np.flatnonzero(found):
        crops[i] = align_face(photos[i], face_keypoints(landmarks[i]), template)[0]
    return crops, found


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean((1, 2, 3))
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def inversion(profile: Profile, photos: np.ndarray, mesher: FaceMesher, embedder: IdentityEmbedder, dlib_net, rows: int) -> tuple[dict, np.ndarray, np.ndarray]:
    aligned, found = align_photos(photos, mesher, profile.template)
    aligned = aligned[found]
    again = profile.reconstruct(aligned)
    with torch.no_grad():
        cos = torch.nn.functional.cosine_similarity(embedder(from_uint8(aligned)), embedder(from_uint8(again))).numpy()
    figures = {"faces": int(found.sum()), "psnr_db": round(float(psnr(aligned, again).mean()), 2),
               "mobileface_cos": round(float(cos.mean()), 3)}
    if dlib_net is not None:
        from recognisers.dlib_identity import SAME_PERSON

        dist = np.linalg.norm(dlib_net.describe_crops(aligned[:rows]) - dlib_net.describe_crops(again[:rows]), axis=1)
        ok = np.isfinite(dist)
        figures.update(dlib_faces=int(ok.sum()), dlib_distance_mean=round(float(dist[ok].mean()), 3),
                       dlib_distance_median=round(float(np.median(dist[ok])), 3),
                       dlib_same_person=round(float((dist[ok] < SAME_PERSON).mean()), 3))
    return figures, aligned, again


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py eval-generator", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of aligned real face photos (held-out split is used)")
    parser.add_argument("--models", type=Path, default=Path("models/default"), help="profile folder to judge")
    parser.add_argument("--baseline", type=Path, help="a second profile folder shown beside it")
    parser.add_argument("--out", type=Path, default=Path("docs/generator"))
    parser.add_argument("--samples", type=int, default=400, help="samples and held-out photos for KID")
    parser.add_argument("--dlib-faces", type=int, default=60, help="inversions judged by dlib (≈2 s a face here)")
    parser.add_argument("--sheet-photos", type=Path, default=REPO_ROOT / "tests/data",
                        help="face photos that may be published, shown with their reconstructions (not --data)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    profiles = {"new": Profile(args.models)} | ({"baseline": Profile(args.baseline)} if args.baseline else {})
    held = load_faces(args.data, 200, "heldout", limit=args.samples).images.permute(0, 2, 3, 1).numpy()
    train = load_faces(args.data, 64, "train", limit=args.samples).images.permute(0, 2, 3, 1).numpy()
    shown = load_faces(args.sheet_photos, 200, "all", limit=8).images.permute(0, 2, 3, 1).numpy()
    try:
        from recognisers.dlib_identity import DlibIdentity

        dlib_net = DlibIdentity()
    except MissingPackageError as e:
        print(f"warning: {e}; inversions are judged by MobileFace and PSNR only", file=sys.stderr)
        dlib_net = None
    args.out.mkdir(parents=True, exist_ok=True)
    mesher, embedder = FaceMesher(), IdentityEmbedder(box=(0.0, 0.0, 1.0)).eval()
    started = time.time()
    held64 = np.stack([cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA) for p in held])
    real_emb, real_found = embed_chips(held64, mesher, embedder)
    floor_emb, floor_found = embed_chips(train, mesher, embedder)
    report = {"data": args.data.name, "heldout_photos": len(held), "real_vs_real": {
        "kid": kid(real_emb, floor_emb), "faces_found": round(float(floor_found.mean()), 3)}}
    sheet_rows = []
    for name, profile in profiles.items():
        samples = profile.samples(args.samples, args.seed)
        emb, found = embed_chips(samples, mesher, embedder)
        figures, _, _ = inversion(profile, held[: max(args.dlib_faces, 100)], mesher, embedder, dlib_net, args.dlib_faces)
        report[name] = {"folder": str(profile.folder), "resolution": profile.template.size,
                        "kid": kid(real_emb, emb), "faces_found": round(float(found.mean()), 3), "inversion": figures}
        cv2.imwrite(str(args.out / f"samples_{name}.png"), to_grid(from_uint8(samples[:64]))[:, :, ::-1])
        aligned, _ = align_photos(shown, mesher, profile.template)
        sheet_rows += [np.stack([cv2.resize(a, (64, 64)) for a in aligned]),
                       np.stack([cv2.resize(a, (64, 64)) for a in profile.reconstruct(aligned)])]
    cv2.imwrite(str(args.out / "reconstructions.png"),
                to_grid(from_uint8(np.concatenate(sheet_rows)), columns=len(shown))[:, :, ::-1])
    report["seconds"] = round(time.time() - started)
    (args.out / "generator_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    mesher.close()
    return 0
