"""A real hand passed over the mouth of a real clip: `python scripts/make_hand_clip.py OUT.mp4 [--hand N]`.

The hand is cut out of a UTKFace photo by the polygon in tests/data/hand_occluders.json (only the photo's name
and the polygon are in the repo; the pixels are read at run time from ../shared/data/utkface, whose
non-commercial licence forbids committing them or anything made from them). It is scaled as it was to its own
face in the photo, keeps the photo's colours, is feathered at its edge, and crosses the mouth left to right over
the clip (1.6 s at 30 fps). Beside the clip, OUT.npz holds the hand's per-frame coverage (`alpha`, frames × H × W,
uint8 0…255). Write it to a temporary folder, never into the repo.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# a sibling in scripts/ (a script's own folder is on its import path)
from make_test_clips import read_frames  # isort: skip

REPO = Path(__file__).resolve().parents[1]
HANDS = REPO / "tests/data/hand_occluders.json"
# ../shared/data/utkface of a checkout, or where LIVEL2L_UTKFACE says (a git worktree elsewhere)
UTKFACE = Path(os.environ.get("LIVEL2L_UTKFACE", REPO.parent / "shared/data/utkface"))
PHOTO_FACE_WIDTH = 130.0  # a face's width in UTKFace's aligned 200-px photos: the hand keeps its size to it


@dataclass
class Hand:
    """A cut-out hand: BGR pixels and coverage (float32 0…1, feathered) on the same grid, and its name."""

    pixels: np.ndarray
    alpha: np.ndarray
    name: str


def hand_entries(path: Path = HANDS) -> list[dict]:
    return json.loads(path.read_text())["hands"]


def cut_out(entry: dict, scale: float, photos: Path = UTKFACE, flip: bool = False) -> Hand:
    """The hand of one entry of hand_occluders.json, scaled by `scale`, its edge feathered by about a pixel."""
    photo = cv2.imread(str(photos / entry["photo"]))
    if photo is None:
        raise SystemExit(f"{photos / entry['photo']}: cannot read the UTKFace photo; point --photos (or LIVEL2L_UTKFACE) at UTKFace's "
                         "aligned & cropped folder")
    polygon = np.array(entry["polygon"], np.float32)
    x0, y0 = np.floor(polygon.min(0)).astype(int)
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + 1
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    pixels = cv2.resize(photo[y0:y1, x0:x1], size, interpolation=cv2.INTER_CUBIC)
    # the polygon drawn at 4× then shrunk: an antialiased edge, then a pixel of feather at the target size
    fine = np.zeros((size[1] * 4, size[0] * 4), np.uint8)
    cv2.fillPoly(fine, [np.round((polygon - (x0, y0)) * scale * 4).astype(np.int32)], 255, cv2.LINE_AA)
    alpha = cv2.resize(fine, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.8)
    if flip:
        pixels, alpha = pixels[:, ::-1].copy(), alpha[:, ::-1].copy()
    return Hand(pixels, alpha, Path(entry["photo"]).name)


def paste(frame: np.ndarray, hand: Hand, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """frame with the hand centred at `centre` (frame px), and the hand's coverage (H,W) float32 0…1."""
    h, w = hand.alpha.shape
    x0, y0 = int(round(centre[0] - w / 2)), int(round(centre[1] - h / 2))
    coverage = np.zeros(frame.shape[:2], np.float32)
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    out = frame.copy()
    if fx1 <= fx0 or fy1 <= fy0:
        return out, coverage
    a = hand.alpha[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, None]
    src = hand.pixels[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
    roi = out[fy0:fy1, fx0:fx1].astype(np.float32)
    out[fy0:fy1, fx0:fx1] = np.clip(roi * (1 - a) + src * a + 0.5, 0, 255).astype(np.uint8)
    coverage[fy0:fy1, fx0:fx1] = a[..., 0]
    return out, coverage


def hand_clip(frames: list[np.ndarray], hand: Hand, start: tuple[float, float],
              end: tuple[float, float]) -> tuple[list[np.ndarray], np.ndarray]:
    """The frames with the hand moved at a steady pace from `start` to `end` (its centre, frame px), and its
    coverage per frame (N,H,W) float32."""
    out, coverage = [], []
    n = len(frames)
    for i, f in enumerate(frames):
        t = i / max(1, n - 1)
        centre = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        frame, cover = paste(f, hand, centre)
        out.append(frame)
        coverage.append(cover)
    return out, np.stack(coverage)


def repo_clip(name: str) -> list[np.ndarray]:
    """48 frames of a real clip in tests/data: smiling_face.mp4 as it is (a face breaking into a smile), or
    steady_face.mp4 forward then back (a face moving a little)."""
    frames = read_frames(REPO / "tests/data" / f"{name}.mp4", fix="give a readable clip with --clip")
    return frames + frames[::-1] if name == "steady_face" else frames


# the repo's clips: the face is ≈ 153 px wide with the mouth at ≈ (300, 240); the hand crosses it level with
# the mouth's lower lip, from off the face on the left to off it on the right
FACE_WIDTH = 153.0
PATH = ((150.0, 250.0), (450.0, 250.0))
FLIPS = (False, True, False)  # hand_occluders.json's hands, mirrored where that makes them lead with the fingers


def repo_hand_clip(index: int, clip: str = "steady_face",
                   photos: Path = UTKFACE) -> tuple[list[np.ndarray], np.ndarray]:
    """Hand `index` of hand_occluders.json across the mouth of a repo clip: frames and coverage."""
    entry = hand_entries()[index]
    hand = cut_out(entry, FACE_WIDTH / PHOTO_FACE_WIDTH, photos, flip=FLIPS[index])
    return hand_clip(repo_clip(clip), hand, *PATH)


def write_mp4(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the clip to write (.mp4); its coverage goes beside it (.npz)")
    parser.add_argument("--hand", type=int, default=0, help="which hand of tests/data/hand_occluders.json")
    parser.add_argument("--clip", default="steady_face", choices=("steady_face", "smiling_face"))
    parser.add_argument("--photos", type=Path, default=UTKFACE, help="UTKFace's aligned & cropped folder")
    args = parser.parse_args()
    if REPO in args.out.resolve().parents:
        raise SystemExit(f"{args.out}: inside the repo; the clip holds UTKFace pixels, write it to a temporary folder")
    frames, coverage = repo_hand_clip(args.hand, args.clip, args.photos)
    write_mp4(args.out, frames)
    np.savez_compressed(args.out.with_suffix(".npz"), alpha=np.round(coverage * 255).astype(np.uint8))
    print(f"wrote {args.out} ({len(frames)} frames) and {args.out.with_suffix('.npz')}")


if __name__ == "__main__":
    main()
