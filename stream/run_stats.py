"""Per-frame timings gathered while the pipeline runs, summarised as the run report."""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stream.packet import Frame

STAGES = ("capture", "detect", "align", "edit", "encode", "generate", "blend", "sink")


@dataclass
class RunStats:
    """Everything the report needs; `recent_*` feed the HUD."""

    frames: int = 0
    faces_edited: int = 0
    frames_with_faces: int = 0
    first_capture: float | None = None
    last_done: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    recent_done: deque = field(default_factory=lambda: deque(maxlen=30))

    def add(self, frame: Frame, done_at: float) -> None:
        self.frames += 1
        edited = sum(f.edited is not None for f in frame.faces) if frame.output is not frame.image else 0
        self.faces_edited += edited
        self.frames_with_faces += bool(frame.faces)
        self.first_capture = frame.captured_at if self.first_capture is None else self.first_capture
        self.last_done = done_at
        self.latencies_ms.append((done_at - frame.captured_at) * 1e3)
        for name in STAGES:
            self.stage_ms[name].append(frame.stage_ms.get(name, 0.0))
        self.recent_done.append(done_at)

    def fps(self) -> float:
        if self.frames < 2 or self.first_capture is None or self.last_done is None:
            return 0.0
        return self.frames / (self.last_done - self.first_capture)

    def recent_fps(self) -> float:
        if len(self.recent_done) < 2:
            return 0.0
        return (len(self.recent_done) - 1) / max(self.recent_done[-1] - self.recent_done[0], 1e-6)

    def recent_stage_ms(self, n: int = 30) -> dict[str, float]:
        return {s: float(np.mean(v[-n:])) if v else 0.0 for s, v in self.stage_ms.items()}

    def report(self, **extra) -> dict:
        lat = np.asarray(self.latencies_ms or [0.0])
        return {
            "frames": self.frames,
            "faces_edited": self.faces_edited,
            "frames_with_faces": self.frames_with_faces,
            "fps": round(self.fps(), 2),
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2), "p95": round(float(np.percentile(lat, 95)), 2)},
            "stage_ms": {s: round(float(np.mean(v)), 3) if v else 0.0 for s, v in self.stage_ms.items()},
            "stage_ms_p95": {s: round(float(np.percentile(v, 95)), 3) if v else 0.0 for s, v in self.stage_ms.items()},
            **extra,
        }


def write_report(path: str | Path, report: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
