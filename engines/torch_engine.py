"""torch engine: eager fp32 on CPU; on CUDA fp32, fp16 or bf16, channels_last, its own stream and one captured
CUDA graph per network."""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from torch import nn

from engines.engine import EngineError, TensorSpec

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def prepare_module(module: nn.Module, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
    """A copy on `device` in `dtype` with 4-D weights channels_last (the layout fp16 tensor-core convolutions want).

    A copy because `.to()` converts in place and the caller's module may also feed other engines or ONNX export;
    only 4-D tensors change layout (StyleGAN2 keeps 5-D modulated weights and lays out each per-call weight like
    its activations).
    """
    module = copy.deepcopy(module).eval().to(device, dtype)
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if t.ndim == 4:
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    return module


@contextlib.contextmanager
def cudnn_autotune():
    """cuDNN benchmark mode for the calls inside: it times the algorithms for each new shape and keeps the fastest.

    Without it cuDNN's heuristics pick, and for fp16 channels_last grouped and transposed convolutions they can pick
    slow ones. The warm-up runs before a graph capture fill the cache, so the graph records the tuned algorithms."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


class TorchEngine:
    """Wraps a module with fixed input shapes; outputs are named in the order the module returns them.

    `precision` (fp32, fp16, bf16) is the float type the module runs in; inputs and outputs stay fp32, cast on the
    device inside the graph. CPU eager runs fp32 unless told otherwise.

    On CUDA every call runs on the engine's own stream: pinned host buffers → device (async), graph replay,
    device → pinned host (async), then only this stream is waited on. The calling thread (the pipeline's latent
    worker) blocks with the GIL released, so capture and face tracking keep running on theirs, and nothing
    waits on the default stream or on another engine's work.
    """

    def __init__(self, name: str, module: nn.Module, inputs: tuple[TensorSpec, ...], output_names: tuple[str, ...], device: str = "cpu", precision: str = "fp32", cuda_graph: bool = True):
        if precision not in DTYPES:
            raise EngineError(f"{name}/torch: precision '{precision}' unknown; use one of {', '.join(DTYPES)}")
        self.name = name
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
            raise EngineError(f"{name}/torch-cuda: this GPU has no bf16; set engine.network_precision.{name} to fp16 or fp32")
        self.backend = "torch-cuda" if cuda else "torch"
        self.precision = precision
        self.precision_reason = "set"
        self.dtype = DTYPES[precision]
        converted = cuda or self.dtype != torch.float32
        self.module = prepare_module(module, self.device, self.dtype) if converted else module.eval()
        self.inputs = inputs
        self.stream = torch.cuda.Stream(self.device) if cuda else None
        self.static = {s.name: torch.zeros(s.shape, device=self.device) for s in inputs}
        self.host_in = {s.name: torch.zeros(s.shape, pin_memory=True) for s in inputs} if cuda else {}
        if cuda:
            self.stream.wait_stream(torch.cuda.current_stream(self.device))  # weights and buffers were made on the default stream
        with self._on_stream():
            first = self._run()
        self.host_out = tuple(torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in first) if cuda else ()
        self.outputs = tuple(TensorSpec(n, tuple(t.shape)) for n, t in zip(output_names, first))
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_out: tuple[torch.Tensor, ...] = ()
        if cuda and cuda_graph:
            self._capture()

    def _on_stream(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def _run(self) -> tuple[torch.Tensor, ...]:
        """The module on the static inputs, cast to the engine's dtype (4-D ones channels_last, as the weights),
        outputs back in fp32; the casts are part of the captured graph."""
        tune = cudnn_autotune() if self.stream is not None else contextlib.nullcontext()
        with torch.inference_mode(), tune:
            if self.dtype == torch.float32 and self.stream is None:
                out = self.module(*self.static.values())
            else:
                out = self.module(*(self._cast(t) for t in self.static.values()))
            out = out if isinstance(out, tuple) else (out,)
            return tuple(t.float() for t in out)

    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        if t.ndim == 4:
            return t.to(dtype=self.dtype, memory_format=torch.channels_last)
        return t.to(self.dtype)

    def _capture(self) -> None:
        # Warm-up on the engine's stream (cuDNN times and caches its algorithms), then record one replayable graph.
        with self._on_stream():
            for _ in range(3):
                self._run()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=self.stream):
            self.static_out = self._run()
        self.stream.synchronize()

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.stream is None:
            with torch.inference_mode():
                for s in self.inputs:
                    self.static[s.name].copy_(torch.from_numpy(np.asarray(feeds[s.name])))
                return {s.name: t.numpy() for s, t in zip(self.outputs, self._run())}
        for s in self.inputs:
            self.host_in[s.name].numpy()[...] = feeds[s.name]
        with self._on_stream(), torch.inference_mode():
            for s in self.inputs:
                self.static[s.name].copy_(self.host_in[s.name], non_blocking=True)
            if self.graph is not None:
                self.graph.replay()
                outs = self.static_out
            else:
                outs = self._run()
            for host, t in zip(self.host_out, outs):
                host.copy_(t, non_blocking=True)
        self.stream.synchronize()
        return {s.name: host.numpy().copy() for s, host in zip(self.outputs, self.host_out)}
