"""The mapper's on-face attribute term: real faces aligned and encoded as the live pipeline does, read by the
differentiable twins of the recognisers (dlib age/gender, beard and bald heads), and the loss that asks those
attributes of the face with the edit blended in."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.checkpoint import load_checkpoint
from engines.profiles import load_networks, strength_units
from engines.config import EngineConfig
from recognisers.labeller import FaceLabeller
from stream.alignment import AlignmentTemplate
from training.losses import on_face_losses
from training.on_face import READINGS, FaceReadings
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
    crops, latents, geometry, views = faces.batch(torch.arange(len(faces)))
    assert torch.isfinite(latents).all() and latents.shape[1] == load_networks(EngineConfig()).latent_shape[0]
    with torch.no_grad():
        readings = FaceReadings()(crops, geometry, views).numpy()
    # the image labeller (numpy, ONNX Runtime, its own face mesh on the crops) reads the same faces alike
    labels = FaceLabeller().label(faces.crops.permute(0, 2, 3, 1).numpy().copy())
    for i, name in enumerate(READINGS):
        tolerance = {"age": 4.0}.get(name, 0.1)
        np.testing.assert_allclose(readings[:, i], labels[name], atol=tolerance, err_msg=name)
    assert (readings[:2, 1] > 0.5).all()  # the man of cap13 reads as male


def test_real_faces_cache_is_kept_only_for_its_source(real_faces, tmp_path):
    faces, _ = real_faces
    path = tmp_path / "real_faces.npz"
    save_real_faces(path, faces, "photos|encoder A")
    again = load_real_faces(path, "photos|encoder A")
    assert again is not None and torch.equal(again.crops, faces.crops) and torch.equal(again.latents, faces.latents)
    assert load_real_faces(path, "photos|encoder B") is None  # another encoder: encoded again


def test_on_face_loss_asks_age_in_years_and_probabilities_in_logits():
    before = torch.tensor([[30.0, 0.9], [30.0, 0.9]])
    delta = torch.tensor([[2.0, 0.0], [0.0, -2.0]])
    asked = delta != 0
    units, logit = torch.tensor([12.0, 0.3]), torch.tensor([False, True])
    hit = torch.tensor([[54.0, 0.9], [30.0, 0.3]])  # +24 years; P(male) 0.9 − 0.6
    reach, preserve = on_face_losses(before, hit, delta, asked, units, logit)
    assert reach.item() == pytest.approx(0.0, abs=1e-5) and preserve.item() == pytest.approx(0.0, abs=1e-6)
    short = torch.tensor([[42.0, 0.95], [36.0, 0.3]])  # half the age asked; age moved where it was not asked
    reach, preserve = on_face_losses(before, short, delta, asked, units, logit)
    assert reach.item() == pytest.approx(0.5 * 1.0**2, rel=1e-4)  # one row of two misses by 1 unit
    assert preserve.item() == pytest.approx(0.5 * (6.0 / 12.0) ** 2 + 0.5 * ((np.log(19) - np.log(9)) / 2) ** 2, rel=1e-3)
    far = torch.tensor([[30.0, 0.9], [30.0, 0.9]])
    asked_far = torch.tensor([[True, False], [False, True]])
    reach, _ = on_face_losses(before, far, torch.tensor([[9.0, 0.0], [0.0, -9.0]]), asked_far, units, logit)
    # targets stop at 90 years and P = 0.02: asking more asks what a face can show
    expected = ((90 - 30) / 12.0) ** 2 / 2 + ((np.log(0.02 / 0.98) - np.log(9)) / 2) ** 2 / 2
    assert reach.item() == pytest.approx(expected, rel=1e-3)


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


def test_one_step_on_each_on_face_term_lowers_it(real_faces, one_torch_thread):
    import copy

    from training.on_face import OnFace, on_face_terms

    faces, _ = real_faces
    nets = load_networks(EngineConfig())
    on_face = OnFace(faces, FaceReadings(), torch.tensor([12.3, 0.29, 0.12, 0.23]))

    def terms(mapper):
        return on_face_terms(mapper, nets.generator, on_face, 8, 3.0, 0.3, torch.Generator().manual_seed(4))

    names = terms(nets.mapper)
    assert set(names) == {"on_face", "on_face_preserve", "on_face_identity", "on_face_cast"}
    for name in names:
        mapper = copy.deepcopy(nets.mapper).train().requires_grad_(True)
        loss = terms(mapper)[name]
        loss.backward()
        params = [p for p in mapper.parameters() if p.grad is not None]
        norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in params))
        torch.optim.SGD(params, lr=1e-3 / float(norm)).step()
        with torch.no_grad():
            assert float(terms(mapper)[name]) < float(loss), name
