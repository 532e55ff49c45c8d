"""The mapper's on-face attribute term: real faces aligned and encoded as the live pipeline does, read by the
differentiable dlib networks, and the loss that asks age and gender of the blended face."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.checkpoint import load_checkpoint
from engines.profiles import load_networks, strength_units
from engines.config import EngineConfig
from recognisers.age_gender import AgeGenderNet
from recognisers.age_gender_torch import AgeGenderTorch
from recognisers.face_mesh import FaceMesher
from stream.alignment import AlignmentTemplate
from training.losses import on_face_losses
from training.real_faces import CROP_SCALE, build_real_faces, load_real_faces, save_real_faces

REPO = Path(__file__).resolve().parents[1]
FRAMES = ("cap13_f300.jpg", "cap13_f516.jpg", "single_face_f000.jpg", "single_face_f045.jpg")


@pytest.fixture(scope="module")
def real_faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in FRAMES:
        shutil.copy(REPO / "tests/data" / name, folder / name)
    nets = load_networks(EngineConfig())
    template = AlignmentTemplate.load(REPO / "models/default/alignment.json")
    return build_real_faces(folder, template, nets.encoder, limit=10), template


def test_real_faces_are_aligned_encoded_and_read_like_the_labeller(real_faces, one_torch_thread):
    faces, template = real_faces
    assert len(faces) == len(FRAMES)  # the face mesh finds the face in every real frame
    assert tuple(faces.crops.shape[1:]) == (3, template.size * CROP_SCALE, template.size * CROP_SCALE)
    crops, latents, geometry = faces.batch(torch.arange(len(faces)))
    assert torch.isfinite(latents).all() and latents.shape[1] == load_networks(EngineConfig()).latent_shape[0]
    with torch.no_grad():
        age, male = AgeGenderTorch()(crops, geometry)
    # the image labeller's dlib networks, fitted on the crops by their own face mesh, read the same faces
    images = faces.crops.permute(0, 2, 3, 1).numpy().copy()
    mesher = FaceMesher(192)
    landmarks, found = mesher(images)
    mesher.close()
    assert found.all()
    ref_age, ref_male = AgeGenderNet(REPO / "models/recognisers")(images, landmarks)
    np.testing.assert_allclose(age.numpy(), ref_age, atol=4.0)
    np.testing.assert_allclose(male.numpy(), ref_male, atol=0.15)
    assert (male.numpy()[:2] > 0.5).all()  # the man of cap13 reads as male


def test_real_faces_cache_is_kept_only_for_its_source(real_faces, tmp_path):
    faces, _ = real_faces
    path = tmp_path / "real_faces.npz"
    save_real_faces(path, faces, "photos|encoder A")
    again = load_real_faces(path, "photos|encoder A")
    assert again is not None and torch.equal(again.crops, faces.crops) and torch.equal(again.latents, faces.latents)
    assert load_real_faces(path, "photos|encoder B") is None  # another encoder: encoded again


def test_on_face_loss_asks_age_in_years_and_gender_in_logits():
    before = (torch.tensor([30.0, 30.0]), torch.tensor([0.9, 0.9]))
    delta = torch.tensor([[2.0, 0.0], [0.0, -2.0]])
    asked = delta != 0
    units = (12.0, 0.3)
    hit = (torch.tensor([54.0, 30.0]), torch.tensor([0.9, 0.3]))  # +24 years; P(male) 0.9 − 0.6
    reach, preserve = on_face_losses(before, hit, delta, asked, units)
    assert reach.item() == pytest.approx(0.0, abs=1e-5) and preserve.item() == pytest.approx(0.0, abs=1e-6)
    short = (torch.tensor([42.0, 36.0]), torch.tensor([0.95, 0.3]))  # half the age asked; age moved when not asked
    reach, preserve = on_face_losses(before, short, delta, asked, units)
    assert reach.item() == pytest.approx(0.5 * 1.0**2, rel=1e-4)  # one row of two misses by 1 unit
    assert preserve.item() == pytest.approx(0.5 * (6.0 / 12.0) ** 2 + 0.5 * ((np.log(19) - np.log(9)) / 2) ** 2, rel=1e-3)


def test_shipped_mapper_saturates_beyond_its_trained_range_and_names_its_units(one_torch_thread):
    nets = load_networks(EngineConfig())
    _, header = load_checkpoint(REPO / "models/default/mapper.safetensors", "l2l_mapper")
    top = header.config["max_delta"]
    assert nets.attributes == ("age", "gender", "beard", "glasses", "smile", "yaw", "bald", "pitch")
    w = torch.randn(4, nets.latent_shape[0], generator=torch.Generator().manual_seed(0))
    delta = torch.zeros(4, len(nets.attributes))
    with torch.no_grad():
        delta[:, 0] = top
        at_end = nets.mapper(w, delta)
        delta[:, 0] = top + 5
        beyond = nets.mapper(w, delta)
        delta[:, 0] = top / 2
        inside = nets.mapper(w, delta)
    torch.testing.assert_close(beyond, at_end)
    assert (inside - w).norm() < (at_end - w).norm()
    units = strength_units(header.extra)
    assert units["age"][1] == "years" and 5 < units["age"][0] < 30
    assert set(units) == set(nets.attributes)
