"""The heads-up display drawn on the preview only (never on what the virtual camera or file receive)."""
from __future__ import annotations

import cv2
import numpy as np


def draw_hud(frame: np.ndarray, fps: float, latency_ms: float, stage_ms: dict[str, float], active: list[str],
             bypass: bool, selected: str) -> np.ndarray:
    """A copy of the frame with fps, latency, per-stage milliseconds and the active edits (one text each, e.g.
    EditState.describe's 'age +2.00 (≈ +24.7 years)'), top left."""
    out = frame.copy()
    edits = "BYPASS" if bypass else (", ".join(active) or "no edits")
    lines = [f"{fps:5.1f} fps  {latency_ms:4.0f} ms   selected: {selected}", edits,
             " ".join(f"{k[:3]} {v:.1f}" for k, v in stage_ms.items())]
    scale = max(0.45, frame.shape[1] / 1400)
    for i, text in enumerate(lines):
        y = int(18 * scale / 0.4 * (i + 1))
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
