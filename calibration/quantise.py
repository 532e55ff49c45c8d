"""ONNX Runtime static INT8 (QDQ) quantisation of one exported network, fed by the calibration set."""
from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from calibration.config import CalibrationConfig
from calibration.dataset import CalibrationSet
from calibration.subpixel import subpixel_rewrite

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def calibration_feeds(
    network: str, data: CalibrationSet, n_attributes: int, max_delta: float, seed: int, latent_shape: tuple[int, ...] | None = None
) -> list[dict[str, np.ndarray]]:
    """One batch-1 input dict per calibration sample, named as the network's ONNX inputs.

    Latents are stored flat; `latent_shape` (e.g. W+ (18, 512)) shapes them for the network.
    mapper+generator also sees edits: Δ on one or two attributes up to ±max_delta, as the sliders ask."""
    if network == "encoder":
        return [{"image": image[None]} for image in data.images]
    latents = data.latents.astype(np.float32).reshape(len(data.latents), *(latent_shape or data.latents.shape[1:]))
    if network == "generator":
        return [{"latent": z[None]} for z in latents]
    rng = np.random.default_rng(seed)
    feeds = []
    for z in latents:
        delta = np.zeros((1, n_attributes), np.float32)
        delta[0, rng.choice(n_attributes, rng.integers(1, 3), replace=False)] = rng.uniform(-max_delta, max_delta)
        feeds.append({"latent": z[None], "delta": delta})
    return feeds


class FeedReader(CalibrationDataReader):
    """ONNX Runtime's calibration reader over a list of input dicts."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.feeds = feeds
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= len(self.feeds):
            return None
        self.position += 1
        return self.feeds[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


@dataclass
class QuantReport:
    """How one network was quantised and what still runs in float."""

    network: str
    path: str
    seconds: float
    samples: int
    method: str
    per_channel: bool
    rewritten_conv_transpose: list[str] = field(default_factory=list)
    kept_conv_transpose: dict[str, str] = field(default_factory=dict)
    float_weighted_ops: list[str] = field(default_factory=list)  # weighted nodes the quantiser left in float
    runtime_ops: dict[str, int] = field(default_factory=dict)  # op types of the graph ONNX Runtime actually runs

    def to_dict(self) -> dict:
        return asdict(self)


def quantise_network(network: str, float_path: Path, out_path: Path, feeds: list[dict[str, np.ndarray]], cfg: CalibrationConfig) -> QuantReport:
    """Write the INT8 QDQ model of `float_path` to `out_path` (atomically) and say what it did."""
    start = time.perf_counter()
    model = onnx.load(str(float_path))
    rewrite = None
    if cfg.subpixel:
        model, rewrite = subpixel_rewrite(model)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "float.onnx"
        prepared = Path(tmp) / "prepared.onnx"
        onnx.save(model, str(staged))
        quant_pre_process(str(staged), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared)).graph
        keep = [n.name for n in graph.node if any(part in n.name for part in cfg.keep_float)]
        if cfg.float_output_layers:
            keep += [name for name in output_layers(graph) if name not in keep]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        partial = out_path.with_name(out_path.name + ".tmp")
        quantize_static(
            str(prepared),
            str(partial),
            FeedReader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(WEIGHTED_OPS) + ["Concat", "DepthToSpace", "Reshape", "Flatten", "Relu", "LeakyRelu"],
            per_channel=cfg.per_channel,
            activation_type=QuantType.QUInt8,  # u8 activations × s8 weights: the fast path of x86 VNNI/AVX2 kernels
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
            calibrate_method=METHODS[cfg.method],
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, "CalibPercentile": cfg.percentile, "CalibMovingAverage": cfg.moving_average},
        )
    partial.replace(out_path)
    quantised = onnx.load(str(out_path))
    return QuantReport(
        network=network,
        path=str(out_path),
        seconds=round(time.perf_counter() - start, 1),
        samples=len(feeds),
        method=cfg.method,
        per_channel=cfg.per_channel,
        rewritten_conv_transpose=rewrite.rewritten if rewrite else [],
        kept_conv_transpose=rewrite.kept if rewrite else {},
        float_weighted_ops=float_weighted_nodes(quantised),
        runtime_ops=runtime_ops(out_path),
    )


def output_layers(graph: onnx.GraphProto) -> list[str]:
    """The last weighted layers before each graph output, and the unweighted nodes between them and the output.

    Quantised, their outputs would set the precision of the image itself: 256 levels before the tanh band visibly."""
    producer = {out: node for node in graph.node for out in node.output}
    found: set[str] = set()
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in found:
            continue
        found.add(node.name)
        if node.op_type not in WEIGHTED_OPS:
            stack += list(node.input)
    return sorted(found)


def float_weighted_nodes(model: onnx.ModelProto) -> list[str]:
    """Conv / ConvTranspose / Gemm / MatMul nodes whose weight is not fed through a DequantizeLinear."""
    dequantised = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return [f"{n.op_type} {n.name}" for n in model.graph.node if n.op_type in WEIGHTED_OPS and n.input[1] not in dequantised]


def runtime_ops(path: Path) -> dict[str, int]:
    """Op types of the graph ONNX Runtime's CPU provider runs after its own fusions (QLinearConv = a real INT8 kernel)."""
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(Path(tmp) / "optimised.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        ops = Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
    return dict(sorted(ops.items()))
