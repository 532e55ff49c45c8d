"""Pick a network's float type by measurement: build it in each candidate precision, drop those whose output
strays from fp32's, keep the fastest. Never a default that is slower, never one that is wrong."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

from engines.engine import Engine, EngineError

TOLERANCE = 0.05  # largest |out - out_fp32| allowed, as a fraction of max |out_fp32|


def time_engine(engine, feeds: dict[str, np.ndarray], warmup: int, repeats: int) -> list[float]:
    """Wall-clock milliseconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        engine(feeds)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine(feeds)
        times.append((time.perf_counter() - start) * 1000)
    return times


def median_ms(engine: Engine, feeds: dict[str, np.ndarray], warmup: int, repeats: int) -> float:
    return statistics.median(time_engine(engine, feeds, warmup, repeats))


def relative_error(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> float:
    """Largest absolute difference over every output, relative to the largest fp32 magnitude (inf if not finite)."""
    worst = 0.0
    for key, ref in want.items():
        scale = max(float(np.abs(ref).max()), 1e-12)
        diff = float(np.abs(got[key] - ref).max())
        worst = max(worst, diff / scale if np.isfinite(diff) else float("inf"))
    return worst


def fastest_precision(build: Callable[[str], Engine], feeds: dict[str, np.ndarray], candidates: tuple[str, ...],
                      warmup: int = 5, repeats: int = 20, tolerance: float = TOLERANCE) -> Engine:
    """The fastest engine among `candidates` (fp32 first: it is the reference and always acceptable) whose outputs
    stay within `tolerance` of fp32's. The engine's `precision_reason` lists every candidate's median ms or why it
    was dropped; the other engines are released."""
    if candidates[0] != "fp32":
        raise ValueError(f"candidates must start with fp32, the reference; got {candidates}")
    best = build("fp32")
    want = best(feeds)
    best_ms = median_ms(best, feeds, warmup, repeats)
    notes = [f"fp32 {best_ms:.3f} ms"]
    for precision in candidates[1:]:
        try:
            engine = build(precision)
        except EngineError as e:
            notes.append(f"{precision} not built ({e})")
            continue
        error = relative_error(engine(feeds), want)
        if error > tolerance:
            notes.append(f"{precision} dropped: output off fp32's by {error:.3g} of its range (> {tolerance})")
            continue
        ms = median_ms(engine, feeds, warmup, repeats)
        notes.append(f"{precision} {ms:.3f} ms")
        if ms < best_ms:
            best, best_ms = engine, ms
        del engine
    best.precision_reason = f"measured: {', '.join(notes)}; fastest within {tolerance:g} of fp32: {best.precision}"
    return best
