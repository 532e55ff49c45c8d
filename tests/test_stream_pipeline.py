"""The whole live path on real video files with real engines (DCGAN generator, fresh encoder/mapper):
a virtual camera receives every frame; faces are edited, everything else and face-less frames pass through."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from commands import main_demo
from stream_media import (BACKEND, TEMPLATE, engine_flags, face_box_mask, hull_mask, mesh_landmarks, moving_face_clip,
                          no_face_frame, read_video, two_face_frame, wait_for, write_engine_checkpoints, write_video)

from engines.profiles import load_engines
from stream.alignment import AlignmentTemplate
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.session import Controls, Session
from stream.sinks import VirtualCameraSink

pytestmark = pytest.mark.usefixtures("recording_camera")


@pytest.fixture(scope="module")
def engines_config(tmp_path_factory):
    return write_engine_checkpoints(tmp_path_factory.mktemp("engines"))


def demo(tmp_path, engines_config, clip, *extra: str) -> dict:
    report = tmp_path / "report.json"
    rc = main_demo(["--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--report", str(report),
                    "--virtualcam", "--set", f'stream.virtualcam_backend="{BACKEND}"', *engine_flags(engines_config),
                    *extra])
    assert rc == 0
    return json.loads(report.read_text())


def test_demo_edits_faces_only_and_the_virtual_camera_gets_every_frame(tmp_path, engines_config, recording_camera):
    frames = moving_face_clip(12)
    clip = write_video(tmp_path / "face.avi", frames)
    report = demo(tmp_path, engines_config, clip, "--edit", "beard=+2,age=+2")
    inputs = read_video(clip)
    assert len(recording_camera) == 12
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in recording_camera)
    outside, inside = [], []
    for src, out in zip(inputs[::3], recording_camera[::3]):
        landmarks = mesh_landmarks(src)
        diff = np.abs(out.astype(int) - src.astype(int)).mean(2)
        outside.append(diff[~face_box_mask(src.shape, landmarks, grow=6)].mean())
        inside.append(diff[hull_mask(src.shape, landmarks)].mean())
    # the tracked landmarks may sit a few px off the still-image mesh; nothing beyond the face's box changes
    assert max(outside) < 0.05
    assert min(inside) > 2.0
    written = read_video(tmp_path / "out.mp4")
    assert len(written) == 12 and written[0].shape == (480, 640, 3)
    assert report["frames"] == 12 and report["faces_edited"] == 12 and report["dropped"] == 0
    assert set(report["stage_ms"]) == {"capture", "detect", "align", "delta", "encode", "generate", "mesh_flow", "blend",
                                       "sink"}
    assert report["fps"] > 0 and report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
    assert report["edits"] == {"age": 2.0, "beard": 2.0}


def test_frames_without_a_face_pass_through_unchanged(tmp_path, engines_config, recording_camera):
    clip = write_video(tmp_path / "coffee.avi", [np.roll(no_face_frame(), 3 * i, axis=1) for i in range(6)])
    report = demo(tmp_path, engines_config, clip, "--edit", "beard=+2")
    inputs = read_video(clip)
    assert len(recording_camera) == 6
    for src, out in zip(inputs, recording_camera):
        np.testing.assert_array_equal(out, src)
    assert report["faces_edited"] == 0 and report["frames_with_faces"] == 0


@pytest.mark.parametrize("policy,per_frame", [("all", 2), ("largest", 1)])
def test_face_policy_decides_how_many_faces_are_edited(tmp_path, engines_config, policy, per_frame):
    clip = write_video(tmp_path / "two.avi", [two_face_frame()] * 4)
    report = demo(tmp_path, engines_config, clip, "--faces", policy, "--edit", "smile=+1")
    assert report["faces_edited"] == 4 * per_frame


def test_replace_mode_runs_and_stays_inside_the_face(tmp_path, engines_config, recording_camera):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(4))
    demo(tmp_path, engines_config, clip, "--blend", "replace", "--edit", "age=+1")
    src = read_video(clip)[0]
    diff = np.abs(recording_camera[0].astype(int) - src.astype(int)).mean(2)
    mask = hull_mask(src.shape, mesh_landmarks(src), grow=6)
    assert diff[~mask].max() == 0 and diff[mask].mean() > 2.0


def test_virtual_camera_keeps_getting_the_last_frame_while_the_camera_is_lost(tmp_path, engines_config,
                                                                             recording_camera):
    path = write_video(tmp_path / "camera.avi", moving_face_clip(10))
    engines = load_engines(engines_config, verbose=False)
    config = StreamConfig(reconnect_max_s=0.2)
    state = EditState(engines.attributes, {"beard": 1.0})
    controls = Controls(state, load_keymap(None, engines.attributes))
    source = VideoSource(f"file:{path}")  # a stream: its end is a loss, like an unplugged camera
    source.open()
    sink = VirtualCameraSink(640, 480, 25, backend=BACKEND)
    session = Session(config, engines, AlignmentTemplate.load(TEMPLATE), controls, source, [sink])
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run()))
    runner.start()
    assert wait_for(lambda: len(recording_camera) >= 1)  # the camera is streaming
    path.rename(tmp_path / "unplugged.avi")
    assert wait_for(lambda: not session.capture.connected.is_set())
    sent_when_lost = len(recording_camera)
    # The virtual camera sees the last frame repeated, not silence.
    kept_alive = wait_for(lambda: len(recording_camera) - sent_when_lost >= 5)
    (tmp_path / "unplugged.avi").rename(path)
    assert session.capture.connected.wait(5.0)
    wait_for(lambda: session.pipeline.stats.frames > 10)  # a loaded CPU may take a while to get frames through
    state.apply("quit")
    runner.join(10)
    assert kept_alive
    assert all(f.shape == (480, 640, 3) for f in recording_camera)
    assert result["frames"] > 10  # frames flowed again after the camera came back


def test_with_no_edit_active_faces_pass_through_untouched(tmp_path, engines_config, recording_camera):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(4))
    report = demo(tmp_path, engines_config, clip, "--edit", "")
    for src, out in zip(read_video(clip), recording_camera):
        np.testing.assert_array_equal(out, src)
    assert report["frames_with_faces"] == 4 and report["faces_edited"] == 0


def test_a_camera_that_returns_at_another_resolution_still_fits_the_virtual_camera(recording_camera):
    sink = VirtualCameraSink(640, 480, 25, backend=BACKEND)
    small = moving_face_clip(1)[0][::2, ::2].copy()  # 320×240
    sink.send(small)
    sink.close()
    assert recording_camera[0].shape == (480, 640, 3)
