"""Where a yaw edit's head turn is lost: `python scripts/probe_yaw_warp.py CLIP [CLIP ...]`.

On the first frames with a face of each clip, the pipeline's stages give G(w) and G(f(w, s·yaw)) for each
strength s; the face mesh (recognisers' FaceMesher + head_pose, as `run.py eval --video` reads yaw) then
measures the head turn and the nose tip's sideways shift (crop px, relative to the outer eye corners) of

- the edited render G(w′) against G(w): does the mapper + generator turn the head?
- G(w) warped by the flow the warp blend uses (DIS, smoothed, dead zone), and by the raw DIS flow and
  Farnebäck: does a flow between the two renders carry the turn to the camera's pixels?

Prints one JSON object (medians over frames and clips) per strength."""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from engines.config import EngineConfig
from engines.profiles import PIPELINE_NETWORKS, load_engines
from recognisers.face_mesh import FaceMesher
from recognisers.head_pose import head_pose
from stream.alignment import AlignmentTemplate
from stream.blending import warp_by_flow
from stream.face_tracker import FaceTracker
from stream.frame import FaceWork, Frame
from stream.stages import AlignStage, DetectStage, EncodeStage, GenerateStage
from stream.warp_blend import DEAD_FLOW, make_flow_estimator, render_flow, to_grey

NOSE_TIP, EYE_OUTER = 1, (33, 263)


def to_uint8(render: np.ndarray) -> np.ndarray:
    return np.clip((render + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def yaw_and_nose(mesher: FaceMesher, renders: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mesh yaw (degrees) and nose-tip x minus the outer eye corners' mean x (render px); NaN where no face."""
    size = renders[0].shape[0]
    rgb = np.stack([cv2.cvtColor(cv2.resize(r, (256, 256), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
                    for r in renders])
    landmarks, found = mesher(rgb)
    yaw, nose = np.full(len(renders), np.nan), np.full(len(renders), np.nan)
    if found.any():
        yaw[found] = head_pose(landmarks[found])[0]
        pts = landmarks[found] * (size / 256)
        nose[found] = pts[:, NOSE_TIP, 0] - pts[:, list(EYE_OUTER), 0].mean(1)
    return yaw, nose


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--frames", type=int, default=12, help="frames with a face per clip")
    parser.add_argument("--strengths", type=float, nargs="+", default=[-4.0, -2.0, 2.0, 4.0])
    args = parser.parse_args()
    engines = load_engines(EngineConfig(threads=1), verbose=False, networks=PIPELINE_NETWORKS)
    attributes = list(engines.attributes)
    template = AlignmentTemplate.load("models/default/alignment.json")
    dis = make_flow_estimator()

    def pipeline_flow(original: np.ndarray, edited: np.ndarray) -> np.ndarray:
        flow = render_flow(dis, original, edited)
        return flow * np.clip((np.linalg.norm(flow, axis=-1, keepdims=True) - DEAD_FLOW) / DEAD_FLOW, 0.0, 1.0)

    flows = {
        "warp blend's flow": pipeline_flow,
        "raw DIS flow": lambda o, e: dis.calc(to_grey(e), to_grey(o), None),
        "Farneback flow": lambda o, e: cv2.calcOpticalFlowFarneback(to_grey(e), to_grey(o), None, 0.5, 3, 9, 5, 5, 1.1, 0),
    }
    pairs: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {s: [] for s in args.strengths}
    for clip in args.clips:
        cap = cv2.VideoCapture(clip)
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        tracker = FaceTracker(1)
        detect, align = DetectStage(tracker), AlignStage(template)
        encode, generate = EncodeStage(engines.encoder, 0.5), GenerateStage(engines.editor)
        found = index = 0
        while found < args.frames:
            ok, image = cap.read()
            if not ok:
                break
            frame = Frame(index, image, 0.0, index / fps)
            index += 1
            detect.process(frame)
            align.process(frame)
            frame.delta, frame.bypass = np.zeros(len(attributes), np.float32), False
            encode.process(frame)
            if not frame.faces:
                continue
            found += 1
            face = frame.faces[0]
            for s in args.strengths:
                work = Frame(frame.index, image, 0.0, 0.0, faces=[FaceWork(face.track, face.crop, face.frame_to_crop,
                                                                           face.latent)])
                work.delta = np.zeros(len(attributes), np.float32)
                work.delta[attributes.index("yaw")] = s
                work.bypass = False
                generate.process(work)
                pairs[s].append((work.faces[0].original, work.faces[0].edited))
        tracker.close()
        cap.release()
    mesher = FaceMesher(256)
    for s, rows in pairs.items():
        yaw0, nose0 = yaw_and_nose(mesher, [to_uint8(o) for o, _ in rows])
        yaw1, nose1 = yaw_and_nose(mesher, [to_uint8(e) for _, e in rows])
        result = {"yaw strength": s, "faces": len(rows),
                  "render: turn (deg)": np.nanmedian(yaw1 - yaw0), "render: nose shift (px)": np.nanmedian(nose1 - nose0)}
        for name, flow in flows.items():
            yaw_w, nose_w = yaw_and_nose(mesher, [to_uint8(warp_by_flow(o, flow(o, e))) for o, e in rows])
            result[f"G(w) moved by the {name}: turn (deg)"] = np.nanmedian(yaw_w - yaw0)
            result[f"G(w) moved by the {name}: nose shift (px)"] = np.nanmedian(nose_w - nose0)
        print(json.dumps({k: round(float(v), 2) if isinstance(v, (float, np.floating)) else v for k, v in result.items()}))
    mesher.close()


if __name__ == "__main__":
    main()
