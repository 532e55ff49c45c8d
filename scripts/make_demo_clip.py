"""Make assets/demo_face.mp4: a short 640×480 clip (or any size: --size 1280x720) of a real face with webcam-like motion.

No real face video exists offline, so the clip is synthesised from one real photograph
(skimage.data.astronaut(), NASA, public domain): a slow pan, zoom and roll, a slight change of
exposure, and per-frame sensor noise, encoded with OpenCV's mp4v writer.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def camera_motion(t: float) -> tuple[float, float, float, float, float]:
    """Pan x, pan y (px), zoom, roll (deg) and exposure gain at time fraction t ∈ [0, 1]."""
    s = 2 * np.pi * t
    return 18 * np.sin(s), 10 * np.sin(2 * s + 0.5), 1.0 + 0.08 * np.sin(s + 1.0), 4.0 * np.sin(s * 1.5), 1.0 + 0.07 * np.sin(s + 2.0)


def render_frame(photo: np.ndarray, t: float, size: tuple[int, int], centre: tuple[float, float], scale: float,
                 rng: np.random.Generator) -> np.ndarray:
    """One frame: the photo seen through a moving camera, with exposure drift and sensor noise."""
    dx, dy, zoom, roll, gain = camera_motion(t)
    w, h = size
    m = cv2.getRotationMatrix2D(centre, roll, scale * zoom)
    m[:, 2] += (w / 2 - centre[0] + dx, h / 2 - centre[1] + dy)
    frame = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    noisy = frame.astype(np.float32) * gain + rng.normal(0.0, 2.5, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def main() -> None:
    from skimage import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="assets/demo_face.mp4")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT, e.g. 1280x720 (the face scales with the height)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    n = int(args.seconds * args.fps)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (width, height))
    for i in range(n):
        writer.write(render_frame(photo, i / n, (width, height), centre=(222.0, 150.0), scale=2.0 * height / 480, rng=rng))
    writer.release()
    print(f"wrote {out} ({n} frames, {out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
