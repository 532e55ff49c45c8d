"""Blending on a real face: the edit shows inside the face, every pixel outside it stays exactly as it was."""
from __future__ import annotations

import numpy as np
from stream_media import hull_mask, no_face_frame

from stream.blending import blend_delta, blend_replace
from stream.frame import Frame
from stream.stages import BlendStage


def renders(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in G(w) (the crop itself) and an edit of it that darkens the lower face, BGR in [-1, 1]."""
    original = crop.astype(np.float32) / 127.5 - 1.0
    edited = original.copy()
    edited[36:, :] -= 0.5  # a "beard": the lower face gets darker
    return original, np.clip(edited, -1, 1)


def test_delta_blend_changes_the_face_and_nothing_outside_it(face):
    frame, landmarks, crop, m = face
    original, edited = renders(crop)
    out = frame.copy()
    blend_delta(out, original, edited, m, landmarks, feather=0.12)
    inside = hull_mask(frame.shape, [landmarks])
    diff = np.abs(out.astype(int) - frame.astype(int)).mean(2)
    assert (diff[~inside] == 0).all()
    assert diff[inside].mean() > 8.0
    lower = inside.copy()
    lower[: int(landmarks[:, 1].mean())] = False
    assert (out.astype(int) - frame)[lower].mean() < -10  # darker where the edit darkened


def test_no_edit_leaves_the_frame_bit_exact(face):
    frame, landmarks, crop, m = face
    original, _ = renders(crop)
    out = frame.copy()
    blend_delta(out, original, original.copy(), m, landmarks, feather=0.12)
    np.testing.assert_array_equal(out, frame)


def test_replace_blend_is_colour_matched_and_stays_inside(face):
    frame, landmarks, crop, m = face
    _, edited = renders(crop)
    tinted = np.clip(edited + np.array([0.4, -0.3, 0.2], np.float32), -1, 1)  # a render with a colour cast
    out = frame.copy()
    blend_replace(out, crop, tinted, m, landmarks, feather=0.12, colour_match=True)
    inside = hull_mask(frame.shape, [landmarks])
    assert (out[~inside] == frame[~inside]).all()
    core = hull_mask(frame.shape, [landmarks.mean(0) + 0.5 * (landmarks - landmarks.mean(0))])
    cast = out[core].astype(float).mean(0) - frame[core].astype(float).mean(0)
    assert np.abs(cast).max() < 12.0  # the cast (±25–50 levels) is gone
    uncorrected = frame.copy()
    blend_replace(uncorrected, crop, tinted, m, landmarks, feather=0.12, colour_match=False)
    assert np.abs(uncorrected[core].astype(float).mean(0) - frame[core].astype(float).mean(0)).max() > 20.0


def test_blend_stage_passes_a_frame_without_faces_through_untouched():
    image = no_face_frame()
    frame = Frame(0, image, 0.0, 0.0, delta=np.ones(6, np.float32))
    BlendStage("delta", 0.12, True).process(frame)
    assert frame.output is image
