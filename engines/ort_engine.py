"""ONNX Runtime engine: providers TensorRT → CUDA → CPU as installed, session tuned for low latency."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from engines.engine import EngineError, TensorSpec

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64", "tensor(int32)": "int32"}


def ort_providers(cache_dir: Path | None = None, fp16: bool = True) -> list:
    """The installed providers in preference order, with TensorRT's own engine cache pointed at cache_dir."""
    present = set(ort.get_available_providers())
    providers: list = []
    for name in PREFERRED_PROVIDERS:
        if name not in present:
            continue
        if name == "TensorrtExecutionProvider" and cache_dir is not None:
            options = {
                "trt_fp16_enable": fp16,
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache_dir / "ort-trt"),
                "trt_timing_cache_enable": True,
            }
            providers.append((name, options))
        else:
            providers.append(name)
    return providers


def session_options(threads: int = 0) -> ort.SessionOptions:
    """All graph optimisations, sequential execution, no thread spinning between frames.

    Spinning would keep the cores busy between frames and starve the capture and tracking threads.
    """
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


class OrtEngine:
    """Runs one exported network; `backend` is "ort", or "ort-int8" for a quantised file.

    `output_names` renames the graph's outputs in order: ONNX forbids an output named like an input, so the
    mapper's graph says `latent_out` where the engine convention says `latent`.
    """

    def __init__(
        self,
        name: str,
        onnx_path: str | Path,
        threads: int = 0,
        backend: str = "ort",
        providers: list | None = None,
        output_names: tuple[str, ...] | None = None,
    ):
        self.name = name
        self.backend = backend
        self.path = Path(onnx_path)
        if not self.path.is_file():
            fix = "python run.py calibrate" if backend == "ort-int8" else "python run.py export"
            raise EngineError(f"{name}/{backend}: ONNX file {self.path} missing; run `{fix}`")
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=session_options(threads), providers=providers or ort_providers()
            )
        except Exception as e:  # onnxruntime raises its own exception types per failure
            raise EngineError(f"{name}/{backend}: ONNX Runtime cannot load {self.path} ({str(e).splitlines()[0]})") from None
        self.inputs = tuple(_spec(a) for a in self.session.get_inputs())
        self.graph_outputs = [a.name for a in self.session.get_outputs()]
        self.outputs = tuple(_spec(a) for a in self.session.get_outputs())
        if output_names is not None:
            self.outputs = tuple(TensorSpec(n, s.shape, s.dtype) for n, s in zip(output_names, self.outputs))
        self.provider = self.session.get_providers()[0]
        self.precision, self.precision_reason = _precision(backend, self.provider, self.session.get_provider_options())

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self.graph_outputs, {s.name: np.ascontiguousarray(feeds[s.name], dtype=s.dtype) for s in self.inputs})
        return {s.name: v for s, v in zip(self.outputs, values)}


def _spec(arg) -> TensorSpec:
    return TensorSpec(arg.name, tuple(int(d) for d in arg.shape), ORT_TYPES.get(arg.type, arg.type))


def _precision(backend: str, provider: str, options: dict) -> tuple[str, str]:
    """What the session computes in: the INT8 file's int8, TensorRT's fp16 when enabled, else the graph's fp32."""
    if backend == "ort-int8":
        return "int8", "calibrated INT8 file"
    if provider == "TensorrtExecutionProvider" and str(options.get(provider, {}).get("trt_fp16_enable", "0")).lower() in ("1", "true"):
        return "fp16", "ONNX Runtime TensorRT provider with trt_fp16_enable"
    return "fp32", f"fp32 ONNX graph on {provider}"
