"""Native TensorRT 10: build from ONNX (fp16 / INT8, timing cache, progress), cache, run with bound buffers.

tensorrt and torch's CUDA are imported lazily so the rest of the package works without them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.engine import EngineError, TensorSpec
from engines.engine_cache import EngineCache

PRECISIONS = ("fp32", "fp16", "int8")


def tensorrt_missing() -> str | None:
    """Why native TensorRT cannot run here, or None when it can."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "tensorrt not installed (pip install '.[tensorrt]')"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device"
    return None


def _progress_monitor(trt, label: str):
    """An IProgressMonitor that shows each build phase as a tqdm bar."""
    from tqdm import tqdm

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.bars: dict[str, tqdm] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.bars[phase_name] = tqdm(total=num_steps, desc=f"{label}: {phase_name}", leave=False)

        def step_complete(self, phase_name, step):
            bar = self.bars.get(phase_name)
            if bar is not None:
                bar.n = step + 1
                bar.refresh()
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            bar = self.bars.pop(phase_name, None)
            if bar is not None:
                bar.close()

    return Monitor()


def build_engine_bytes(onnx_path: Path, precision: str, timing_cache: Path, calibrator=None, workspace_gb: float = 4.0, label: str = "") -> bytes:
    """Parse the ONNX graph and build a serialized engine; INT8 takes any IInt8Calibrator (e.g. EntropyCalibrator2)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"{label}/trt: TensorRT cannot parse {onnx_path} ({errors})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if calibrator is None:
            raise EngineError(f"{label}/trt: INT8 needs a calibrator; run `python run.py calibrate` first")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    config.progress_monitor = _progress_monitor(trt, label)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise EngineError(f"{label}/trt: TensorRT build failed for {onnx_path}; see the TensorRT log above")
    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return bytes(blob)


class TrtEngine:
    """Runs a cached (or freshly built) TensorRT engine; device buffers are bound once and reused."""

    backend = "trt"

    def __init__(self, name: str, onnx_path: str | Path, cache: EngineCache, precision: str = "fp16", calibrator=None, output_names: tuple[str, ...] | None = None):
        missing = tensorrt_missing()
        if missing:
            raise EngineError(f"{name}/trt: {missing}; use --engine ort or torch")
        import tensorrt as trt
        import torch

        self.name = name
        self.precision, self.precision_reason = precision, "engine.precision"
        onnx_path = Path(onnx_path)
        key = cache.key(onnx_path, torch.cuda.get_device_name(), trt.__version__, precision)
        path = cache.lookup(name, key)
        if path is None:
            blob = build_engine_bytes(onnx_path, precision, cache.timing_cache(), calibrator, label=name)
            path = cache.store(name, key, blob)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise EngineError(f"{name}/trt: cannot deserialize {path}; delete it to rebuild")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.buffers: dict[str, torch.Tensor] = {}
        inputs, outputs = [], []
        for i in range(self.engine.num_io_tensors):
            tname = self.engine.get_tensor_name(i)
            shape = tuple(self.engine.get_tensor_shape(tname))
            dtype = torch.from_numpy(np.empty(0, dtype=trt.nptype(self.engine.get_tensor_dtype(tname)))).dtype
            self.buffers[tname] = torch.empty(shape, dtype=dtype, device="cuda")
            self.context.set_tensor_address(tname, self.buffers[tname].data_ptr())
            spec = TensorSpec(tname, shape, str(np.dtype(trt.nptype(self.engine.get_tensor_dtype(tname)))))
            (inputs if self.engine.get_tensor_mode(tname) == trt.TensorIOMode.INPUT else outputs).append(spec)
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        # engine-convention names (see OrtEngine) → the graph's own
        self.renamed = dict(zip(output_names or [s.name for s in outputs], [s.name for s in outputs]))
        self.outputs = tuple(TensorSpec(n, s.shape, s.dtype) for n, s in zip(self.renamed, outputs))

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with torch.cuda.stream(self.stream):
            for s in self.inputs:
                self.buffers[s.name].copy_(torch.from_numpy(np.asarray(feeds[s.name])), non_blocking=True)
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise EngineError(f"{self.name}/trt: execution failed")
            out = {name: self.buffers[graph_name].float().cpu() for name, graph_name in self.renamed.items()}
        self.stream.synchronize()
        return {k: v.numpy() for k, v in out.items()}
