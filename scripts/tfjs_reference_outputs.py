"""Compute reference outputs of TF.js graph models with TensorFlow's own kernels, for the interpreter's tests.

Needs TensorFlow, which is not a LiveL2L dependency; use a throw-away venv:
    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.17.1
    /tmp/tfenv/bin/python scripts/tfjs_reference_outputs.py MODEL.json INPUT.npy OUT.npz NODE[,NODE...]
INPUT.npy holds the graph's NHWC float32 input. Fused TF.js ops (_FusedConv2D, FusedDepthwiseConv2dNative,
_FusedMatMul) are split back into TensorFlow's plain Conv2D / DepthwiseConv2dNative / MatMul + BiasAdd +
activation, so nothing of recognisers/tfjs_graph.py takes part in the reference.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16}
CORE_OP = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedMatMul": "MatMul"}
CORE_ATTRS = ("strides", "padding", "dilations", "data_format", "transpose_a", "transpose_b")


def read_weights(spec: dict, folder: Path) -> dict[str, np.ndarray]:
    weights, offset = {}, 0
    blob = b"".join((folder / p).read_bytes() for group in spec["weightsManifest"] for p in group["paths"])
    for group in spec["weightsManifest"]:
        for w in group["weights"]:
            q = w.get("quantization")
            stored = np.dtype(DTYPES[q["dtype"] if q else w["dtype"]])
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            weights[w["name"]] = np.frombuffer(blob, stored, n, offset).reshape(w["shape"]).astype(DTYPES[w["dtype"]])
            offset += n * stored.itemsize
    return weights


def unfused_graph(spec: dict, weights: dict[str, np.ndarray]) -> tf.compat.v1.GraphDef:
    source = json_format.ParseDict({"node": spec["modelTopology"]["node"]}, tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    graph = tf.compat.v1.GraphDef()
    float_type = tf.float32.as_datatype_enum
    for node in source.node:
        if node.op not in CORE_OP:
            new = graph.node.add()
            new.CopyFrom(node)
            if node.op == "Const":
                new.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
                new.attr["dtype"].type = tf.as_dtype(weights[node.name].dtype).as_datatype_enum
            elif node.op != "Placeholder" and "T" not in new.attr:
                new.attr["T"].type = float_type
            continue
        core = graph.node.add()
        core.name, core.op = node.name + "__core", CORE_OP[node.op]
        core.input.extend(node.input[:2])
        for key in CORE_ATTRS:
            if key in node.attr:
                core.attr[key].CopyFrom(node.attr[key])
        core.attr["T"].type = float_type
        previous, extra = core.name, list(node.input[2:])
        fused = [f.decode() for f in node.attr["fused_ops"].list.s]
        for i, op in enumerate(fused):
            step = graph.node.add()
            step.name = node.name if i == len(fused) - 1 else f"{node.name}__{i}"
            step.attr["T"].type = float_type
            step.op = op
            step.input.append(previous)
            if op == "BiasAdd":
                step.input.append(extra[0])
            elif op == "Prelu":
                step.input.append(extra[1])
            previous = step.name
    return graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_json", type=Path)
    ap.add_argument("inputs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("nodes")
    args = ap.parse_args()
    spec = json.loads(args.model_json.read_text())
    graph_def = unfused_graph(spec, read_weights(spec, args.model_json.parent))
    names = args.nodes.split(",")
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        placeholder = next(n.name for n in graph_def.node if n.op == "Placeholder")
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run([n + ":0" for n in names], {placeholder + ":0": np.load(args.inputs)})
    np.savez(args.out, **{n.replace("/", "__"): v for n, v in zip(names, values)})
    print({n: v.shape for n, v in zip(names, values)})


if __name__ == "__main__":
    main()
