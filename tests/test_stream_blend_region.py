"""The warp blend works on the face's box only, cut into bands of rows each as wide as its moving cells: its
output equals the same maths done over the whole frame (full-frame displacement maps and residual, one
rounding) within a level, every pixel that moves or changes lies in a band, the rest of the frame is never
touched, and blending in place gives the copy's pixels."""
from __future__ import annotations

import cv2
import numpy as np

from stream.alignment import apply_affine
from stream.blending import face_region
from stream.face_tracker import FaceTrack
from stream.frame import FaceWork, Frame
from stream.stages import BlendStage
from stream.warp_blend import (BAND_ROWS, MIN_MOVE_PX, WarpEdit, active_bands, blend_warp, crop_to_work,
                               make_flow_estimator, sample_points, warp_edit, work_grid)


def a_real_edit(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """G(w), G(w′) stand-ins from the real aligned crop: the lower face moves right and darkens."""
    original = crop.astype(np.float32) / 127.5 - 1.0
    size = original.shape[0]
    rows = np.arange(size, dtype=np.float32)[:, None]
    shift = np.clip((rows - 0.45 * size) / (0.2 * size), 0, 1) * 1.5  # up to 1.5 crop px, below the eyes
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    edited = cv2.remap(original, xs - shift, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    edited[int(0.6 * size):] -= 0.25
    return original, edited


def work_layers(edit: WarpEdit, frame_to_crop: np.ndarray, landmarks: np.ndarray, shape: tuple, work_side: int):
    """The region, the frame-pixel move (h, w, 2) and the residual (h, w, 3) on its work grid, by plain numpy."""
    region = face_region(landmarks, shape)
    size = work_grid(region, work_side)
    layers = cv2.warpAffine(edit.stacked(), crop_to_work(frame_to_crop, region, size), size,
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    move = cv2.transform(layers[..., :2], cv2.invertAffineTransform(frame_to_crop)[:, :2]) * layers[..., 6:7]
    return region, move, layers[..., 2:5] * layers[..., 5:6]


def whole_frame_reference(frame: np.ndarray, edit: WarpEdit, frame_to_crop: np.ndarray, landmarks: np.ndarray,
                          work_side: int, rows: int = BAND_ROWS) -> np.ndarray:
    """What blend_warp computes, over every pixel of the frame in float: the same work-grid layers, a
    displacement map and a residual the frame's size (zero away from the face), one remap, one rounding.
    Pixels move inside the bands of `rows` rows that a moving cell reaches (rows past the region's height:
    the one box that the moving cells reach, the rule before the bands)."""
    region, move, add = work_layers(edit, frame_to_crop, landmarks, frame.shape, work_side)
    x0, y0, x1, y1 = region
    full = (x1 - x0, y1 - y0)
    h, w = frame.shape[:2]
    moving = (np.abs(move) >= MIN_MOVE_PX).any(2)  # the rule itself: a cell moving less than this stays
    changing = moving | (np.abs(add) >= 0.5).any(2) if rows < full[1] else moving
    bands, (moves,) = active_bands(changing, full, rows, moving)
    assert moves.any()
    upsampled = cv2.resize(move, full, interpolation=cv2.INTER_LINEAR)
    displacement = np.zeros((h, w, 2), np.float32)
    for (bx0, by0, bx1, by1), band_moves in zip(bands, moves):
        if band_moves:
            displacement[y0 + by0:y0 + by1, x0 + bx0:x0 + bx1] = upsampled[by0:by1, bx0:bx1]
    residual = np.zeros((h, w, 3), np.float32)
    residual[y0:y1, x0:x1] = cv2.resize(add, full, interpolation=cv2.INTER_LINEAR)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    moved = cv2.remap(frame.astype(np.float32), xs + displacement[..., 0], ys + displacement[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return np.clip(np.round(moved + residual), 0, 255).astype(np.uint8)


def test_the_banded_blend_equals_the_whole_frame_reference_and_the_one_box_rule_within_a_level(face):
    frame, landmarks, crop, m = face
    original, edited = a_real_edit(crop)
    edit = warp_edit(make_flow_estimator(), crop, original, edited, apply_affine(m, landmarks), 0.12)
    out = frame.copy()
    blend_warp(out, edit, m, landmarks, 128)
    reference = whole_frame_reference(frame, edit, m, landmarks, 128)
    diff = np.abs(out.astype(int) - reference.astype(int))
    changed = (reference != frame).any(2)
    assert changed.sum() > 0.3 * np.prod(np.ptp(landmarks, 0))  # a real edit: a good part of the face changed
    assert (diff <= 1).mean() > 0.99999 and diff.max() <= 2  # equal within a level (uint8 rounding of two steps)
    x0, y0, x1, y1 = face_region(landmarks, frame.shape)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(out[outside], frame[outside])

    # the bands change the output of the one box they replace (which also moved the pixels of its corners
    # by less than MIN_MOVE_PX) by a level at a few pixels at most
    box_rule = whole_frame_reference(frame, edit, m, landmarks, 128, rows=frame.shape[0])
    diff = np.abs(out.astype(int) - box_rule.astype(int))
    assert (diff <= 1).mean() > 0.99999 and diff.max() <= 2


def test_every_pixel_that_moves_or_changes_lies_in_a_band_and_the_bands_are_smaller_than_their_box(face):
    frame, landmarks, crop, m = face
    original, edited = a_real_edit(crop)
    edit = warp_edit(make_flow_estimator(), crop, original, edited, apply_affine(m, landmarks), 0.12)
    region, move, add = work_layers(edit, m, landmarks, frame.shape, 128)
    full = (region[2] - region[0], region[3] - region[1])
    moving = (np.abs(move) >= MIN_MOVE_PX).any(2)
    for rows in (8, BAND_ROWS, 1000):
        bands, (moves,) = active_bands(moving | (np.abs(add) >= 0.5).any(2), full, rows, moving)
        inside, remapped = np.zeros((full[1], full[0]), bool), np.zeros((full[1], full[0]), bool)
        for (x0, y0, x1, y1), band_moves in zip(bands, moves):
            assert not inside[y0:y1, x0:x1].any()  # no overlap
            inside[y0:y1, x0:x1] = True
            remapped[y0:y1, x0:x1] = band_moves
        up_move = np.abs(cv2.resize(move, full, interpolation=cv2.INTER_LINEAR)).max(2)
        up_add = np.abs(cv2.resize(add, full, interpolation=cv2.INTER_LINEAR)).max(2)
        assert up_move[remapped].max() >= MIN_MOVE_PX and not (up_move[~remapped] >= MIN_MOVE_PX).any()
        assert not (up_add[~inside] >= 0.5).any()
        ys, xs = np.nonzero(inside)
        if rows < full[1]:
            assert inside.sum() < 0.95 * (np.ptp(xs) + 1) * (np.ptp(ys) + 1)  # what the bands save over one box


def test_blending_in_place_gives_the_copys_pixels_and_a_copy_leaves_the_camera_frame_alone(face):
    frame, landmarks, crop, m = face
    original, edited = a_real_edit(crop)
    work = [FaceWork(FaceTrack(0, landmarks), crop, m, None, original, edited)]
    copied, in_place = Frame(0, frame.copy(), 0.0, 0.0, faces=work), Frame(0, frame.copy(), 0.0, 0.0, faces=work)
    copied.delta = in_place.delta = np.ones(6, np.float32)
    BlendStage("warp", 0.12, True).process(copied)
    BlendStage("warp", 0.12, True, in_place=True).process(in_place)
    np.testing.assert_array_equal(copied.image, frame)  # the copy mode never writes the camera's frame
    assert in_place.output is in_place.image  # no whole-frame copy
    np.testing.assert_array_equal(in_place.output, copied.output)
    assert np.abs(copied.output.astype(int) - frame).max() > 20


def test_sample_points_are_the_pixels_own_positions_plus_the_upsampled_move_inside_and_at_the_grid_edge():
    region, size = (1203, 517, 2230, 1797), (103, 128)  # a 4K face region and its work grid
    full = (region[2] - region[0], region[3] - region[1])
    move = np.random.default_rng(0).normal(0, 3, (size[1], size[0], 2)).astype(np.float32)
    upsampled = cv2.resize(move, full, interpolation=cv2.INTER_LINEAR)
    for box in ((95, 105, 946, 1213), (0, 0, full[0], full[1])):  # moving cells inside; reaching the edge
        x0, y0, x1, y1 = box
        mx, my = sample_points(move[..., 0].copy(), move[..., 1].copy(), region, box)
        xs = np.arange(region[0] + x0, region[0] + x1, dtype=np.float32)
        ys = np.arange(region[1] + y0, region[1] + y1, dtype=np.float32)[:, None]
        assert np.abs(mx - xs - upsampled[y0:y1, x0:x1, 0]).max() < 2e-3  # well below remap's 1/32 px
        assert np.abs(my - ys - upsampled[y0:y1, x0:x1, 1]).max() < 2e-3
