"""Head pose and expression measures as pure functions of real face-mesh landmarks (the astronaut's)."""
from __future__ import annotations

import numpy as np
import pytest

from recognisers import expression
from recognisers.face_chip import DLIB_TEMPLATE, chip_affine
from recognisers.face_mesh import FaceMesher
from recognisers.head_pose import head_pose
from recognisers_faces import aligned_crops, astronaut_photo


@pytest.fixture(scope="module")
def landmarks():
    crop = aligned_crops([astronaut_photo()], size=128)[0]
    mesher = FaceMesher()
    lm, found = mesher(crop[None])
    mesher.close()
    assert found[0]
    return lm


def rotate_in_plane(lm: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate landmarks counter-clockwise as seen on screen (image y points down) about their centroid."""
    a = np.radians(degrees)
    c = lm[..., :2].mean(1, keepdims=True)
    xy = lm[..., :2] - c
    out = lm.copy()
    out[..., 0] = c[..., 0] + xy[..., 0] * np.cos(a) + xy[..., 1] * np.sin(a)
    out[..., 1] = c[..., 1] - xy[..., 0] * np.sin(a) + xy[..., 1] * np.cos(a)
    return out


@pytest.mark.parametrize("degrees", [-20.0, 7.5, 30.0])
def test_in_plane_rotation_moves_only_roll(landmarks, degrees):
    yaw, pitch, roll = head_pose(landmarks)
    yaw2, pitch2, roll2 = head_pose(rotate_in_plane(landmarks, degrees))
    assert roll2[0] - roll[0] == pytest.approx(degrees, abs=0.5)
    assert yaw2[0] == pytest.approx(yaw[0], abs=0.5) and pitch2[0] == pytest.approx(pitch[0], abs=0.5)


def turn_head(lm: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate mesh landmarks about their centroid by a rotation given in camera axes (x right, y up, z to camera)."""
    flip = np.array([1.0, -1.0, -1.0])  # mesh axes: y down, z away from the camera
    p = lm.astype(np.float64) * flip
    c = p.mean(1, keepdims=True)
    return (((p - c) @ rotation.T + c) * flip).astype(np.float32)


def test_turning_the_head_moves_yaw_and_pitch(landmarks):
    a = np.radians(20)
    c, s = np.cos(a), np.sin(a)
    towards_image_right = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # the nose (+z) swings to +x
    nose_up = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])  # the nose (+z) swings to +y
    yaw, pitch, roll = head_pose(landmarks)
    yaw2, pitch2, _ = head_pose(turn_head(landmarks, towards_image_right))
    assert yaw2[0] - yaw[0] == pytest.approx(20, abs=1.5) and pitch2[0] == pytest.approx(pitch[0], abs=1.5)
    yaw3, pitch3, _ = head_pose(turn_head(landmarks, nose_up))
    assert pitch3[0] - pitch[0] == pytest.approx(20, abs=1.5) and yaw3[0] == pytest.approx(yaw[0], abs=1.5)


def test_expression_measures_ignore_scale_and_rotation(landmarks):
    moved = rotate_in_plane(landmarks, 15) * 1.7
    for measure in (expression.smile, expression.mouth_open, expression.eyes_open):
        assert measure(moved)[0] == pytest.approx(measure(landmarks)[0], abs=1e-4)


def test_mouth_open_measures_the_lip_gap_in_eye_distances(landmarks):
    iod = np.linalg.norm(landmarks[0, 263, :2] - landmarks[0, 33, :2])
    opened = landmarks.copy()
    opened[0, [14, 87, 317], 1] += 0.1 * iod  # lower inner lip down by a tenth of the eye distance
    gain = expression.mouth_open(opened)[0] - expression.mouth_open(landmarks)[0]
    assert gain == pytest.approx(0.1, abs=0.01)


def test_chip_affine_puts_the_five_points_on_dlibs_template(landmarks):
    m = chip_affine(landmarks[0], 64, padding=0.2)
    five = landmarks[0, [263, 362, 33, 133, 2], :2] @ m[:, :2].T + m[:, 2]
    target = (DLIB_TEMPLATE + 0.2) / 1.4 * 64
    assert np.abs(five - target).max() < 3  # a similarity cannot fit five real points exactly, but nearly
