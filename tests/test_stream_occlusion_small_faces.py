"""Real clips made by scripts/make_test_clips.py (tests/data/README.md): a cup moved across a face gets
no edit painted on it while a smiling uncovered face keeps its edit, a 35-px face is found and edited, and a
clip without faces says so."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from commands import main_demo
from stream_media import (BACKEND, TEMPLATE, engine_flags, no_face_frame, read_video, write_engine_checkpoints,
                          write_video)

from engines.config import EngineConfig
from engines.profiles import PIPELINE_NETWORKS, load_engines
from project import ATTRIBUTES
from stream.alignment import AlignmentTemplate
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.stages import AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage

DATA = Path(__file__).parent / "data"


def age_and_beard(strength: float) -> np.ndarray:
    """Δ with age and beard at `strength`: the lower face changes most."""
    delta = np.zeros(len(ATTRIBUTES), np.float32)
    delta[[ATTRIBUTES.index("age"), ATTRIBUTES.index("beard")]] = strength
    return delta


@pytest.fixture(scope="module")
def engines_config(tmp_path_factory):
    return write_engine_checkpoints(tmp_path_factory.mktemp("engines"))


@pytest.fixture(scope="module")
def shipped_config(tmp_path_factory):
    """The shipped encoder, mapper and generator: occlusion is judged against a real inversion G(w)."""
    return EngineConfig(backend="torch", threads=1, cache_dir=tmp_path_factory.mktemp("cache"))


def edited_clip(frames: list[np.ndarray], engines_config, occlusion: bool, delta: np.ndarray) -> list[np.ndarray]:
    """The pipeline's stages, frame by frame, in warp mode."""
    engines = load_engines(engines_config, verbose=False, networks=PIPELINE_NETWORKS)
    tracker = FaceTracker(1)
    stages = [DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5),
              GenerateStage(engines.editor), BlendStage("warp", 0.12, True, occlusion)]
    outs = []
    for i, image in enumerate(frames):
        frame = Frame(i, image, 0.0, i / 30)
        frame.delta, frame.bypass = delta, False
        for stage in stages:
            stage.process(frame)
        outs.append(frame.output)
    tracker.close()
    return outs


def test_no_edit_is_painted_on_a_cup_passing_over_the_mouth(shipped_config):
    frames = read_video(DATA / "occluded_face.mp4")[:36]
    disc = np.load(DATA / "occluder.npz")
    delta = age_and_beard(2.0)
    faded = edited_clip(frames, shipped_config, True, delta)
    painted = edited_clip(frames, shipped_config, False, delta)
    yy, xx = np.mgrid[: frames[0].shape[0], : frames[0].shape[1]]
    on_cup_faded, on_cup_painted, off_cup_faded, off_cup_painted = [], [], [], []
    for i in range(14, 36):  # the cup is over the lower face from about frame 14 on
        cx, cy = disc["centres"][i]
        r = float(disc["diameter"]) / 2
        cup = (xx - cx) ** 2 + (yy - cy) ** 2 < (0.8 * r) ** 2
        near = ((xx - cx) ** 2 + (yy - cy) ** 2 > (1.6 * r) ** 2) & (np.abs(yy - cy) < 3 * r) & (np.abs(xx - 300) < 60)
        for out, on, off in ((faded[i], on_cup_faded, off_cup_faded), (painted[i], on_cup_painted, off_cup_painted)):
            diff = np.abs(out.astype(int) - frames[i].astype(int)).mean(2)
            on.append(diff[cup].mean())
            off.append(diff[near].mean())
    assert np.mean(on_cup_painted) > 1.0  # without the fade the edit lands on the cup
    assert np.mean(on_cup_faded) < 0.4 * np.mean(on_cup_painted)  # measured 0.0 vs 14.6
    assert np.mean(off_cup_faded) > 0.7 * np.mean(off_cup_painted)  # the uncovered face keeps its edit: 7.8 vs 8.2


def test_a_smile_is_not_taken_for_an_occluder(shipped_config):
    """A real face breaking into a wide smile with nothing over it keeps its edit: the mouth departs from the
    face's memory, but no further than the face's own changes go."""
    frames = read_video(DATA / "smiling_face.mp4")
    delta = age_and_beard(2.0)
    faded = edited_clip(frames, shipped_config, True, delta)
    painted = edited_clip(frames, shipped_config, False, delta)
    # the edit changes nothing outside the face: a frame's summed change is its face's
    change = [(np.abs(f.astype(int) - raw).sum(), np.abs(p.astype(int) - raw).sum())
              for f, p, raw in zip(faded, painted, frames)]
    assert sum(a for a, _ in change) > 0.95 * sum(b for _, b in change)  # measured 0.99
    assert min(a / b for a, b in change) > 0.8  # the worst frame; measured 0.86


def test_a_35_px_face_is_found_by_the_fallback_and_edited(engines_config):
    frames = read_video(DATA / "small_face.mp4")[:20]
    tracker = FaceTracker(1)
    assert not any(tracker.raw_landmarks(f) for f in frames[:5])  # the mesh alone never finds it
    widths = []
    for i, f in enumerate(frames):
        tracks = tracker.update(f, i / 30)
        if tracks:
            widths.append(tracks[0].width)
            x0, y0, x1, y1 = tracks[0].box
            assert 200 <= x0 and x1 <= 200 + 148 and 170 <= y0 and y1 <= 170 + 83  # inside the pasted picture
    counts = tracker.counts()
    tracker.close()
    assert len(widths) >= 18 and 25 < np.median(widths) < 45
    assert counts["faces_found"] == len(widths) and counts["small_faces_found"] == len(widths)
    outs = edited_clip(frames, engines_config, True, age_and_beard(2.0))
    changed = [np.abs(o.astype(int) - f.astype(int)).max() > 10 for o, f in zip(outs, frames)]
    assert sum(changed) >= 15


def test_demo_warns_when_a_clip_has_frames_but_no_face(tmp_path, engines_config, recording_camera, capsys):
    clip = write_video(tmp_path / "coffee.avi", [np.roll(no_face_frame(), 3 * i, axis=1) for i in range(4)])
    report = tmp_path / "report.json"
    rc = main_demo(["--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--report", str(report),
                    "--virtualcam", "--set", f'stream.virtualcam_backend="{BACKEND}"', *engine_flags(engines_config)])
    assert rc == 0
    assert "warning: no face found in any of the 4 frames" in capsys.readouterr().out
    counts = json.loads(report.read_text())["face_detection"]
    assert counts == {"frames": 4, "faces_found": 0, "small_faces_found": 0}
