"""`run.py eval --video CLIP`: the live pipeline's stages over a real clip with every attribute of the profile
at −2 and +2, judged on the OUTPUT frames.

Per edit: the recognisers read on the output face against the raw face (the `target` change, in the
recogniser's unit), identity (dlib 128-D distance, raw vs output face), change outside the face region
(past what the blend may touch: with the head turn, the hair and ears around the face), and the
flicker the edit adds (mean |out_t − out_t−1| in the face box minus the raw clip's own |raw_t − raw_t−1|,
which the JSON gives as face_motion; 0…255 units); plus a contact
sheet (rows: attributes; columns: raw, −2, +2 on two frames). Detection, alignment and encoding run once
per frame and every edit's generate and blend stages run on the same faces, which is what running the
pipeline once per edit would do, in a fraction of the time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from errors import ConfigError, MissingFileError
from recognisers.dlib_identity import SAME_PERSON, DlibIdentity
from recognisers.labeller import FaceLabeller
from stream.alignment import AlignmentTemplate
from stream.blending import face_region
from stream.config import StreamConfig
from stream.face_tracker import FaceTracker
from stream.frame import FaceWork, Frame
from stream.stages import (AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage,
                           drawn_glasses, geometric_edit)
from stream.warp_blend import TURN_MARGIN

# Which recogniser reading judges an attribute, and its unit; an attribute missing here is read under its
# own name when the labeller has it, else it gets no target (the sheet still shows it).
RECOGNISER = {"expression": "smile"}
UNITS = {"age": "years", "gender": "P(male)", "yaw": "degrees (mesh)", "pitch": "degrees (mesh)",
         "smile": "mouthSmile blendshape score 0…1", "beard": "beard score", "glasses": "glasses score",
         "bald": "P(bald)"}
TILE = 144  # contact sheet tile side, px


@dataclass
class VideoEvalConfig:
    frames: int = 32  # consecutive frames with a face, from the first face on
    strengths: tuple[float, ...] = (-2.0, 2.0)
    sheet_frames: tuple[float, ...] = (0.3, 0.8)  # where among those frames the sheet's two frames are
    label_every: int = 2  # recognisers read every Nth frame (they cost ~0.1 s a face on this CPU)
    identity_every: int = 4  # dlib descriptors every Nth frame (~0.2 s a face)
    max_frames: int = 600  # give up looking for faces after this many frames
    only: tuple[str, ...] = ()  # evaluate just these attributes; empty = all of the mapper's


@dataclass
class EditTally:
    """Running sums for one edit over the clip."""

    readings: list[tuple[float, float]] = field(default_factory=list)  # (raw, output) of its recogniser
    identity: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)
    flicker: list[float] = field(default_factory=list)
    frames: int = 0
    previous: np.ndarray | None = None

    def summary(self, unit: str | None) -> dict:
        r = np.array(self.readings, np.float64).reshape(-1, 2)
        ok = np.isfinite(r).all(1)
        r = r[ok]
        mean = lambda xs: round(float(np.mean(xs)), 4) if len(xs) else None  # noqa: E731
        return {
            "target": mean(r[:, 1] - r[:, 0]) if unit else None,
            "unit": unit,
            "raw": mean(r[:, 0]) if unit else None,
            "output": mean(r[:, 1]) if unit else None,
            # the output reading 80 % of the frames read reach (a target like "≥ 0.8 on 80 % of frames")
            "output_p20": round(float(np.percentile(r[:, 1], 20)), 4) if unit and len(r) else None,
            "identity_dlib": mean(self.identity),
            "identity_dlib_max": round(float(np.max(self.identity)), 4) if self.identity else None,
            "outside": mean(self.outside),
            "flicker": mean(self.flicker),
            "frames": self.frames,
            "frames_read": int(ok.sum()),
        }


def face_box(landmarks: np.ndarray, shape: tuple[int, ...], grow: float = 1.6) -> tuple[int, int, int, int]:
    """A square around the face, `grow` × its longer side, clipped to the frame: what the recognisers see."""
    (x0, y0), (x1, y1) = landmarks.min(0), landmarks.max(0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, grow * max(x1 - x0, y1 - y0) / 2
    h, w = shape[:2]
    return max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half))


def open_clip(path: Path) -> tuple[cv2.VideoCapture, float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MissingFileError(f"{path}: cannot open the clip; give a video file OpenCV can read")
    return cap, cap.get(cv2.CAP_PROP_FPS) or 25.0


def edit_names(attributes: tuple[str, ...], strengths: tuple[float, ...]) -> list[tuple[str, str, np.ndarray]]:
    """("age+2", "age", Δ) for every attribute and strength."""
    out = []
    for i, attr in enumerate(attributes):
        for s in strengths:
            delta = np.zeros(len(attributes), np.float32)
            delta[i] = s
            out.append((f"{attr}{s:+g}", attr, delta))
    return out


class VideoEvaluator:
    """Runs the stages over clips and judges the outputs; one per run (it owns the recognisers)."""

    def __init__(self, engines, template: AlignmentTemplate, stream: StreamConfig, config: VideoEvalConfig):
        self.engines = engines
        self.template = template
        self.stream = stream
        self.config = config
        self.labeller = FaceLabeller()
        self.identity = DlibIdentity()
        unknown = sorted(set(config.only) - set(engines.attributes))
        if unknown:
            raise ConfigError(f"--attributes {','.join(unknown)}: the mapper has no such attribute; pick from "
                              f"{','.join(engines.attributes)}")
        self.edits = [e for e in edit_names(engines.attributes, config.strengths) if not config.only or e[1] in config.only]
        self.attributes = tuple(a for a in engines.attributes if not config.only or a in config.only)

    def reading(self, attr: str) -> tuple[str, str] | None:
        """(labeller key, unit) that judges an attribute, or None when no recogniser reads it."""
        key = RECOGNISER.get(attr, attr)
        return (key, UNITS.get(key, "labeller units")) if key in self.labeller.keys else None

    def label(self, crops: list[np.ndarray]) -> dict[str, np.ndarray]:
        rgb = np.stack([cv2.cvtColor(cv2.resize(c, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
                        for c in crops])
        return self.labeller.label(rgb)

    def evaluate(self, clip: Path, out_dir: Path) -> dict:
        cap, fps = open_clip(clip)
        cfg = self.stream
        tracker = FaceTracker(1, cfg.mesh_width, cfg.landmark_min_cutoff, cfg.landmark_beta)
        detect, align = DetectStage(tracker), AlignStage(self.template)
        encode = EncodeStage(self.engines.encoder, cfg.latent_smoothing)
        geometric = geometric_edit(cfg, self.engines.attributes)
        glasses = drawn_glasses(cfg, self.engines.attributes)
        generate = GenerateStage(self.engines.editor, geometric, glasses)
        mesh_flow = MeshFlowStage(geometric) if cfg.uses_mesh_flow() else None
        blends = {name: BlendStage(cfg.blend, cfg.feather, cfg.colour_match, cfg.occlusion,
                                   outline=mesh_flow is not None, glasses=glasses) for name, _, _ in self.edits}
        tallies = {name: EditTally() for name, _, _ in self.edits}
        n = self.config.frames
        sheet_at = sorted({min(n - 1, int(f * n)) for f in self.config.sheet_frames})
        sheet: dict[int, dict[str, np.ndarray]] = {}
        previous_raw = None
        faces_found = frames_read = 0
        motions: list[float] = []
        progress = tqdm(total=n, desc=clip.name, unit="face frame")
        while faces_found < n and frames_read < self.config.max_frames:
            ok, raw = cap.read()
            if not ok:
                break
            i, frames_read = frames_read, frames_read + 1
            frame = Frame(i, raw, 0.0, i / fps)
            detect.process(frame)
            align.process(frame)
            frame.delta, frame.bypass = np.zeros(len(self.engines.attributes), np.float32), False
            encode.process(frame)
            if not frame.faces:
                previous_raw = None
                for t in tallies.values():
                    t.previous = None
                continue
            faces_found += 1
            progress.update()
            face = frame.faces[0]
            lm = face.track.landmarks
            x0, y0, x1, y1 = box = face_box(lm, raw.shape)
            outputs = {}
            for name, _, delta in self.edits:
                work = Frame(i, raw, 0.0, i / fps, faces=[FaceWork(face.track, face.crop, face.frame_to_crop, face.latent)])
                work.delta = delta
                generate.process(work)
                if mesh_flow is not None:
                    mesh_flow.process(work)
                blends[name].process(work)
                outputs[name] = work.output
            names = [name for name, _, _ in self.edits]
            read = faces_found % self.config.label_every == 1 % self.config.label_every
            judge_identity = faces_found % self.config.identity_every == 1 % self.config.identity_every
            labels = self.label([raw[y0:y1, x0:x1]] + [outputs[n][y0:y1, x0:x1] for n in names]) if read else {}
            lm_box = (*lm.min(0), *lm.max(0))
            raw_id = self.identity.descriptor(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), lm_box) if judge_identity else None
            # outside: past the region the blend may touch (a head turn moves the hair and ears around the face)
            rx0, ry0, rx1, ry1 = face_region(lm, raw.shape, margin=TURN_MARGIN if geometric is not None else 0.15)
            outside = np.ones(raw.shape[:2], bool)
            outside[ry0:ry1, rx0:rx1] = False
            raw_motion = (np.abs(raw[y0:y1, x0:x1].astype(np.int16) - previous_raw[y0:y1, x0:x1]).mean()
                          if previous_raw is not None else None)
            if raw_motion is not None:
                motions.append(float(raw_motion))
            for k, (name, attr, _) in enumerate(self.edits):
                out, tally = outputs[name], tallies[name]
                judge = self.reading(attr)
                if judge is not None and labels:
                    tally.readings.append((float(labels[judge[0]][0]), float(labels[judge[0]][k + 1])))
                if raw_id is not None:
                    tally.identity.append(self.identity.distance(
                        raw_id, self.identity.descriptor(cv2.cvtColor(out, cv2.COLOR_BGR2RGB), lm_box)))
                tally.frames += 1
                tally.outside.append(float(np.abs(out[outside].astype(np.int16) - raw[outside]).mean()))
                if tally.previous is not None and raw_motion is not None:
                    out_motion = np.abs(out[y0:y1, x0:x1].astype(np.int16) - tally.previous[y0:y1, x0:x1]).mean()
                    tally.flicker.append(float(out_motion - raw_motion))
                tally.previous = out
            previous_raw = raw
            if faces_found - 1 in sheet_at:
                sheet[i] = {"raw": raw[y0:y1, x0:x1], **{n: outputs[n][y0:y1, x0:x1] for n in names}}
        tracker.close()
        if mesh_flow is not None:
            mesh_flow.close()
        cap.release()
        progress.close()
        result = {
            "clip": str(clip),
            "frames": frames_read,
            "frames_with_face": faces_found,
            "blend": cfg.blend,
            "mesh_flow": cfg.uses_mesh_flow(),
            "mesh_flow_missed": mesh_flow.maker.missed if mesh_flow is not None else None,
            "attributes": list(self.engines.attributes),
            "identity_judge": f"dlib 128-D descriptor distance (same person < {SAME_PERSON})",
            "units": "outside and flicker: mean absolute change in 0…255 pixel units",
            "face_motion": round(float(np.mean(motions)), 4) if motions else None,  # the raw face's own
            "edits": {name: tallies[name].summary((self.reading(attr) or (None, None))[1]) for name, attr, _ in self.edits},
        }
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = clip.stem
        if sheet:
            result["sheet"] = str(write_sheet(out_dir / f"{stem}_sheet.png", sheet, self.attributes,
                                              self.config.strengths))
        (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        return result

    def close(self) -> None:
        self.labeller.close()


def tile(image: np.ndarray, text: str) -> np.ndarray:
    t = cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_AREA if image.shape[0] > TILE else cv2.INTER_CUBIC)
    cv2.putText(t, text, (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(t, text, (4, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return t


def write_sheet(path: Path, sheet: dict[int, dict[str, np.ndarray]], attributes: tuple[str, ...],
                strengths: tuple[float, ...]) -> Path:
    """Rows: attributes; columns: raw, then each strength, for each sheet frame."""
    rows = []
    for attr in attributes:
        cells = []
        for i, crops in sheet.items():
            cells.append(tile(crops["raw"], f"raw f{i}"))
            cells += [tile(crops[f"{attr}{s:+g}"], f"{attr}{s:+g}") for s in strengths]
        rows.append(np.concatenate(cells, 1))
    cv2.imwrite(str(path), np.concatenate(rows, 0))
    return path


def clips_in(video: Path | None, videos: Path | None) -> list[Path]:
    """The clips asked for: one file, or every video in a folder."""
    if video is not None:
        if not video.is_file():
            raise MissingFileError(f"--video {video}: no such file")
        return [video]
    found = sorted(p for p in videos.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv", ".webm"))
    if not found:
        raise MissingFileError(f"--videos {videos}: no .mp4/.mov/.avi/.mkv/.webm files in it")
    return found


def write_summary(results: list[dict], path: Path) -> Path:
    """One Markdown table over clips: per edit, the target change, identity, outside and added flicker."""
    lines = ["| clip | edit | target | unit | identity (dlib) | outside | flicker (face's own motion) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    fmt = lambda v, f="{:+.3f}": "n/a" if v is None else f.format(v)  # noqa: E731
    for r in results:
        clip = Path(r["clip"]).name
        for name, e in r["edits"].items():
            lines.append(f"| {clip} | {name} | {fmt(e['target'])} | {e['unit'] or 'no recogniser'} | "
                         f"{fmt(e['identity_dlib'], '{:.3f}')} | {fmt(e['outside'], '{:.3f}')} | "
                         f"{fmt(e['flicker'])} ({fmt(r.get('face_motion'), '{:.2f}')}) |")
    path.write_text("\n".join(lines) + "\n")
    return path
