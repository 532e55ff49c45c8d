"""The stylegan2 profile: an e4e checkpoint in the public layout loads, exports to ONNX and matches torch."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from engines.checkpoint import CheckpointError, CheckpointHeader, save_checkpoint
from engines.config import EngineConfig
from engines.e4e import E4EInversion, StyleEncoder, load_e4e, save_e4e
from engines.mapper import L2LMapper
from engines.profiles import load_engines, load_rosinality_generator
from engines.stylegan2 import Generator
from project import ATTRIBUTES

SIZE, STYLE_DIM, BASE = 256, 64, 16  # public key layout, narrow widths so the test takes seconds

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def randomize(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights everywhere, including the ones initialised to zero or one (noise gains, BN statistics)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype.is_floating_point and not name.endswith("kernel"):
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                elif name.startswith("noises."):
                    t.copy_(torch.randn(t.shape, generator=g))
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * (1.0 if t.ndim > 1 else 0.1))
    return module.eval()


def small_generator(seed: int = 0) -> Generator:
    return randomize(Generator(SIZE, style_dim=STYLE_DIM, n_mlp=2, channel_multiplier=1, max_channels=64), seed)


def write_e4e(path: Path, encoder_type: str = "Encoder4Editing") -> Path:
    """A checkpoint in the layout of the public e4e_ffhq_encode.pt: state_dict with prefixes, latent_avg, opts."""
    enc = randomize(StyleEncoder(SIZE, base=BASE, style_dim=STYLE_DIM, editing=encoder_type == "Encoder4Editing"), 1)
    dec = small_generator(2)
    opts = {"exp_dir": "experiments/ffhq", "dataset_type": "ffhq_encode", "checkpoint_path": None, "batch_size": 8,
            "learning_rate": 0.0001, "lpips_lambda": 0.8}
    return save_e4e(path, E4EInversion(enc, torch.randn(dec.n_latent, STYLE_DIM) * 0.1), dec, opts)


def write_mapper(path: Path, n_latent: int) -> Path:
    cfg = dict(latent_dim=n_latent * STYLE_DIM, n_attributes=len(ATTRIBUTES), hidden=64, depth=3)
    mapper = randomize(L2LMapper(**cfg), 3)
    header = CheckpointHeader(network="l2l_mapper", profile="stylegan2", resolution=SIZE, latent_shape=[n_latent, STYLE_DIM],
                              attributes=list(ATTRIBUTES), config=cfg)
    return save_checkpoint(path, mapper.state_dict(), header)


def real_face(size: int) -> np.ndarray:
    """The astronaut photo's face region as (1, 3, size, size) in [-1, 1]."""
    crop = skimage.data.astronaut()[0:256, 128:384]
    img = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    return img.transpose(2, 0, 1)[None].copy()


def assert_parity(got: np.ndarray, want: np.ndarray) -> None:
    scale = float(np.abs(want).max())
    assert scale > 0
    assert float(np.abs(got - want).max()) <= 1e-4 * scale


@pytest.fixture(scope="module")
def e4e_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("e4e")
    e4e = write_e4e(d / "e4e_ffhq_encode.pt")
    mapper = write_mapper(d / "mapper.safetensors", 2 * 8 - 2)
    return d, e4e, mapper


def test_e4e_checkpoint_loads_without_unpickling_and_inverts_a_photo(e4e_files):
    _, e4e, _ = e4e_files
    inversion, generator, opts = load_e4e(e4e)
    assert opts["encoder_type"] == "Encoder4Editing" and generator.size == SIZE
    with torch.no_grad():
        w = inversion(torch.from_numpy(real_face(SIZE)))
        image = generator(w)
    assert w.shape == (1, 14, STYLE_DIM) and image.shape == (1, 3, SIZE, SIZE)
    # e4e: every W+ entry is the base code plus its own offset, so entries differ but start from one code
    assert not torch.allclose(w[:, 0], w[:, 5])


def test_stylegan2_profile_ort_matches_torch_on_every_network(e4e_files):
    d, e4e, mapper = e4e_files
    config = EngineConfig(profile="stylegan2", e4e_checkpoint=e4e, stylegan2_mapper=mapper, cache_dir=d / "cache", threads=1)
    ort_set = load_engines(EngineConfig(**{**config.__dict__, "backend": "ort"}), verbose=False)
    torch_set = load_engines(EngineConfig(**{**config.__dict__, "backend": "torch"}), verbose=False)
    assert ort_set.backend == "ort" and torch_set.backend == "torch"
    assert ort_set.latent_shape == (14, STYLE_DIM) and ort_set.resolution == SIZE
    assert sorted(p.suffix for p in (d / "cache/onnx").iterdir()) == [".onnx"] * 4

    face = {"image": real_face(SIZE)}
    w = torch_set.encoder(face)["latent"]
    assert_parity(ort_set.encoder(face)["latent"], w)
    delta = {"latent": w, "delta": np.array([[1.0, 0, 0, 0, -0.5, 0, 0, 0.5]], np.float32)}
    assert_parity(ort_set.mapper(delta)["latent"], torch_set.mapper(delta)["latent"])
    assert_parity(ort_set.generator({"latent": w})["image"], torch_set.generator({"latent": w})["image"])
    fused_ort, fused_torch = ort_set.editor(delta), torch_set.editor(delta)
    for key in ("original", "edited"):
        assert_parity(fused_ort[key], fused_torch[key])
    # the fused graph's first output is the plain render, its second the edited one
    assert_parity(fused_ort["original"], torch_set.generator({"latent": w})["image"])
    edited_w = torch_set.mapper(delta)["latent"]
    assert_parity(fused_ort["edited"], torch_set.generator({"latent": edited_w})["image"])


def test_separate_rosinality_generator_replaces_the_e4e_decoder(e4e_files, tmp_path):
    d, e4e, mapper = e4e_files
    other = small_generator(7)
    torch.save({"g_ema": other.state_dict(), "latent_avg": torch.zeros(STYLE_DIM)}, tmp_path / "stylegan2-256.pt")
    config = EngineConfig(profile="stylegan2", e4e_checkpoint=e4e, stylegan2_generator=tmp_path / "stylegan2-256.pt",
                          stylegan2_mapper=mapper, backend="torch", cache_dir=tmp_path / "cache")
    engines = load_engines(config, verbose=False)
    w = np.random.default_rng(0).standard_normal((1, 14, STYLE_DIM)).astype(np.float32)
    with torch.no_grad():
        want = other(torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(engines.generator({"latent": w})["image"], want, atol=1e-5)


def test_pickled_objects_are_refused_unless_trusted(tmp_path):
    g = small_generator()
    path = tmp_path / "train-checkpoint.pt"
    # rosinality's train.py stores its argparse options next to g_ema: unpickling them could run code
    torch.save({"g_ema": g.state_dict(), "args": argparse.Namespace(size=SIZE)}, path)
    with pytest.raises(CheckpointError, match="refused; pass --trust-pickle"):
        load_rosinality_generator(path)
    assert load_rosinality_generator(path, trust_pickle=True).size == SIZE


def test_wrong_e4e_layouts_name_the_file_and_what_was_expected(e4e_files, tmp_path):
    _, e4e, _ = e4e_files
    generator_only = tmp_path / "g.pt"
    torch.save({"g_ema": small_generator().state_dict()}, generator_only)
    with pytest.raises(CheckpointError, match=r"g\.pt: not an e4e/pSp checkpoint \(expected a dict with 'state_dict'"):
        load_e4e(generator_only)

    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(e4e.read_bytes()[: e4e.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: cannot be read as a PyTorch checkpoint"):
        load_e4e(truncated)

    ckpt = torch.load(e4e, weights_only=True)
    ckpt["state_dict"] = {k: v for k, v in ckpt["state_dict"].items() if "styles.13." not in k}
    torch.save(ckpt, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match=r"short\.pt \(encoder\.\): layout does not match StyleEncoder \(missing \['styles\.13"):
        load_e4e(tmp_path / "short.pt")
