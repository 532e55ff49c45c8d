"""Alignment on real photos: eyes and mouth land on the template; warps invert exactly."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from stream_media import TEMPLATE, astronaut_bgr, hull_mask, mesh_landmarks, webcam_frame

from stream.alignment import (AlignmentTemplate, align_face, apply_affine, face_keypoints, invert_affine,
                              similarity_transform)
from stream.blending import face_region, warp_to_region


@pytest.fixture(scope="module")
def template() -> AlignmentTemplate:
    return AlignmentTemplate.load(TEMPLATE)


def test_template_matches_the_generator_size_and_is_a_plausible_face(template):
    assert template.size == 64
    eye_a, eye_b, mouth = template.points
    assert eye_a[0] < mouth[0] < eye_b[0]  # mouth between the eyes horizontally
    assert mouth[1] > eye_a[1] + 10 and abs(eye_a[1] - eye_b[1]) < 2  # below them; eyes level


@pytest.mark.parametrize("angle,scale", [(0.0, 2.0), (20.0, 1.5), (-12.0, 2.6)])
def test_eyes_and_mouth_land_on_the_template(template, angle, scale):
    frame = webcam_frame(astronaut_bgr(), angle=angle, scale=scale)
    (landmarks,) = mesh_landmarks(frame)
    crop, _ = align_face(frame, face_keypoints(landmarks), template)
    assert crop.shape == (64, 64, 3)
    # Find the face again in the aligned crop (upscaled: the mesh needs more than 64 px).
    big = cv2.resize(crop, (256, 256), interpolation=cv2.INTER_CUBIC)
    (again,) = mesh_landmarks(big)
    found = face_keypoints(again) / 4.0
    error = np.linalg.norm(found - template.points, axis=1)
    assert error.max() < 3.0, error


def test_similarity_transform_recovers_a_known_motion_of_real_landmarks():
    (landmarks,) = mesh_landmarks(webcam_frame(astronaut_bgr()))
    theta, s, t = np.deg2rad(17.0), 0.37, np.array([12.5, -40.0])
    truth = np.array([[s * np.cos(theta), -s * np.sin(theta), t[0]], [s * np.sin(theta), s * np.cos(theta), t[1]]])
    estimate = similarity_transform(landmarks, apply_affine(truth, landmarks))
    np.testing.assert_allclose(estimate, truth, atol=1e-9)


def test_inverse_warp_round_trip(template):
    frame = webcam_frame(astronaut_bgr(), angle=8.0)
    (landmarks,) = mesh_landmarks(frame)
    crop, m = align_face(frame, face_keypoints(landmarks), template)
    pts = face_keypoints(landmarks)
    np.testing.assert_allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-9)
    # Pixels: the 64-px crop warped back matches the frame inside the face, up to the 64-px resolution.
    region = face_region(landmarks, frame.shape)
    x0, y0, x1, y1 = region
    back = warp_to_region(crop.astype(np.float32), m, region)
    covered = warp_to_region(np.ones((64, 64), np.float32), m, region) > 0.999  # the chin may leave the crop
    inside = hull_mask(frame.shape, [landmarks])[y0:y1, x0:x1] & covered
    assert inside.mean() > 0.4
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    assert np.abs(back - roi)[inside].mean() < 8.0
    # …and far better than the same crop put back one face-width off (the warp is really the inverse).
    shifted = np.roll(roi, (y1 - y0) // 3, axis=1)
    assert np.abs(back - roi)[inside].mean() < 0.5 * np.abs(back - shifted)[inside].mean()


def test_aligned_crop_is_anti_aliased(template):
    frame = webcam_frame(astronaut_bgr(), scale=2.6)  # a close face: the crop shrinks it about 4×
    (landmarks,) = mesh_landmarks(frame)
    crop, m = align_face(frame, face_keypoints(landmarks), template)
    ideal = cv2.resize(cv2.warpAffine(frame, m * 8, (512, 512), flags=cv2.INTER_LINEAR), (64, 64),
                       interpolation=cv2.INTER_AREA).astype(float)
    naive = cv2.warpAffine(frame, m, (64, 64), flags=cv2.INTER_LINEAR).astype(float)
    inner = (slice(8, 56), slice(8, 56))
    assert np.abs(crop[inner] - ideal[inner]).mean() < 0.6 * np.abs(naive[inner] - ideal[inner]).mean()
