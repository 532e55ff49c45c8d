"""What flows through the pipeline: one frame and, per face, what each stage adds to it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stream.face_tracker import FaceTrack
from stream.landmark_flow import MeshFlow


@dataclass
class FaceWork:
    """One face as it moves down the pipeline; each stage fills its own fields."""

    track: FaceTrack
    crop: np.ndarray | None = None  # aligned BGR uint8 at the generator's size
    frame_to_crop: np.ndarray | None = None  # 2×3 affine
    latent: np.ndarray | None = None
    original: np.ndarray | None = None  # G(w), BGR float in [-1, 1]
    edited: np.ndarray | None = None  # G(f(w, Δ)), BGR float in [-1, 1]
    mesh_flow: MeshFlow | None = None  # the face mesh's flow G(w) → G(w′); None: optical flow only


@dataclass
class Frame:
    """One captured frame: its image, capture time (perf_counter), media time (s) and what the stages made."""

    index: int
    image: np.ndarray
    captured_at: float
    media_time: float
    stage_ms: dict[str, float] = field(default_factory=dict)
    faces: list[FaceWork] = field(default_factory=list)
    delta: np.ndarray | None = None
    bypass: bool = False
    output: np.ndarray | None = None
