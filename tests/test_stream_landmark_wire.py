"""Landmarks read from a face-mesh list's bytes are the attributes' values exactly, on a real face, and a list
laid out otherwise (a landmark with visibility, one without z) is read attribute by attribute, as exactly."""
from __future__ import annotations

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.framework.formats import landmark_pb2
from stream_media import astronaut_bgr, webcam_frame

from stream.landmark_wire import landmark_xyz


def attributes(landmarks) -> np.ndarray:
    return np.array([(q.x, q.y, q.z) for q in landmarks.landmark], np.float64)


def test_the_bytes_give_the_attributes_values_and_other_layouts_fall_back():
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        result = mesh.process(cv2.cvtColor(webcam_frame(astronaut_bgr(), angle=6.0), cv2.COLOR_BGR2RGB))
    (face,) = result.multi_face_landmarks
    assert len(face.landmark) == 468
    np.testing.assert_array_equal(landmark_xyz(face), attributes(face))
    with_visibility, without_z = landmark_pb2.NormalizedLandmarkList(), landmark_pb2.NormalizedLandmarkList()
    with_visibility.CopyFrom(face)
    with_visibility.landmark[3].visibility = 0.5
    without_z.CopyFrom(face)
    without_z.landmark[5].ClearField("z")
    for other in (with_visibility, without_z):
        np.testing.assert_array_equal(landmark_xyz(other), attributes(other))
