"""Real faces for calibration: photos and video frames found offline, with their face keypoints.

The keypoints come from the live pipeline's own FaceTracker and face_keypoints, so a calibration crop is
framed exactly as the camera's crops are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from errors import MissingFileError
from stream.alignment import face_keypoints
from stream.face_tracker import FaceTracker

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
LFW_FACES = 100  # skimage's lfw_subset: the first 100 of its 200 crops are faces
LFW_SCALE = 8  # its 25-px crops are upscaled and framed so the face detector sees them


@dataclass
class FacePhoto:
    """One real face: the frame it is in (BGR), its eye/eye/mouth keypoints, and who it is."""

    frame: np.ndarray
    keypoints: np.ndarray  # (3, 2) eye_a, eye_b, mouth in frame pixels
    source: str  # e.g. "astronaut", "demo_face.mp4#12", "lfw#37"
    identity: str  # faces of one person share it; held-out faces never share one with calibration faces


@dataclass
class FrameSource:
    """Frames of one person (a photo, or a clip's frames in order, so the tracker tracks as it does live)."""

    identity: str
    frames: list[tuple[str, np.ndarray]]


def photo_sources() -> list[FrameSource]:
    """The real face photos installed with the packages: astronaut and LFW (scikit-image), Grace Hopper (matplotlib)."""
    sources = []
    try:
        import skimage.data

        sources.append(FrameSource("astronaut", [("astronaut", cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))]))
        lfw = skimage.data.lfw_subset()[:LFW_FACES]
        sources += [FrameSource(f"lfw#{i}", [(f"lfw#{i}", frame_small_face(face))]) for i, face in enumerate(lfw)]
    except ImportError:
        pass  # scikit-image is a test extra; the other sources still give real faces
    try:
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        sources.append(FrameSource("grace_hopper", [("grace_hopper", cv2.imread(str(path)))]))
    except (ImportError, OSError, ValueError):
        pass
    return sources


def frame_small_face(gray: np.ndarray) -> np.ndarray:
    """A tight low-resolution grey face crop (values in [0,1]) → an upscaled BGR frame with a border around it."""
    face = cv2.resize((gray * 255).astype(np.uint8), None, fx=LFW_SCALE, fy=LFW_SCALE, interpolation=cv2.INTER_CUBIC)
    pad = face.shape[0] // 2
    face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)


def video_source(path: Path, every: int = 1, limit: int | None = None, identity: str | None = None) -> FrameSource:
    """Every `every`-th frame of a video, at most `limit` of them."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise MissingFileError(f"cannot open video {path}; give a readable video file")
    frames = []
    index = 0
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append((f"{path.name}#{index}", frame))
        index += 1
    capture.release()
    return FrameSource(identity or path.stem, frames)


def folder_sources(folder: Path, video_every: int = 5) -> list[FrameSource]:
    """Photos and videos of a folder, each file its own identity (name files of one person alike to share it)."""
    if not folder.is_dir():
        raise MissingFileError(f"--faces {folder}: not a folder; give a folder of face photos or videos")
    sources = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            image = cv2.imread(str(path))
            if image is not None:
                sources.append(FrameSource(path.stem, [(path.name, image)]))
        elif suffix in VIDEO_SUFFIXES:
            sources.append(video_source(path, every=video_every))
    return sources


def find_faces(sources: list[FrameSource]) -> tuple[list[FacePhoto], list[str]]:
    """The largest face of every frame (a fresh tracker per source), and the frames where none was found."""
    faces, missed = [], []
    for source in sources:
        tracker = FaceTracker(max_faces=1)
        try:
            for name, frame in source.frames:
                found = tracker.raw_landmarks(frame)
                if not found:
                    missed.append(name)
                    continue
                biggest = max(found, key=lambda pts: float(np.ptp(pts[:, 0])))
                faces.append(FacePhoto(frame, face_keypoints(biggest), name, source.identity))
        finally:
            tracker.close()
    return faces, missed
