"""Faults in what comes in: damaged frames, faces that leave, crowd, hide or turn away, and an
engine that raises. Real video files through the whole demo path with the shipped models; a recording
virtual camera must get one frame of the input's size for every frame in, a raw one where no edit is possible."""
from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest
from commands import main_demo
from reliability_media import FailingEngine, crowd_frame, damage_mjpeg_frames, hand_over, turned_head, yaw_homography
from stream_media import (BACKEND, TEMPLATE, RecordingCamera, astronaut_bgr, face_box_mask, hull_mask, mesh_landmarks,
                          moving_face_clip, no_face_frame, read_video, virtualcam_flags, webcam_frame, write_video)

from stream.alignment import AlignmentTemplate, align_face, face_keypoints
from stream.blending import blend_delta, blend_replace
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.pipeline import MAX_FAILED_IN_A_ROW, StageFailure
from stream.session import Controls, Session
from stream.sinks import VirtualCameraSink

EDIT = "age=+2,beard=+2,glasses=+2"
PIPELINE_THREADS = {"capture", "faces", "latents", "ffmpeg-writer"}


pytestmark = pytest.mark.usefixtures("recording_camera")


def run_demo(tmp_path, frames: list[np.ndarray], *extra: str, damage=None) -> tuple[dict, list, list]:
    """The demo over a clip of these frames (`damage(path)` may then corrupt it):
    (report, frames as decoded from the clip, frames the camera got)."""
    clip = write_video(tmp_path / "in.avi", frames)
    if damage is not None:
        damage(clip)
    report = tmp_path / "report.json"
    rc = main_demo(["--input", str(clip), "--output", "", "--report", str(report), "--engine", "torch",
                    "--edit", EDIT, *virtualcam_flags(), *extra])
    assert rc == 0
    return json.loads(report.read_text()), read_video(clip), RecordingCamera.received


def face_change(src: np.ndarray, out: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean absolute change inside the face hull."""
    diff = np.abs(out.astype(int) - src.astype(int)).mean(2)
    return float(diff[hull_mask(src.shape, [landmarks])].mean())


def change_outside(src: np.ndarray, out: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(out.astype(int) - src.astype(int)).mean(2)[~mask].mean())


def assert_one_out_per_frame_in(inputs: list[np.ndarray], outputs: list[np.ndarray], report: dict) -> None:
    assert len(outputs) == len(inputs) == report["frames"]
    assert all(o.shape == inputs[0].shape and o.dtype == np.uint8 for o in outputs)
    assert report["stage_failures"] == {"faces": 0, "latents": 0, "output": 0}


def test_damaged_frames_go_out_raw_and_editing_resumes_after_them(tmp_path):
    faces = moving_face_clip(10)
    frames = [*faces[:6], np.zeros_like(faces[0]), np.full_like(faces[0], 128), *faces[6:]]
    report, inputs, outputs = run_demo(tmp_path, frames, damage=lambda p: damage_mjpeg_frames(p, 3, 4))
    assert_one_out_per_frame_in(inputs, outputs, report)
    assert np.abs(inputs[4].astype(int) - faces[4]).mean() > 10  # the damage is real
    np.testing.assert_array_equal(outputs[6], inputs[6])  # black
    np.testing.assert_array_equal(outputs[7], inputs[7])  # grey
    for i in (0, 9, 11):
        assert face_change(inputs[i], outputs[i], mesh_landmarks(inputs[i])[0]) > 1.0, i


def test_a_face_leaving_through_the_edge_and_coming_back(tmp_path):
    face, room = webcam_frame(astronaut_bgr()), no_face_frame()

    def slid(dx: int) -> np.ndarray:  # the face frame slid dx px right over the empty room
        out = room.copy()
        out[:, dx:] = face[:, : 640 - dx]
        return out

    frames = [slid(dx) for dx in (0, 60, 120, 180, 240, 300, 360, 420, 480)] + [room] * 3 + [slid(0)] * 4
    report, inputs, outputs = run_demo(tmp_path, frames)
    assert_one_out_per_frame_in(inputs, outputs, report)
    for i in (9, 10, 11):
        np.testing.assert_array_equal(outputs[i], inputs[i])
    assert face_change(inputs[0], outputs[0], mesh_landmarks(inputs[0])[0]) > 1.0
    assert face_change(inputs[-1], outputs[-1], mesh_landmarks(inputs[-1])[0]) > 1.0
    assert report["faces_edited"] >= 6


def test_every_face_of_a_crowd_is_edited_and_nothing_else(tmp_path):
    frame = crowd_frame()
    report, inputs, outputs = run_demo(tmp_path, [frame] * 4, "--faces", "all")
    assert_one_out_per_frame_in(inputs, outputs, report)
    landmarks = mesh_landmarks(inputs[-1], faces=8)
    assert len(landmarks) == 4
    assert report["faces_edited"] == 16
    assert all(face_change(inputs[-1], outputs[-1], lm) > 1.0 for lm in landmarks)
    assert change_outside(inputs[-1], outputs[-1], hull_mask(frame.shape, landmarks, grow=6)) < 0.05


def test_a_hand_over_the_face_changes_nothing_outside_the_face(tmp_path):
    clean = moving_face_clip(12)
    centre = mesh_landmarks(clean[0])[0].mean(0).astype(int)
    frames = [*clean[:3]] + [hand_over(f, (centre[0] + dx, centre[1] + 60 - 20 * k), 110)
                             for k, (f, dx) in enumerate(zip(clean[3:9], (-40, -20, 0, 0, 20, 40)))] + clean[9:]
    report, inputs, outputs = run_demo(tmp_path, frames)
    assert_one_out_per_frame_in(inputs, outputs, report)
    for src, out, face in zip(inputs, outputs, clean):
        assert change_outside(src, out, hull_mask(face.shape, mesh_landmarks(face), grow=8)) < 0.1
    assert face_change(inputs[-1], outputs[-1], mesh_landmarks(inputs[-1])[0]) > 1.0


def test_a_head_turned_to_extreme_yaw_and_back(tmp_path):
    face = webcam_frame(astronaut_bgr())
    front = mesh_landmarks(face)[0]
    angles = (0, 25, 45, 60, 75, 85, 60, 30, 0)
    report, inputs, outputs = run_demo(tmp_path, [turned_head(face, a) for a in angles])
    assert_one_out_per_frame_in(inputs, outputs, report)
    for a, src, out in zip(angles, inputs, outputs):
        turned = cv2_perspective(front, yaw_homography((640, 480), a))
        assert change_outside(src, out, face_box_mask(src.shape, [turned], grow=10)) < 0.1, a
    assert face_change(inputs[-1], outputs[-1], mesh_landmarks(inputs[-1])[0]) > 1.0


def cv2_perspective(points: np.ndarray, h: np.ndarray) -> np.ndarray:
    p = np.c_[points, np.ones(len(points))] @ h.T
    return p[:, :2] / p[:, 2:]


def session(engines, clip, **engine_faults) -> Session:
    """A demo-like (every frame) session whose engines are the shipped ones, some wrapped to fail."""
    state = EditState(engines.attributes, {"beard": 2.0, "age": 2.0})
    source = VideoSource(str(clip))
    source.open()
    return Session(StreamConfig(), dataclasses.replace(engines, **engine_faults), AlignmentTemplate.load(TEMPLATE),
                   Controls(state, load_keymap(None, engines.attributes)), source,
                   [VirtualCameraSink(640, 480, 25, backend=BACKEND)], offline=True)


def test_an_engine_raising_on_some_frames_costs_only_their_edit(tmp_path, engines, recording_camera):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(8))
    run = session(engines, clip, editor=FailingEngine(engines.editor, {2, 5}))
    report = run.run()
    inputs = read_video(clip)
    assert len(recording_camera) == 8 and report["frames"] == 8
    assert report["stage_failures"] == {"faces": 0, "latents": 2, "output": 0}
    for i, (src, out) in enumerate(zip(inputs, recording_camera)):
        if i in (2, 5):
            np.testing.assert_array_equal(out, src)
        else:
            assert face_change(src, out, mesh_landmarks(src)[0]) > 1.0, i


def test_an_engine_failing_on_every_frame_stops_the_run_and_releases_everything(tmp_path, engines, recording_camera):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(MAX_FAILED_IN_A_ROW + 10))
    run = session(engines, clip, encoder=FailingEngine(engines.encoder, None))
    with pytest.raises(StageFailure, match="latents stages failed on 30 frames in a row"):
        run.run()
    inputs = read_video(clip)
    assert len(recording_camera) == MAX_FAILED_IN_A_ROW - 1  # raw frames went out until the run gave up
    for src, out in zip(inputs, recording_camera):
        np.testing.assert_array_equal(out, src)
    assert not run.source.is_open
    assert not {t.name for t in threading.enumerate() if t.is_alive()} & PIPELINE_THREADS


@pytest.mark.parametrize("mode", ["delta", "replace"])
def test_a_track_trailing_a_face_out_of_the_frame_blends_nothing(mode):
    """The astronaut's real landmarks carried past the right edge (where a lagging track can leave them):
    the frame comes back untouched instead of the blend raising."""
    frame = webcam_frame(astronaut_bgr())
    template = AlignmentTemplate.load(TEMPLATE)
    render = np.zeros((template.size, template.size, 3), np.float32)
    for dx in (300, 700):
        landmarks = mesh_landmarks(frame)[0] + (dx, 0)
        crop, frame_to_crop = align_face(frame, face_keypoints(landmarks), template)
        out = frame.copy()
        if mode == "delta":
            blend_delta(out, render, render + 0.2, frame_to_crop, landmarks, 0.12)
        else:
            blend_replace(out, crop, render + 0.2, frame_to_crop, landmarks, 0.12, True)
        assert (out != frame).any() == (dx == 300)  # partly inside: edited there; wholly outside: untouched
