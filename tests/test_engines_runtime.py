"""Runtimes around the networks: backend choice, the TensorRT engine cache, the bench report, GPU paths."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from commands import bench_main

from engines.backends import backend_status, choose_backend, make_engine
from engines.config import EngineConfig
from engines.engine import EngineError
from engines.engine_cache import EngineCache
from engines.onnx_export import export_onnx, int8_path
from engines.ort_engine import OrtEngine
from engines.profiles import OUTPUT_NAMES, build_engine, load_networks, onnx_file
from engines.stylegan2 import Generator
from engines.tensorrt_engine import TrtEngine, tensorrt_missing
from engines.torch_engine import TorchEngine, prepare_module
from errors import ConfigError
from settings import load_settings

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def nets():
    return load_networks(EngineConfig(), random_missing=True)


def export_linear(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    return export_onnx(torch.nn.Linear(8, 4), {"x": torch.randn(1, 8)}, ["y"], path)


def test_engine_cache_key_covers_graph_gpu_version_and_precision(tmp_path):
    onnx_a = export_linear(tmp_path / "a.onnx", 0)
    cache = EngineCache(tmp_path / "trt")
    key = cache.key(onnx_a, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16")
    variants = [
        cache.key(export_linear(tmp_path / "b.onnx", 1), "NVIDIA H100 80GB HBM3", "10.3.0", "fp16"),
        cache.key(onnx_a, "NVIDIA GeForce RTX 4090", "10.3.0", "fp16"),
        cache.key(onnx_a, "NVIDIA H100 80GB HBM3", "10.4.0", "fp16"),
        cache.key(onnx_a, "NVIDIA H100 80GB HBM3", "10.3.0", "int8"),
    ]
    assert len({key.digest(), *(v.digest() for v in variants)}) == 5
    assert cache.key(onnx_a, "NVIDIA H100 80GB HBM3", "10.3.0", "fp16") == key  # deterministic


def test_engine_cache_finds_fresh_engines_and_drops_stale_ones(tmp_path):
    onnx_path = export_linear(tmp_path / "mapper.onnx", 0)
    cache = EngineCache(tmp_path / "trt")
    old = cache.key(onnx_path, "GPU", "10.3.0", "fp16")
    assert cache.lookup("mapper+generator", old) is None
    stored = cache.store("mapper+generator", old, b"engine-1")
    assert cache.lookup("mapper+generator", old) == stored and stored.read_bytes() == b"engine-1"

    export_linear(onnx_path, 1)  # re-exported with new weights: the old engine is stale
    new = cache.key(onnx_path, "GPU", "10.3.0", "fp16")
    assert cache.lookup("mapper+generator", new) is None
    fresh = cache.store("mapper+generator", new, b"engine-2")
    assert not stored.exists() and fresh.exists()
    assert cache.store("mapper+generator", cache.key(onnx_path, "GPU", "10.3.0", "int8"), b"int8").exists()
    assert fresh.exists()  # another precision is another engine, kept

    fresh.with_suffix(".json").write_text("{not json")
    assert cache.lookup("mapper+generator", new) is None


def test_backend_choice_says_why(nets):
    status = backend_status()
    assert status["torch"] is None and status["ort"] is None
    backend, why = choose_backend("auto")
    if status["trt"] is None:
        assert backend == "trt"
    else:
        assert backend in ("ort", "torch-cuda") and status["trt"] in why
        with pytest.raises(EngineError, match="--engine trt: "):
            choose_backend("trt")
    assert choose_backend("torch")[0] == ("torch" if status["torch-cuda"] else "torch-cuda")


def test_engine_config_rejects_bad_values_with_the_fix():
    with pytest.raises(ConfigError, match=r"engine.resolution = 300; use 0 .* or 256, 512 or 1024"):
        load_settings(overrides=["engine.resolution=300"])
    with pytest.raises(ConfigError, match="needs engine.e4e_checkpoint"):
        load_settings(overrides=["engine.profile='stylegan2'"])
    with pytest.raises(ConfigError, match="engine.backend"):
        load_settings(overrides=["engine.backend='gpu'"])
    assert load_settings(overrides=["engine.backend='ort'", "engine.threads=2"]).engine.threads == 2


def test_bench_times_every_backend_present_and_lists_the_others(nets, tmp_path):
    from onnxruntime.quantization import quantize_dynamic

    config = EngineConfig(cache_dir=tmp_path / "cache")
    mapper_onnx = onnx_file(nets, "mapper", config)
    quantize_dynamic(str(mapper_onnx), str(int8_path(mapper_onnx)))  # what calibration/ will write
    out = tmp_path / "bench.json"
    rc = bench_main(["--json", str(out), "--repeats", "3", "--warmup", "1", "--networks", "mapper", "generator",
                     "--set", f"engine.cache_dir='{tmp_path / 'cache'}'"])
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report["networks"]) == {"mapper", "generator"}
    assert {"torch", "ort"} <= set(report["networks"]["generator"])
    assert report["networks"]["mapper"]["ort-int8"] > 0  # the INT8 hook found the quantised mapper
    assert "generator" in report["not_tried"]["ort-int8"]
    for backend, why in backend_status().items():
        if why:
            assert report["not_tried"][backend] == why
    if "CUDAExecutionProvider" not in ort.get_available_providers():  # a CPU onnxruntime: its GPU providers are named
        assert "CUDAExecutionProvider" in report["not_tried"]["ort-gpu"]
    assert report["max_abs_diff_vs_torch"]["generator"]["ort"] < 1e-4
    assert report["speedup_vs_torch"]["generator"]["ort"] > 0
    assert report["rss_mib"]["peak"] > 100
    assert report["setup"]["weights"]["generator"].endswith("generator.safetensors")
    int8_config = replace(config, precision="int8")
    assert build_engine(nets, "mapper", "ort", int8_config).backend == "ort-int8"
    assert build_engine(nets, "generator", "ort", int8_config).backend == "ort"  # no INT8 file: stays fp32


def test_ort_engine_from_a_path_renames_outputs_to_the_convention(nets, tmp_path):
    path = onnx_file(nets, "mapper", EngineConfig(cache_dir=tmp_path))
    engine = OrtEngine("mapper", path, threads=1, output_names=OUTPUT_NAMES["mapper"])
    assert [s.name for s in engine.inputs] == ["latent", "delta"]
    assert [s.name for s in engine.outputs] == ["latent"] and engine.outputs[0].shape == (1, *nets.latent_shape)
    with pytest.raises(EngineError, match=r"ONNX file .*missing\.int8\.onnx missing; run `python run.py calibrate`"):
        OrtEngine("mapper", tmp_path / "missing.int8.onnx", backend="ort-int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_engine_with_graph_matches_cpu(nets):
    feeds = {k: v.numpy() for k, v in nets.example_inputs("mapper+generator").items()}
    specs = nets.input_specs("mapper+generator")
    cpu = TorchEngine("mapper+generator", nets.module("mapper+generator"), specs, OUTPUT_NAMES["mapper+generator"])(feeds)
    gpu_engine = make_engine("mapper+generator", "torch-cuda", nets.module("mapper+generator"), specs,
                             OUTPUT_NAMES["mapper+generator"], None, EngineConfig(network_precision={"mapper+generator": "fp16"}))
    assert gpu_engine.graph is not None and gpu_engine.precision == "fp16"
    for _ in range(2):  # replays reuse the captured buffers
        gpu = gpu_engine(feeds)
    for key in cpu:
        np.testing.assert_allclose(gpu[key], cpu[key], atol=2e-2)


@pytest.mark.skipif(tensorrt_missing() is not None, reason=str(tensorrt_missing()))
def test_tensorrt_engine_builds_once_and_matches_ort(nets, tmp_path):
    config = EngineConfig(cache_dir=tmp_path)
    path = onnx_file(nets, "generator", config)
    feeds = {k: v.numpy() for k, v in nets.example_inputs("generator").items()}
    want = OrtEngine("generator", path)(feeds)["image"]
    cache = EngineCache(tmp_path / "trt")
    got = TrtEngine("generator", path, cache, "fp16", output_names=OUTPUT_NAMES["generator"])(feeds)["image"]
    np.testing.assert_allclose(got, want, atol=2e-2)
    built = sorted(cache.root.glob("*.engine"))
    assert len(built) == 1
    stamp = os.stat(built[0]).st_mtime_ns
    TrtEngine("generator", path, cache, "fp16")
    assert os.stat(built[0]).st_mtime_ns == stamp  # second load came from the cache


def test_gpu_preparation_copies_and_keeps_the_maths(nets):
    """The torch-cuda conversion (copy, dtype, channels_last) run on the CPU in fp32."""
    module = nets.module("mapper+generator")
    prepared = prepare_module(module, "cpu", torch.float32)
    first_conv = lambda m: next(p for n, p in m.generator.named_parameters() if p.ndim == 4)
    assert prepared is not module and first_conv(prepared).is_contiguous(memory_format=torch.channels_last)
    assert first_conv(module).is_contiguous()  # the caller's module is untouched
    feeds = nets.example_inputs("mapper+generator")
    with torch.no_grad():
        for a, b in zip(prepared(*feeds.values()), module(*feeds.values())):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    with torch.device("meta"):
        sg2 = prepare_module(Generator(256), "meta", torch.float16)
    assert sg2.convs[0].conv.weight.dtype == torch.float16 and sg2.convs[0].conv.weight.ndim == 5
