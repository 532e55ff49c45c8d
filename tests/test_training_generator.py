"""The generator stage (G and its encoder learnt on real photos) and the exactness of the standard-latent fold."""
from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import torch

from engines.checkpoint import read_header
from engines.config import EngineConfig
from engines.generator_file import load_generator_file
from engines.profiles import load_networks
from engines.standard_latent import encoder_on_standard_latent, generator_on_standard_latent
from commands import main_train
from recognisers_faces import astronaut_photo, lfw_photos
from training.face_folder import is_held_out, load_faces
from training.resume import saved_step

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "train.generator_training.size=16", "--set", "train.generator_training.style_dim=16",
        "--set", "train.generator_training.channel_base=64", "--set", "train.generator_training.max_channels=16",
        "--set", "train.generator_training.encoder_channels=4", "--set", "train.generator_training.batch=4",
        "--set", "train.generator_training.sample_every=2", "--set", "train.generator_training.checkpoint_every=2"]


def _photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i, photo in enumerate([astronaut_photo(), *lfw_photos(11)]):
        cv2.imwrite(str(folder / f"{i}_face.jpg"), photo[:, :, ::-1])
    return folder


def _paths(tmp_path: Path) -> list[str]:
    return ["--set", f"train.out_dir='{tmp_path / 'models'}'", "--set", f"train.cache_dir='{tmp_path / 'cache'}'",
            "--set", f"train.generator='{tmp_path / 'models/generator.safetensors'}'"]


def test_generator_stage_trains_resumes_and_writes_a_profile_the_engines_load(tmp_path, capsys):
    data = _photo_folder(tmp_path)
    args = ["--stages", "generator", "--data", str(data), *TINY, *_paths(tmp_path)]
    assert main_train([*args, "--set", "train.generator_training.steps=2"]) == 0
    state = tmp_path / "cache/generator_state.safetensors"
    assert saved_step(state) == 2 and (tmp_path / "cache/generator_samples/step_000002.png").is_file()
    assert main_train([*args, "--set", "train.generator_training.steps=2"]) == 0
    assert "done already" in capsys.readouterr().out
    # More steps go on from the saved state instead of starting again.
    assert main_train([*args, "--set", "train.generator_training.steps=4"]) == 0
    assert saved_step(state) == 4 and read_header(tmp_path / "models/generator.safetensors").extra["steps"] == 4
    header = read_header(tmp_path / "models/generator.safetensors")
    assert "non-commercial" in header.extra["data_licence"]
    generator = load_generator_file(tmp_path / "models/generator.safetensors")
    with torch.no_grad():
        image = generator(torch.randn(2, generator.latent_dim))
    assert image.shape == (2, 3, 16, 16) and torch.isfinite(image).all()
    nets = load_networks(EngineConfig(generator=tmp_path / "models/generator.safetensors",
                                      encoder=tmp_path / "models/encoder.safetensors",
                                      mapper=tmp_path / "models/mapper.safetensors"), random_missing=True)
    assert nets.latent_shape == (16,) and nets.resolution == 16


def test_the_adversarial_setting_trains_a_discriminator_too(tmp_path):
    data = _photo_folder(tmp_path)
    assert main_train(["--stages", "generator", "--data", str(data), *TINY, *_paths(tmp_path),
                       "--set", "train.generator_training.steps=2", "--set", "train.generator_training.adversarial_weight=1",
                       "--set", "train.generator_training.d_channel_base=64", "--set", "train.generator_training.d_max_channels=16",
                       "--set", "train.generator_training.r1_every=1"]) == 0
    from safetensors import safe_open

    with safe_open(str(tmp_path / "cache/generator_state.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("d.") for k in keys) and any(k.startswith("opt_d.") for k in keys)


def test_the_gpu_settings_file_loads_and_describes_a_128_px_adversarial_generator():
    from settings import load_settings

    cfg = load_settings(ROOT / "training/generator_gpu.toml").train.generator_training
    assert (cfg.size, cfg.style_dim, cfg.adversarial_weight) == (128, 256, 1.0)


def test_generator_stage_without_photos_says_how_to_give_them(tmp_path, capsys):
    assert main_train(["--stages", "generator", *TINY, *_paths(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: the generator stage needs real face photos: pass --data DIR (a folder of aligned faces, e.g. UTKFace)"]
    assert main_train(["--stages", "generator", "--data", str(tmp_path / "none"), *TINY, *_paths(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --data {tmp_path / 'none'}: no such folder; pass a folder of aligned face photos (e.g. UTKFace)"]


def test_held_out_split_is_a_fixed_tenth_by_name(tmp_path):
    names = [f"{i}_{i % 2}_0_2017.jpg.chip.jpg" for i in range(2000)]
    held = [n for n in names if is_held_out(n)]
    assert 150 < len(held) < 250 and held == [n for n in names if is_held_out(n)]
    data = _photo_folder(tmp_path)
    train, heldout = load_faces(data, 16, "train"), load_faces(data, 16, "heldout")
    assert len(train.names) + len(heldout.names) == 12 and not set(train.names) & set(heldout.names)


def test_the_shipped_generator_folds_any_affine_latent_exactly():
    generator = load_generator_file(ROOT / "models/default/generator.safetensors")
    d = generator.latent_dim
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(d, d, generator=rng) * 0.2
    chol = torch.linalg.cholesky(a @ a.T + 0.5 * torch.eye(d))
    mean = torch.randn(d, generator=rng)
    u = torch.randn(3, d, generator=rng)
    with torch.no_grad():
        wanted = generator(mean + u @ chol.T)
        folded = generator_on_standard_latent(copy.deepcopy(generator), mean, chol)(u)
    assert (folded - wanted).abs().max() < 1e-3 * wanted.abs().max()


def test_the_encoder_fold_returns_the_standardised_latent():
    from engines.checkpoint import load_checkpoint, load_state_into
    from engines.face_encoder import FaceEncoder

    tensors, head = load_checkpoint(ROOT / "models/default/encoder.safetensors", "face_encoder")
    encoder = FaceEncoder(**head.config).eval()
    load_state_into(encoder, tensors, "encoder")
    d = encoder.latent_dim
    chol = torch.linalg.cholesky(torch.eye(d) * 2 + 0.1)
    mean = torch.full((d,), 0.3)
    face = torch.from_numpy(cv2.resize(astronaut_photo()[30:200, 50:220], (encoder.size, encoder.size))).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        w = encoder(face)
        u = encoder_on_standard_latent(copy.deepcopy(encoder), mean, chol)(face)
    assert torch.allclose(mean + u @ chol.T, w, atol=1e-4)
    assert np.isfinite(u.numpy()).all()
