"""Checkpoint headers are untrusted: the real shipped mapper's tensors under headers an attacker
or a bad tool wrote are refused in one line before any network is built; weights that are not finite are
refused at load, and renders that are not finite are never blended into the frame."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from commands import main_demo
from stream_media import BACKEND, REPO, TEMPLATE, moving_face_clip, read_video, write_video

from engines.checkpoint import HEADER_KEY, CheckpointError, CheckpointHeader, load_checkpoint, read_header, save_checkpoint
from engines.config import EngineConfig
from engines.mapper import L2LMapper
from engines.profiles import load_engines
from stream.alignment import AlignmentTemplate
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.keymap import load_keymap
from stream.session import Controls, Session
from stream.sinks import VirtualCameraSink
from shipped import LATENT

MAPPER = REPO / "models/default/mapper.safetensors"


def mapper_with_header(path, header_json: str, tensors: dict | None = None):
    """The shipped mapper's real tensors under the given LiveL2L header text."""
    save_file(tensors if tensors is not None else load_file(str(MAPPER)), str(path), metadata={HEADER_KEY: header_json})
    return path


def shipped_header() -> dict:
    with open(MAPPER, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(json.loads(f.read(n))["__metadata__"][HEADER_KEY])


def edited(**changes) -> str:
    header = shipped_header()
    for key, value in changes.items():
        if key.startswith("config_"):
            header["config"][key[len("config_"):]] = value
        else:
            header[key] = value
    return json.dumps(header)


@pytest.mark.parametrize("header,expected", [
    ("[" * 50_000 + "]" * 50_000, "unreadable LiveL2L header (RecursionError)"),
    (json.dumps({"network": "l2l_mapper", "config": {"a": [[[[[[[[[[1]]]]]]]]]]}}), "nested deeper than 8"),
    (edited(owner="someone"), "unknown key 'owner'"),
    (edited(config="latent_dim=100"), "config = \"latent_dim=100\" must be an object"),
    (edited(version="9"), "version = \"9\" must be a whole number"),
    (edited(resolution=-64), "resolution = -64"),
    (edited(latent_shape=[100, -1]), "latent_shape"),
    (edited(attributes=["age", 3]), "attributes"),
    ('"just a string"', "it is a JSON str, not an object"),
    (json.dumps({"profile": "default"}), "no 'network'"),
])
def test_a_malformed_header_is_refused_in_one_line(tmp_path, header, expected):
    path = mapper_with_header(tmp_path / "mapper.safetensors", header)
    with pytest.raises(CheckpointError, match="invalid LiveL2L header|unreadable LiveL2L header") as caught:
        read_header(path)
    assert expected in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("change,expected", [
    ({"config_hidden": 40_000}, "asks for 12"),  # about 12 GB from a 2.5 MB file: never allocated
    ({"config_depth": -3}, "config depth = -3"),
    ({"config_hidden": 512.5}, "config hidden = 512.5"),
    ({"config_activation": "relu"}, "unknown key 'activation' for L2LMapper"),
    ({"config_latent_dim": True}, "config latent_dim = true"),
])
def test_a_header_config_that_does_not_fit_the_network_is_refused_before_it_is_built(capsys, tmp_path, change,
                                                                                     expected):
    path = mapper_with_header(tmp_path / "mapper.safetensors", edited(**change))
    clip = write_video(tmp_path / "face.avi", moving_face_clip(2))
    code = main_demo(["--input", str(clip), "--output", "", "--report", "", "--engine", "torch",
                      "--set", f'engine.mapper="{path}"'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err


def test_non_finite_weights_are_refused_at_load(tmp_path):
    tensors = load_file(str(MAPPER))
    tensors["body.0.weight"][3, 7] = float("nan")
    path = mapper_with_header(tmp_path / "nan.safetensors", json.dumps(shipped_header()), tensors)
    with pytest.raises(CheckpointError, match="body.0.weight holds NaN or infinite values"):
        load_checkpoint(path, "l2l_mapper")


def test_a_render_that_is_not_finite_is_never_blended(tmp_path, recording_camera, capsys):
    """Finite weights so large that the mapper's output overflows to infinity: the generator then renders NaN."""
    mapper = L2LMapper(latent_dim=LATENT, n_attributes=6, hidden=64, depth=2)
    with torch.no_grad():
        mapper.out.weight.fill_(3e38)
    header = CheckpointHeader(network="l2l_mapper", config=dict(latent_dim=LATENT, n_attributes=6, hidden=64, depth=2),
                              attributes=["age", "gender", "beard", "glasses", "smile", "yaw"])
    path = save_checkpoint(tmp_path / "overflowing.safetensors", mapper.state_dict(), header)
    engines = load_engines(EngineConfig(backend="torch", threads=1, mapper=path), verbose=False)
    clip = write_video(tmp_path / "face.avi", moving_face_clip(4))
    source = VideoSource(str(clip))
    source.open()
    session = Session(StreamConfig(), engines, AlignmentTemplate.load(TEMPLATE),
                      Controls(EditState(engines.attributes, {"age": 2.0}), load_keymap(None, engines.attributes)),
                      source, [VirtualCameraSink(640, 480, 25, backend=BACKEND)], offline=True)
    report = session.run()
    assert report["frames"] == 4 and report["faces_edited"] == 0 and report["faces_not_finite"] == 4
    for src, out in zip(read_video(clip), recording_camera):
        np.testing.assert_array_equal(out, src)  # raw, not a black rectangle over the face
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "NaN or infinite" in warnings[0]


def test_a_cached_onnx_of_another_network_or_corrupt_is_exported_again(tmp_path, capsys):
    import shutil

    from engines.profiles import load_networks, onnx_file

    cfg = EngineConfig(cache_dir=tmp_path / "cache", threads=1)
    nets = load_networks(cfg)
    editor = onnx_file(nets, "mapper+generator", cfg)
    shutil.copy(onnx_file(nets, "encoder", cfg), editor)  # a valid ONNX file, but of the encoder
    assert onnx_file(nets, "mapper+generator", cfg) == editor
    assert "holds another network" in capsys.readouterr().out
    editor.write_bytes(b"\x00not onnx")
    onnx_file(nets, "mapper+generator", cfg)
    assert "not a readable ONNX file" in capsys.readouterr().out
    engines = load_engines(EngineConfig(cache_dir=tmp_path / "cache", threads=1, backend="ort"), verbose=False)
    out = engines.editor({"latent": np.zeros((1, *engines.latent_shape), np.float32),
                          "delta": np.zeros((1, len(engines.attributes)), np.float32)})
    assert set(out) == {"original", "edited"} and np.isfinite(out["edited"]).all()
