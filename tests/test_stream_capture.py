"""Capture from real video files: every frame offline, newest-only live, and a source lost then back."""
from __future__ import annotations

import shutil
import time

import pytest
from stream_media import moving_face_clip, write_video

from stream.capture import CaptureError, CaptureThread, VideoSource


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("capture") / "clip.avi", moving_face_clip(20))


def drain(capture: CaptureThread, delay: float = 0.0) -> list:
    frames = []
    while True:
        frame = capture.take(timeout=2.0)
        if frame is None:
            return frames
        frames.append(frame)
        time.sleep(delay)


def test_lossless_capture_delivers_every_frame_in_order_with_timestamps(clip):
    source = VideoSource(str(clip))
    source.open()
    capture = CaptureThread(source, lossless=True, reconnect=False)
    capture.start()
    frames = drain(capture)
    capture.join(2)
    assert [f.index for f in frames] == list(range(20))
    assert all(b.captured_at > a.captured_at for a, b in zip(frames, frames[1:]))
    assert frames[10].media_time == pytest.approx(10 / 25.0)
    assert frames[0].image.shape == (480, 640, 3) and capture.dropped == 0
    assert "capture" in frames[0].stage_ms


def test_live_capture_keeps_only_the_newest_frame_and_counts_drops(clip):
    source = VideoSource(str(clip))
    source.open()
    capture = CaptureThread(source, lossless=False, pace=False, reconnect=False)
    capture.start()
    frames = drain(capture, delay=0.03)  # a consumer slower than the reader
    capture.join(2)
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert capture.dropped > 0
    assert len(frames) + capture.dropped == capture.captured


def test_a_lost_source_is_reopened_with_backoff_when_it_returns(clip, tmp_path):
    # A stream source (not a plain path): when its reader ends the capture treats it as lost, like an
    # unplugged camera. While the file is gone every reopen fails; once it is back, frames flow again.
    path = tmp_path / "camera.avi"
    shutil.copy(clip, path)
    messages: list[str] = []
    source = VideoSource(f"file:{path}")
    source.open()
    assert not source.is_file
    capture = CaptureThread(source, lossless=False, pace=True, reconnect=True, reconnect_max_s=0.2,
                            on_status=messages.append)
    capture.start()
    first = [capture.take(timeout=2.0) for _ in range(3)]
    path.rename(tmp_path / "unplugged.avi")  # gone: the reopen after the clip ends must fail
    deadline = time.time() + 5
    while capture.connected.is_set() and time.time() < deadline:
        capture.take(timeout=0.1)
    assert not capture.connected.is_set()
    time.sleep(0.5)  # several failed attempts with backoff
    assert not capture.connected.is_set()
    (tmp_path / "unplugged.avi").rename(path)  # plugged back in
    assert capture.connected.wait(timeout=3.0)
    after = capture.take(timeout=2.0)
    capture.stop()
    capture.join(2)
    assert all(f is not None for f in first) and after is not None
    assert after.index > first[-1].index
    assert any("lost" in m for m in messages) and any("is back" in m for m in messages)


def test_missing_camera_and_missing_file_say_how_to_fix_it(tmp_path):
    with pytest.raises(CaptureError, match="--camera N"):
        VideoSource(97).open()
    with pytest.raises(CaptureError, match="check the file path"):
        VideoSource(str(tmp_path / "nope.mp4")).open()
