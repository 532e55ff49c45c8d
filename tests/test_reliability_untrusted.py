"""Checkpoints and configs from untrusted places: a .pt file carrying pickled code is refused
unless the user passes --trust-pickle (and its code never runs), and model paths in a config file cannot
leave the models folder; the same paths typed on the command line are the user's own choice."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from commands import main_demo
from stream_media import REPO, moving_face_clip, write_video

from engines.checkpoint import CheckpointError, load_torch_file
from engines.e4e import load_e4e
from engines.profiles import load_rosinality_generator
from errors import ConfigError
from settings import load_settings


class Payload:
    """Pickled, this object runs `open(marker, "w")` when loaded: a harmless stand-in for any code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def booby_trapped(tmp_path):
    """A checkpoint in the rosinality / e4e layouts with a pickled payload next to real tensors."""
    marker = tmp_path / "payload_ran"
    path = tmp_path / "e4e_ffhq_encode.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(4, 4)}, "state_dict": {}, "latent_avg": torch.zeros(1, 4),
                "opts": {"encoder_type": "Encoder4Editing"}, "extra": Payload(marker)}, path)
    return path, marker


def test_pickled_code_is_refused_by_every_loader_and_never_runs(booby_trapped):
    path, marker = booby_trapped
    for load in (load_torch_file, load_rosinality_generator, load_e4e):
        with pytest.raises(CheckpointError, match="pickled Python objects, refused; pass --trust-pickle"):
            load(path)
    assert not marker.exists()


def test_with_trust_pickle_the_payload_does_run(booby_trapped):
    """What the refusal protects against is real: the same file, trusted, runs its code."""
    path, marker = booby_trapped
    load_torch_file(path, trust_pickle=True)["extra"].close()
    assert marker.exists()


def test_the_command_line_refuses_it_in_one_line(booby_trapped, capsys, tmp_path):
    path, marker = booby_trapped
    clip = write_video(tmp_path / "face.avi", moving_face_clip(2))
    assert main_demo(["--input", str(clip), "--output", "", "--report", "", "--profile", "stylegan2",
                      "--set", f'engine.e4e_checkpoint="{path}"']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused; pass --trust-pickle" in err[0]
    result = subprocess.run([sys.executable, "run.py", "export", "--profile", "stylegan2", "--e4e", str(path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert "refused; pass --trust-pickle" in err[0]
    assert not marker.exists()


def config_file(tmp_path, **engine: str):
    path = tmp_path / "shared.toml"
    path.write_text("[engine]\n" + "".join(f'{k} = "{v}"\n' for k, v in engine.items()))
    return path


@pytest.mark.parametrize("key,value", [
    ("mapper", "../../../../../../etc/passwd"),
    ("mapper", "models/../../../../../etc/passwd"),
    ("encoder", "/etc/passwd"),
    ("e4e_checkpoint", "~/e4e_ffhq_encode.pt"),
    ("generator", str(REPO / "models/default/../../stream/../../generator.safetensors")),
])
def test_a_config_file_cannot_point_models_outside_the_models_folder(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"engine.{key} = .* is outside the models folder; put the file under models/"):
        load_settings(config_file(tmp_path, **{key: value}))


def test_a_real_model_copied_outside_is_refused_too(tmp_path):
    outside = tmp_path / "mapper.safetensors"
    outside.write_bytes((REPO / "models/default/mapper.safetensors").read_bytes())
    with pytest.raises(ConfigError, match="outside the models folder"):
        load_settings(config_file(tmp_path, mapper=str(outside)))
    # Typed on the command line it is the user's own choice.
    assert load_settings(None, [f'engine.mapper="{outside}"']).engine.mapper == outside


def test_models_inside_the_folder_load_from_a_config_file(tmp_path):
    settings = load_settings(config_file(tmp_path, mapper="models/default/mapper.safetensors",
                                         generator=str(REPO / "models/default/generator.safetensors")))
    assert settings.engine.mapper.name == "mapper.safetensors"


def test_the_demo_refuses_an_escaping_config_in_one_line(tmp_path, capsys):
    assert main_demo(["--config", str(config_file(tmp_path, mapper="/etc/passwd")), "--output", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "engine.mapper = '/etc/passwd' is outside the models folder" in err[0]
