"""Faces in a frame: mediapipe face mesh (its BlazeFace detector re-runs only when tracking is lost),
landmarks smoothed by a One-Euro filter, and an id kept per face across frames."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np

from stream.one_euro import OneEuroFilter


@dataclass
class FaceTrack:
    """One face in one frame: a stable id and its 468 smoothed landmarks in frame pixels (x, y)."""

    id: int
    landmarks: np.ndarray  # (468, 2) float64

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the landmarks."""
        (x0, y0), (x1, y1) = self.landmarks.min(0), self.landmarks.max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def width(self) -> float:
        x0, _, x1, _ = self.box
        return x1 - x0

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)


def match_tracks(previous: dict[int, np.ndarray], centres: list[np.ndarray], widths: list[float],
                 next_id: int) -> tuple[list[int], int]:
    """Give each new face the id of the nearest previous face within half its width, else a new id."""
    free = dict(previous)
    order = sorted(range(len(centres)), key=lambda i: -widths[i])
    assigned: dict[int, int] = {}
    for i in order:
        best, best_d = None, 0.5 * widths[i]
        for tid, c in free.items():
            d = float(np.linalg.norm(c - centres[i]))
            if d < best_d:
                best, best_d = tid, d
        if best is None:
            best, next_id = next_id, next_id + 1
        else:
            del free[best]
        assigned[i] = best
    return [assigned[i] for i in range(len(centres))], next_id


class FaceTracker:
    """Finds, tracks and smooths faces; `max_faces=None` keeps every face the mesh finds (up to 8)."""

    def __init__(self, max_faces: int | None = 1, mesh_width: int = 640, min_cutoff: float = 1.0, beta: float = 0.05):
        self.max_faces = max_faces
        self.mesh_width = mesh_width
        self.min_cutoff = min_cutoff
        self.beta = beta
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=max_faces or 8, refine_landmarks=False,
            min_detection_confidence=0.5, min_tracking_confidence=0.5)
        self._filters: dict[int, OneEuroFilter] = {}
        self._centres: dict[int, np.ndarray] = {}
        self._next_id = 0

    def raw_landmarks(self, frame_bgr: np.ndarray) -> list[np.ndarray]:
        """Unsmoothed (468, 2) landmarks in frame pixels of every face the mesh finds."""
        h, w = frame_bgr.shape[:2]
        scale = min(1.0, self.mesh_width / w)
        small = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, (round(w * scale), round(h * scale)),
                                                           interpolation=cv2.INTER_AREA)
        result = self._mesh.process(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float64)
            faces.append(pts * (w, h))
        return faces

    def update(self, frame_bgr: np.ndarray, t: float) -> list[FaceTrack]:
        """Tracks in this frame (largest first, cut to max_faces); t is the frame's time in seconds."""
        faces = self.raw_landmarks(frame_bgr)
        centres = [f.mean(0) for f in faces]
        widths = [float(np.ptp(f[:, 0])) for f in faces]
        ids, self._next_id = match_tracks(self._centres, centres, widths, self._next_id)
        tracks = []
        for tid, pts in zip(ids, faces):
            filt = self._filters.get(tid) or OneEuroFilter(self.min_cutoff, self.beta)
            self._filters[tid] = filt
            tracks.append(FaceTrack(tid, filt(pts, t)))
        self._filters = {tid: self._filters[tid] for tid in ids}
        self._centres = dict(zip(ids, centres))
        tracks.sort(key=lambda tr: -tr.area)
        return tracks[: self.max_faces] if self.max_faces else tracks

    def close(self) -> None:
        self._mesh.close()
