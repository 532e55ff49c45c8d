"""How a run ends: a looped input that vanishes or is replaced is reopened with backoff (live) or
given up after a while (offline), never hanging the run; Ctrl-C, SIGTERM and SIGHUP end a run as the quit key
does, with the report, one summary line and a finished video; a display that does not answer is one
`error:` line naming --no-preview."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from commands import main_demo, main_live
from stream_media import (BACKEND, PIPELINE_THREADS, REPO, TEMPLATE, astronaut_bgr, moving_face_clip, read_video,
                          virtualcam_flags, wait_for, webcam_frame, write_video)

from stream.alignment import AlignmentTemplate
from stream.capture import OFFLINE_GIVE_UP_S, VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.session import Controls, Session
from stream.sinks import VirtualCameraSink

FPS = 15

pytestmark = pytest.mark.usefixtures("recording_camera")


def no_pipeline_threads() -> bool:
    return not {t.name for t in threading.enumerate() if t.is_alive()} & PIPELINE_THREADS


def test_a_looped_file_that_vanishes_and_comes_back_changed_keeps_the_live_run_going(tmp_path, engines,
                                                                                    recording_camera):
    path = write_video(tmp_path / "loop.avi", moving_face_clip(8), fps=FPS)
    source = VideoSource(str(path))
    source.open()
    statuses: list[str] = []
    session = Session(StreamConfig(reconnect_max_s=0.2), engines, AlignmentTemplate.load(TEMPLATE),
                      Controls(EditState(engines.attributes, {"age": 2.0}), load_keymap(None, engines.attributes)),
                      source, [VirtualCameraSink(640, 480, FPS, backend=BACKEND)], loop=True)
    session.capture.on_status = statuses.append
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run()))
    runner.start()
    assert wait_for(lambda: session.capture.captured > 12)  # looped once at least
    path.unlink()
    assert wait_for(lambda: not session.capture.connected.is_set())
    path.write_bytes(b"not a video at all")  # replaced by something unreadable: retried with backoff, no spin
    time.sleep(1.0)
    assert session.capture.is_alive()
    captured = session.capture.captured
    big = [webcam_frame(astronaut_bgr(), scale=3.0, size=(1280, 720)) for _ in range(6)]
    write_video(tmp_path / "hd.avi", big, fps=FPS).replace(path)  # back, at another size
    assert wait_for(lambda: session.capture.captured > captured + 8)
    session.controls.on_key("q")
    runner.join(10.0)
    assert not runner.is_alive() and no_pipeline_threads()
    assert result["ended_by"] == "quit key" and result["frames"] >= 3  # live: the newest frames only
    assert any("reconnecting" in s for s in statuses) and any("is back" in s for s in statuses)
    assert all(f.shape == (480, 640, 3) for f in recording_camera)


def test_an_offline_looped_file_that_vanishes_ends_the_run_with_its_report(tmp_path, capsys):
    clip = write_video(tmp_path / "loop.avi", moving_face_clip(6), fps=FPS)
    report = tmp_path / "report.json"
    gone = threading.Timer(6.0, clip.unlink)  # while the demo loops (engines load in about 3 s)
    gone.start()
    started = time.time()
    code = main_demo(["--input", str(clip), "--loop", "--engine", "torch", "--output", "", "--report", str(report)])
    gone.join()
    assert code == 0 and time.time() - started < 60 + OFFLINE_GIVE_UP_S
    data = json.loads(report.read_text())
    assert data["frames"] > 6 and data["ended_by"] == "end of input"
    out = capsys.readouterr().out
    assert "did not come back" in out and out.strip().splitlines()[-1].startswith(f"{data['frames']} frames")
    assert no_pipeline_threads()


def child_run(tmp_path, *argv: str) -> tuple[subprocess.Popen, object]:
    """`python run.py …` in its own process group with the recording camera; returns (process, frames log)."""
    log = tmp_path / "frames.log"
    command = [sys.executable, str(REPO / "tests/reliability_media.py"), str(log), *argv, *virtualcam_flags()]
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's code, whatever the environment installed
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True), log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_run_with_report_summary_and_a_finished_video(tmp_path, signum):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(30), fps=FPS)
    out, report = tmp_path / "out.mp4", tmp_path / "report.json"
    child, log = child_run(tmp_path, "demo", "--input", str(clip), "--engine", "torch", "--realtime", "--loop",
                           "--output", str(out), "--report", str(report))
    try:
        assert wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 40, timeout=90)
    except AssertionError:
        child.kill()
        raise
    os.killpg(child.pid, signum)  # the whole group, as a terminal does
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    data = json.loads(report.read_text())
    assert data["ended_by"] == signal.Signals(signum).name and data["frames"] >= 40
    assert stdout.strip().splitlines()[-1].startswith(f"{data['frames']} frames")
    assert len(read_video(out)) >= 30  # at most the frames still in flight are cut


def test_a_dead_display_is_one_error_line_naming_no_preview(tmp_path, monkeypatch, capsys):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(3), fps=FPS)
    monkeypatch.setenv("DISPLAY", ":97")  # no X server answers there
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for preview in ([], ["--preview"]):
        assert main_live(["--input", str(clip), "--engine", "torch", "--no-virtualcam", *preview]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and "--no-preview" in err[0] and ":97" in err[0]


def test_no_display_at_all_runs_live_without_a_window(tmp_path, monkeypatch, capsys, recording_camera):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(5), fps=FPS)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main_live(["--input", str(clip), "--engine", "torch", *virtualcam_flags()]) == 0
    assert len(recording_camera) >= 1  # live keeps only the newest frame: some may be dropped
    assert "ended by end of input" in capsys.readouterr().out


def test_a_session_stopped_from_outside_ends_cleanly_and_says_why(tmp_path, engines, recording_camera):
    """Stopped as a closed preview window or a signal stops it: every thread ends and the report says why."""
    source = VideoSource(f"file:{write_video(tmp_path / 'cam.avi', moving_face_clip(10), fps=FPS)}")
    source.open()
    session = Session(StreamConfig(reconnect_max_s=0.2), engines, AlignmentTemplate.load(TEMPLATE),
                      Controls(EditState(engines.attributes), load_keymap(None, engines.attributes)), source,
                      [VirtualCameraSink(640, 480, FPS, backend=BACKEND)])
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run()))
    runner.start()
    assert wait_for(lambda: len(recording_camera) >= 3)
    session.stop("window closed")
    runner.join(10.0)
    assert not runner.is_alive() and no_pipeline_threads()
    assert result["ended_by"] == "window closed" and not source.is_open


@pytest.fixture
def virtual_display(monkeypatch):
    """An Xvfb display for the preview window (skipped where Xvfb is not installed)."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    number = next(n for n in range(90, 200) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{number}"), timeout=20)
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    yield
    server.terminate()
    server.wait(10)


def test_a_destroyed_preview_window_ends_the_run(tmp_path, engines, virtual_display, recording_camera):
    import cv2

    from stream.sinks import PreviewWindowSink

    source = VideoSource(f"file:{write_video(tmp_path / 'cam.avi', moving_face_clip(10), fps=FPS)}")
    source.open()
    state = EditState(engines.attributes)
    controls = Controls(state, load_keymap(None, engines.attributes))
    preview = PreviewWindowSink(state.slider_values(), controls.on_key, state.set_strength)
    session = Session(StreamConfig(reconnect_max_s=0.2), engines, AlignmentTemplate.load(TEMPLATE), controls, source,
                      [VirtualCameraSink(640, 480, FPS, backend=BACKEND), preview], preview, max_frames=40)
    preview.on_closed = lambda: session.stop("window closed")
    shown = preview.send

    def send_then_destroy(frame):  # the window manager (or the user) destroys the window after 3 frames
        shown(frame)
        if len(recording_camera) == 3:
            cv2.destroyWindow(PreviewWindowSink.title)

    preview.send = send_then_destroy
    report = session.run()  # on this thread: HighGUI lives here
    assert report["ended_by"] == "window closed" and 3 <= report["frames"] <= 5  # not the 40 it was allowed
    assert no_pipeline_threads() and not source.is_open
