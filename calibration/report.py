"""The calibration report a person reads: JSON for tools, Markdown for people."""
from __future__ import annotations

import json
from pathlib import Path


def write_report(report: dict, json_path: Path) -> tuple[Path, Path]:
    """Write `report` as JSON at json_path and as Markdown next to it (same name, .md)."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    md_path = json_path.with_suffix(".md")
    md_path.write_text(markdown(report))
    return json_path, md_path


def summary_lines(verdicts: dict, speed: dict[str, dict[str, float]]) -> list[str]:
    """One line per quantised network: does its INT8 ship, and how fast it is next to float."""
    lines = []
    for name, s in speed.items():
        faster = f"{s['ort'] / s['ort-int8']:.2f}× the float speed ({s['ort-int8']:.3f} vs {s['ort']:.3f} ms)"
        lines.append(f"{name}: INT8 {'ships' if verdicts[name].passed else 'refused, the pipeline runs float'}; INT8 runs at {faster}")
    return lines


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(report: dict) -> str:
    setup, data = report["setup"], report["calibration_set"]
    lines = [
        "# INT8 calibration report",
        "",
        f"`{setup['command']}` — {setup['time_utc']}, {setup['cpu']}, onnxruntime {setup['onnxruntime']}, {setup['threads']} thread(s).",
        f"Weights: {', '.join(f'{k} = {v}' for k, v in setup['weights'].items())}.",
        "",
        "## Calibration set",
        "",
        f"{data['crops']} crops ({data['real_fraction'] * 100:.0f} % real faces, the rest generator renders) of "
        f"{data['people_calibration']} people, aligned with the live pipeline's aligner to {data['resolution']} px and augmented "
        f"(misalignment, mirror, colour, blur, noise; strength {data['augment']}). Held out for the gate: "
        f"{data['heldout_crops']} crops of {len(data['people_heldout'])} other people. Sources: {', '.join(data['sources'])}.",
        f"Set: `{data['path']}`. Crops: `{data['grid']}` (first 128); held-out faces: `{data['heldout_grid']}`.",
        "",
        "## Quantisation (ONNX Runtime static INT8, QDQ)",
        "",
        "| network | method | per-channel | ConvTranspose rewritten | left in float | ops ONNX Runtime runs | file |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, q in report["quantisation"].items():
        ops = ", ".join(f"{k}×{v}" for k, v in q["runtime_ops"].items())
        kept = ", ".join(q["float_weighted_ops"]) or "none"
        if q["kept_conv_transpose"]:
            kept += "; ConvTranspose kept: " + ", ".join(f"{k} ({v})" for k, v in q["kept_conv_transpose"].items())
        lines.append(f"| {name} | {q['method']} | {q['per_channel']} | {len(q['rewritten_conv_transpose'])} | {kept} | {ops} | `{q['path']}` |")
    gate = report["gate"]
    th = gate["thresholds"]
    lines += [
        "",
        "## Quality gate (held-out faces, INT8 path vs float path)",
        "",
        f"Thresholds: PSNR ≥ {th['min_psnr_db']} dB, latent cosine ≥ {th['min_latent_cosine']}, identity cosine ≥ "
        f"{th['min_identity_cosine']}, attribute change reached ≥ {th['min_attribute_ratio']} of float "
        f"(edits of ±{gate['edit_magnitude']} std; attributes the float path moves < 0.25 std are not counted).",
        "",
        "| INT8 path | faces | PSNR dB (worst) | latent cos | identity cos | attribute reached (each) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in gate["verdicts"].items():
        f = v["figures"]
        each = ", ".join(f"{k} {_fmt(x, 2)}" for k, x in f["attribute_ratio_each"].items())
        verdict = "passed" if v["passed"] else "**refused**: " + "; ".join(v["failures"])
        lines.append(
            f"| {name} | {f['faces']} | {f['psnr_db']:.2f} ({f['psnr_db_worst']:.2f}) | {_fmt(f['latent_cosine'], 4)} | "
            f"{_fmt(f['identity_cosine'], 4)} | {_fmt(f['attribute_ratio'])} ({each or '-'}) | {verdict} |"
        )
    notes = sorted({n for v in gate["verdicts"].values() for n in v["figures"]["notes"]})
    lines += [f"- {n}" for n in notes]
    speed = report["speed_ms"]
    lines += [
        "",
        "## Speed on this CPU (median ms per call, batch 1; `python run.py bench` measures the same)",
        "",
        "| network | float (ort) | INT8 (ort-int8) | speed-up |",
        "|---|---|---|---|",
    ]
    for name, s in speed.items():
        lines.append(f"| {name} | {s['ort']:.3f} | {s['ort-int8']:.3f} | {s['ort'] / s['ort-int8']:.2f}× |")
    trt = report["tensorrt"]
    lines += ["", "## TensorRT INT8 (entropy calibrator over the same set)", ""]
    lines += [f"- {name}: {state}" for name, state in trt.items()]
    lines += ["", "## What ships", ""]
    lines += [f"- {line}" for line in report["summary"]]
    return "\n".join(lines) + "\n"
