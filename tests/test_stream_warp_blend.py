"""Warp blending on a real face: a moving edit moves the camera's own pixels (no double image), nothing
outside the face changes, a render's colour cast never reaches the frame, and cost stays on the face."""
from __future__ import annotations

import cv2
import numpy as np
from stream_media import TEMPLATE, hull_mask, mesh_landmarks, two_face_frame

from stream.alignment import AlignmentTemplate, align_face, apply_affine, face_keypoints
from stream.blending import blend_delta
from stream.colour import TO_YCC
from stream.face_tracker import FaceTrack
from stream.frame import FaceWork, Frame
from stream.stages import BlendStage
from stream.warp_blend import WarpBlender, blend_warp, make_flow_estimator, render_flow, warp_edit


def shifted(image: np.ndarray, dx: float) -> np.ndarray:
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1], flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def test_flow_between_renders_recovers_a_known_move(face):
    _, _, crop, _ = face
    original = crop.astype(np.float32) / 127.5 - 1.0
    flow = render_flow(make_flow_estimator(), original, shifted(original, 1.5))
    centre = flow[20:44, 20:44]
    assert abs(float(np.median(centre[..., 0])) + 1.5) < 0.2 and abs(float(np.median(centre[..., 1]))) < 0.2


def test_a_moving_edit_moves_the_face_instead_of_painting_a_double_image(face):
    frame, landmarks, crop, m = face
    original = crop.astype(np.float32) / 127.5 - 1.0
    edited = shifted(original, 1.5)  # the "edit" moves the whole face 1.5 crop px right
    out = frame.copy()
    blend_warp(out, warp_edit(make_flow_estimator(), crop, original, edited, apply_affine(m, landmarks), 0.12),
               m, landmarks, 128)
    delta = frame.copy()
    blend_delta(delta, original, edited, m, landmarks, 0.12)
    px = 1.5 / float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # the move in frame pixels (≈ 4.5)
    moved = shifted(frame, px)
    core = hull_mask(frame.shape, [landmarks.mean(0) + 0.5 * (landmarks - landmarks.mean(0))])
    err = lambda img: float(np.abs(img.astype(int) - moved.astype(int))[core].mean())  # noqa: E731
    assert err(out) < 0.5 * err(frame)  # the face really moved towards where the edit put it
    assert err(out) < 0.6 * err(delta)  # and is far closer to the moved face than delta's double image


def test_outside_the_face_is_bit_exact_and_no_change_is_no_change(face):
    frame, landmarks, crop, m = face
    original = crop.astype(np.float32) / 127.5 - 1.0
    edited = original.copy()
    edited[36:] -= 0.4
    dis = make_flow_estimator()
    out = frame.copy()
    blend_warp(out, warp_edit(dis, crop, original, edited, apply_affine(m, landmarks), 0.12), m, landmarks, 128)
    inside = hull_mask(frame.shape, [landmarks])
    diff = np.abs(out.astype(int) - frame.astype(int)).mean(2)
    assert (diff[~inside] == 0).all() and diff[inside].mean() > 4.0
    same = frame.copy()
    blend_warp(same, warp_edit(dis, crop, original, original.copy(), apply_affine(m, landmarks), 0.12), m,
               landmarks, 128)
    np.testing.assert_array_equal(same, frame)


def chroma_shift(out: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> float:
    """Largest mean change of the two chroma channels inside mask (0…255 units)."""
    d = cv2.transform((out.astype(np.float32) - frame.astype(np.float32)), TO_YCC)[mask]
    return float(np.abs(d[:, 1:].mean(0)).max())


def test_a_render_with_a_colour_cast_does_not_tint_either_face():
    frame = two_face_frame()
    template = AlignmentTemplate.load(TEMPLATE)
    faces = []
    for i, lm in enumerate(sorted(mesh_landmarks(frame, faces=2), key=lambda p: p[:, 0].mean())):
        crop, m = align_face(frame, face_keypoints(lm), template)
        original = crop.astype(np.float32) / 127.5 - 1.0
        tinted = np.clip(original + np.array([-0.12, 0.15, -0.12], np.float32), -1, 1)  # green cast
        tinted[36:] -= 0.3  # and a real edit: the lower face darker
        faces.append(FaceWork(FaceTrack(i, lm), crop, m, None, original, tinted))
    assert len(faces) == 2
    warp, delta = Frame(0, frame, 0.0, 0.0, faces=faces), Frame(0, frame, 0.0, 0.0, faces=faces)
    warp.delta = delta.delta = np.ones(6, np.float32)
    BlendStage("warp", 0.12, True).process(warp)
    BlendStage("delta", 0.12, True).process(delta)
    for face in faces:
        inside = hull_mask(frame.shape, [face.track.landmarks])
        assert chroma_shift(delta.output, frame, inside) > 5.0  # the cast, as delta mode paints it
        assert chroma_shift(warp.output, frame, inside) < 1.5  # warp mode: no cast on either face
        luma = cv2.transform(warp.output.astype(np.float32) - frame.astype(np.float32), TO_YCC)[..., 0]
        lower = inside & (np.arange(frame.shape[0])[:, None] > face.track.landmarks[:, 1].mean())
        assert luma[lower].mean() < -5.0  # while the edit itself still shows


def test_a_steady_edit_is_smoothed_over_time(face):
    frame, landmarks, crop, m = face
    original = crop.astype(np.float32) / 127.5 - 1.0
    rng = np.random.default_rng(0)
    blender = WarpBlender(0.12, occlusion=False)
    outs = []
    for i in range(8):  # the same edit each frame, with per-frame render noise as a generator would jitter
        edited = np.clip(original - 0.3 + rng.normal(0, 0.08, original.shape).astype(np.float32), -1, 1)
        out = frame.copy()
        blender.blend(out, [FaceWork(FaceTrack(0, landmarks), crop, m, None, original, edited)], i / 30)
        outs.append(out.astype(int))
    unsmoothed = []
    for _ in range(2):
        edited = np.clip(original - 0.3 + rng.normal(0, 0.08, original.shape).astype(np.float32), -1, 1)
        out = frame.copy()
        WarpBlender(0.12, occlusion=False).blend(out, [FaceWork(FaceTrack(0, landmarks), crop, m, None, original,
                                                                 edited)], 0.0)
        unsmoothed.append(out.astype(int))
    inside = hull_mask(frame.shape, [landmarks])
    steady = np.abs(outs[-1] - outs[-2])[inside].mean()
    jumpy = np.abs(unsmoothed[1] - unsmoothed[0])[inside].mean()
    assert steady < 0.5 * jumpy


def test_flow_on_a_large_render_is_taken_small_and_scaled_back(face):
    _, _, crop, _ = face
    big = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 127.5 - 1.0
    flow = render_flow(make_flow_estimator(), big, shifted(big, 6.0))
    centre = flow[80:176, 80:176]
    assert flow.shape == (256, 256, 2)
    assert abs(float(np.median(centre[..., 0])) + 6.0) < 0.6 and abs(float(np.median(centre[..., 1]))) < 0.6


def test_an_edit_stacked_on_a_padded_canvas_is_the_edit_framed_by_nothing(face):
    _, landmarks, crop, m = face
    original = crop.astype(np.float32) / 127.5 - 1.0
    edit = warp_edit(make_flow_estimator(), crop, original, shifted(original, 1.5), apply_affine(m, landmarks), 0.12)
    layers = edit.stacked()
    np.testing.assert_array_equal(layers, np.dstack([edit.flow, edit.residual, edit.keep, edit.keep]))
    padded = edit.stacked(10)
    assert padded.shape == (84, 84, 7) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[10:-10, 10:-10], layers)
    padded[10:-10, 10:-10] = 0
    assert not padded.any()  # nothing moves or changes on the padding
    assert edit.stacked(0).shape == layers.shape  # a pad no larger than the edit's own adds nothing
