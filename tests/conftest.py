"""Fixtures shared by several test modules."""
from __future__ import annotations

import pytest
import pyvirtualcam
import torch
from pyvirtualcam import camera as pyvirtualcam_camera
from stream_media import BACKEND, RecordingCamera


@pytest.fixture(scope="module")
def one_torch_thread():
    """The CPU is shared: two torch threads competing with other jobs spin-wait and run ~50× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def engines():
    """The shipped default profile on the torch backend, one thread: what the pipeline tests run."""
    from engines.config import EngineConfig
    from engines.profiles import load_engines

    return load_engines(EngineConfig(backend="torch", threads=1), verbose=False)


@pytest.fixture(scope="module")
def face():
    """A tilted webcam frame of the astronaut, its mesh landmarks, and its aligned crop with the frame→crop affine."""
    from stream.alignment import AlignmentTemplate, align_face, face_keypoints
    from stream_media import TEMPLATE, astronaut_bgr, mesh_landmarks, webcam_frame

    frame = webcam_frame(astronaut_bgr(), angle=6.0)
    (landmarks,) = mesh_landmarks(frame)
    crop, m = align_face(frame, face_keypoints(landmarks), AlignmentTemplate.load(TEMPLATE))
    return frame, landmarks, crop, m


@pytest.fixture
def recording_camera():
    """Frames a virtual camera on the BACKEND test backend receives during one test."""
    pyvirtualcam.register_backend(BACKEND, RecordingCamera)
    RecordingCamera.received, RecordingCamera.times, RecordingCamera.log = [], [], None
    yield RecordingCamera.received
    pyvirtualcam_camera.BACKENDS.pop(BACKEND, None)
