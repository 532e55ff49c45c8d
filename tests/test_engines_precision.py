"""Per-network precision: the setting, the measured choice, and the bench naming the precision of every network
and reporting a network that fails instead of dying on it."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from commands import bench_main

from engines.backends import make_engine
from engines.config import TORCH_PRECISIONS, EngineConfig, torch_cuda_precision
from engines.precision import fastest_precision
from engines.profiles import OUTPUT_NAMES, onnx_file, random_stylegan2
from engines.torch_engine import TorchEngine
from errors import ConfigError
from settings import load_settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small_256():
    return random_stylegan2(256, small=True)


def test_network_precision_setting_names_bad_values_and_falls_back_to_auto():
    engine = load_settings(overrides=['engine.network_precision={encoder = "bf16", "mapper+generator" = "fp16"}']).engine
    assert torch_cuda_precision(engine, "encoder") == "bf16"
    assert torch_cuda_precision(engine, "mapper+generator") == "fp16"
    assert torch_cuda_precision(engine, "generator") == "auto"  # not named: measured on the GPU
    assert torch_cuda_precision(EngineConfig(precision="fp32"), "generator") == "fp32"
    with pytest.raises(ConfigError, match=r"engine.network_precision.encoder = 'half'; choose one of fp32, fp16, bf16 or auto"):
        load_settings(overrides=['engine.network_precision={encoder = "half"}'])
    with pytest.raises(ConfigError, match=r"names 'decoder'; use the networks encoder, mapper, generator, mapper\+generator"):
        load_settings(overrides=['engine.network_precision={decoder = "fp16"}'])


def test_measured_choice_never_takes_a_precision_that_changes_the_output(small_256):
    """The chooser on the CPU, where torch runs bf16 and fp16 too: the same code picks among fp32/fp16/bf16 on a GPU."""
    name = "generator"
    specs = small_256.input_specs(name)
    feeds = {k: v.numpy() for k, v in small_256.example_inputs(name).items()}

    def build(precision: str) -> TorchEngine:
        return TorchEngine(name, small_256.module(name), specs, OUTPUT_NAMES[name], precision=precision)

    strict = fastest_precision(build, feeds, TORCH_PRECISIONS, warmup=0, repeats=2, tolerance=0.0)
    assert strict.precision == "fp32"  # fp16 and bf16 round: with no tolerance only fp32 is right
    assert "fp16 dropped" in strict.precision_reason and "bf16 dropped" in strict.precision_reason

    chosen = fastest_precision(build, feeds, TORCH_PRECISIONS, warmup=0, repeats=2, tolerance=0.1)
    timed = dict(part.rsplit(" ", 2)[:2] for part in chosen.precision_reason.removeprefix("measured: ").split("; ")[0].split(", "))
    assert set(timed) == set(TORCH_PRECISIONS)  # every candidate within tolerance was timed and its time is named
    assert chosen.precision == min(timed, key=lambda p: float(timed[p]))
    out, want = chosen(feeds)["image"], build("fp32")(feeds)["image"]
    assert out.dtype == np.float32 and out.shape == (1, 3, 256, 256)
    assert float(np.abs(out - want).max()) <= 0.1 * float(np.abs(want).max())
    with pytest.raises(ValueError, match="start with fp32"):
        fastest_precision(build, feeds, ("fp16", "fp32"))


def test_bench_small_1024_times_the_e4e_encoder_and_names_every_precision(tmp_path):
    out = tmp_path / "bench.json"
    rc = bench_main(["--profile", "stylegan2", "--resolution", "1024", "--small", "--backends", "torch", "--networks",
                     "encoder", "mapper", "--repeats", "2", "--warmup", "1", "--json", str(out),
                     "--set", f"engine.cache_dir='{tmp_path / 'cache'}'"])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["networks"]["encoder"]["torch"] > 0 and report["errors"] == {}
    assert report["precision"] == {"encoder": {"torch": "fp32"}, "mapper": {"torch": "fp32"}}
    assert report["precision_reason"]["encoder"]["torch"] == "torch on the CPU runs fp32"
    assert report["setup"]["resolution"] == 1024 and report["setup"]["small"] is True
    assert report["setup"]["latent_shape"] == [18, 64]


def test_bench_reports_a_failing_network_and_times_the_rest(tmp_path):
    """A cached encoder ONNX with the right inputs and outputs but an operator ONNX Runtime does not know breaks the
    encoder on ort (a corrupt or foreign file would be exported again); torch and the mapper go on."""
    import onnx

    cache = tmp_path / "cache"
    nets = random_stylegan2(256, small=True)
    broken = onnx_file(nets, "encoder", EngineConfig(cache_dir=cache))
    model = onnx.load(str(broken))
    model.graph.node[0].op_type = "NoSuchOperator"
    onnx.save(model, str(broken))
    out = tmp_path / "bench.json"
    rc = bench_main(["--profile", "stylegan2", "--small", "--backends", "torch", "ort", "--networks", "encoder", "mapper",
                     "--repeats", "2", "--warmup", "1", "--json", str(out), "--set", f"engine.cache_dir='{cache}'"])
    assert rc == 1  # something failed: said in the exit status, the report is written anyway
    report = json.loads(out.read_text())
    assert list(report["errors"]) == ["encoder"] and list(report["errors"]["encoder"]) == ["ort"]
    assert "EngineError" in report["errors"]["encoder"]["ort"] and str(broken) in report["errors"]["encoder"]["ort"]
    assert report["networks"]["encoder"]["torch"] > 0
    assert report["networks"]["mapper"]["ort"] > 0 and report["precision"]["mapper"]["ort"] == "fp32"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("precision", TORCH_PRECISIONS)
def test_torch_cuda_runs_each_precision_close_to_the_cpu(small_256, precision):
    name = "mapper+generator"
    specs = small_256.input_specs(name)
    feeds = {k: v.numpy() for k, v in small_256.example_inputs(name).items()}
    want = TorchEngine(name, small_256.module(name), specs, OUTPUT_NAMES[name])(feeds)
    config = EngineConfig(network_precision={name: precision})
    engine = make_engine(name, "torch-cuda", small_256.module(name), specs, OUTPUT_NAMES[name], None, config)
    assert engine.precision == precision and engine.graph is not None
    got = engine(feeds)
    for key in want:
        assert got[key].dtype == np.float32
        assert float(np.abs(got[key] - want[key]).max()) <= 5e-2 * float(np.abs(want[key]).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_auto_precision_is_measured(small_256):
    name = "generator"
    engine = make_engine(name, "torch-cuda", small_256.module(name), small_256.input_specs(name), OUTPUT_NAMES[name], None, EngineConfig())
    assert engine.precision in TORCH_PRECISIONS and engine.precision_reason.startswith("measured: fp32 ")
