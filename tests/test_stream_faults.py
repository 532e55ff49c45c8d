"""A stage failing on some frames costs those frames their edit, not the stream; a stage failing on
every frame stops the run with one clear error."""
from __future__ import annotations

import numpy as np
import pytest
from stream_media import TEMPLATE, moving_face_clip, write_video

from stream.alignment import AlignmentTemplate
from stream.capture import CaptureThread, VideoSource
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.pipeline import MAX_FAILED_IN_A_ROW, Pipeline, StageFailure
from stream.stages import AlignStage, DetectStage


class BreaksOn:
    """A stage that raises on chosen frame indices (a stand-in for a transient runtime error)."""

    name = "breaks"

    def __init__(self, indices: set[int] | None):
        self.indices = indices

    def process(self, frame: Frame) -> None:
        if self.indices is None or frame.index in self.indices:
            raise RuntimeError(f"transient failure on frame {frame.index}")


class Collect:
    name = "collect"

    def __init__(self):
        self.frames: list[Frame] = []

    def process(self, frame: Frame) -> None:
        self.frames.append(frame)


class BreaksOnFaces(BreaksOn):
    """An output stage that raises on chosen frames while they carry faces, as a blend can on a bad face."""

    def process(self, frame: Frame) -> None:
        if frame.faces:
            super().process(frame)


def pipeline(clip, breaker: BreaksOn, collect: Collect) -> Pipeline:
    source = VideoSource(str(clip))
    source.open()
    tracker = FaceTracker()
    return Pipeline(CaptureThread(source, lossless=True, reconnect=False),
                    face_stages=[DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), breaker],
                    latent_stages=[], output_stages=[collect])


def test_frames_whose_stage_failed_pass_through_and_the_run_goes_on(tmp_path):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(8))
    collect = Collect()
    p = pipeline(clip, BreaksOn({2, 5}), collect)
    stats = p.run()
    assert stats.frames == 8 and [f.index for f in collect.frames] == list(range(8))
    assert p.failures() == {"faces": 2, "latents": 0, "output": 0}
    assert [bool(f.faces) for f in collect.frames] == [True, True, False, True, True, False, True, True]
    assert all(isinstance(f.image, np.ndarray) for f in collect.frames)


def test_a_stage_that_always_fails_stops_the_run(tmp_path):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(MAX_FAILED_IN_A_ROW + 5))
    with pytest.raises(StageFailure, match="faces stages failed on 30 frames in a row"):
        pipeline(clip, BreaksOn(None), Collect()).run()


def test_frames_whose_output_stage_failed_still_go_out_raw(tmp_path):
    clip = write_video(tmp_path / "face.avi", moving_face_clip(6))
    collect = Collect()
    source = VideoSource(str(clip))
    source.open()
    p = Pipeline(CaptureThread(source, lossless=True, reconnect=False),
                 face_stages=[DetectStage(FaceTracker()), AlignStage(AlignmentTemplate.load(TEMPLATE))],
                 latent_stages=[], output_stages=[BreaksOnFaces({1, 4}), collect])
    stats = p.run()
    assert stats.frames == 6 and [f.index for f in collect.frames] == list(range(6))
    assert p.failures() == {"faces": 0, "latents": 0, "output": 2}
    assert [bool(f.faces) for f in collect.frames] == [True, False, True, True, False, True]
