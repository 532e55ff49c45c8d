"""Export a torch network to an ONNX file with fixed shapes (TorchScript exporter: works offline, no onnxscript)."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

OPSET = 17


def export_onnx(module: nn.Module, inputs: dict[str, torch.Tensor], output_names: list[str], path: str | Path) -> Path:
    """Trace `module(*inputs.values())` into `path` (written atomically) and check the graph."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # the legacy exporter warns that it is legacy; it is the one that needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(inputs.values()),
            str(tmp),
            input_names=list(inputs),
            output_names=output_names,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(str(tmp))
    tmp.replace(path)
    return path


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def int8_path(onnx_path: str | Path) -> Path:
    """Where the calibration step writes the INT8 (QDQ) version of an exported network."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + ".int8.onnx")
