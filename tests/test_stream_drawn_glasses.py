"""Glasses drawn on the face mesh (stream/drawn_glasses.py), on a real clip (steady_face.mp4) through the live
stages: glasses +2 reads as glasses to the glasses classifier on the output frames, nothing changes outside the
face region, the mapper is not asked for + glasses (only for −), the glasses ride on a face the warp turns, and
nothing is drawn where the face is covered."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from stream_media import TEMPLATE, read_video

from recognisers.glasses import GlassesClassifier
from stream.alignment import AlignmentTemplate
from stream.blending import face_region
from stream.config import StreamConfig
from stream.drawn_glasses import EYES, draw_glasses
from stream.edit_state import EditState
from stream.face_tracker import FaceTracker
from stream.frame import FaceWork, Frame
from stream.stages import (AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage,
                           drawn_glasses, geometric_edit)
from stream.warp_blend import OUTLINE_MARGIN, TURN_MARGIN
from test_stream_geometric_edit import mesh_points

DATA = Path(__file__).parent / "data"
FRAMES = 8
EDITS = {"glasses+2": {"glasses": 2.0}, "glasses+1": {"glasses": 1.0}, "yaw+2 glasses+2": {"yaw": 2.0, "glasses": 2.0},
         "yaw+2": {"yaw": 2.0}}


@pytest.fixture(scope="module")
def drawn(engines) -> dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]:
    """edit → (raw frame, output frame, face landmarks, where the blend's warp moved them) per frame."""
    cfg = StreamConfig()
    geometric, glasses = geometric_edit(cfg, engines.attributes), drawn_glasses(cfg, engines.attributes)
    assert glasses == engines.attributes.index("glasses")  # the shipped settings draw glasses
    tracker = FaceTracker(1)
    detect, align = DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE))
    encode, flow = EncodeStage(engines.encoder, 0.5), MeshFlowStage(geometric)
    generate = GenerateStage(engines.editor, geometric, glasses)
    blends = {name: BlendStage("warp", cfg.feather, True, outline=True, glasses=glasses) for name in EDITS}
    out: dict[str, list] = {name: [] for name in EDITS}
    for i, image in enumerate(read_video(DATA / "steady_face.mp4")[:FRAMES]):
        frame = Frame(i, image, 0.0, i / 25)
        for stage in (detect, align, encode):
            stage.process(frame)
        face = frame.faces[0]
        for name, asked in EDITS.items():
            work = Frame(i, image.copy(), 0.0, i / 25, faces=[FaceWork(face.track, face.crop, face.frame_to_crop,
                                                                       face.latent)])
            work.delta = np.zeros(len(engines.attributes), np.float32)
            for attr, strength in asked.items():
                work.delta[engines.attributes.index(attr)] = strength
            for stage in (generate, flow, blends[name]):
                stage.process(work)
            moved = blends[name].warp.follow(face.track.id, face.frame_to_crop, face.track.landmarks)
            out[name].append((image, work.output, face.track.landmarks, moved))
    tracker.close()
    flow.close()
    return out


def glasses_score(frames: list) -> tuple[np.ndarray, np.ndarray]:
    """P(glasses) of the raw and the output face in each frame, by the glasses classifier (its eye band)."""
    classify = GlassesClassifier()
    rgb = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2RGB)  # noqa: E731
    raw = classify(np.stack([rgb(r) for r, _, _, _ in frames]), np.stack([lm for _, _, lm, _ in frames]))
    out = classify(np.stack([rgb(o) for _, o, _, _ in frames]), np.stack([lm for _, _, lm, _ in frames]))
    return raw, out


def test_glasses_plus_two_read_as_glasses_on_the_output(drawn):
    raw, out = glasses_score(drawn["glasses+2"])
    assert raw.max() < 0.2  # the man wears none
    assert np.mean(out >= 0.8) >= 0.8  # measured 1.0 on every frame


def test_glasses_plus_one_are_lighter_than_plus_two(drawn):
    change = {name: np.mean([np.abs(o.astype(int) - r).mean() for r, o, _, _ in drawn[name]])
              for name in ("glasses+1", "glasses+2")}
    assert 0 < change["glasses+1"] < 0.8 * change["glasses+2"]


def test_nothing_changes_outside_the_face_region(drawn):
    for name in ("glasses+2", "glasses+1"):
        for raw, out, landmarks, _ in drawn[name]:
            x0, y0, x1, y1 = face_region(landmarks, raw.shape, OUTLINE_MARGIN)
            outside = np.ones(raw.shape[:2], bool)
            outside[y0:y1, x0:x1] = False
            np.testing.assert_array_equal(out[outside], raw[outside])
    raw, out, landmarks, _ = drawn["yaw+2 glasses+2"][-1]
    x0, y0, x1, y1 = face_region(landmarks, raw.shape, TURN_MARGIN)
    outside = np.ones(raw.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(out[outside], raw[outside])


def eye_centres(points: np.ndarray) -> np.ndarray:
    return np.stack([points[list(eye["contour"]), :2].mean(0) for eye in EYES.values()])


def test_the_glasses_ride_on_the_face_the_warp_turns(drawn):
    """yaw +2 slides the eyes across the face; the anchors follow the warp's own flow to where the face mesh finds
    the eyes on the turned output (without glasses), not where they were on the camera's face."""
    raw, turned, landmarks, _ = drawn["yaw+2"][-1]
    _, _, _, moved = drawn["yaw+2 glasses+2"][-1]
    seen = eye_centres(mesh_points(turned))
    eye_width = np.linalg.norm(landmarks[33] - landmarks[133])
    followed = np.linalg.norm(eye_centres(moved) - seen, axis=1)
    stayed = np.linalg.norm(eye_centres(landmarks) - seen, axis=1)
    assert stayed.max() > 0.3 * eye_width  # the turn moves the eyes
    assert followed.max() < 0.5 * stayed.max() and followed.max() < 0.2 * eye_width
    scores = glasses_score(drawn["yaw+2 glasses+2"][-3:])[1]
    assert scores.min() > 0.8


def test_the_mapper_is_asked_only_for_the_minus_side(engines):
    image = read_video(DATA / "steady_face.mp4")[0]
    tracker = FaceTracker(1)
    frame = Frame(0, image, 0.0, 0.0)
    for stage in (DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5)):
        stage.process(frame)
    tracker.close()
    face, index = frame.faces[0], engines.attributes.index("glasses")

    def render(glasses: float, drawn: int | None) -> np.ndarray:
        work = Frame(0, image, 0.0, 0.0, faces=[FaceWork(face.track, face.crop, face.frame_to_crop, face.latent)])
        work.delta = np.zeros(len(engines.attributes), np.float32)
        work.delta[engines.attributes.index("age")] = 1.0
        work.delta[index] = glasses
        GenerateStage(engines.editor, None, drawn).process(work)
        return work.faces[0].edited

    np.testing.assert_allclose(render(2.0, index), render(0.0, None), atol=1e-5)  # + glasses is drawn
    assert np.abs(render(-2.0, index) - render(-2.0, None)).max() < 1e-5  # − glasses is the mapper's
    assert np.abs(render(2.0, None) - render(0.0, None)).max() > 0.01  # (the mapper does answer + glasses)
    assert drawn_glasses(StreamConfig(drawn_glasses=False), engines.attributes) is None


def test_nothing_is_drawn_where_the_face_is_covered():
    """The blend's occlusion cue (its keep map over the crop): where it says covered, the frame stays the camera's."""
    image = read_video(DATA / "steady_face.mp4")[0]
    tracker = FaceTracker(1)
    landmarks = tracker.update(image, 0.0)[0].landmarks
    tracker.close()
    frame_to_keep = np.float64([[64 / image.shape[1], 0, 0], [0, 64 / image.shape[0], 0]])
    keep = np.ones((64, 64), np.float32)
    keep[:, :32] = 0.0  # the image's left half is covered (a hand over one eye)
    out = image.copy()
    draw_glasses(out, landmarks, 2.0, keep, frame_to_keep)
    left = int(image.shape[1] * 30 / 64)  # a little inside the covered half: the keep map is bilinear
    np.testing.assert_array_equal(out[:, :left], image[:, :left])
    assert np.abs(out.astype(int) - image)[:, image.shape[1] // 2:].max() > 100  # the other eye has its glasses


def test_the_hud_says_the_glasses_are_drawn():
    units = StreamConfig().live_units({"glasses": (0.3, "glasses score")})
    state = EditState(("glasses",), units=units)
    assert state.describe("glasses", 1.0) == "glasses +1.00 (≈ +50 % of the drawn glasses (− side: the mapper))"
    assert StreamConfig(drawn_glasses=False).live_units({"glasses": (0.3, "glasses score")})["glasses"] == \
        (0.3, "glasses score")
