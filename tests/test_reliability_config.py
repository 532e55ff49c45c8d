"""A user's mistakes: bad flags, settings and model files end in one line on stderr that names the
thing and the fix, a non-zero exit code and no traceback; a TensorRT engine cached for another GPU or
TensorRT version is found stale (so it is rebuilt), never loaded."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from commands import main_demo
from stream_media import REPO, moving_face_clip, write_video

from engines.engine_cache import EngineCache
from engines.onnx_export import export_onnx
from engines.tensorrt_engine import tensorrt_missing
from project import DEMO_CLIP

MAPPER = REPO / "models/default/mapper.safetensors"
GENERATOR = REPO / "models/default/generator.safetensors"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("config") / "face.avi", moving_face_clip(3))


def one_error_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def demo_error(capsys, clip, *argv: str) -> str:
    assert main_demo(["--input", str(clip), "--output", "", "--report", "", "--engine", "torch", *argv]) == 2
    return one_error_line(capsys.readouterr().err)


def truncated_mapper(tmp_path):
    data = MAPPER.read_bytes()
    path = tmp_path / "mapper.safetensors"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("argv,expected", [
    (["--edit", "hat=+1"], ["'hat=+1'", "age, gender, beard, glasses, smile, yaw"]),
    (["--edit", "age=+50"], ["'age=+50'", "out of range", "-3 to +3"]),
    (["--edit", "smile=nan"], ["'smile=nan'", "out of range"]),
    (["--edit", "beard=lots"], ["'lots' is not a number"]),
    (["--set", "stream.facez=2"], ["unknown setting 'stream.facez'", "faces"]),
    (["--set", "stream.fps=0"], ["stream.fps = 0", "from 1 to 240"]),
    (["--faces", "most"], ["stream.faces = 'most'", "largest, all"]),
    (["--set", 'engine.mapper="/no/such/mapper.safetensors"'], ["/no/such/mapper.safetensors", "no such checkpoint"]),
    (["--set", f'engine.mapper="{GENERATOR}"'], ["holds a 'stylegan2_generator' network, expected 'l2l_mapper'"]),
    (["--config", "/no/such/settings.toml"], ["/no/such/settings.toml not found"]),
    (["--config", str(DEMO_CLIP)], ["demo_face.mp4: invalid TOML"]),
    (["--keymap", str(DEMO_CLIP)], ["keymap", "cannot read it"]),
])
def test_a_user_mistake_is_one_line_naming_it_and_the_fix(capsys, clip, argv, expected):
    line = demo_error(capsys, clip, *argv)
    for part in expected:
        assert part in line


def test_an_unreadable_or_odd_model_file_is_named(capsys, clip, tmp_path):
    # /proc/self/mem is a file that fails on read even for root (where permissions would not stop it).
    assert "cannot be read (Input/output error)" in demo_error(capsys, clip, "--set", 'engine.mapper="/proc/self/mem"')
    odd = tmp_path / "list.safetensors"
    odd.write_bytes((7).to_bytes(8, "little") + b"[1,2,3]")  # a valid length and JSON, but not an object
    assert "not a safetensors file (header is not a JSON object)" in demo_error(capsys, clip, "--set",
                                                                                 f'engine.mapper="{odd}"')


def test_a_truncated_model_file_is_named(capsys, clip, tmp_path):
    bad = truncated_mapper(tmp_path)
    line = demo_error(capsys, clip, "--set", f'engine.mapper="{bad}"')
    assert str(bad) in line and ("corrupt" in line or "not a safetensors file" in line)


@pytest.mark.skipif(tensorrt_missing() is None, reason="TensorRT can run here")
def test_asking_for_tensorrt_where_it_cannot_run_says_what_to_use(capsys, clip):
    assert "use --engine auto, ort or torch" in demo_error(capsys, clip, "--engine", "trt")


def test_the_real_command_line_prints_no_traceback(clip, tmp_path):
    """The same through `python run.py` in a child process: exit code, stderr and nothing else."""
    bad = truncated_mapper(tmp_path)
    for argv in (["--edit", "age=+50"], ["--set", f'engine.mapper="{bad}"'], ["--set", "stream.facez=2"]):
        result = subprocess.run([sys.executable, "run.py", "demo", "--input", str(clip), "--output", "",
                                 "--engine", "torch", *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        one_error_line(result.stderr)


@pytest.fixture(scope="module")
def mapper_onnx(tmp_path_factory):
    """The shipped mapper exported to ONNX: what a TensorRT engine is built from."""
    import torch

    from engines.checkpoint import load_checkpoint, load_state_into
    from engines.mapper import L2LMapper

    sd, header = load_checkpoint(MAPPER, "l2l_mapper")
    mapper = L2LMapper(**header.config)
    load_state_into(mapper, sd, MAPPER)
    path = tmp_path_factory.mktemp("onnx") / "mapper.onnx"
    export_onnx(mapper.eval(), {"latent": torch.randn(1, mapper.latent_dim), "delta": torch.zeros(1, mapper.n_attributes)}, ["latent_out"], path)
    return path


def test_an_engine_cached_for_another_gpu_or_tensorrt_is_stale_and_replaced(tmp_path, mapper_onnx):
    cache = EngineCache(tmp_path / "trt")
    built_on = cache.key(mapper_onnx, "NVIDIA A100-SXM4-40GB", "10.0.1", "fp16")
    old = cache.store("mapper", built_on, b"engine built on the A100")
    assert cache.lookup("mapper", built_on) == old
    for gpu, version, precision in (("NVIDIA H100 80GB HBM3", "10.0.1", "fp16"),
                                    ("NVIDIA A100-SXM4-40GB", "10.3.0", "fp16"),
                                    ("NVIDIA A100-SXM4-40GB", "10.0.1", "int8")):
        assert cache.lookup("mapper", cache.key(mapper_onnx, gpu, version, precision)) is None
    here = cache.key(mapper_onnx, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16")
    new = cache.store("mapper", here, b"engine built here")
    assert cache.lookup("mapper", here) == new and new.read_bytes() == b"engine built here"
    assert not old.exists() and not old.with_suffix(".json").exists()  # the stale build is gone


def test_an_engine_whose_record_does_not_match_is_not_loaded(tmp_path, mapper_onnx):
    cache = EngineCache(tmp_path / "trt")
    key = cache.key(mapper_onnx, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16")
    path = cache.store("mapper", key, b"engine")
    record = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**record, "gpu_name": "NVIDIA T4"}))
    assert cache.lookup("mapper", key) is None
    path.with_suffix(".json").write_text("{not json")
    assert cache.lookup("mapper", key) is None


def test_a_changed_onnx_graph_makes_the_cached_engine_stale(tmp_path, mapper_onnx):
    cache = EngineCache(tmp_path / "trt")
    key = cache.key(mapper_onnx, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16")
    cache.store("mapper", key, b"engine")
    changed = tmp_path / "mapper.onnx"
    changed.write_bytes(mapper_onnx.read_bytes().replace(b"latent_out", b"latent_new"))
    assert cache.lookup("mapper", cache.key(changed, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16")) is None
