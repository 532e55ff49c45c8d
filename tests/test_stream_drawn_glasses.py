"""Glasses drawn on the face mesh (stream/drawn_glasses.py), on a real clip (steady_face.mp4) through the live
stages: glasses +2 reads as glasses to the glasses classifier on the output frames, nothing changes outside the
face region, the mapper is not asked for + glasses (only for −), the glasses ride on a face the warp turns, and
nothing is drawn where the face is covered."""
from __future__ import annotations

from pathlib import Path

import cv2
import skimage.data
import numpy as np
import pytest
from stream_media import TEMPLATE, edits_over_clip, encoded_frame, read_video

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
    flow, generate = MeshFlowStage(geometric), GenerateStage(engines.editor, geometric, glasses)
    blends = {name: BlendStage("warp", cfg.feather, True, outline=True, glasses=glasses) for name in EDITS}
    out: dict[str, list] = {name: [] for name in EDITS}
    for image, face, name, work in edits_over_clip(engines, DATA / "steady_face.mp4", FRAMES, EDITS, generate, flow,
                                                   blends):
        moved = blends[name].warp.follow(face.track.id, face.frame_to_crop, face.track.landmarks)
        out[name].append((image, work.output, face.track.landmarks, moved))
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
    image, frame = encoded_frame(engines, DATA / "steady_face.mp4")
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


def test_no_glasses_on_a_cup_held_over_an_eye(engines):
    """steady_face.mp4 with scikit-image's coffee cup (a real photo, CC0) held still over the right eye from frame
    8 on: through the live stages, the occlusion memory finds it and the glasses are not painted on it, while the
    other eye still gets its rim."""
    frames = read_video(DATA / "steady_face.mp4")[:20]
    cup = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)[10:390, 130:510]
    cfg = StreamConfig()
    geometric, glasses = geometric_edit(cfg, engines.attributes), drawn_glasses(cfg, engines.attributes)
    changes: dict[bool, list[tuple[float, float]]] = {}
    for occlusion in (True, False):
        tracker = FaceTracker(1)
        stages = [DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5),
                  GenerateStage(engines.editor, geometric, glasses), MeshFlowStage(geometric),
                  BlendStage("warp", cfg.feather, True, occlusion, outline=True, glasses=glasses)]
        changes[occlusion] = []
        disc = None
        for i, image in enumerate(frames):
            image = image.copy()
            if i == 0:
                landmarks = tracker.update(image, 0.0)[0].landmarks  # where the eyes are, to place the cup
                tracker.close()
                tracker = stages[0].tracker = FaceTracker(1)
                eye = landmarks[list(EYES["right"]["contour"])].mean(0)
                side = int(2.2 * np.linalg.norm(landmarks[33] - landmarks[133])) | 1
                disc = (int(eye[0]) - side // 2, int(eye[1]) - side // 2, side)
                other = landmarks[list(EYES["left"]["contour"])].mean(0).astype(int)
            x0, y0, side = disc
            yy, xx = np.mgrid[:side, :side]
            on_cup = (xx - side / 2) ** 2 + (yy - side / 2) ** 2 < (side / 2) ** 2
            if i >= 8:
                patch = image[y0:y0 + side, x0:x0 + side]
                patch[on_cup] = cv2.resize(cup, (side, side), interpolation=cv2.INTER_AREA)[on_cup]
            frame = Frame(i, image, 0.0, i / 25)
            frame.delta = np.zeros(len(engines.attributes), np.float32)
            frame.delta[glasses] = 2.0
            raw = image.copy()
            for stage in stages:
                stage.process(frame)
            if i >= 14:
                diff = np.abs(frame.output.astype(int) - raw).max(2)
                inner = (xx - side / 2) ** 2 + (yy - side / 2) ** 2 < (0.4 * side) ** 2
                r = side // 2
                changes[occlusion].append((float(diff[y0:y0 + side, x0:x0 + side][inner].mean()),
                                           float(diff[other[1] - r:other[1] + r, other[0] - r:other[0] + r].mean())))
        tracker.close()
        stages[4].close()
    covered, bare = np.mean(changes[True], 0), np.mean(changes[False], 0)
    assert bare[0] > 5  # without the occlusion cue the rim is painted over the cup
    assert covered[0] < 0.3 * bare[0]  # measured 0.0 against 27.8 levels
    assert covered[1] > 0.7 * bare[1]  # the uncovered eye keeps its glasses (22.4 against 25.5)
