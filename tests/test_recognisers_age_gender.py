"""dlib's age/gender networks: the torch ONNX interpreter against onnxruntime, and the differentiable path
against the labeller's, on real renders and the astronaut photo."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from recognisers.age_gender import AgeGenderNet
from recognisers.age_gender_torch import AgeGenderTorch, landmark_geometry
from recognisers.face_chip import extract_chips
from recognisers.face_mesh import FaceMesher
from recognisers.onnx_graph import OnnxGraph
from recognisers_faces import ROOT, aligned_crops, astronaut_photo, renders, to_tensor

MODELS = ROOT / "models/recognisers"


@pytest.fixture(scope="module")
def faces():
    crops = np.concatenate([np.stack(aligned_crops([astronaut_photo()])), renders(list(range(15)))])
    mesher = FaceMesher()
    landmarks, found = mesher(crops)
    mesher.close()
    return crops[found], landmarks[found]


@pytest.mark.parametrize("name, size", [("age-v1", 64), ("gender-v1", 32)])
def test_onnx_interpreter_matches_onnxruntime(faces, name, size):
    crops, landmarks = faces
    chips = extract_chips(crops, landmarks, size)
    x = ((chips.astype(np.float32) - [122.781998, 117.000999, 104.297997]) / 256).transpose(0, 3, 1, 2)
    x = np.ascontiguousarray(x, dtype=np.float32)
    session = ort.InferenceSession(str(MODELS / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = OnnxGraph(MODELS / f"{name}.onnx")(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_torch_path_with_landmarks_matches_the_labeller(faces):
    crops, landmarks = faces
    age, male = AgeGenderNet(MODELS)(crops, landmarks)
    with torch.no_grad():
        t_age, t_male = AgeGenderTorch()(to_tensor(crops), landmark_geometry(landmarks))
    assert np.abs(t_age.numpy() - age).mean() < 0.5 and np.abs(t_age.numpy() - age).max() < 3
    assert np.abs(t_male.numpy() - male).max() < 0.15


def test_fixed_box_path_tracks_the_labeller_and_is_differentiable(faces):
    crops, landmarks = faces
    age, male = AgeGenderNet(MODELS)(crops, landmarks)
    model = AgeGenderTorch()
    x = to_tensor(crops).requires_grad_(True)
    t_age, t_male = model(x)
    assert np.corrcoef(t_age.detach().numpy(), age)[0, 1] > 0.6
    assert t_male[0] < 0.5  # the astronaut
    (t_age.sum() + t_male.sum()).backward()
    assert x.grad.abs().sum() > 0
