"""A small ONNX graph (convolutional classifiers) executed with torch ops, so it can be differentiated."""
from __future__ import annotations

from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

SUPPORTED_OPS = {
    "Conv", "Mul", "Add", "Sub", "Relu", "Pad", "AveragePool", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm",
    "Softmax", "Identity",
}  # fmt: skip


class OnnxGraph(nn.Module):
    """forward(x) → the graph's first output; weights are frozen buffers."""

    def __init__(self, path: str | Path):
        super().__init__()
        model = onnx.load(str(path))
        graph = model.graph
        unknown = sorted({n.op_type for n in graph.node} - SUPPORTED_OPS)
        if unknown:
            raise ValueError(f"{path}: ONNX ops {unknown} are not supported by the torch interpreter")
        self.keys = {init.name: f"w{i}" for i, init in enumerate(graph.initializer)}
        for init in graph.initializer:
            self.register_buffer(self.keys[init.name], torch.from_numpy(numpy_helper.to_array(init).copy()))
        self.nodes = [
            (n.op_type, list(n.input), n.output[0], {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute})
            for n in graph.node
        ]
        self.input = graph.input[0].name
        self.output = graph.output[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {self.input: x}
        for name, key in self.keys.items():
            values[name] = getattr(self, key)
        for op, inputs, output, attr in self.nodes:
            values[output] = self.run(op, [values[i] if i else None for i in inputs], attr)
        return values[self.output]

    @staticmethod
    def run(op: str, a: list, attr: dict) -> torch.Tensor:
        if op == "Conv":
            pads = attr.get("pads", [0, 0, 0, 0])
            x = F.pad(a[0], (pads[1], pads[3], pads[0], pads[2]))
            return F.conv2d(x, a[1], a[2] if len(a) > 2 else None, stride=attr.get("strides", 1),
                            dilation=attr.get("dilations", 1), groups=attr.get("group", 1))  # fmt: skip
        if op in ("AveragePool", "MaxPool"):
            pads = attr.get("pads", [0, 0, 0, 0])
            if any(pads):
                raise ValueError(f"{op} with padding is not supported")
            k, s, ceil = attr["kernel_shape"], attr.get("strides", 1), bool(attr.get("ceil_mode", 0))
            pool = F.avg_pool2d if op == "AveragePool" else F.max_pool2d
            return pool(a[0], k, s, ceil_mode=ceil)
        if op == "Pad":
            pads = [int(v) for v in a[1].tolist()]  # ONNX: all begins, then all ends
            half = len(pads) // 2
            torch_pads = [v for axis in reversed(range(half)) for v in (pads[axis], pads[axis + half])]
            mode = attr.get("mode", b"constant")
            if mode not in (b"constant", "constant"):
                raise ValueError(f"Pad mode {mode!r} is not supported")
            return F.pad(a[0], torch_pads, value=float(a[2]) if len(a) > 2 and a[2] is not None else 0.0)
        if op == "GlobalAveragePool":
            return a[0].mean((2, 3), keepdim=True)
        if op == "Flatten":
            return a[0].flatten(attr.get("axis", 1))
        if op == "Gemm":
            x = a[0].T if attr.get("transA", 0) else a[0]
            w = a[1].T if attr.get("transB", 0) else a[1]
            y = attr.get("alpha", 1.0) * (x @ w)
            return y + attr.get("beta", 1.0) * a[2] if len(a) > 2 and a[2] is not None else y
        if op == "Softmax":
            return torch.softmax(a[0], dim=attr.get("axis", -1))
        if op == "Relu":
            return F.relu(a[0])
        if op == "Identity":
            return a[0]
        return {"Mul": torch.mul, "Add": torch.add, "Sub": torch.sub}[op](a[0], a[1])
