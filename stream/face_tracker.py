"""Faces in a frame: mediapipe face mesh (its BlazeFace detector re-runs only when tracking is lost),
landmarks smoothed by a One-Euro filter, and an id kept per face across frames. Faces too small for the
mesh's own detector are found by the full-range detector and meshed on an upscaled crop."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np

from stream.one_euro import OneEuroFilter


def rgb_at_most(frame_bgr: np.ndarray, width: int) -> np.ndarray:
    """The frame as RGB, area-downscaled when it is wider than `width` (mediapipe's coordinates are relative)."""
    h, w = frame_bgr.shape[:2]
    scale = min(1.0, width / w)
    small = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, (round(w * scale), round(h * scale)),
                                                       interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


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


def crop_affine(box: tuple[float, float, float, float], size: int, grow: float) -> np.ndarray:
    """2×3 affine taking a square around a box (x, y, w, h in pixels), `grow` × its longer side, onto size×size."""
    x, y, w, h = box
    side = grow * max(w, h)
    s = size / side
    return np.array([[s, 0.0, -(x + w / 2 - side / 2) * s], [0.0, s, -(y + h / 2 - side / 2) * s]])


class SmallFaceFinder:
    """Faces the mesh misses (down to about 30 px wide): mediapipe's full-range BlazeFace on the frame,
    then the face mesh on each detection's square, upscaled to `crop_size`. Once found, a small face is
    followed from frame to frame by meshing the square around its last landmarks (no detector)."""

    def __init__(self, max_faces: int = 8, crop_size: int = 256, detect_width: int = 1280, grow: float = 2.0,
                 small_width: float = 120.0):
        self.max_faces = max_faces
        self.crop_size = crop_size
        self.detect_width = detect_width
        self.grow = grow
        self.small_width = small_width  # faces wider than this are left to the frame-wide mesh
        self.following: list[np.ndarray] = []  # landmarks of the small faces found in the last frame
        self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                                     min_detection_confidence=0.3)

    def boxes(self, frame_bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
        """x, y, w, h in frame pixels of each face the full-range detector finds."""
        h, w = frame_bgr.shape[:2]
        result = self._detector.process(rgb_at_most(frame_bgr, self.detect_width))
        boxes = []
        for det in (result.detections or [])[: self.max_faces]:
            b = det.location_data.relative_bounding_box
            boxes.append((b.xmin * w, b.ymin * h, b.width * w, b.height * h))
        return boxes

    def mesh_in_box(self, frame_bgr: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
        """(468, 2) frame-pixel landmarks of the face in the square around box, or None."""
        m = crop_affine(box, self.crop_size, self.grow)
        crop = cv2.warpAffine(frame_bgr, m, (self.crop_size, self.crop_size), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REPLICATE)
        result = self._mesh.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
        if not result.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], np.float64) * self.crop_size
        return (pts - m[:, 2]) / m[0, 0]

    def follow(self, frame_bgr: np.ndarray) -> list[np.ndarray]:
        """The small faces of the last frame, meshed again around where they were; [] once any is lost."""
        faces = []
        for last in self.following:
            (x0, y0), (x1, y1) = last.min(0), last.max(0)
            pts = self.mesh_in_box(frame_bgr, (x0, y0, x1 - x0, y1 - y0))
            if pts is None:
                self.following = []
                return []
            faces.append(pts)
        self.following = [f for f in faces if np.ptp(f[:, 0]) <= self.small_width]
        return faces if len(self.following) == len(faces) else []

    def __call__(self, frame_bgr: np.ndarray) -> list[np.ndarray]:
        """(468, 2) landmarks in frame pixels of every small face the detector finds."""
        faces = [pts for box in self.boxes(frame_bgr) if (pts := self.mesh_in_box(frame_bgr, box)) is not None]
        self.following = [f for f in faces if np.ptp(f[:, 0]) <= self.small_width]
        return faces

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()


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
        self._small = SmallFaceFinder(max_faces or 8)
        self._filters: dict[int, OneEuroFilter] = {}
        self._centres: dict[int, np.ndarray] = {}
        self._next_id = 0
        self.frames = 0  # frames seen
        self.faces_found = 0  # faces found, summed over frames
        self.small_faces_found = 0  # of those, found by the small-face fallback

    def raw_landmarks(self, frame_bgr: np.ndarray) -> list[np.ndarray]:
        """Unsmoothed (468, 2) landmarks in frame pixels of every face the mesh finds."""
        h, w = frame_bgr.shape[:2]
        result = self._mesh.process(rgb_at_most(frame_bgr, self.mesh_width))
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float64)
            faces.append(pts * (w, h))
        return faces

    def update(self, frame_bgr: np.ndarray, t: float) -> list[FaceTrack]:
        """Tracks in this frame (largest first, cut to max_faces); t is the frame's time in seconds."""
        faces = self._small.follow(frame_bgr) if self._small.following else []
        if not faces:
            faces = self.raw_landmarks(frame_bgr)
        if not faces:
            faces = self._small(frame_bgr)
        if self._small.following:
            self.small_faces_found += len(faces)
        self.frames += 1
        self.faces_found += min(len(faces), self.max_faces or len(faces))
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

    def counts(self) -> dict[str, int]:
        """For the run report: frames seen, faces found in them, and how many of those were small."""
        return {"frames": self.frames, "faces_found": self.faces_found, "small_faces_found": self.small_faces_found}

    def close(self) -> None:
        self._mesh.close()
        self._small.close()
