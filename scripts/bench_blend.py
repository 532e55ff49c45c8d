"""Time the blend stage per face on real frames at any size: `python scripts/bench_blend.py CLIP [CLIP ...]`.

Finds the face in a frame of each clip, renders G(w) and G(w′) with the shipped engines, then times each
blend mode on that frame (wall time and this thread's CPU time, which a busy machine inflates less).
The frame copy the blend stage makes is timed apart: it follows the frame, not the face."""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from engines.config import EngineConfig
from engines.profiles import PIPELINE_NETWORKS, load_engines
from stream.alignment import AlignmentTemplate, align_face, face_keypoints
from stream.allocator import keep_freed_memory
from stream.blending import blend_delta
from stream.face_tracker import FaceTracker
from stream.frame import FaceWork
from stream.landmark_flow import MeshFlowMaker
from stream.warp_blend import WarpBlender


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall ms and median thread-CPU ms of fn over repeats."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--frame", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--mesh", action="store_true", help="as the live default: the face mesh's flow between the "
                        "renders (made once, outside the timing: the mesh_flow stage's cost) and the outline margin")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads: 1 (default) is one core, as the "
                        "output thread gets when the other stages are busy; 0 leaves OpenCV's default, as the live "
                        "pipeline does (one per core)")
    args = parser.parse_args()
    if args.threads:
        cv2.setNumThreads(args.threads)
    keep_freed_memory()  # as the live pipeline does
    engines = load_engines(EngineConfig(threads=1), verbose=False, networks=PIPELINE_NETWORKS)
    template = AlignmentTemplate.load("models/default/alignment.json")
    delta = np.zeros((1, len(engines.attributes)), np.float32)
    delta[0, :2] = 2.0
    for clip in args.clips:
        cap = cv2.VideoCapture(clip)
        cap.set(cv2.CAP_PROP_POS_FRAMES, args.frame)
        ok, frame = cap.read()
        tracker = FaceTracker(1)
        (track,) = tracker.update(frame, 0.0)
        tracker.close()
        crop, m = align_face(frame, face_keypoints(track.landmarks), template)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1.0
        latent = engines.encoder({engines.encoder.inputs[0].name: rgb})[engines.encoder.outputs[0].name]
        out = engines.editor({"latent": latent, "delta": delta})
        original, edited = (out[k][0].transpose(1, 2, 0)[..., ::-1] for k in ("original", "edited"))
        face = FaceWork(track, crop, m, latent, original, edited)
        if args.mesh:
            maker = MeshFlowMaker()
            face.mesh_flow = maker(original, edited)
            maker.close()
        blender = WarpBlender(0.12, outline=args.mesh)
        target = frame.copy()
        steps = iter(range(10**9))
        warp = timed(lambda: blender.blend(target, [face], next(steps) / 30), args.repeats)
        dlt = timed(lambda: blend_delta(target, original, edited, m, track.landmarks, 0.12), args.repeats)
        copy = timed(lambda: frame.copy(), args.repeats)
        h, w = frame.shape[:2]
        print(f"{clip}: {w}×{h}, face {track.width:.0f} px wide | warp {warp[0]:.2f} ms wall, {warp[1]:.2f} ms CPU | "
              f"delta {dlt[0]:.2f} / {dlt[1]:.2f} | frame copy {copy[0]:.2f} / {copy[1]:.2f}")


if __name__ == "__main__":
    main()
