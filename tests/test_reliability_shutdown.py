"""A live run over time: frames keep going out while the camera is gone and after it comes back at
another size, a real-time demo sends every frame without gaps, and quit or Ctrl-C ends a run promptly with
every thread stopped and the capture released."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from reliability_media import FailingEngine
from stream_media import BACKEND, PIPELINE_THREADS, RecordingCamera, virtualcam_flags, wait_for
from stream_media import REPO, TEMPLATE, astronaut_bgr, moving_face_clip, read_video, webcam_frame, write_video

from stream.alignment import AlignmentTemplate
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.pipeline import MAX_FAILED_IN_A_ROW
from stream.session import Controls, Session
from stream.sinks import VirtualCameraSink

FPS = 15


pytestmark = pytest.mark.usefixtures("recording_camera")


def live_session(engines, spec: str, **engine_faults) -> Session:
    """A live session (newest frame only, reconnecting) on a stream source, sending to the recording camera."""
    state = EditState(engines.attributes, {"beard": 2.0, "age": 2.0})
    source = VideoSource(spec)
    source.open()
    return Session(StreamConfig(reconnect_max_s=0.2), dataclasses.replace(engines, **engine_faults),
                   AlignmentTemplate.load(TEMPLATE),
                   Controls(state, load_keymap(None, engines.attributes)), source,
                   [VirtualCameraSink(640, 480, FPS, backend=BACKEND)])


def start(session: Session) -> tuple[threading.Thread, dict]:
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run()), name="test-runner")
    runner.start()
    return runner, result


def assert_ended_cleanly(session: Session, runner: threading.Thread) -> None:
    runner.join(5.0)
    assert not runner.is_alive()
    assert not session.source.is_open
    assert not {t.name for t in threading.enumerate() if t.is_alive()} & PIPELINE_THREADS


def test_camera_gone_then_back_at_another_size_output_never_stops(tmp_path, engines, recording_camera):
    path = write_video(tmp_path / "camera.avi", moving_face_clip(20), fps=FPS)
    session = live_session(engines, f"file:{path}")  # a stream: its end or absence is a lost camera
    runner, result = start(session)
    assert wait_for(lambda: session.pipeline.stats.faces_edited >= 3)
    path.rename(tmp_path / "unplugged.avi")
    assert wait_for(lambda: not session.capture.connected.is_set())
    lost_at = time.perf_counter()
    time.sleep(1.0)  # the camera stays away
    back_at = time.perf_counter()
    big = [webcam_frame(astronaut_bgr(), scale=3.0, centre=(222.0, 150.0), size=(1280, 720)) for _ in range(20)]
    write_video(tmp_path / "hd.avi", big, fps=FPS).rename(path)  # back, now at 1280×720
    assert session.capture.connected.wait(5.0)
    edited_before = session.pipeline.stats.faces_edited
    assert wait_for(lambda: session.pipeline.stats.faces_edited >= edited_before + 3)
    session.controls.on_key("q")
    assert_ended_cleanly(session, runner)
    assert all(f.shape == (480, 640, 3) for f in recording_camera)
    times = np.array(RecordingCamera.times)
    assert np.diff(times).max() < 0.5
    outage = times[(times > lost_at) & (times < back_at)]
    assert len(outage) >= 10 and np.diff(outage).max() < 3 / FPS  # the last frame repeated at the camera's rate
    assert result["frames"] > 6 and result["faces_edited"] >= 6


def test_quit_while_the_camera_is_lost_ends_the_run_at_once(tmp_path, engines, recording_camera):
    path = write_video(tmp_path / "camera.avi", moving_face_clip(10), fps=FPS)
    session = live_session(engines, f"file:{path}")
    runner, _ = start(session)
    assert wait_for(lambda: len(recording_camera) >= 3)
    path.unlink()
    assert wait_for(lambda: not session.capture.connected.is_set())
    time.sleep(0.5)  # reconnect attempts with backoff under way
    session.controls.on_key("q")
    assert_ended_cleanly(session, runner)


def test_a_live_stream_outlives_an_engine_that_fails_on_every_frame(tmp_path, engines, recording_camera):
    """Offline a stage that always fails stops the run; live, the stream goes on unedited instead."""
    frames = moving_face_clip(10)
    path = write_video(tmp_path / "camera.avi", frames, fps=FPS)
    session = live_session(engines, f"file:{path}", encoder=FailingEngine(engines.encoder, None))
    runner, result = start(session)
    assert wait_for(lambda: session.pipeline.failures().get("latents", 0) > 2 * MAX_FAILED_IN_A_ROW)
    session.controls.on_key("q")
    assert_ended_cleanly(session, runner)
    assert result["stage_failures"]["latents"] > 2 * MAX_FAILED_IN_A_ROW and result["faces_edited"] == 0
    inputs = read_video(path)
    assert len(recording_camera) > 2 * MAX_FAILED_IN_A_ROW
    assert all(any(np.array_equal(out, src) for src in inputs) for out in recording_camera[::10])  # raw camera frames


def child_demo(tmp_path, clip, *argv: str) -> tuple[subprocess.Popen, object]:
    """`python run.py demo …` in its own process group with the recording camera; returns (process, log path)."""
    log = tmp_path / "frames.log"
    command = [sys.executable, str(REPO / "tests/reliability_media.py"), str(log), "demo", "--input", str(clip),
               "--engine", "torch", "--report", "", *virtualcam_flags(), *argv]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's code, whatever the environment installed
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True), log


def logged(log) -> np.ndarray:
    """(time, height, width) per frame the child's camera got."""
    return np.loadtxt(log, ndmin=2) if log.exists() and log.stat().st_size else np.zeros((0, 3))


def test_a_realtime_demo_sends_every_frame_at_the_clip_rate(tmp_path):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(45), fps=FPS)
    child, log = child_demo(tmp_path, clip, "--realtime", "--output", "")
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    frames = logged(log)
    assert len(frames) == 45 and (frames[:, 1:] == (480, 640)).all()
    gaps = np.diff(frames[5:, 0])  # after the first frames (engines warming up)
    assert np.median(gaps) == pytest.approx(1 / FPS, rel=0.25)
    assert gaps.max() < 6 / FPS


def test_ctrl_c_ends_a_realtime_run_promptly_and_keeps_the_video_written(tmp_path):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(30), fps=FPS)
    out = tmp_path / "out.mp4"
    child, log = child_demo(tmp_path, clip, "--realtime", "--loop", "--output", str(out))
    try:
        assert wait_for(lambda: len(logged(log)) >= 10, timeout=60)
    except AssertionError:
        child.kill()
        raise
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = child.communicate(timeout=15)
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert len(read_video(out)) >= 10
