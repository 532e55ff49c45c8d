"""Which runtimes are present, which one `--engine auto` picks, and building one network on one of them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from engines.config import TORCH_PRECISIONS, EngineConfig, torch_cuda_precision
from engines.engine import Engine, EngineError, TensorSpec
from engines.engine_cache import EngineCache
from engines.onnx_export import int8_path
from engines.ort_engine import OrtEngine, ort_providers
from engines.precision import fastest_precision
from engines.tensorrt_engine import TrtEngine, tensorrt_missing
from engines.torch_engine import TorchEngine
from project import resolve_path

ALL_BACKENDS = ("torch", "ort", "ort-int8", "trt", "torch-cuda")


def backend_status() -> dict[str, str | None]:
    """Each backend → None when it can run here, else why not (ort-int8 depends on the network; see int8_path)."""
    cuda = None if torch.cuda.is_available() else "no CUDA device"
    return {"torch": None, "ort": None, "ort-int8": None, "trt": tensorrt_missing(), "torch-cuda": cuda}


def choose_backend(requested: str) -> tuple[str, str]:
    """(backend, reason) for `--engine auto|trt|ort|torch`; auto takes the fastest present."""
    status = backend_status()
    providers = ort.get_available_providers()
    if requested == "trt":
        if status["trt"]:
            raise EngineError(f"--engine trt: {status['trt']}; use --engine auto, ort or torch")
        return "trt", "requested"
    if requested == "ort":
        return "ort", f"requested; provider {_first_provider(providers)}"
    if requested == "torch":
        return ("torch-cuda", "requested; CUDA, precision per network (engine.network_precision)") if status["torch-cuda"] is None else ("torch", "requested; CPU eager")
    if status["trt"] is None:
        return "trt", "auto: native TensorRT is present"
    if "CUDAExecutionProvider" in providers or "TensorrtExecutionProvider" in providers:
        return "ort", f"auto: ONNX Runtime with {_first_provider(providers)}; trt: {status['trt']}"
    if status["torch-cuda"] is None:
        return "torch-cuda", f"auto: CUDA present but onnxruntime has no GPU provider; trt: {status['trt']}"
    return "ort", f"auto: CPU only, ONNX Runtime beats torch eager; trt: {status['trt']}"


def _first_provider(providers: list[str]) -> str:
    return next((p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in providers), "CPUExecutionProvider")


def make_engine(
    name: str,
    backend: str,
    module: nn.Module,
    inputs: tuple[TensorSpec, ...],
    output_names: tuple[str, ...],
    onnx_path: Path | None,
    config: EngineConfig,
    calibrator=None,
) -> Engine:
    """Wrap one network for one backend; the ONNX-based ones need `onnx_path`."""
    cache_dir = resolve_path(config.cache_dir)
    if backend == "torch":
        engine = TorchEngine(name, module, inputs, output_names, device="cpu")
        engine.precision_reason = "torch on the CPU runs fp32"
        return engine
    if backend == "torch-cuda":
        return torch_cuda_engine(name, module, inputs, output_names, config)
    if backend == "ort":
        providers = ort_providers(cache_dir, fp16=config.precision != "fp32")
        return OrtEngine(name, onnx_path, threads=config.threads, providers=providers, output_names=output_names)
    if backend == "ort-int8":
        providers = ort_providers(cache_dir, fp16=False)
        return OrtEngine(name, int8_path(onnx_path), threads=config.threads, backend="ort-int8", providers=providers, output_names=output_names)
    if backend == "trt":
        return TrtEngine(name, onnx_path, EngineCache(cache_dir / "trt"), config.precision, calibrator, output_names)
    raise EngineError(f"{name}: unknown backend '{backend}'; choose one of {', '.join(ALL_BACKENDS)}")


def torch_cuda_engine(name: str, module: nn.Module, inputs: tuple[TensorSpec, ...], output_names: tuple[str, ...], config: EngineConfig) -> Engine:
    """The network on torch-cuda in its configured precision, or in the fastest measured one (engine.network_precision)."""
    setting = torch_cuda_precision(config, name)

    def build(precision: str) -> TorchEngine:
        return TorchEngine(name, module, inputs, output_names, device="cuda", precision=precision, cuda_graph=config.cuda_graphs)

    if setting != "auto":
        engine = build(setting)
        engine.precision_reason = f"engine.network_precision.{name} = {setting}" if name in config.network_precision else "engine.precision = fp32"
        return engine
    rng = np.random.default_rng(0)
    feeds = {s.name: rng.standard_normal(s.shape).astype(np.float32) for s in inputs}
    candidates = tuple(p for p in TORCH_PRECISIONS if p != "bf16" or torch.cuda.is_bf16_supported())
    return fastest_precision(build, feeds, candidates)
