"""A steady edit on a real clip does not flicker: the frame-to-frame change the edit adds in the face region is
no larger than the face's own frame-to-frame change (issue 12's stability criterion)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stream_media import TEMPLATE, read_video

from stream.alignment import AlignmentTemplate
from stream.blending import face_region
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.stages import AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("mesh_flow", [False, True], ids=["optical-flow", "mesh-flow"])
def test_a_steady_edit_adds_less_frame_to_frame_change_than_the_face_has(engines, mesh_flow):
    frames = read_video(DATA / "steady_face.mp4")
    tracker = FaceTracker(1)
    stages = [DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5),
              GenerateStage(engines.editor)] + ([MeshFlowStage()] if mesh_flow else []) + [
              BlendStage("warp", 0.12, True, outline=mesh_flow)]
    delta = np.zeros(len(engines.attributes), np.float32)
    for name, strength in (("age", 1.5), ("beard", 1.5), ("glasses", 1.0)):  # the demo's edit
        delta[engines.attributes.index(name)] = strength
    own, added, edit = [], [], []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for i, image in enumerate(frames):
        frame = Frame(i, image, 0.0, i / 30)
        frame.delta, frame.bypass = delta, False
        for stage in stages:
            stage.process(frame)
        assert frame.faces and frame.faces[0].edited is not None
        x0, y0, x1, y1 = face_region(frame.faces[0].track.landmarks, image.shape, margin=0.15)
        box = lambda img: img[y0:y1, x0:x1].astype(np.float32)  # noqa: E731
        edit.append(float(np.abs(box(frame.output) - box(image)).mean()))
        if previous is not None:
            raw_motion = float(np.abs(box(image) - box(previous[0])).mean())
            own.append(raw_motion)
            added.append(float(np.abs(box(frame.output) - box(previous[1])).mean()) - raw_motion)
        previous = (image, frame.output)
    tracker.close()
    assert np.mean(edit) > 1.0  # the edit shows
    assert np.mean(added) <= np.mean(own)  # and adds less flicker than the face's own motion
