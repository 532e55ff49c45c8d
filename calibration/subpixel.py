"""Rewrite an ONNX graph's ConvTranspose layers as ordinary convolutions, which ONNX Runtime runs in INT8 on CPU.

ONNX Runtime's CPU provider has no INT8 kernel for ConvTranspose: a QDQ ConvTranspose runs as dequantise →
float ConvTranspose → quantise, slower than float. The same layer as convolutions quantises fully:
- a stride-s layer with kernel K = s·T and output exactly s× the input (K − 2·pad = s) is s² phase convolutions
  with T×T kernels (one per output pixel phase), concatenated and interleaved by DepthToSpace (a layer with few
  output channels, like the one that makes RGB, as one convolution over the union of the phases' taps);
- a stride-1, unpadded layer on a 1×1 input (the DCGAN's first layer) is a 1×1 convolution to C·K·K channels
  reshaped to K×K.
A BatchNormalization that only reads the layer is folded into the new convolutions. The result is exact in float.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

MERGE_CHANNELS = 32  # up to s²·Cout this many, one merged convolution beats s² tiny ones (measured on the DCGAN's to_rgb)


@dataclass
class RewriteReport:
    rewritten: list[str] = field(default_factory=list)  # ConvTranspose nodes now convolutions
    kept: dict[str, str] = field(default_factory=dict)  # ConvTranspose nodes left as they were → why
    folded_batchnorms: int = 0


def phase_taps(kernel: int, stride: int, pad: int, phase: int) -> tuple[list[int], int, int]:
    """For one output phase along one axis: the transposed kernel's taps in correlation order, and (pad_begin, pad_end).

    ConvTranspose writes x[j]·w[k] to output o = j·s + k − pad. For o = s·i + phase, tap k = s·(i − j) + phase + pad,
    so output i reads x[i + base − t] through w[s·t + q] (q, base = divmod(phase + pad, s)); as a correlation over
    x[i − pad_begin + u], u = T − 1 − t.
    """
    taps = kernel // stride
    base, q = divmod(phase + pad, stride)
    return [stride * (taps - 1 - u) + q for u in range(taps)], taps - 1 - base, base


def merged_phases(weight: np.ndarray, stride: int, pad: int) -> tuple[np.ndarray, list[int]]:
    """All s² phases as one convolution: (s²·Cout, Cin, k, k) weight over the union of the phases' input offsets
    (zeros where a phase reads no tap), and its pads. More multiply-adds than the separate phases, one pass over the input."""
    kernel = weight.shape[2]
    taps = [phase_taps(kernel, stride, pad, p) for p in range(stride)]
    before, after = max(t[1] for t in taps), max(t[2] for t in taps)
    size = before + after + 1
    cin, cout = weight.shape[:2]
    merged = np.zeros((stride * stride * cout, cin, size, size))
    for py, (taps_y, top, _) in enumerate(taps):
        for px, (taps_x, left, _) in enumerate(taps):
            block = slice((py * stride + px) * cout, (py * stride + px + 1) * cout)
            for uy, ky in enumerate(taps_y):
                for ux, kx in enumerate(taps_x):
                    merged[block, :, uy - top + before, ux - left + before] = weight[:, :, ky, kx].T
    return merged, [before, before, after, after]


def _fold_batchnorm(weight: np.ndarray, bias: np.ndarray, bn: onnx.NodeProto, inits: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(Cin, Cout, K, K) weight and (Cout,) bias with an inference BatchNormalization folded in."""
    eps = next((helper.get_attribute_value(a) for a in bn.attribute if a.name == "epsilon"), 1e-5)
    gamma, beta, mean, var = (inits[name].astype(np.float64) for name in bn.input[1:5])
    scale = gamma / np.sqrt(var + eps)
    return weight * scale[None, :, None, None], (bias - mean) * scale + beta


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def subpixel_rewrite(model: onnx.ModelProto) -> tuple[onnx.ModelProto, RewriteReport]:
    """A copy of `model` with every rewritable ConvTranspose (2-D, group 1, no dilation, constant weights) replaced."""
    model = shape_inference.infer_shapes(model)
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in [*graph.value_info, *graph.input, *graph.output]}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    report = RewriteReport()
    nodes: list[onnx.NodeProto] = []
    added: list[onnx.TensorProto] = []
    folded: set[str] = set()
    for index, node in enumerate(graph.node):
        if node.output[0] in folded:
            continue
        label = node.name or f"node{index}"
        why = _why_not(node, inits, shapes) if node.op_type == "ConvTranspose" else "other"
        if why:
            if why != "other":
                report.kept[label] = why
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = inits[node.input[1]].astype(np.float64)
        bias = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[1])
        out = node.output[0]
        after = readers.get(out, [])
        if len(after) == 1 and after[0].op_type == "BatchNormalization" and all(n in inits for n in after[0].input[1:5]) and out not in {o.name for o in graph.output}:
            weight, bias = _fold_batchnorm(weight, bias, after[0], inits)
            out = after[0].output[0]
            folded.add(out)
            report.folded_batchnorms += 1
        kernel, stride, pad = attrs["kernel_shape"][0], attrs.get("strides", [1, 1])[0], attrs.get("pads", [0, 0, 0, 0])[0]
        cin, cout = weight.shape[:2]
        prefix = f"{label}/subpixel"
        if shapes[node.input[0]][2:] == [1, 1]:
            w = weight.transpose(1, 2, 3, 0).reshape(cout * kernel * kernel, cin, 1, 1)
            added += [
                _const(f"{prefix}/w", w.astype(np.float32)),
                _const(f"{prefix}/b", np.repeat(bias, kernel * kernel).astype(np.float32)),
                _const(f"{prefix}/shape", np.array([0, cout, kernel, kernel], np.int64)),
            ]
            nodes += [
                helper.make_node("Conv", [node.input[0], f"{prefix}/w", f"{prefix}/b"], [f"{prefix}/flat"], name=f"{prefix}/conv", kernel_shape=[1, 1]),
                helper.make_node("Reshape", [f"{prefix}/flat", f"{prefix}/shape"], [out], name=f"{prefix}/reshape"),
            ]
        elif stride * stride * cout <= MERGE_CHANNELS:
            w, pads = merged_phases(weight, stride, pad)
            added += [_const(f"{prefix}/w", w.astype(np.float32)), _const(f"{prefix}/b", np.tile(bias, stride * stride).astype(np.float32))]
            nodes += [
                helper.make_node("Conv", [node.input[0], f"{prefix}/w", f"{prefix}/b"], [f"{prefix}/phases"], name=f"{prefix}/conv",
                                 kernel_shape=list(w.shape[2:]), pads=pads),
                helper.make_node("DepthToSpace", [f"{prefix}/phases"], [out], name=f"{prefix}/interleave", blocksize=stride, mode="DCR"),
            ]
        else:
            phases = []
            for py in range(stride):
                for px in range(stride):
                    taps_y, top, bottom = phase_taps(kernel, stride, pad, py)
                    taps_x, left, right = phase_taps(kernel, stride, pad, px)
                    w = weight[:, :, taps_y][:, :, :, taps_x].transpose(1, 0, 2, 3)
                    name = f"{prefix}/phase{py}{px}"
                    added += [_const(f"{name}/w", w.astype(np.float32)), _const(f"{name}/b", bias.astype(np.float32))]
                    nodes.append(helper.make_node(
                        "Conv", [node.input[0], f"{name}/w", f"{name}/b"], [name], name=name,
                        kernel_shape=[len(taps_y), len(taps_x)], pads=[top, left, bottom, right],
                    ))
                    phases.append(name)
            nodes += [
                helper.make_node("Concat", phases, [f"{prefix}/phases"], name=f"{prefix}/concat", axis=1),
                helper.make_node("DepthToSpace", [f"{prefix}/phases"], [out], name=f"{prefix}/interleave", blocksize=stride, mode="DCR"),
            ]
        report.rewritten.append(label)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept_inits = [t for t in graph.initializer if t.name in used] + [t for t in added if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model, report


def _why_not(node: onnx.NodeProto, inits: dict[str, np.ndarray], shapes: dict[str, list[int]]) -> str | None:
    """None when the ConvTranspose can be rewritten, else the reason it stays."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    kernel = attrs.get("kernel_shape", [])
    strides = attrs.get("strides", [1] * len(kernel))
    pads = attrs.get("pads", [0] * 2 * len(kernel))
    if node.input[1] not in inits or (len(node.input) > 2 and node.input[2] and node.input[2] not in inits):
        return "weights are not constants"
    if len(kernel) != 2 or attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
        return "not a plain 2-D layer (group, dilation or rank)"
    if "output_padding" in attrs or "output_shape" in attrs or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return "output_padding / output_shape / auto_pad set"
    if len(set(kernel)) != 1 or len(set(strides)) != 1 or len(set(pads)) != 1:
        return "kernel, stride or padding differ between axes"
    k, s, p = kernel[0], strides[0], pads[0]
    if s == 1 and p == 0 and shapes.get(node.input[0], [])[2:] == [1, 1]:
        return None
    if s > 1 and k % s == 0 and k - 2 * p == s:
        return None
    return f"kernel {k}, stride {s}, pad {p}: not a sub-pixel shape"
