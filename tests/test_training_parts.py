"""Training building blocks on real renders of the shipped generator and the real labeller."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from errors import ConfigError
from project import ATTRIBUTES
from settings import load_settings
from training.augment import augment_faces
from training.config import DatasetConfig
from training.dataset import build_dataset, chunk_latents, load_dataset
from training.evaluate import match_linear_step
from training.frozen import load_labeller
from training.linear import fit_directions
from training.losses import attribute_losses, sample_deltas
from training.regressor import label_order
from training.rendering import from_uint8, load_generator, render, to_uint8
from training.resume import load_state, save_state
from shipped import LATENT

GENERATOR = Path(__file__).resolve().parents[1] / "models/default/generator.safetensors"


@pytest.fixture(scope="module")
def generator():
    torch.set_num_threads(1)
    return load_generator(GENERATOR)


def test_augmentations_degrade_renders_within_range_and_zero_strength_is_identity(generator):
    faces = render(generator, torch.randn(8, LATENT, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(augment_faces(faces, 0.0, torch.Generator().manual_seed(1)), faces)
    a = augment_faces(faces, 1.0, torch.Generator().manual_seed(1))
    b = augment_faces(faces, 1.0, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.shape == faces.shape and a.min() >= -1 and a.max() <= 1
    change = (a - faces).abs().mean((1, 2, 3))
    assert (change > 0.005).all() and (change < 0.5).all()


def test_uint8_round_trip_of_renders(generator):
    faces = render(generator, torch.randn(2, LATENT, generator=torch.Generator().manual_seed(0)))
    pixels = to_uint8(faces)
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 64, 64, 3)
    # to_uint8 clips to the displayable range (the StyleGAN2 renders, unlike the DCGAN's tanh, can leave it)
    assert (from_uint8(pixels) - faces.clamp(-1, 1)).abs().max() <= 1 / 127.5 + 1e-6


def test_dataset_is_labelled_cached_in_chunks_and_resumes(generator, tmp_path):
    labeller = load_labeller()
    calls = []

    def counting(images):
        calls.append(len(images))
        return labeller.label(images)

    cfg = DatasetConfig(samples=12, chunk=6, batch=6)
    summary = build_dataset(cfg, generator, counting, tmp_path, seed=3)
    assert sum(calls) == 12 and len(list(tmp_path.glob("chunk_*.npz"))) == 2
    data = load_dataset(tmp_path)
    assert summary["with_face"] == len(data) >= 8  # the DCGAN draws a face almost every time
    assert set(ATTRIBUTES) <= set(data.labels) and "face_found" not in data.labels
    assert all(np.isfinite(v).all() for v in data.labels.values())
    (tmp_path / "chunk_00001.npz").unlink()
    build_dataset(cfg, generator, counting, tmp_path, seed=3)
    assert sum(calls) == 18  # only the missing chunk was labelled again
    again = load_dataset(tmp_path)
    np.testing.assert_array_equal(again.latents, data.latents)
    assert torch.equal(chunk_latents(3, 1, 6, 100), chunk_latents(3, 1, 6, 100))


def test_attribute_loss_wants_the_asked_change_and_nothing_else():
    before = torch.zeros(2, 8)
    delta = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, -1.5]])
    asked = delta != 0
    low, high = torch.full((6,), -2.0), torch.full((6,), 2.0)
    perfect = before.clone()
    perfect[:, :6] += delta
    assert attribute_losses(before, perfect, delta, asked, low, high) == (0.0, 0.0)
    leaky = perfect.clone()
    leaky[:, 7] = 0.5
    reach, preserve = attribute_losses(before, leaky, delta, asked, low, high)
    assert reach == 0 and preserve > 0
    # A face already at the top of the range is not asked to go beyond it.
    top = torch.full((1, 8), 2.0)
    reach, _ = attribute_losses(top, top, torch.tensor([[1.0, 0, 0, 0, 0, 0]]), torch.tensor([[True] + [False] * 5]),
                                low, high)
    assert reach == 0


def test_sampled_deltas_are_sparse_and_bounded():
    delta, asked = sample_deltas(4000, 6, 2.0, 0.3, torch.Generator().manual_seed(0))
    counts = asked.sum(1)
    assert set(counts.tolist()) <= {1, 2} and 0.2 < (counts == 2).float().mean() < 0.35
    size = delta[asked].abs()
    assert size.min() >= 0.25 and size.max() <= 2.0 and (delta[~asked] == 0).all()


def test_linear_directions_recover_a_planted_direction():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 100)).astype(np.float32)
    truth = rng.standard_normal((len(ATTRIBUTES), 100))
    truth /= np.linalg.norm(truth, axis=1, keepdims=True)
    labels = {n: z @ truth[i] + 0.3 * rng.standard_normal(2000) for i, n in enumerate(ATTRIBUTES)}
    found = fit_directions(z, labels)
    assert found.shape == (len(ATTRIBUTES), 100)
    assert np.all(np.sum(found * truth, axis=1) > 0.95)


def test_linear_step_matching_finds_the_step_of_a_monotone_response():
    step = match_linear_step(lambda s: 0.4 * s**0.8, 1.3, iterations=12)
    assert abs(0.4 * step**0.8 - 1.3) < 0.01
    assert match_linear_step(lambda s: s, -0.2) == 0.0


def test_label_order_puts_editable_attributes_first_and_names_a_missing_one():
    assert label_order({"roll", *ATTRIBUTES, "eyes_open"}) == [*ATTRIBUTES, "eyes_open", "roll"]
    with pytest.raises(ValueError, match="glasses"):
        label_order(set(ATTRIBUTES) - {"glasses"})


def test_resume_state_restores_weights_optimizer_and_step(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.randn(3, 4)).sum().backward()
    opt.step()
    save_state(tmp_path / "s.safetensors", net, opt, 17)
    other = torch.nn.Linear(4, 2)
    other_opt = torch.optim.Adam(other.parameters(), lr=0.1)
    assert load_state(tmp_path / "s.safetensors", other, other_opt) == 17
    assert torch.equal(other.weight, net.weight)
    assert torch.equal(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert load_state(tmp_path / "missing.safetensors", other, other_opt) == 0


def test_train_settings_reject_bad_values_with_the_key():
    with pytest.raises(ConfigError, match="train.mapper.batch"):
        load_settings(overrides=["train.mapper.batch=0"])
    with pytest.raises(ConfigError, match="train.mapper.pair_fraction"):
        load_settings(overrides=["train.mapper.pair_fraction=1.5"])
    assert load_settings(overrides=["train.mapper.steps=10"]).train.mapper.steps == 10
