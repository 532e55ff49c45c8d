"""The GPU measurement of issue 13, prepared to run once on a lent GPU machine: the stylegan2 profile's networks
(random full-width weights, which time like trained ones) at 256 and 1024 px on torch-cuda in fp32, fp16, bf16
and auto (the fastest measured per network), one bench report per run, a summary, and a kernel profile of the
256-px generator in fp16.

    python scripts/gpu_measure.py --out out/gpu                 # on the GPU machine (a few minutes)
    python scripts/gpu_measure.py --out out/gpu-dry --dry-run   # on a CPU: small widths, torch, 1 repeat

First every network on torch-cuda in each precision is checked against torch fp32 on the CPU (`--no-check` leaves
it out). The summary is only what the GPU measured; docs/performance.md gets its table from `summary.md`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's engines/, also where the package is not installed

import torch  # noqa: E402

from engines.backends import make_engine  # noqa: E402
from engines.bench import rss_mib, run_bench  # noqa: E402
from engines.config import NETWORKS, TORCH_PRECISIONS, EngineConfig  # noqa: E402
from engines.precision import TOLERANCE, relative_error  # noqa: E402
from engines.profiles import OUTPUT_NAMES, random_stylegan2  # noqa: E402
from engines.torch_engine import DTYPES, cudnn_autotune, prepare_module  # noqa: E402

SETTINGS = (*TORCH_PRECISIONS, "auto")


def check_against_cpu(out: Path) -> dict:
    """Every network on torch-cuda in every precision against torch fp32 on the CPU (small 256-px networks): the
    largest output difference relative to the output's range; `ok` when all are within engines.precision.TOLERANCE.
    (The CUDA tests do the same, but pytest's conftest needs mediapipe, which a GPU image may lack.)"""
    nets = random_stylegan2(256, small=True)
    errors: dict = {}
    for name in NETWORKS:
        specs = nets.input_specs(name)
        feeds = {k: v.numpy() for k, v in nets.example_inputs(name).items()}
        want = make_engine(name, "torch", nets.module(name), specs, OUTPUT_NAMES[name], None, EngineConfig())(feeds)
        for precision in TORCH_PRECISIONS:
            config = EngineConfig(network_precision={name: precision})
            try:
                engine = make_engine(name, "torch-cuda", nets.module(name), specs, OUTPUT_NAMES[name], None, config)
                for _ in range(2):  # the second call replays the graph on the same buffers
                    got = engine(feeds)
                errors.setdefault(name, {})[precision] = round(relative_error(got, want), 5)
            except Exception as e:
                errors.setdefault(name, {})[precision] = f"{type(e).__name__}: {e}"
    ok = all(isinstance(v, float) and v <= TOLERANCE for by in errors.values() for v in by.values())
    result = {"ok": ok, "relative_error_vs_cpu_fp32": errors}
    (out / "check_against_cpu.json").write_text(json.dumps(result, indent=1))
    print(f"torch-cuda vs CPU fp32: {'ok' if ok else 'FAILED'} {errors}")
    return result


def profile_generator(nets, out: Path, device: str, calls: int = 5) -> Path:
    """Top kernels of the generator (batch 2: the fused editor's two renders), eager, cuDNN tuned."""
    precision = "fp16" if device == "cuda" else "fp32"  # fp16 on a CPU is slow and not what a GPU runs
    cuda = device == "cuda"
    module = prepare_module(nets.generator, device, DTYPES[precision])
    w = torch.randn(2, *nets.latent_shape, device=device, dtype=DTYPES[precision])
    activity = torch.profiler.ProfilerActivity.CUDA if cuda else torch.profiler.ProfilerActivity.CPU
    with torch.inference_mode(), cudnn_autotune():
        for _ in range(3):
            module(w)
        if cuda:
            torch.cuda.synchronize()
        with torch.profiler.profile(activities=[activity]) as prof:
            for _ in range(calls):
                module(w)
            if cuda:
                torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="self_device_time_total" if cuda else "self_cpu_time_total", row_limit=25)
    path = out / f"profile_generator_{nets.resolution}_{precision}_{device}.txt"
    path.write_text(f"{calls} calls, batch 2, {device}\n{table}\n")
    return path


def summary_table(summary: dict) -> str:
    lines = ["| px | network | " + " | ".join(SETTINGS) + " | auto chose |", "|---|---|" + "---:|" * len(SETTINGS) + "---|"]
    for res, by_setting in summary.items():
        for name in NETWORKS:
            cells = []
            for setting in SETTINGS:
                entry = by_setting.get(setting, {})
                ms = entry.get("ms", {}).get(name)
                cells.append(f"{ms:.3f}" if ms is not None else entry.get("errors", {}).get(name, "-")[:40])
            chose = by_setting.get("auto", {}).get("precision", {}).get(name, "-")
            lines.append(f"| {res} | {name} | " + " | ".join(cells) + f" | {chose} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/gpu"))
    parser.add_argument("--dry-run", action="store_true", help="CPU rehearsal: small widths, torch backend, 1 repeat")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-check", action="store_true", help="leave out the torch-cuda vs CPU output check")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        print("error: no CUDA device; pass --dry-run to rehearse on the CPU", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    backends = ["torch"] if args.dry_run else ["torch-cuda"]
    warmup, repeats = (0, 1) if args.dry_run else (args.warmup, args.repeats)
    check = None if args.no_check or not cuda else check_against_cpu(args.out)
    summary: dict = {}
    for res in args.resolutions:
        start = time.perf_counter()
        nets = random_stylegan2(res, small=args.dry_run)
        print(f"{res} px networks made in {time.perf_counter() - start:.1f} s")
        for setting in args.settings:
            config = replace(EngineConfig(cache_dir=args.out / "cache"), network_precision=dict.fromkeys(NETWORKS, setting))
            start = time.perf_counter()
            report = run_bench(nets, config, backends, list(NETWORKS), warmup, repeats)
            backend = backends[0]
            summary.setdefault(res, {})[setting] = {
                "ms": {n: by[backend] for n, by in report["networks"].items() if backend in by},
                "p90_ms": {n: by[backend] for n, by in report["p90_ms"].items() if backend in by},
                "precision": {n: by[backend] for n, by in report["precision"].items() if backend in by},
                "precision_reason": {n: by[backend] for n, by in report["precision_reason"].items() if backend in by},
                "errors": {n: by[backend] for n, by in report["errors"].items() if backend in by},
            }
            (args.out / f"bench_{res}_{setting}.json").write_text(json.dumps(report, indent=1))
            print(f"{res} px {setting}: {summary[res][setting]['ms']} ({time.perf_counter() - start:.0f} s)"
                  + (f" errors {summary[res][setting]['errors']}" if summary[res][setting]["errors"] else ""))
        if res == 256:
            try:
                print(f"wrote {profile_generator(nets, args.out, 'cuda' if cuda else 'cpu')}")
            except Exception as e:  # the profile is an extra; the timings above are the result
                print(f"profile failed: {type(e).__name__}: {e}")
        del nets
        if cuda:
            torch.cuda.empty_cache()
    setup = {
        "command": " ".join(["python", *sys.argv]),
        "dry_run": args.dry_run,
        "backend": backends[0],
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "bf16": torch.cuda.is_bf16_supported() if cuda else None,
        "warmup": warmup,
        "repeats": repeats,
        "weights": "random, small widths" if args.dry_run else "random, full public widths",
        "check_against_cpu_ok": None if check is None else check["ok"],
        "rss_mib": rss_mib(),
        "gpu_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (args.out / "summary.json").write_text(json.dumps({"setup": setup, "median_ms": summary}, indent=1))
    table = summary_table(summary)
    (args.out / "summary.md").write_text(f"{json.dumps(setup)}\n\nmedian ms per call ({backends[0]})\n\n{table}")
    print(table)
    failed = any(entry["errors"] for by in summary.values() for entry in by.values())
    return 1 if failed or (check is not None and not check["ok"]) else 0


if __name__ == "__main__":
    sys.exit(main())
