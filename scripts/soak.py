"""Soak benchmark: `python run.py demo --loop --frames N` in a child process, its resident memory sampled
from outside while it runs, then memory and latency at the start and the end of the run compared.

    python scripts/soak.py --frames 36000 --out docs/reliability_soak.json

36000 frames are 20 minutes of a 30 fps camera. The demo runs as fast as it can (every frame processed),
so the latency it reports includes the frames queued between stages; what matters here is whether it grows.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages, installed or not

from project import REPO_ROOT  # noqa: E402
from stream.run_stats import WINDOW  # noqa: E402

EDGE_POINTS = 3  # history points averaged for "start" and "end" (3000 frames each)
WARM_UP_POINTS = 1  # the first 1000 frames load and warm up the engines and the face mesh: not "start"
STARTUP_S = 10.0  # outside samples before this are imports and model loading, not the running stream


def child_rss_mb(pid: int) -> float | None:
    """VmRSS of a running process in MB (Linux /proc), None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_per_10k(frames: list[float], values: list[float]) -> float:
    """Least-squares growth of `values` per 10 000 frames (0 when fewer than two points)."""
    if len(frames) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(frames, float) / 1e4, np.asarray(values, float), 1)[0])


def summarise(history: list[dict], samples: list[dict]) -> dict:
    """Start and end figures from the run's history points (the warm-up point is left out of both)."""
    needed = WARM_UP_POINTS + 2 * EDGE_POINTS
    if len(history) < needed:
        raise ValueError(f"{len(history)} history points; run at least {needed * 1000} frames")
    steady = history[WARM_UP_POINTS:]
    start, end = steady[:EDGE_POINTS], steady[-EDGE_POINTS:]

    def mean(points: list[dict], key: str) -> float:
        return round(float(np.mean([p[key] for p in points])), 2)

    frames = [p["frames"] for p in steady]
    running = [s["rss_mb"] for s in samples if s["t_s"] >= STARTUP_S]
    late = [p for p in history if p["frames"] > WINDOW]
    return {
        "warm_up": history[:WARM_UP_POINTS],
        "start": {"frames": f"{start[0]['frames'] - 999}-{start[-1]['frames']}", "rss_mb": mean(start, "rss_mb"),
                  "latency_p95_ms": mean(start, "latency_p95_ms"), "latency_p50_ms": mean(start, "latency_p50_ms")},
        "end": {"frames": f"{end[0]['frames'] - 999}-{end[-1]['frames']}", "rss_mb": mean(end, "rss_mb"),
                "latency_p95_ms": mean(end, "latency_p95_ms"), "latency_p50_ms": mean(end, "latency_p50_ms")},
        "rss_mb_per_10k_frames": round(slope_per_10k(frames, [p["rss_mb"] for p in steady]), 3),
        "latency_p95_ms_per_10k_frames": round(slope_per_10k(frames, [p["latency_p95_ms"] for p in steady]), 3),
        # The run report's percentile windows (bounded deques of WINDOW frames) fill during the first WINDOW
        # frames; growth after that is what would grow without bound.
        "rss_mb_per_10k_frames_after_window": round(slope_per_10k(
            [p["frames"] for p in late], [p["rss_mb"] for p in late]), 3),
        "external_rss_mb": {"first": running[0] if running else None, "last": running[-1] if running else None,
                            "max": max(running, default=None)},
    }


def markdown(result: dict) -> str:
    """The soak figures as a small Markdown table."""
    s = result["summary"]
    return "\n".join([
        f"Soak: `{shlex.join(result['command'])}` — {result['report']['frames']} frames in {result['wall_s']} s "
        f"({result['report']['fps']} fps), exit code {result['returncode']}, stage failures {result['report']['stage_failures']}.",
        "",
        "| window | frames | RSS (MB) | latency p50 (ms) | latency p95 (ms) |",
        "|---|---|---|---|---|",
        *(f"| {name} | {s[name]['frames']} | {s[name]['rss_mb']} | {s[name]['latency_p50_ms']} | {s[name]['latency_p95_ms']} |"
          for name in ("start", "end")),
        "",
        f"Warm-up (frames 1-1000, left out of start): RSS {s['warm_up'][-1]['rss_mb']} MB, latency p95 "
        f"{s['warm_up'][-1]['latency_p95_ms']} ms.",
        "",
        f"Least-squares trend after the first 1000 frames: RSS {s['rss_mb_per_10k_frames']:+} MB per 10k frames, "
        f"p95 latency {s['latency_p95_ms_per_10k_frames']:+} ms per 10k frames; RSS after the report's "
        f"{WINDOW}-frame percentile windows are full: {s['rss_mb_per_10k_frames_after_window']:+} MB per 10k frames. RSS sampled from outside every "
        f"{result['sample_s']} s from {STARTUP_S:g} s on: first {s['external_rss_mb']['first']:.1f}, last {s['external_rss_mb']['last']:.1f}, "
        f"max {s['external_rss_mb']['max']:.1f} MB.",
    ]) + "\n"


def run_soak(frames: int, demo_args: list[str], sample_s: float, log) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "soak_report.json"
        command = [sys.executable, "run.py", "demo", "--loop", "--frames", str(frames), "--output", "",
                   "--report", str(report_path), *demo_args]
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        samples = []
        while child.poll() is None:
            rss = child_rss_mb(child.pid)
            if rss is not None:
                samples.append({"t_s": round(time.perf_counter() - started, 1), "rss_mb": round(rss, 1)})
                print(json.dumps(samples[-1]), file=log, flush=True)
            time.sleep(sample_s)
        output = child.stdout.read()
        if child.returncode != 0 or not report_path.is_file():
            tail = output.strip().splitlines()[-1:] or ["no output"]
            raise SystemExit(f"soak: the demo exited with {child.returncode}: {tail[0]}")
        report = json.loads(report_path.read_text())
    return {"command": ["python", *command[1:9], "<report>", *demo_args],
            "returncode": child.returncode, "wall_s": round(time.perf_counter() - started, 1), "sample_s": sample_s,
            "summary": summarise(report["history"], samples), "report": report, "rss_samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/soak.py", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=36000, help="frames to run (36000 = 20 min at 30 fps)")
    parser.add_argument("--out", default="docs/reliability_soak.json", help="result JSON; a .md table is written beside it")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between outside RSS samples")
    parser.add_argument("demo_args", nargs="*", help="more demo flags after --, e.g. -- --engine torch")
    args = parser.parse_args(argv)
    result = run_soak(args.frames, args.demo_args, args.sample_s, sys.stdout)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
