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


@pytest.fixture
def recording_camera():
    """Frames a virtual camera on the BACKEND test backend receives during one test."""
    pyvirtualcam.register_backend(BACKEND, RecordingCamera)
    RecordingCamera.received, RecordingCamera.times, RecordingCamera.log = [], [], None
    yield RecordingCamera.received
    pyvirtualcam_camera.BACKENDS.pop(BACKEND, None)
