"""`python run.py calibrate`: calibration set, INT8 models, TensorRT calibration, the quality gate, a report."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from calibration.calibrate import environment, gate_networks, load_or_build_set, quantise_all, speed_table, tensorrt_calibration
from calibration.config import QUANTISABLE
from calibration.dataset import save_grid
from calibration.report import summary_lines, write_report
from engines.profiles import load_networks
from flags import add_common_flags, settings_from_flags
from project import resolve_path
from stream.alignment import alignment_template


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py calibrate", description=__doc__)
    add_common_flags(parser)
    parser.add_argument("--json", type=Path, default=Path("out/calibration/report.json"), help="report (a .md is written beside it)")
    parser.add_argument("--faces", type=Path, help="a folder of your own face photos / videos to add to the set")
    parser.add_argument("--networks", nargs="+", choices=QUANTISABLE, help="networks to quantise (default: calibration.networks)")
    parser.add_argument("--rebuild-set", action="store_true", help="rebuild the calibration set even if one is on disk")
    parser.add_argument("--no-attributes", action="store_true", help="skip the labeller in the gate (faster; attribute change not measured)")
    parser.add_argument("--random-missing", action="store_true", help="random weights where a default-profile file is absent (development only)")
    parser.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime CPU threads")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    settings = settings_from_flags(args, {"engine.threads": args.threads, "calibration.networks": args.networks})
    engine_cfg = settings.engine
    cfg = replace(settings.calibration, out_dir=resolve_path(settings.calibration.out_dir))
    torch.set_num_threads(args.threads)
    nets = load_networks(engine_cfg, random_missing=args.random_missing)
    if "random" in nets.weights.values():
        print(f"warning: random weights for {[k for k, v in nets.weights.items() if v == 'random']}: the figures say nothing about the shipped models")
    data, set_path = load_or_build_set(nets, alignment_template(settings, nets.resolution), cfg, args.faces, args.rebuild_set, print)
    grids = (save_grid(data.crops, args.json.with_name("calibration_set.png")), save_grid(data.heldout_crops, args.json.with_name("heldout_faces.png")))
    quant = quantise_all(nets, data, engine_cfg, cfg, print)
    trt = tensorrt_calibration(nets, data, engine_cfg, cfg, print)
    regressor = resolve_path(settings.train.out_dir) / "regressor.safetensors"
    verdicts = gate_networks(nets, data, engine_cfg, cfg, regressor, not args.no_attributes, print)
    for verdict in verdicts.values():
        print("gate: " + verdict.line())
    speed = speed_table(nets, engine_cfg, cfg)
    summary = summary_lines(verdicts, speed)
    report = {
        "setup": {"command": "python run.py calibrate " + " ".join(sys.argv[2:]), "weights": nets.weights, "profile": nets.profile, **environment(engine_cfg)},
        "calibration_set": {
            "path": str(set_path),
            "grid": str(grids[0]),
            "heldout_grid": str(grids[1]),
            "crops": len(data.crops),
            "real_fraction": round(data.real_fraction, 3),
            "heldout_crops": len(data.heldout_crops),
            "resolution": nets.resolution,
            **{k: data.meta.get(k) for k in ("people_calibration", "people_heldout", "augment", "sources")},
        },
        "quantisation": quant,
        "tensorrt": trt,
        "gate": {"thresholds": next(iter(verdicts.values())).thresholds, "edit_magnitude": cfg.edit_magnitude, "verdicts": {n: asdict(v) for n, v in verdicts.items()}},
        "speed_ms": speed,
        "summary": summary,
    }
    json_path, md_path = write_report(report, args.json)
    for line in summary:
        print(line)
    print(f"wrote {json_path} and {md_path}")
    return 0
