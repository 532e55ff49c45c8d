"""`python run.py bench`: time every network on every backend present; medians, ratios, skipped backends, RSS."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tqdm import tqdm

from engines.backends import ALL_BACKENDS, backend_status
from engines.int8_verdict import gate_state
from engines.onnx_export import int8_path
from engines.ort_engine import PREFERRED_PROVIDERS
from engines.precision import time_engine
from engines.profiles import NETWORKS, NetworkSet, build_engine, load_networks, onnx_file, random_stylegan2
from errors import UserError
from flags import add_common_flags, settings_from_flags



def rss_mib() -> dict[str, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    current = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return {"current": round(current, 1), "peak": round(peak, 1)}


def run_bench(nets: NetworkSet, config, backends: list[str], networks: list[str], warmup: int, repeats: int) -> dict:
    """The bench report (see docs/performance.md for its fields)."""
    status = backend_status()
    skipped = {b: why for b, why in status.items() if why is not None and b in backends}
    tried = [b for b in ALL_BACKENDS if b in backends and status[b] is None]  # torch first: the reference
    report: dict = {"networks": {}, "precision": {}, "precision_reason": {}, "p90_ms": {}, "max_abs_diff_vs_torch": {},
                    "build_s": {}, "errors": {}}
    jobs = [(n, b) for n in networks for b in tried]
    reference: dict[str, dict[str, np.ndarray]] = {}
    for name, backend in tqdm(jobs, desc="bench", unit="engine"):
        if backend == "ort-int8":
            q = int8_path(onnx_file(nets, name, config))
            if not q.is_file():
                skipped.setdefault("ort-int8", {})[name] = f"no INT8 model at {q}; run `python run.py calibrate`"
                continue
            report.setdefault("int8_gate", {})[name] = gate_state(q)  # timed either way; the pipeline runs it only if passed
        try:
            bench_one(report, nets, name, backend, config, warmup, repeats, reference)
        except Exception as e:  # one network failing on one backend is a result; the others still get timed
            report["errors"].setdefault(name, {})[backend] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    report["speedup_vs_torch"] = {
        name: {b: round(ms["torch"] / v, 2) for b, v in ms.items() if b != "torch"} for name, ms in report["networks"].items() if "torch" in ms
    }
    report["int8_speedup_vs_ort"] = {
        name: round(ms["ort"] / ms["ort-int8"], 2) for name, ms in report["networks"].items() if "ort" in ms and "ort-int8" in ms
    }
    report["not_tried"] = skipped | ort_gpu_missing(backends)
    report["rss_mib"] = rss_mib()
    return report


def bench_one(report: dict, nets: NetworkSet, name: str, backend: str, config, warmup: int, repeats: int,
              reference: dict[str, dict[str, np.ndarray]]) -> None:
    """Build one network on one backend, time it and put its figures into `report`; torch's outputs are the reference."""
    start = time.perf_counter()
    engine = build_engine(nets, name, backend, config)
    report["build_s"].setdefault(name, {})[backend] = round(time.perf_counter() - start, 2)
    report["precision"].setdefault(name, {})[backend] = engine.precision
    report["precision_reason"].setdefault(name, {})[backend] = engine.precision_reason
    feeds = {k: v.numpy() for k, v in nets.example_inputs(name).items()}
    times = time_engine(engine, feeds, warmup, repeats)
    report["networks"].setdefault(name, {})[backend] = round(statistics.median(times), 3)
    report["p90_ms"].setdefault(name, {})[backend] = round(float(np.percentile(times, 90)), 3)
    out = engine(feeds)
    if backend == "torch":
        reference[name] = out
    elif name in reference:
        diff = max(float(np.abs(out[k] - reference[name][k]).max()) for k in out)
        report["max_abs_diff_vs_torch"].setdefault(name, {})[backend] = diff


def ort_gpu_missing(backends: list[str]) -> dict[str, str]:
    """`ort` runs on the best provider installed; say which GPU providers it could not try and how to get them."""
    present = ort.get_available_providers()
    missing = [p for p in PREFERRED_PROVIDERS[:-1] if p not in present]
    if "ort" not in backends or not missing:
        return {}
    ran_on = next(p for p in PREFERRED_PROVIDERS if p in present)
    fix = ("install onnxruntime-gpu in place of onnxruntime" if "CUDAExecutionProvider" in missing
           else "install TensorRT's libraries for the TensorRT provider")
    return {"ort-gpu": f"onnxruntime {ort.__version__} lacks {' and '.join(missing)} (ort ran on {ran_on}); {fix}"}


def check_writable(path: Path) -> None:
    """Create the report's folder and prove the file can be written, with one line naming the fix if not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as e:
        raise UserError(f"--json {path}: cannot be written ({e.strerror or e}); pass a writable path") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py bench", description=__doc__)
    add_common_flags(parser)
    parser.add_argument("--json", type=Path, default=Path("out/bench.json"), help="where to write the report")
    parser.add_argument("--resolution", type=int, default=256, help="stylegan2 without --e4e: random weights at this size")
    parser.add_argument("--small", action="store_true", help="stylegan2 without --e4e: narrow random networks (64 channels, "
                        "style 64, encoder base 16; same layout) that a CPU times in seconds")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and ONNX Runtime (same for both)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 10; 2 with --small)")
    parser.add_argument("--repeats", type=int, help="timed calls (default 50; 5 with --small)")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--backends", nargs="+", choices=ALL_BACKENDS, default=list(ALL_BACKENDS))
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else 2 if args.small else 10
    args.repeats = args.repeats if args.repeats is not None else 5 if args.small else 50
    random_sg2 = args.profile == "stylegan2" and args.e4e is None
    if random_sg2:
        args.profile = None
    cores = os.cpu_count() or 1
    if not 1 <= args.threads <= cores:
        raise UserError(f"--threads {args.threads}: use 1 to this machine's {cores} cores")
    if args.warmup < 0 or args.repeats < 1:
        raise UserError(f"--warmup {args.warmup} --repeats {args.repeats}: use --warmup 0 or more and --repeats 1 or more")
    check_writable(args.json)  # before minutes of timing, not after
    config = settings_from_flags(args, {"engine.threads": args.threads}).engine
    random_sg2 = random_sg2 and config.e4e_checkpoint is None
    if random_sg2 and args.resolution not in (256, 512, 1024):
        raise UserError(f"--resolution {args.resolution}: use 256, 512 or 1024")
    torch.set_num_threads(args.threads)
    if args.small and not random_sg2:
        raise UserError("--small makes random stylegan2 networks: use it with --profile stylegan2 and no --e4e")
    nets = random_stylegan2(args.resolution, small=args.small) if random_sg2 else load_networks(config, random_missing=True)
    report = run_bench(nets, config, args.backends, args.networks, args.warmup, args.repeats)
    report["setup"] = {
        "command": "python run.py bench " + " ".join(argv),
        "profile": nets.profile,
        "resolution": nets.resolution,
        "latent_shape": list(nets.latent_shape),
        "weights": nets.weights,
        "small": args.small,
        "threads": args.threads,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "cpu": _cpu_name(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "onnxruntime": ort.__version__,
        "ort_providers": ort.get_available_providers(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _print_table(report)
    try:
        args.json.write_text(json.dumps(report, indent=1))
    except OSError as e:
        raise UserError(f"cannot write {args.json} ({e.strerror or e}); pass a writable --json path") from None
    print(f"wrote {args.json}")
    failed = [f"{name}/{backend}" for name, by in report["errors"].items() for backend in by]
    if failed:
        print(f"error: {len(failed)} failed ({', '.join(failed)}); the reasons are under 'errors' in {args.json}", file=sys.stderr)
        return 1
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _print_table(report: dict) -> None:
    backends = sorted({b for ms in report["networks"].values() for b in ms}, key=ALL_BACKENDS.index)
    print(f"{'median ms':<18}" + "".join(f"{b:>12}" for b in backends))
    for name, ms in report["networks"].items():
        print(f"{name:<18}" + "".join(f"{ms[b]:>12.3f}" if b in ms else f"{'-':>12}" for b in backends))
    print(f"{'precision':<18}")
    for name, by in report["precision"].items():
        print(f"  {name:<16}" + "".join(f"{by[b]:>12}" if b in by else f"{'-':>12}" for b in backends))
    for name, by in report["errors"].items():
        for backend, why in by.items():
            print(f"FAILED {name}/{backend}: {why}")
    for name, state in report.get("int8_gate", {}).items():
        print(f"INT8 {name}: {report['int8_speedup_vs_ort'].get(name, '-')}× float ort; {state}")
    for backend, why in report["not_tried"].items():
        if not isinstance(why, str):
            why = f"no INT8 model for {', '.join(why)}; run `python run.py calibrate`"
        print(f"not tried: {backend}: {why}")
    print(f"RSS MiB: {report['rss_mib']}")
