"""The pipeline's stages. Each has the same surface: a `name` and `process(frame)`, which fills in only
the fields of the frame that the stage owns; the worker running it records its milliseconds."""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import cv2
import numpy as np

from engines.engine import Engine, run_batched
from stream.alignment import AlignmentTemplate, align_face, face_keypoints
from stream.blending import blend_delta, blend_replace
from stream.config import StreamConfig
from stream.drawn_glasses import draw_glasses
from stream.edit_state import EditState
from stream.face_tracker import FaceTracker
from stream.frame import FaceWork, Frame
from stream.geometric_edit import GeometricEdit, geometric_flow
from stream.landmark_flow import MeshFlowMaker
from stream.sinks import Sink
from stream.warp_blend import WarpBlender


class Stage(Protocol):
    name: str

    def process(self, frame: Frame) -> None: ...


class DetectStage:
    name = "detect"

    def __init__(self, tracker: FaceTracker):
        self.tracker = tracker

    def process(self, frame: Frame) -> None:
        frame.faces = [FaceWork(track) for track in self.tracker.update(frame.image, frame.media_time)]


class AlignStage:
    name = "align"

    def __init__(self, template: AlignmentTemplate):
        self.template = template

    def process(self, frame: Frame) -> None:
        for face in frame.faces:
            face.crop, face.frame_to_crop = align_face(frame.image, face_keypoints(face.track.landmarks), self.template)


class DeltaStage:
    """Reads the edit state once per frame: the Δ to apply (toggled edits ramp in) and bypass."""

    name = "delta"

    def __init__(self, state: EditState):
        self.state = state

    def process(self, frame: Frame) -> None:
        frame.delta = self.state.step()
        frame.bypass = self.state.bypass


class EncodeStage:
    """Aligned crops → latents, each smoothed over time per face id so the edit does not flicker."""

    name = "encode"

    def __init__(self, encoder: Engine, smoothing: float):
        self.encoder = encoder
        self.smoothing = smoothing
        self.input_name = encoder.inputs[0].name
        self.output_name = encoder.outputs[0].name
        self._latents: dict[int, np.ndarray] = {}

    def process(self, frame: Frame) -> None:
        if frame.bypass or not frame.faces:
            self._latents = {}
            return
        crops = np.stack([cv2.cvtColor(f.crop, cv2.COLOR_BGR2RGB) for f in frame.faces])
        images = crops.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
        latents = run_batched(self.encoder, {self.input_name: images})[self.output_name]
        seen: dict[int, np.ndarray] = {}
        for face, latent in zip(frame.faces, latents):
            previous = self._latents.get(face.track.id)
            face.latent = latent if previous is None else self.smoothing * previous + (1.0 - self.smoothing) * latent
            seen[face.track.id] = face.latent
        self._latents = seen


def geometric_edit(cfg: StreamConfig, attributes: Sequence[str]) -> GeometricEdit | None:
    """What the stream's warp draws as geometry, or None when it draws nothing (not warp mode with the mesh)."""
    drawn = GeometricEdit.of(attributes, cfg)
    return drawn if drawn.index else None


def drawn_glasses(cfg: StreamConfig, attributes: Sequence[str]) -> int | None:
    """Where glasses sit in Δ when a + glasses strength is drawn on the mesh (stream/drawn_glasses.py), else None."""
    return list(attributes).index("glasses") if cfg.drawn_glasses and "glasses" in attributes else None


class GenerateStage:
    """Both renders, G(w) and G(f(w, Δ)), from the fused mapper+generator engine in one call. With a
    GeometricEdit the warp draws some edits (a head turn, a smile) as geometry, so the mapper is asked Δ without
    them (a 64-px generator's turn or smile only adds a blurred second face or a pasted bar to the warp's); with
    `glasses` (its index in Δ) + glasses is drawn after the blend, so the mapper is asked only glasses' − side."""

    name = "generate"

    def __init__(self, editor: Engine, geometric: GeometricEdit | None = None, glasses: int | None = None):
        self.editor = editor
        self.geometric = geometric
        self.glasses = glasses
        self.non_finite = 0  # faces whose renders were not finite, left unedited

    def process(self, frame: Frame) -> None:
        faces = [f for f in frame.faces if f.latent is not None]
        if frame.bypass or not faces or not np.any(frame.delta):
            return  # nothing to change: the frame passes through as the camera gave it
        latents = np.stack([f.latent for f in faces]).astype(np.float32)
        deltas = np.repeat(frame.delta[None].astype(np.float32), len(faces), 0)
        if self.geometric is not None:
            deltas[:, self.geometric.indices()] = 0.0
        if self.glasses is not None:
            deltas[:, self.glasses] = np.minimum(deltas[:, self.glasses], 0.0)
        out = run_batched(self.editor, {"latent": latents, "delta": deltas})
        for face, original, edited in zip(faces, out["original"], out["edited"]):
            if not (np.isfinite(original).all() and np.isfinite(edited).all()):
                self.non_finite += 1  # a NaN render would paint the face black: that face goes out unedited
                if self.non_finite == 1:
                    print(f"warning: the editor gave NaN or infinite pixels on frame {frame.index}; "
                          "such faces go out unedited")
                continue
            face.original = original.transpose(1, 2, 0)[..., ::-1]
            face.edited = edited.transpose(1, 2, 0)[..., ::-1]


class MeshFlowStage:
    """The face mesh on both renders of each edited face and the dense flow between its landmarks, for the
    warp blend; a face whose renders the mesh misses keeps no mesh flow (the blend uses optical flow). With a
    GeometricEdit, the moves it draws (a head turn, a smile) ride on the same mesh as its `pose` flow."""

    name = "mesh_flow"

    def __init__(self, geometric: GeometricEdit | None = None):
        self.maker = MeshFlowMaker()
        self.geometric = geometric or GeometricEdit()

    def process(self, frame: Frame) -> None:
        moves = self.geometric.asked(frame.delta)
        for face in frame.faces:
            if face.edited is None:
                continue
            face.mesh_flow = made = self.maker(face.original, face.edited)
            if made is not None and moves.any():
                made.pose = geometric_flow(made.points, moves, face.original.shape[0])

    def close(self) -> None:
        self.maker.close()


class BlendStage:
    """The edited faces into the frame. `in_place` edits the captured image itself, for a stream whose raw
    frame is not needed again: no whole-frame copy, so the cost follows the faces, not the frame's size. With
    `glasses` (its index in Δ) a + glasses strength is drawn on each edited face's mesh after the blend, where the
    warp moved it and not over what covers it."""

    name = "blend"

    def __init__(self, mode: str, feather: float, colour_match: bool, occlusion: bool = True, in_place: bool = False,
                 outline: bool = False, glasses: int | None = None):
        self.mode = mode
        self.glasses = glasses
        self.feather = feather
        self.colour_match = colour_match
        self.in_place = in_place
        # outline: the faces may come with the mesh's flow, which moves the face's outline past its hull
        self.warp = WarpBlender(feather, occlusion, outline=outline) if mode == "warp" else None

    def process(self, frame: Frame) -> None:
        faces = [f for f in frame.faces if f.edited is not None]
        if frame.bypass or not faces:
            frame.output = frame.image
            return
        out = frame.image if self.in_place else frame.image.copy()
        if self.warp is not None:
            self.warp.blend(out, faces, frame.media_time)
        else:
            for face in faces:
                if self.mode == "delta":
                    blend_delta(out, face.original, face.edited, face.frame_to_crop, face.track.landmarks, self.feather)
                else:
                    blend_replace(out, face.crop, face.edited, face.frame_to_crop, face.track.landmarks, self.feather,
                                  self.colour_match)
        strength = 0.0 if self.glasses is None or frame.delta is None else float(frame.delta[self.glasses])
        if strength > 0:
            for face in faces:
                self.draw_glasses(out, face, strength)
        frame.output = out

    def draw_glasses(self, out: np.ndarray, face: FaceWork, strength: float) -> None:
        points, keep = face.track.landmarks, None
        if self.warp is not None:
            points = self.warp.follow(face.track.id, face.frame_to_crop, points)
            keep = self.warp.keep_of(face.track.id)
        draw_glasses(out, points, strength, keep, face.frame_to_crop)


class SinkStage:
    """Sends each frame to every sink still on. A sink that fails (disk full, ffmpeg gone, window lost) is
    closed, which finishes its file, and turned off with one warning; the others go on. Never raises."""

    name = "sink"

    def __init__(self, sinks: Sequence[Sink], warn: Callable[[str], None] = print):
        self.sinks = list(sinks)  # the sinks still on
        self.failed: dict[str, str] = {}  # sink name → what went wrong
        self.warn = warn

    def process(self, frame: Frame) -> None:
        self.send(frame.output)

    def send(self, image: np.ndarray, to: Callable[[Sink], bool] | None = None) -> None:
        """To every sink still on, or only to those `to` picks (a repeated frame must not be recorded)."""
        for sink in list(self.sinks):
            if to is not None and not to(sink):
                continue
            try:
                sink.send(image)
            except Exception as e:  # any sink error: that sink is off, the stream is not
                self._turn_off(sink, e)

    def _turn_off(self, sink: Sink, error: Exception) -> None:
        self.sinks.remove(sink)
        self.failed[sink.name] = one_line(error)
        try:
            sink.close()
        except Exception:  # it already failed; the first error is the one to report
            pass
        others = ", ".join(s.name for s in self.sinks)
        self.warn(f"warning: {sink.name} sink failed ({self.failed[sink.name]}); it is off"
                  + (f", the stream goes on to {others}" if others else ""))

    def close(self) -> None:
        """Close the sinks still on (finishing the file); a failure to finish is recorded, not raised."""
        for sink in list(self.sinks):
            self.sinks.remove(sink)
            try:
                sink.close()
            except Exception as e:
                self.failed[sink.name] = one_line(e)
                self.warn(f"warning: {sink.name} sink failed when closing ({self.failed[sink.name]})")


def one_line(error: BaseException) -> str:
    """An exception as one short line (its message's first line, else its type)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
