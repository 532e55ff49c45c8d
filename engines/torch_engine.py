"""torch engine: eager fp32 on CPU; on CUDA fp16, channels_last and one captured CUDA graph per network."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from engines.engine import TensorSpec


def prepare_module(module: nn.Module, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
    """A copy on `device` in `dtype` with 4-D weights channels_last (the layout fp16 tensor-core convolutions want).

    A copy because `.to()` converts in place and the caller's module may also feed other engines or ONNX export;
    only 4-D tensors change layout (StyleGAN2 keeps 5-D modulated weights).
    """
    module = copy.deepcopy(module).eval().to(device, dtype)
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if t.ndim == 4:
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    return module


class TorchEngine:
    """Wraps a module with fixed input shapes; outputs are named in the order the module returns them."""

    def __init__(self, name: str, module: nn.Module, inputs: tuple[TensorSpec, ...], output_names: tuple[str, ...], device: str = "cpu", half: bool = True, cuda_graph: bool = True):
        self.name = name
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        self.backend = "torch-cuda" if cuda else "torch"
        self.dtype = torch.float16 if cuda and half else torch.float32
        self.module = prepare_module(module, self.device, self.dtype) if cuda else module.eval()
        self.inputs = inputs
        self.static = {s.name: torch.zeros(s.shape, device=self.device, dtype=self.dtype) for s in inputs}
        first = self._run()
        self.outputs = tuple(TensorSpec(n, tuple(t.shape)) for n, t in zip(output_names, first))
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_out: tuple[torch.Tensor, ...] = ()
        if cuda and cuda_graph:
            self._capture()

    def _run(self) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            out = self.module(*self.static.values())
        return out if isinstance(out, tuple) else (out,)

    def _capture(self) -> None:
        # Warm-up on a side stream (cuDNN picks its algorithms), then record one replayable graph.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._run()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.inference_mode():
            out = self.module(*self.static.values())
        self.static_out = out if isinstance(out, tuple) else (out,)

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            for s in self.inputs:
                self.static[s.name].copy_(torch.from_numpy(np.asarray(feeds[s.name])), non_blocking=True)
            if self.graph is not None:
                self.graph.replay()
                outs = self.static_out
            else:
                outs = self._run()
            return {s.name: t.float().cpu().numpy() for s, t in zip(self.outputs, outs)}
