"""Per-frame timings gathered while the pipeline runs, summarised as the run report.

Means cover the whole run; percentiles cover the most recent WINDOW frames, so hours of live use
keep memory flat. Every HISTORY_EVERY frames a point (latency of those frames, resident memory) is kept,
so a long run shows whether either grows."""
from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from stream.frame import Frame

WINDOW = 20_000
HISTORY_EVERY = 1000  # ≈ 30 s of camera frames per history point: a few KB an hour


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux); elsewhere its peak, the closest the OS reports."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _window() -> deque:
    return deque(maxlen=WINDOW)


@dataclass
class RunStats:
    """Everything the report needs; `recent_*` feed the HUD. `stages` names the timed stages, in their order
    (the pipeline passes its own)."""

    stages: tuple[str, ...] = ()
    frames: int = 0
    faces_edited: int = 0
    frames_with_faces: int = 0
    first_capture: float | None = None
    last_done: float | None = None
    latencies_ms: deque = field(default_factory=_window)
    stage_ms: dict[str, deque] = field(init=False)
    stage_total_ms: dict[str, float] = field(init=False)
    recent_done: deque = field(default_factory=lambda: deque(maxlen=30))
    history: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stage_ms = {s: _window() for s in self.stages}
        self.stage_total_ms = dict.fromkeys(self.stages, 0.0)

    def add(self, frame: Frame, done_at: float) -> None:
        self.frames += 1
        # A face has renders only when it was edited (never under bypass); a frame whose output stages failed
        # has lost its faces.
        self.faces_edited += sum(f.edited is not None for f in frame.faces)
        self.frames_with_faces += bool(frame.faces)
        self.first_capture = frame.captured_at if self.first_capture is None else self.first_capture
        self.last_done = done_at
        self.latencies_ms.append((done_at - frame.captured_at) * 1e3)
        for name in self.stages:
            ms = frame.stage_ms.get(name, 0.0)
            self.stage_ms[name].append(ms)
            self.stage_total_ms[name] += ms
        self.recent_done.append(done_at)
        if self.frames % HISTORY_EVERY == 0:
            self.history.append(self._history_point(done_at))

    def _history_point(self, now: float) -> dict:
        lat = np.fromiter(islice(reversed(self.latencies_ms), HISTORY_EVERY), float)
        return {"frames": self.frames, "wall_s": round(now - self.first_capture, 2),
                "latency_p50_ms": round(float(np.percentile(lat, 50)), 2),
                "latency_p95_ms": round(float(np.percentile(lat, 95)), 2), "rss_mb": round(current_rss_mb(), 1)}

    def fps(self) -> float:
        """Frames out per second of wall time, from the first capture to the last frame out."""
        if self.frames < 2 or self.first_capture is None or self.last_done is None:
            return 0.0
        return self.frames / (self.last_done - self.first_capture)

    def recent_fps(self) -> float:
        if len(self.recent_done) < 2:
            return 0.0
        return (len(self.recent_done) - 1) / max(self.recent_done[-1] - self.recent_done[0], 1e-6)

    def recent_latency_ms(self, n: int = 30) -> float:
        return float(np.median(list(islice(reversed(self.latencies_ms), n)))) if self.latencies_ms else 0.0

    def recent_stage_ms(self, n: int = 30) -> dict[str, float]:
        return {s: float(np.mean(list(islice(reversed(v), n)))) if v else 0.0 for s, v in self.stage_ms.items()}

    def report(self, **extra) -> dict:
        lat = np.asarray(self.latencies_ms or [0.0])
        n = max(self.frames, 1)
        return {
            "frames": self.frames,
            "faces_edited": self.faces_edited,
            "frames_with_faces": self.frames_with_faces,
            "fps": round(self.fps(), 2),
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2), "p95": round(float(np.percentile(lat, 95)), 2)},
            "stage_ms": {s: round(total / n, 3) for s, total in self.stage_total_ms.items()},
            "stage_ms_p95": {s: round(float(np.percentile(v, 95)), 3) if v else 0.0 for s, v in self.stage_ms.items()},
            "history": self.history,
            **extra,
        }


def write_report(path: str | Path, report: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
