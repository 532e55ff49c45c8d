"""Convert SlinkoIgor/glasses_detector's `weights/fp16_model.tflite` (MobileNetV3-Small minimalistic, Apache-2.0)
to ONNX, reading the TFLite flatbuffer with the `tflite` PyPI package (a dev tool, not a runtime dependency).

    pip install -e '.[convert]'                # once: tflite (flatbuffer reader), ai-edge-litert (for --check)
    python scripts/convert_glasses_tflite.py fp16_model.tflite models/recognisers/glasses.onnx --check

The original (sha256 750b4fb4…8297) comes from github.com/SlinkoIgor/glasses_detector, weights/fp16_model.tflite.
Its fp16 weights are widened to float32; the graph is rewritten op for op (CONV_2D, DEPTHWISE_CONV_2D, PAD,
ADD, MEAN, FULLY_CONNECTED with fused ReLU/ReLU6). The ONNX model keeps the original's interface: input
`eyes` float32 (N,64,128,3) RGB in 0…255 (an eye band), output `logit` (N,1), negative = glasses.
`--check` runs both models on random and structured inputs and fails if they differ by more than 1e-3.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SOURCE_SHA256 = "750b4fb4fe20643258be6e291361874393926a89f7fdd67414c96e42f69c8297"
FUSED = {0: None, 1: "Relu", 3: "Relu6"}


class TfliteReader:
    """Tensors, constant buffers and operators of subgraph 0 of a .tflite file."""

    def __init__(self, data: bytes):
        import tflite

        self.tflite = tflite
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def name(self, index: int) -> str:
        return f"t{index}"

    def constant(self, index: int) -> np.ndarray | None:
        """The tensor's data when it is a constant, else None; fp16 is widened to float32."""
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw is None or len(raw) == 0:
            return None
        dtypes = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}
        array = np.frombuffer(raw.tobytes(), dtypes[tensor.Type()]).reshape(tensor.ShapeAsNumpy())
        return array.astype(np.float32) if array.dtype == np.float16 else array

    def operators(self):
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = self.op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            yield kind, list(op.InputsAsNumpy()), list(op.OutputsAsNumpy()), op


def options(op, cls):
    """The operator's builtin options table parsed as `cls` (e.g. tflite.Conv2DOptions)."""
    table = op.BuiltinOptions()
    parsed = cls()
    parsed.Init(table.Bytes, table.Pos)
    return parsed


def to_onnx(data: bytes) -> onnx.ModelProto:
    """Rewrite the TFLite graph as an ONNX graph working in NCHW between an NHWC input and output."""
    r = TfliteReader(data)
    tfl = r.tflite
    nodes, inits = [], []
    consts: dict[int, np.ndarray] = {}
    alias: dict[int, str] = {}  # tflite tensor → ONNX name (dequantized constants become initializers)

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def value(i: int) -> str:
        return alias.get(i, r.name(i))

    def activation(out: str, fused: int) -> None:
        if FUSED.get(fused, "?") == "?":
            raise ValueError(f"fused activation {fused} not supported")
        kind = FUSED[fused]
        if kind is None:
            nodes.append(helper.make_node("Identity", [out + "_pre"], [out]))
        elif kind == "Relu":
            nodes.append(helper.make_node("Relu", [out + "_pre"], [out]))
        else:
            nodes.append(helper.make_node("Clip", [out + "_pre", init(out + "_lo", np.float32(0)), init(out + "_hi", np.float32(6))], [out]))

    for i in range(r.graph.TensorsLength()):
        c = r.constant(i)
        if c is not None:
            consts[i] = c
    graph_in = r.graph.Inputs(0)
    nodes.append(helper.make_node("Transpose", ["eyes"], [r.name(graph_in)], perm=[0, 3, 1, 2]))
    for kind, ins, outs, op in r.operators():
        out = r.name(outs[0])
        if kind == "DEQUANTIZE":
            consts[outs[0]] = consts[ins[0]]
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w, b = consts[ins[1]], consts[ins[2]]
            if kind == "CONV_2D":
                o = options(op, tfl.Conv2DOptions)
                weight, group = w.transpose(0, 3, 1, 2), 1  # OHWI → OIHW
            else:
                o = options(op, tfl.DepthwiseConv2DOptions)
                if o.DepthMultiplier() not in (0, 1):
                    raise ValueError("depth multiplier ≠ 1 not supported")
                weight = w.transpose(3, 0, 1, 2)  # 1HWC → C1HW
                group = weight.shape[0]
            if (o.DilationHFactor(), o.DilationWFactor()) != (1, 1):
                raise ValueError("dilated convolutions not supported")
            pad = "SAME_UPPER" if o.Padding() == tfl.Padding.SAME else "VALID"
            nodes.append(
                helper.make_node(
                    "Conv",
                    [value(ins[0]), init(out + "_w", weight), init(out + "_b", b)],
                    [out + "_pre"],
                    strides=[o.StrideH(), o.StrideW()],
                    group=group,
                    auto_pad=pad,
                    kernel_shape=list(weight.shape[2:]),
                )
            )
            activation(out, o.FusedActivationFunction())
        elif kind == "ADD":
            o = options(op, tfl.AddOptions)
            nodes.append(helper.make_node("Add", [value(ins[0]), value(ins[1])], [out + "_pre"]))
            activation(out, o.FusedActivationFunction())
        elif kind == "PAD":
            p = consts[ins[1]]  # NHWC [[before, after], ...]
            nchw = p[[0, 3, 1, 2]]
            pads = np.concatenate([nchw[:, 0], nchw[:, 1]]).astype(np.int64)
            nodes.append(helper.make_node("Pad", [value(ins[0]), init(out + "_pads", pads)], [out]))
        elif kind == "MEAN":
            o = options(op, tfl.ReducerOptions)
            axes = [int({1: 2, 2: 3, 3: 1}[int(a)]) for a in consts[ins[1]].ravel()]
            if sorted(axes) != [2, 3]:
                raise ValueError(f"MEAN over axes {axes} not supported")
            nodes.append(helper.make_node("ReduceMean", [value(ins[0]), init(out + "_axes", np.array(axes, np.int64))], [out + "_k"], keepdims=1))
            nodes.append(helper.make_node("Flatten", [out + "_k"], [out], axis=1))
        elif kind == "FULLY_CONNECTED":
            o = options(op, tfl.FullyConnectedOptions)
            w, b = consts[ins[1]], consts[ins[2]]
            nodes.append(helper.make_node("Flatten", [value(ins[0])], [out + "_flat"], axis=1))
            nodes.append(helper.make_node("Gemm", [out + "_flat", init(out + "_w", w), init(out + "_b", b)], [out + "_pre"], transB=1))
            activation(out, o.FusedActivationFunction())
        else:
            raise ValueError(f"TFLite op {kind} not supported by this converter")
    last = r.name(r.graph.Outputs(0))
    nodes.append(helper.make_node("Identity", [last], ["logit"]))
    graph = helper.make_graph(
        nodes,
        "glasses_mobilenetv3",
        [helper.make_tensor_value_info("eyes", TensorProto.FLOAT, ["N", 64, 128, 3])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="livel2l convert_glasses_tflite")
    model.ir_version = 8
    helper.set_model_props(
        model,
        {
            "source": "github.com/SlinkoIgor/glasses_detector weights/fp16_model.tflite",
            "source_sha256": SOURCE_SHA256,
            "licence": "Apache-2.0 (Copyright Igor Slinko); see models/recognisers/LICENCE.md",
            "input": "eyes: float32 (N,64,128,3) RGB 0..255 eye band (brows to nose bottom, widened by 1/3 of its width each side)",
            "output": "logit (N,1): negative = glasses; P(glasses) = sigmoid(-logit)",
        },
    )
    onnx.checker.check_model(model)
    return model


def check(tflite_path: Path, onnx_path: Path) -> float:
    """Largest |ONNX − TFLite| logit over random, flat and striped eye bands (needs ai-edge-litert)."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    bands = [rng.uniform(0, 255, (64, 128, 3)), np.full((64, 128, 3), 128.0), np.tile((np.arange(64) % 16 < 3)[:, None, None] * 255.0, (1, 128, 3))]
    worst = 0.0
    for band in bands:
        x = band[None].astype(np.float32)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        ref = interp.get_tensor(interp.get_output_details()[0]["index"])
        got = sess.run(None, {"eyes": x})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tflite", type=Path)
    parser.add_argument("onnx", type=Path)
    parser.add_argument("--check", action="store_true", help="compare with the TFLite interpreter (ai-edge-litert)")
    args = parser.parse_args()
    data = args.tflite.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        parser.error(f"{args.tflite}: sha256 {digest} is not the original fp16_model.tflite ({SOURCE_SHA256})")
    onnx.save(to_onnx(data), str(args.onnx))
    print(f"wrote {args.onnx}")
    if args.check:
        worst = check(args.tflite, args.onnx)
        print(f"largest |ONNX − TFLite| logit difference: {worst:.2e}")
        if worst > 1e-3:
            raise SystemExit("conversion check failed: the ONNX model does not match the TFLite original")


if __name__ == "__main__":
    main()
