"""The soak run: `demo --loop` restarts the clip for as many frames as asked, the run report keeps
latency and memory points over time, and the soak summary finds growth where there is some."""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
from commands import main_demo
from stream_media import REPO, no_face_frame, read_video, virtualcam_flags, write_video

from stream.frame import Frame
from stream.run_stats import HISTORY_EVERY, RunStats, current_rss_mb

SOAK_SCRIPT = REPO / "scripts/soak.py"
_spec = importlib.util.spec_from_file_location("soak", SOAK_SCRIPT)
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)  # the benchmark is a script, not part of the stream package
child_rss_mb, summarise = soak.child_rss_mb, soak.summarise

pytestmark = pytest.mark.usefixtures("recording_camera")


def test_demo_loop_restarts_the_clip_until_the_frame_count(tmp_path, recording_camera):
    clip = write_video(tmp_path / "room.avi", [np.roll(no_face_frame(), 5 * i, axis=1) for i in range(10)])
    report = tmp_path / "r.json"
    assert main_demo(["--input", str(clip), "--loop", "--frames", "25", "--output", "", "--report", str(report),
                      "--engine", "torch", *virtualcam_flags()]) == 0
    inputs = read_video(clip)
    assert len(recording_camera) == 25 and json.loads(report.read_text())["frames"] == 25
    for i, out in enumerate(recording_camera):
        np.testing.assert_array_equal(out, inputs[i % 10])


def stats_with_latency(latency_ms, image: np.ndarray) -> RunStats:
    stats = RunStats(stages=("detect",))
    for i, ms in enumerate(latency_ms):
        done = 100.0 + i / 30
        stats.add(Frame(i, image, done - ms / 1e3, i / 30, {"detect": 3.0}), done)
    return stats


def test_history_points_hold_the_latency_of_their_own_frames(tmp_path):
    image = no_face_frame()
    latency = np.r_[np.full(HISTORY_EVERY, 20.0), np.linspace(30.0, 40.0, HISTORY_EVERY), np.full(500, 5.0)]
    stats = stats_with_latency(latency, image)
    first, second = stats.history
    assert len(stats.history) == 2 and (first["frames"], second["frames"]) == (HISTORY_EVERY, 2 * HISTORY_EVERY)
    assert first["latency_p95_ms"] == pytest.approx(20.0, abs=0.01)
    assert second["latency_p95_ms"] == pytest.approx(np.percentile(latency[HISTORY_EVERY:2 * HISTORY_EVERY], 95), abs=0.01)
    assert second["rss_mb"] == pytest.approx(current_rss_mb(), rel=0.2)
    assert stats.report()["history"] == stats.history


def test_the_soak_summary_finds_latency_that_grows_and_memory_that_does_not():
    image = no_face_frame()
    growing = np.repeat(np.arange(8) * 4.0 + 30.0, HISTORY_EVERY)  # +4 ms per 1000 frames
    summary = summarise(stats_with_latency(growing, image).history, [])
    assert summary["start"]["frames"] == "1001-4000" and summary["end"]["frames"] == "5001-8000"
    assert summary["end"]["latency_p95_ms"] - summary["start"]["latency_p95_ms"] == pytest.approx(4 * 4.0, abs=0.1)
    assert summary["latency_p95_ms_per_10k_frames"] == pytest.approx(40.0, abs=0.5)
    assert abs(summary["rss_mb_per_10k_frames"]) < 5.0
    with pytest.raises(ValueError, match="run at least 7000 frames"):
        summarise(stats_with_latency(growing[:6000], image).history, [])


def test_memory_is_read_the_same_from_inside_and_outside():
    assert child_rss_mb(os.getpid()) == pytest.approx(current_rss_mb(), rel=0.05)
    assert child_rss_mb(2 ** 22 + 12345) is None  # a process that does not exist
