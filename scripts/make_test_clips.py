"""Make the real-face test clips the blending and tracking tests need, from the real clips in ../shared/data/clips:

- small_face.mp4: single_face.mp4 shrunk so the face is about 34 px wide, pasted into the frames of
  no_face.mp4 (a real room without a face), 640×360;
- occluded_face.mp4: single_face.mp4 with a real object — the coffee cup of scikit-image's data
  (`skimage.data.coffee()`, Rachel Michetti, CC0) cut out as a disc — moved across the face, left to right
  over the mouth; the disc's position per frame is saved beside it (occluder.npz) so a test knows where it is;
- smiling_face.mp4: frames 24–71 of single_face.mp4, the face breaking into a wide smile (teeth showing)
  with nothing over it, for the occlusion fade's false alarms;
- big clips for timing (--big): single_face.mp4 resized to 1920×1080 and 3840×2160 (out/, not committed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

CLIPS = Path(__file__).resolve().parents[1].parent / "shared/data/clips"  # ../shared/data/clips of a checkout


def read_frames(path: Path, n: int | None = None,
                fix: str = "point --clips at the folder with single_face.mp4 and no_face.mp4") -> list[np.ndarray]:
    """The clip's first n frames (all of them by default); a clip without any stops the script with `fix`."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while n is None or len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"{path}: no frames; {fix}")
    return frames


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    print(f"wrote {path} ({len(frames)} frames, {w}×{h})")


def small_face_clip(face: list[np.ndarray], room: list[np.ndarray], scale: float, at: tuple[int, int]) -> list[np.ndarray]:
    out = []
    for i, f in enumerate(face):
        canvas = cv2.resize(room[i % len(room)], (640, 360), interpolation=cv2.INTER_AREA)
        small = cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x, y = at
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        out.append(canvas)
    return out


def coffee_disc(diameter: int) -> tuple[np.ndarray, np.ndarray]:
    """The cup seen from above, as a BGR square and a soft round alpha of the given diameter."""
    from skimage import data

    cup = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)[10:390, 130:510]  # the cup and saucer, centred
    cup = cv2.resize(cup, (diameter, diameter), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((diameter, diameter), np.float32)
    cv2.circle(alpha, (diameter // 2, diameter // 2), diameter // 2 - 2, 1.0, -1, cv2.LINE_AA)
    return cup, cv2.GaussianBlur(alpha, (5, 5), 1.0)[..., None]


def occluded_clip(face: list[np.ndarray], centre: tuple[float, float], diameter: int,
                  travel: float) -> tuple[list[np.ndarray], np.ndarray]:
    cup, alpha = coffee_disc(diameter)
    out, centres = [], []
    n = len(face)
    for i, f in enumerate(face):
        cx = centre[0] + travel * (i / (n - 1) - 0.5)
        cy = centre[1]
        x0, y0 = int(round(cx - diameter / 2)), int(round(cy - diameter / 2))
        frame = f.copy()
        roi = frame[y0:y0 + diameter, x0:x0 + diameter].astype(np.float32)
        frame[y0:y0 + diameter, x0:x0 + diameter] = (roi * (1 - alpha) + cup * alpha + 0.5).astype(np.uint8)
        out.append(frame)
        centres.append((x0 + diameter / 2, y0 + diameter / 2))
    return out, np.array(centres)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=CLIPS)
    parser.add_argument("--out", type=Path, default=Path("tests/data"))
    parser.add_argument("--big", type=Path, help="also write 1080p and 4K versions of single_face.mp4 here")
    args = parser.parse_args()
    face = read_frames(args.clips / "single_face.mp4", 72)
    room = read_frames(args.clips / "no_face.mp4", 60)
    args.out.mkdir(parents=True, exist_ok=True)
    # single_face's face is ≈ 160 px wide at 640×360: 0.23 makes it ≈ 35 px, placed left of centre
    write_mp4(args.out / "small_face.mp4", small_face_clip(face[:60], room, 0.23, (200, 170)), 30.0)
    frames, centres = occluded_clip(face[:60], centre=(300.0, 238.0), diameter=90, travel=300.0)
    write_mp4(args.out / "occluded_face.mp4", frames, 30.0)
    np.savez(args.out / "occluder.npz", centres=centres, diameter=90)
    write_mp4(args.out / "smiling_face.mp4", face[24:72], 30.0)
    if args.big:
        args.big.mkdir(parents=True, exist_ok=True)
        for name, size in (("single_face_1080p.mp4", (1920, 1080)), ("single_face_4k.mp4", (3840, 2160))):
            write_mp4(args.big / name, [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in face], 30.0)


if __name__ == "__main__":
    main()
