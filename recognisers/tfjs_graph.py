"""A TF.js graph model executed with torch ops: NHWC graphs run in NCHW, differentiable end to end.

The graph (node list) travels in the safetensors header written by scripts/convert_tfjs_models.py; weights are
already laid out for torch there (conv kernels OIHW, depthwise kernels (C·M,1,H,W)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}
SUPPORTED_OPS = {
    "Placeholder", "Const", "Identity", "_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative",
    "DepthwiseConv2dNative", "_FusedMatMul", "MatMul", "BiasAdd", "Relu", "Relu6", "Sigmoid", "Tanh", "Add",
    "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Abs", "Neg", "Square", "Sqrt", "Rsqrt", "Sum",
    "Mean", "Max", "Squeeze", "Reshape", "Softmax", "MaxPool", "AvgPool", "Prelu", "Pad",
}  # fmt: skip


class UnsupportedGraphError(ValueError):
    """The TF.js graph uses an op or attribute this interpreter does not implement."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) for one spatial axis: the extra pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[2], kernel[0], stride[0])
    left, right = same_padding(x.shape[3], kernel[1], stride[1])
    return F.pad(x, (left, right, top, bottom), value=value)


class TfjsGraph(nn.Module):
    """forward(x: (N,C,H,W) standing for the graph's NHWC input) → dict output name → tensor (4-D outputs NCHW)."""

    def __init__(self, nodes: list[dict], constants: dict[str, torch.Tensor], outputs: list[str]):
        super().__init__()
        unknown = sorted({n["op"] for n in nodes} - SUPPORTED_OPS)
        if unknown:
            raise UnsupportedGraphError(f"TF.js graph uses unsupported ops {unknown}")
        self.nodes = nodes
        self.outputs = outputs
        self.const_keys = {name: f"c{i}" for i, name in enumerate(sorted(constants))}
        for name, key in self.const_keys.items():
            self.register_buffer(key, constants[name])
        self.inputs = [n["name"] for n in nodes if n["op"] == "Placeholder"]

    def const(self, name: str) -> torch.Tensor:
        return getattr(self, self.const_keys[name])

    def forward(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        values: dict[str, torch.Tensor] = dict(zip(self.inputs, inputs))
        for node in self.nodes:
            if node["op"] in ("Placeholder",):
                continue
            if node["op"] == "Const":
                values[node["name"]] = self.const(node["name"])
                continue
            args = [values[i.split(":")[0]] for i in node["inputs"] if not i.startswith("^")]
            values[node["name"]] = self.run(node, args)
        return {name: values[name] for name in self.outputs}

    def run(self, node: dict, a: list[torch.Tensor]) -> torch.Tensor:
        op, attr = node["op"], node["attr"]
        if op == "Identity":
            return a[0]
        if op in ("_FusedConv2D", "Conv2D"):
            x = self.conv_input(a[0], a[1], attr)
            y = F.conv2d(x, a[1], stride=tuple(attr["strides"][1:3]), dilation=tuple(attr.get("dilations", [1, 1, 1, 1])[1:3]))
            return self.fused(y, a[2:], attr, channel_axis=1)
        if op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            x = self.conv_input(a[0], a[1], attr)
            y = F.conv2d(x, a[1], stride=tuple(attr["strides"][1:3]), groups=x.shape[1],
                         dilation=tuple(attr.get("dilations", [1, 1, 1, 1])[1:3]))  # fmt: skip
            return self.fused(y, a[2:], attr, channel_axis=1)
        if op in ("_FusedMatMul", "MatMul"):
            x, w = a[0], a[1]
            x = x.transpose(-1, -2) if attr.get("transpose_a") else x
            w = w.transpose(-1, -2) if attr.get("transpose_b") else w
            return self.fused(x @ w, a[2:], attr, channel_axis=-1)
        if op == "BiasAdd":
            return a[0] + self.per_channel(a[1], a[0])
        if op in ("MaxPool", "AvgPool"):
            k, s = tuple(attr["ksize"][1:3]), tuple(attr["strides"][1:3])
            if attr["padding"] == "SAME":
                x = pad_same(a[0], k, s, value=-math.inf if op == "MaxPool" else 0.0)
                if op == "AvgPool":  # TF averages over the valid pixels only
                    ones = pad_same(torch.ones_like(a[0][:1, :1]), k, s)
                    return F.avg_pool2d(x, k, s) / F.avg_pool2d(ones, k, s)
            else:
                x = a[0]
            return F.max_pool2d(x, k, s) if op == "MaxPool" else F.avg_pool2d(x, k, s)
        if op in ("Sum", "Mean", "Max"):
            dims = [self.axis(int(d), a[0]) for d in torch.atleast_1d(a[1]).tolist()]
            keep = bool(attr.get("keep_dims", False))
            if op == "Max":
                return a[0].amax(dim=dims, keepdim=keep)
            return (a[0].sum if op == "Sum" else a[0].mean)(dim=dims, keepdim=keep)
        if op == "Squeeze":
            dims = attr.get("squeeze_dims") or [i for i, s in enumerate(a[0].shape) if s == 1]
            return a[0].squeeze(tuple(self.axis(int(d), a[0]) for d in dims))
        if op == "Reshape":
            x = a[0].permute(0, 2, 3, 1) if a[0].dim() == 4 else a[0]  # TF reshapes in NHWC order
            return x.reshape([int(s) for s in a[1].tolist()])
        if op == "Pad":
            pads = [int(v) for v in a[1].reshape(-1).tolist()]
            if a[0].dim() == 4:  # NHWC (before, after) pairs → F.pad's NCHW order, last axis first
                (n0, n1), (h0, h1), (w0, w1), (c0, c1) = zip(pads[0::2], pads[1::2])
                return F.pad(a[0], (w0, w1, h0, h1, c0, c1, n0, n1))
            return F.pad(a[0], [v for pair in reversed(list(zip(pads[0::2], pads[1::2]))) for v in pair])
        if op == "Softmax":
            return torch.softmax(a[0], dim=self.axis(-1, a[0]))
        if op == "Prelu":
            return F.relu(a[0]) - self.per_channel(a[1], a[0]) * F.relu(-a[0])
        unary = {
            "Relu": F.relu, "Relu6": lambda x: F.hardtanh(x, 0.0, 6.0), "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
            "Abs": torch.abs, "Neg": torch.neg, "Square": torch.square, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt,
        }  # fmt: skip
        if op in unary:
            return unary[op](a[0])
        x, y = self.broadcast(a[0], a[1])
        binary = {
            "Add": torch.add, "AddV2": torch.add, "Sub": torch.sub, "Mul": torch.mul, "RealDiv": torch.div,
            "Maximum": torch.maximum, "Minimum": torch.minimum,
        }  # fmt: skip
        return binary[op](x, y)

    @staticmethod
    def conv_input(x: torch.Tensor, w: torch.Tensor, attr: dict) -> torch.Tensor:
        if attr.get("padding") == "SAME":
            return pad_same(x, tuple(w.shape[2:]), tuple(attr["strides"][1:3]))
        if attr.get("padding") == "VALID":
            return x
        raise UnsupportedGraphError(f"padding {attr.get('padding')} is not supported")

    def fused(self, y: torch.Tensor, extra: list[torch.Tensor], attr: dict, channel_axis: int) -> torch.Tensor:
        for i, fused_op in enumerate(attr.get("fused_ops", [])):
            if fused_op == "BiasAdd":
                y = y + (extra[0].view(-1, 1, 1) if channel_axis == 1 else extra[0])
            elif fused_op == "Relu":
                y = F.relu(y)
            elif fused_op == "Relu6":
                y = F.hardtanh(y, 0.0, 6.0)
            elif fused_op == "Prelu":
                alpha = extra[1].view(-1, 1, 1) if channel_axis == 1 else extra[1]
                y = F.relu(y) - alpha * F.relu(-y)
            else:
                raise UnsupportedGraphError(f"fused op {fused_op} is not supported")
        return y

    @staticmethod
    def axis(axis: int, x: torch.Tensor) -> int:
        return NHWC_TO_NCHW_AXIS[axis] if x.dim() == 4 else axis

    @staticmethod
    def per_channel(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return c.view(-1, 1, 1) if x.dim() == 4 and c.dim() == 1 else c

    def broadcast(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Align a per-channel (C,) or NHWC-shaped constant with an NCHW tensor."""
        if x.dim() == 4 and y.dim() in (1, 3) and y.numel() > 1:
            y = y.reshape(-1, 1, 1) if y.dim() == 1 else y.permute(2, 0, 1)
        elif y.dim() == 4 and x.dim() in (1, 3) and x.numel() > 1:
            x = x.reshape(-1, 1, 1) if x.dim() == 1 else x.permute(2, 0, 1)
        return x, y


def load_tfjs_graph(path, name: str | None = None) -> tuple[TfjsGraph, dict]:
    """Load a converted TF.js model; returns the module (eval, frozen) and its header config."""
    from engines.checkpoint import CheckpointError, load_checkpoint

    tensors, header = load_checkpoint(path, "tfjs_graph")
    if name is not None and header.config.get("name") != name:
        raise CheckpointError(f"{path}: holds the TF.js model '{header.config.get('name')}', expected '{name}'")
    graph = TfjsGraph(header.extra["nodes"], tensors, list(header.config["outputs"].values()))
    graph.eval().requires_grad_(False)
    return graph, header.config
