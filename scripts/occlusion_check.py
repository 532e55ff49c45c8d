"""What the occlusion fade costs an uncovered face: `python scripts/occlusion_check.py CLIP [CLIP ...]`.

Runs the pipeline's stages (shipped engines, warp mode) over each clip with one edit, blends every frame with
the occlusion fade on and off, and reports the mean absolute change (0–255) inside the face's hull both ways,
how often the fade judged part of the face covered, and the fade's own time per face (median thread CPU ms,
one OpenCV thread). On a clip where nothing covers the face, on/off should stay close to 1.
"""
from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from tqdm import tqdm

from engines.config import EngineConfig
from engines.profiles import PIPELINE_NETWORKS, load_engines
from stream.alignment import AlignmentTemplate, apply_affine
from stream.blending import crop_hull_mask, face_region, warp_to_region
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.occlusion import OcclusionTracker
from stream.stages import AlignStage, DetectStage, EncodeStage, GenerateStage
from stream.warp_blend import WarpBlender


def parse_edit(text: str, attributes: tuple[str, ...]) -> np.ndarray:
    """'age=+2,beard=+1' → Δ over the engines' attributes."""
    delta = np.zeros(len(attributes), np.float32)
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name not in attributes:
            raise SystemExit(f"--edit: unknown attribute {name!r}; use one of {', '.join(attributes)}")
        delta[attributes.index(name)] = float(value)
    return delta


def hull_change(image: np.ndarray, output: np.ndarray, face) -> float:
    """Mean |output − image| over the face's hull (drawn in the crop, warped back to the frame)."""
    hull = crop_hull_mask(apply_affine(face.frame_to_crop, face.track.landmarks), face.original.shape[0], 0.02)
    region = face_region(face.track.landmarks, image.shape)
    x0, y0, x1, y1 = region
    inside = warp_to_region(hull, face.frame_to_crop, region) > 0.5
    diff = np.abs(output[y0:y1, x0:x1].astype(np.float32) - image[y0:y1, x0:x1]).mean(2)
    return float(diff[inside].mean()) if inside.any() else float("nan")


def check_clip(path: str, engines, delta: np.ndarray, max_frames: int) -> dict:
    tracker = FaceTracker(1)
    stages = [DetectStage(tracker), AlignStage(AlignmentTemplate.load("models/default/alignment.json")),
              EncodeStage(engines.encoder, 0.5), GenerateStage(engines.editor)]
    faded, painted = WarpBlender(0.12, occlusion=True), WarpBlender(0.12, occlusion=False)
    timing = OcclusionTracker()  # a twin of faded's, fed the same faces, to time the fade alone
    on, off, covered, cpu_ms = [], [], [], []
    cap = cv2.VideoCapture(path)
    for i in tqdm(range(max_frames), desc=path, unit="frame"):
        ok, image = cap.read()
        if not ok:
            break
        frame = Frame(i, image, 0.0, i / 30)
        frame.delta, frame.bypass = delta, False
        for stage in stages:
            stage.process(frame)
        faces = [f for f in frame.faces if f.edited is not None]
        if not faces:
            continue
        face = faces[0]
        points = apply_affine(face.frame_to_crop, face.track.landmarks)
        hull = crop_hull_mask(points, face.original.shape[0], 0.02)
        c0 = time.thread_time()
        keep = timing.keep(face.track.id, face.crop, face.original, hull, points)  # as the blend calls it
        cpu_ms.append((time.thread_time() - c0) * 1e3)
        covered.append(float((keep[hull > 0.5] < 0.5).mean()))
        outs = []
        for blender in (faded, painted):
            out = image.copy()
            blender.blend(out, faces, frame.media_time)
            outs.append(out)
        on.append(hull_change(image, outs[0], face))
        off.append(hull_change(image, outs[1], face))
    tracker.close()
    covered_arr = np.array(covered)
    return {"clip": path, "frames_with_face": len(on), "hull_change_fade_on": round(float(np.nanmean(on)), 3),
            "hull_change_fade_off": round(float(np.nanmean(off)), 3),
            "on_over_off": round(float(np.nanmean(on) / np.nanmean(off)), 4),
            "frames_over_1pct_covered": int((covered_arr > 0.01).sum()),
            "mean_covered_fraction": round(float(covered_arr.mean()), 4),
            "fade_cpu_ms_median": round(float(np.median(cpu_ms)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--edit", default="age=+2")
    parser.add_argument("--frames", type=int, default=10_000, help="at most this many frames of each clip")
    parser.add_argument("--out", help="also write the results here (JSON)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    engines = load_engines(EngineConfig(backend="torch", threads=1), verbose=False, networks=PIPELINE_NETWORKS)
    delta = parse_edit(args.edit, tuple(engines.attributes))
    results = [check_clip(clip, engines, delta, args.frames) for clip in args.clips]
    for r in results:
        print(json.dumps(r))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"edit": args.edit, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
