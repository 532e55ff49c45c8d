"""How much of the edit lands on a real hand over the mouth: `python scripts/hand_check.py [--edit age=+2,beard=+2]`.

Builds the clips of scripts/make_hand_clip.py (a real hand from a UTKFace photo crossing the mouth of a repo
clip; nothing is written), runs the live stages (shipped engines, warp mode with the mesh's flow, as
`run.py live` does) with the occlusion fade on and off, and reports per hand the mean absolute change (0–255) on
the hand's pixels over the face both ways, their ratio (what the fade leaves on the hand), and the change on
the uncovered face both ways (what the face keeps of its edit).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

from engines.config import EngineConfig
from engines.profiles import PIPELINE_NETWORKS, load_engines
from stream.alignment import AlignmentTemplate
from stream.config import StreamConfig
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.landmark_flow import OVAL
from stream.stages import (AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage,
                           geometric_edit)

# siblings in scripts/ (a script's own folder is on its import path)
from make_hand_clip import UTKFACE, hand_entries, repo_clip, repo_hand_clip  # isort: skip
from occlusion_check import parse_edit  # isort: skip

WARM = 6  # frames before the hand's: the face's memory is built on the uncovered face first


def face_masks(frames: list[np.ndarray], grow: int = 12) -> list[np.ndarray]:
    """Per frame (H,W) bool: the hull of the face's oval (face mesh, static mode, on the frames without the hand),
    grown by `grow` px."""
    masks = []
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for f in frames:
            h, w = f.shape[:2]
            found = mesh.process(np.ascontiguousarray(f[..., ::-1])).multi_face_landmarks
            m = np.zeros((h, w), np.uint8)
            if found:
                pts = np.array([(p.x * w, p.y * h) for p in found[0].landmark])[list(OVAL)]
                cv2.fillConvexPoly(m, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
            masks.append(cv2.dilate(m, kernel) > 0)
    return masks


def live_outputs(frames: list[np.ndarray], engines, delta: np.ndarray, occlusion: bool) -> list[np.ndarray]:
    """The live stages over the frames, one by one (warp with the mesh's flow, the shipped stream settings)."""
    cfg = StreamConfig()
    drawn = geometric_edit(cfg, engines.attributes)
    tracker = FaceTracker(1)
    flow = MeshFlowStage(drawn)
    stages = [DetectStage(tracker), AlignStage(AlignmentTemplate.load("models/default/alignment.json")),
              EncodeStage(engines.encoder, cfg.latent_smoothing), GenerateStage(engines.editor, drawn), flow,
              BlendStage("warp", cfg.feather, cfg.colour_match, occlusion, outline=True)]
    outs = []
    for i, image in enumerate(frames):
        frame = Frame(i, image.copy(), 0.0, i / 30)
        frame.delta, frame.bypass = delta, False
        for stage in stages:
            stage.process(frame)
        outs.append(frame.output)
    tracker.close()
    flow.close()
    return outs


def hand_figures(frames: list[np.ndarray], coverage: np.ndarray, faces: list[np.ndarray],
                 faded: list[np.ndarray], painted: list[np.ndarray]) -> dict:
    """Mean change on the hand over the face and on the uncovered face (hand grown by 15 px kept out), fade on
    and off, over the frames where the hand covers at least 5 % of the face."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
    on_hand = {True: [], False: []}
    on_face = {True: [], False: []}
    for i, raw in enumerate(frames):
        hand = (coverage[i] > 0.95) & faces[i]
        if i < WARM or hand.sum() < 0.05 * faces[i].sum():
            continue
        bare = faces[i] & ~cv2.dilate((coverage[i] > 0.02).astype(np.uint8), kernel).astype(bool)
        for fade, out in ((True, faded[i]), (False, painted[i])):
            diff = np.abs(out.astype(np.float32) - raw).mean(2)
            on_hand[fade].append(float(diff[hand].mean()))
            on_face[fade].append(float(diff[bare].mean()))
    r = lambda x: round(float(np.mean(x)), 3)  # noqa: E731
    return {"frames": len(on_hand[True]), "hand_fade_on": r(on_hand[True]), "hand_fade_off": r(on_hand[False]),
            "hand_on_over_off": round(float(np.mean(on_hand[True]) / np.mean(on_hand[False])), 3),
            "face_fade_on": r(on_face[True]), "face_fade_off": r(on_face[False]),
            "face_keeps": round(float(np.mean(on_face[True]) / np.mean(on_face[False])), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edit", action="append", help="e.g. age=+2,beard=+2 (repeat for several)")
    parser.add_argument("--clip", default="steady_face", choices=("steady_face", "smiling_face"))
    parser.add_argument("--hands", default="",
                        help="which hands of tests/data/hand_occluders.json (e.g. 0,2); all by default")
    parser.add_argument("--photos", type=Path, default=UTKFACE, help="UTKFace's aligned & cropped folder")
    parser.add_argument("--sheet", type=Path, help="also write sheets of frames (raw, fade on, fade off) here: "
                        "one per edit and hand, named SHEET_<edit>_<hand>.png")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    engines = load_engines(EngineConfig(backend="torch", threads=1), verbose=False, networks=PIPELINE_NETWORKS)
    hands = [int(h) for h in args.hands.split(",")] if args.hands else list(range(len(hand_entries())))
    faces = face_masks(repo_clip(args.clip))
    for edit in args.edit or ["age=+2,beard=+2", "smile=+2,yaw=+2"]:
        delta = parse_edit(edit, tuple(engines.attributes))
        for h in hands:
            frames, coverage = repo_hand_clip(h, args.clip, args.photos)
            faded = live_outputs(frames, engines, delta, True)
            painted = live_outputs(frames, engines, delta, False)
            print(json.dumps({"edit": edit, "hand": h, "clip": args.clip,
                              **hand_figures(frames, coverage, faces, faded, painted)}), flush=True)
            if args.sheet:
                rows = [np.concatenate([x[i][130:330, 180:420] for x in (frames, faded, painted)], 1)
                        for i in (18, 24, 30)]
                name = edit.replace("=", "").replace(",", "_").replace("+", "p").replace("-", "m")
                cv2.imwrite(f"{args.sheet}_{name}_{h}.png", np.concatenate(rows, 0))


if __name__ == "__main__":
    main()
