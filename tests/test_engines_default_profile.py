"""The default profile: generator + encoder + mapper load from our checkpoints, run on ORT like on torch, fail clearly."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import skimage.data
import torch

from engines.checkpoint import CheckpointError, CheckpointHeader, read_header, save_checkpoint
from engines.config import EngineConfig
from engines.face_encoder import FaceEncoder
from engines.mapper import L2LMapper
from engines.profiles import load_engines

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO / "models/default/generator.safetensors"
LATENT = read_header(GENERATOR).latent_shape[0]
ATTRIBUTES = ["age", "gender", "beard", "glasses", "smile", "yaw"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_encoder(path: Path, channels: int = 16) -> Path:
    torch.manual_seed(4)
    cfg = dict(latent_dim=LATENT, channels=channels, size=64)
    header = CheckpointHeader(network="face_encoder", config=cfg)
    return save_checkpoint(path, FaceEncoder(**cfg).state_dict(), header)


def write_mapper(path: Path) -> Path:
    torch.manual_seed(5)
    cfg = dict(latent_dim=LATENT, n_attributes=6, hidden=128, depth=3)
    mapper = L2LMapper(**cfg)
    torch.nn.init.normal_(mapper.out.weight, std=0.05)  # a trained mapper's last layer is not zero
    header = CheckpointHeader(network="l2l_mapper", attributes=ATTRIBUTES, config=cfg)
    return save_checkpoint(path, mapper.state_dict(), header)


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> EngineConfig:
    d = tmp_path_factory.mktemp("default")
    return EngineConfig(generator=GENERATOR, encoder=write_encoder(d / "encoder.safetensors"),
                        mapper=write_mapper(d / "mapper.safetensors"), cache_dir=d / "cache", threads=1)


def photo64() -> np.ndarray:
    crop = skimage.data.astronaut()[0:256, 128:384]
    img = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    return img.transpose(2, 0, 1)[None].copy()


def assert_parity(got: np.ndarray, want: np.ndarray) -> None:
    scale = float(np.abs(want).max())
    assert scale > 0
    assert float(np.abs(got - want).max()) <= 1e-4 * scale


def test_ort_engines_match_torch_on_a_photo_and_a_render(profile):
    ort_set = load_engines(replace(profile, backend="ort"), verbose=False)
    torch_set = load_engines(replace(profile, backend="torch"), verbose=False)
    assert (ort_set.resolution, ort_set.latent_shape, ort_set.attributes) == (64, (LATENT,), tuple(ATTRIBUTES))
    assert {e.backend for e in (ort_set.encoder, ort_set.mapper, ort_set.generator, ort_set.editor)} == {"ort"}

    z = np.random.default_rng(0).standard_normal((1, LATENT)).astype(np.float32)
    render = torch_set.generator({"latent": z})["image"]
    assert_parity(ort_set.generator({"latent": z})["image"], render)
    for image in (photo64(), render):
        assert_parity(ort_set.encoder({"image": image})["latent"], torch_set.encoder({"image": image})["latent"])

    feeds = {"latent": z, "delta": np.array([[1.5, 0, 0, 0, 0, -1]], np.float32)}
    edited_z = torch_set.mapper(feeds)["latent"]
    assert_parity(ort_set.mapper(feeds)["latent"], edited_z)
    fused = ort_set.editor(feeds)
    assert_parity(fused["original"], render)
    assert_parity(fused["edited"], torch_set.generator({"latent": edited_z})["image"])
    assert np.abs(fused["edited"] - fused["original"]).max() > 0.01  # the edit changed the face


def test_missing_encoder_is_one_clear_line(tmp_path):
    config = EngineConfig(encoder=tmp_path / "encoder.safetensors", cache_dir=tmp_path / "cache")
    with pytest.raises(CheckpointError) as e:
        load_engines(config, verbose=False)
    assert str(e.value).startswith(f"{tmp_path / 'encoder.safetensors'}: no such checkpoint file")
    assert "\n" not in str(e.value)


def test_corrupt_truncated_and_mislabelled_checkpoints_name_the_file(profile, tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match=r"corrupt\.safetensors: not a safetensors file"):
        load_engines(replace(profile, generator=corrupt), verbose=False)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(GENERATOR.read_bytes()[: GENERATOR.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.safetensors: truncated or corrupt tensors"):
        load_engines(replace(profile, generator=truncated), verbose=False)

    with pytest.raises(CheckpointError, match=r"encoder\.safetensors: holds a 'face_encoder' network, expected 'l2l_mapper'"):
        load_engines(replace(profile, mapper=profile.encoder), verbose=False)

    # header promises 8 channels, tensors hold 16 (a header promising more than the file holds is refused sooner)
    wrong = tmp_path / "wrong.safetensors"
    from safetensors.torch import load_file

    save_checkpoint(wrong, load_file(str(profile.encoder)), CheckpointHeader(network="face_encoder", config=dict(channels=8)))
    with pytest.raises(CheckpointError, match=r"wrong\.safetensors: layout does not match FaceEncoder"):
        load_engines(replace(profile, encoder=wrong), verbose=False)


def test_export_command_reports_a_missing_checkpoint_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "run.py", "export", "--set", f"engine.encoder='{tmp_path / 'none.safetensors'}'"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2  # a user's mistake, as for every command
    assert result.stderr.strip() == f"error: {tmp_path / 'none.safetensors'}: no such checkpoint file; check the path or run the step that creates it"


def test_export_command_writes_one_onnx_per_network(profile, capsys):
    from commands import export_main

    rc = export_main(["--set", f"engine.encoder='{profile.encoder}'", "--set", f"engine.mapper='{profile.mapper}'",
                      "--set", f"engine.cache_dir='{profile.cache_dir}'"])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["encoder", "mapper", "generator", "mapper+generator"]
    for line in lines:
        path = Path(line.split(": ", 1)[1])
        assert path.parent == profile.cache_dir / "onnx" and path.suffix == ".onnx"
        onnx.checker.check_model(str(path))


def test_auto_engine_says_in_one_line_which_backend_it_took(profile, capsys):
    engines = load_engines(replace(profile, backend="auto"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"engine: {engines.backend} (auto: ")
    assert engines.editor.backend == engines.backend
