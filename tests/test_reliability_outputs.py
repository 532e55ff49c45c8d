"""What a run writes: a sink that fails (disk full, ffmpeg killed) is turned off with one warning
while the stream goes on to the others, the video written so far stays playable and the report says what
failed; the output never replaces the input, and an existing output only with --overwrite."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from commands import main_demo
from stream_media import BACKEND, PIPELINE_THREADS, REPO, TEMPLATE, moving_face_clip, read_video, virtualcam_flags, write_video

from stream.alignment import AlignmentTemplate
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.session import Controls, Session
from stream.sinks import VideoFileSink, VirtualCameraSink



@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("outputs") / "face.avi", moving_face_clip(90))


def test_ffmpeg_killed_mid_run_turns_the_file_off_and_the_stream_goes_on(tmp_path, engines, clip, recording_camera,
                                                                         capsys):
    source = VideoSource(str(clip))
    source.open()
    video = VideoFileSink(tmp_path / "out.mp4", 640, 480, 25)
    state = EditState(engines.attributes, {"beard": 2.0})
    session = Session(StreamConfig(), engines, AlignmentTemplate.load(TEMPLATE),
                      Controls(state, load_keymap(None, engines.attributes)), source,
                      [video, VirtualCameraSink(640, 480, 25, backend=BACKEND)], offline=True)

    def kill_ffmpeg_after_60_frames():
        while video.frames < 60:
            time.sleep(0.01)
        os.kill(video._ffmpeg.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_ffmpeg_after_60_frames)
    killer.start()
    report = session.run()
    killer.join()
    assert report["frames"] == 90 and len(recording_camera) == 90  # the virtual camera got every frame, once
    assert "SIGKILL" in report["sink_failures"]["file"] and list(report["sink_failures"]) == ["file"]
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "file sink failed" in warnings[0] and "goes on to virtualcam" in warnings[0]
    assert 20 <= len(read_video(tmp_path / "out.mp4")) < 90  # playable up to the last whole fragment
    assert not {t.name for t in threading.enumerate() if t.is_alive()} & PIPELINE_THREADS


def run_with_file_size_limit(limit: int, *argv: str) -> subprocess.CompletedProcess:
    """`python run.py …` where no file may grow past `limit` bytes: writes beyond it fail as on a full disk."""
    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, str(REPO / "run.py"), *argv], cwd=REPO, capture_output=True, text=True,
                          preexec_fn=limit_files, timeout=300)


@pytest.mark.parametrize("suffix,limit", [(".mp4", 400_000), (".avi", 3_000_000)])
def test_a_full_disk_keeps_the_video_written_so_far_and_the_report(tmp_path, clip, suffix, limit):
    out, report_path = tmp_path / f"out{suffix}", tmp_path / "report.json"
    done = run_with_file_size_limit(limit, "demo", "--input", str(clip), "--engine", "torch", "--output", str(out),
                                    "--report", str(report_path))
    assert done.returncode == 3, done.stderr  # an output failed
    assert "Traceback" not in done.stderr
    report = json.loads(report_path.read_text())
    assert report["frames"] == 90 and report["ended_by"] == "end of input"
    assert "disk is full" in report["sink_failures"]["file"] or "SIGXFSZ" in report["sink_failures"]["file"]
    lines = done.stdout.strip().splitlines()
    assert sum(line.startswith("warning: file sink failed") for line in lines) == 1
    assert lines[-1].startswith("90 frames") and "file sink failed" in lines[-1] and "wrote" in lines[-1]
    assert out.stat().st_size <= limit
    assert 10 <= len(read_video(out)) < 90


def demo_args(clip, *argv: str) -> list[str]:
    return ["--input", str(clip), "--engine", "torch", "--frames", "3", "--report", "", *argv]


def test_the_output_never_replaces_the_input(tmp_path, clip, capsys):
    before = clip.read_bytes()
    link = tmp_path / "same.avi"
    os.link(clip, link)
    for output in (str(clip), str(clip.parent / "." / clip.name), str(link)):
        assert main_demo(demo_args(clip, "--output", output, "--overwrite")) == 2
        assert "is the input file" in capsys.readouterr().err
    assert main_demo(["--input", str(clip), "--engine", "torch", "--output", "", "--report", str(clip)]) == 2
    assert "--report" in capsys.readouterr().err
    assert clip.read_bytes() == before


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path, clip, capsys):
    out = tmp_path / "take.mp4"
    out.write_bytes(b"an earlier take")
    assert main_demo(demo_args(clip, "--output", str(out))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == b"an earlier take"
    assert main_demo(demo_args(clip, "--output", str(out), "--overwrite")) == 0
    assert len(read_video(out)) == 3


@pytest.mark.parametrize("output", ["/proc/x/c.mp4", "/proc/self/status/c.mp4", "/dev/null/c.avi"])
def test_an_output_folder_that_cannot_be_made_is_one_line(capsys, clip, output):
    assert main_demo(demo_args(clip, "--output", output)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and f"--output {output}" in err[0]
    assert "writable folder" in err[0]


def test_a_report_that_cannot_be_written_is_one_line_after_the_summary(capsys, clip):
    assert main_demo(demo_args(clip, "--output", "", "--report", "/dev/full")) == 3  # /dev/full: every write fails
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1].startswith("3 frames")
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write the report /dev/full")


def test_a_virtual_camera_failing_mid_run_leaves_the_file_sink_on(tmp_path, clip, recording_camera, capsys):
    from stream_media import RecordingCamera

    original = RecordingCamera.send

    def send_then_fail(self, frame):
        if len(RecordingCamera.received) >= 5:
            raise RuntimeError("device unplugged")
        original(self, frame)

    RecordingCamera.send = send_then_fail  # the real backend's send, failing from the sixth frame on
    try:
        code = main_demo(["--input", str(clip), "--engine", "torch", "--frames", "12", "--report", "",
                          "--output", str(tmp_path / "out.avi"), *virtualcam_flags()])
    finally:
        RecordingCamera.send = original
    assert code == 3
    assert len(recording_camera) == 5 and len(read_video(tmp_path / "out.avi")) == 12
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("warning:")] == [
        "warning: virtualcam sink failed (device unplugged); it is off, the stream goes on to file"]
