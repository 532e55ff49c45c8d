"""How much a demo run changed its input, inside and outside the faces.

Reads the input and the edited video frame by frame, finds each face's landmark hull in the input with
the face mesh, and reports the mean absolute pixel difference (0–255 scale) inside and outside the hulls.
"""
from __future__ import annotations

import argparse
import json

import cv2
import mediapipe as mp
import numpy as np

from project import DEMO_CLIP


def face_hulls(mesh, frame: np.ndarray) -> np.ndarray:
    """A uint8 mask of every face hull the mesh finds in the frame."""
    h, w = frame.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    result = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    for face in result.multi_face_landmarks or []:
        pts = np.array([(p.x * w, p.y * h) for p in face.landmark], np.float32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 1)
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DEMO_CLIP))
    parser.add_argument("--output", default="out/demo.mp4")
    args = parser.parse_args()
    src, out = cv2.VideoCapture(args.input), cv2.VideoCapture(args.output)
    inside, outside, frames = [], [], 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4) as mesh:
        while True:
            ok_a, a = src.read()
            ok_b, b = out.read()
            if not (ok_a and ok_b):
                break
            frames += 1
            mask = face_hulls(mesh, a).astype(bool)
            diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(2)
            outside.append(diff[~mask].mean())
            if mask.any():
                inside.append(diff[mask].mean())
    report = {"frames": frames, "outside_mean_abs": round(float(np.mean(outside)), 3),
              "inside_mean_abs": round(float(np.mean(inside)), 3) if inside else None,
              "frames_with_face": len(inside)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
