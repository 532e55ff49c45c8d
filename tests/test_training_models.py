"""The shipped default-profile encoder, mapper and regressor, checked on real renders with the real recognisers."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engines.checkpoint import load_checkpoint, load_state_into
from engines.face_encoder import FaceEncoder
from project import ATTRIBUTES
from training.encoder import encoder_losses
from training.frozen import load_identity_embedder
from training.losses import sample_deltas
from training.mapper import attribute_range, mapper_losses
from training.regressor import load_regressor
from training.rendering import load_generator, render
from training.report import load_mapper
from shipped import LATENT

MODELS = Path(__file__).resolve().parents[1] / "models/default"


@pytest.fixture(scope="module")
def nets():
    torch.set_num_threads(1)
    tensors, header = load_checkpoint(MODELS / "encoder.safetensors", "face_encoder")
    encoder = FaceEncoder(**header.config)
    load_state_into(encoder, tensors, MODELS / "encoder.safetensors")
    regressor, stats = load_regressor(MODELS / "regressor.safetensors")
    return {
        "generator": load_generator(MODELS / "generator.safetensors"),
        "encoder": encoder.eval(),
        "mapper": load_mapper(MODELS / "mapper.safetensors"),
        "regressor": regressor,
        "stats": stats,
        "embedder": load_identity_embedder(),
    }


def _embedder(nets):
    return nets["embedder"]


def test_shipped_headers_name_the_attributes_and_label_units():
    _, header = load_checkpoint(MODELS / "mapper.safetensors", "l2l_mapper")
    assert header.attributes == list(ATTRIBUTES) and header.config["n_attributes"] == len(ATTRIBUTES) == 8
    assert len(header.extra["label_mean"]) == len(header.extra["label_std"]) == 8
    assert all(s > 0 for s in header.extra["label_std"]) and len(header.extra["training_commit"]) == 40
    _, enc = load_checkpoint(MODELS / "encoder.safetensors", "face_encoder")
    assert (enc.profile, enc.resolution, enc.latent_shape) == ("default", 64, [LATENT])


def test_shipped_mapper_is_the_identity_at_zero_delta(nets):
    w = torch.randn(64, LATENT, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        same = nets["mapper"](w, torch.zeros(64, len(ATTRIBUTES)))
        moved = nets["mapper"](w, torch.eye(len(ATTRIBUTES)).repeat(8, 1)[:64] * 1.5)
    assert ((same - w).norm(dim=1) / w.norm(dim=1)).mean() < 0.03
    assert (moved - w).norm(dim=1).mean() > 10 * (same - w).norm(dim=1).mean()


def test_shipped_mapper_moves_the_regressed_attribute_it_is_asked_for(nets):
    w = torch.randn(256, LATENT, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        before = nets["regressor"](w)
        n = len(ATTRIBUTES)
        for k in range(n):
            delta = torch.zeros(256, n)
            delta[:, k] = torch.where(before[:, k] > 0, -1.0, 1.0)
            change = (nets["regressor"](nets["mapper"](w, delta)) - before)[:, :n] * delta
            # at least 40 % of a one-std ask on renders (the shipped mapper reaches 0.42–0.60: it also answers the
            # on-face term, judged on real faces, and the two pull apart a little), and more than any other moves
            assert change[:, k].mean() > 0.4, ATTRIBUTES[k]
            others = torch.cat([change[:, :k], change[:, k + 1:]], dim=1).abs().mean(0)
            assert change[:, k].mean() > others.max(), ATTRIBUTES[k]


def test_shipped_encoder_inverts_renders_and_keeps_identity(nets):
    g = nets["generator"]
    z = torch.randn(32, LATENT, generator=torch.Generator().manual_seed(7))
    faces = render(g, z)
    with torch.no_grad():
        again = g(nets["encoder"](faces))
        stranger = g(torch.randn(32, LATENT, generator=torch.Generator().manual_seed(8)))
    own_error = (again - faces).abs().mean()
    stranger_error = (stranger - faces).abs().mean()
    assert own_error < 0.6 * stranger_error
    emb = _embedder(nets)
    with torch.no_grad():
        own = F.cosine_similarity(emb(again), emb(faces)).mean()
        other = F.cosine_similarity(emb(stranger), emb(faces)).mean()
    assert own > other + 0.2


def _single_term_step(module, loss_of, distance=1e-3):
    """Loss before and after one gradient step on that loss alone (same batch), moving the weights by `distance`."""
    module = copy.deepcopy(module).train()
    module.requires_grad_(True)
    loss = loss_of(module)
    loss.backward()
    params = [p for p in module.parameters() if p.grad is not None]
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in params))
    optimizer = torch.optim.SGD(params, lr=distance / float(norm))
    optimizer.step()
    with torch.no_grad():
        return float(loss), float(loss_of(module))


def test_one_mapper_step_lowers_each_loss(nets):
    emb = _embedder(nets)
    rng = torch.Generator().manual_seed(9)
    w = torch.randn(32, LATENT, generator=rng)
    delta, asked = sample_deltas(32, len(ATTRIBUTES), 2.0, 0.3, rng)
    span = attribute_range(nets["regressor"], LATENT, len(ATTRIBUTES), 0)
    names = mapper_losses(nets["mapper"], nets["regressor"], nets["generator"], emb, w, delta, asked, span, 8)
    assert set(names) == {"attribute", "preserve", "cycle", "zero", "neighbourhood", "identity"}
    for name in names:
        before, after = _single_term_step(nets["mapper"], lambda m: mapper_losses(
            m, nets["regressor"], nets["generator"], emb, w, delta, asked, span, 8)[name])
        assert after < before, name


def test_one_encoder_step_lowers_each_loss(nets):
    emb = _embedder(nets)
    z = torch.randn(16, LATENT, generator=torch.Generator().manual_seed(10))
    faces = render(nets["generator"], z)
    names = encoder_losses(nets["encoder"], nets["generator"], z, faces, faces, emb)
    assert set(names) == {"latent", "pixel", "prior", "identity"}
    for name in names:
        before, after = _single_term_step(
            nets["encoder"], lambda e: encoder_losses(e, nets["generator"], z, faces, faces, emb)[name])
        assert after < before, name
