"""Faulty real inputs for the reliability tests: damaged frames, faces that leave, crowd, hide or turn away,
an engine that raises on chosen calls, and a recording virtual camera (also usable from a child process)."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import cv2
import numpy as np
import pyvirtualcam
from stream_media import BACKEND, REPO, RecordingCamera, astronaut_bgr, webcam_frame

from engines.engine import Engine

GRACE_HOPPER = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


def grace_hopper_bgr() -> np.ndarray:
    """Grace Hopper's portrait (US Navy, public domain; matplotlib's sample image), 600×512 BGR."""
    image = cv2.imread(str(GRACE_HOPPER))
    assert image is not None, f"cannot read {GRACE_HOPPER}"
    return image


def damage_mjpeg_frames(path: Path, garbled: int, cut_short: int) -> None:
    """Damage two frames of an MJPEG file in place, as a flaky USB camera or a bad disk does: random bytes
    over a stretch of one frame's JPEG data, and another frame's data zeroed from a third of the way on."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG start markers
    s, e = starts[garbled], starts[garbled + 1]
    mid = s + (e - s) // 3
    data[mid:mid + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    s, e = starts[cut_short], starts[cut_short + 1]
    mid = s + (e - s) // 3
    data[mid:e - 16] = bytes(e - 16 - mid)
    path.write_bytes(bytes(data))


def crowd_frame() -> np.ndarray:
    """Four real faces in one 640×480 frame: the astronaut, Grace Hopper and their mirror images."""
    astronaut = webcam_frame(astronaut_bgr(), scale=0.9, size=(320, 240))
    hopper = webcam_frame(grace_hopper_bgr(), scale=0.5, centre=(300.0, 190.0), size=(320, 240))
    return np.concatenate([np.concatenate([astronaut, hopper], 1), np.concatenate([hopper[:, ::-1], astronaut[:, ::-1]], 1)], 0)


def hand_over(frame: np.ndarray, centre: tuple[int, int], width: int) -> np.ndarray:
    """A hand-shaped skin-coloured occluder (palm and five fingers, shaded) over part of the face."""
    out = frame.copy()
    cx, cy = centre
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.ellipse(mask, (cx, cy), (width // 2, int(width * 0.6)), 0, 0, 360, 255, -1)
    finger = width // 6
    for i in range(4):
        x = cx - width // 2 + finger // 2 + i * (width // 4)
        cv2.rectangle(mask, (x, cy - int(width * 1.3)), (x + finger, cy), 255, -1)
    cv2.line(mask, (cx + width // 2, cy), (cx + width, cy - width // 2), 255, finger)
    shade = np.linspace(0.8, 1.1, frame.shape[1])[None, :, None]
    skin = np.clip(np.array([110, 150, 205], float) * shade, 0, 255).astype(np.uint8)
    skin = np.broadcast_to(skin, frame.shape)
    out[mask > 0] = skin[mask > 0]
    return out


def yaw_homography(size: tuple[int, int], degrees: float, focal: float = 500.0) -> np.ndarray:
    """The image motion of a flat face at the frame centre turning `degrees` about its own vertical axis:
    H = K (R + (I - R) e3 e3ᵀ) K⁻¹ (the plane's centre stays put, its sides recede and approach)."""
    w, h = size
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    a = np.radians(degrees)
    rotation = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    e3 = np.array([[0.0], [0.0], [1.0]])
    return k @ (rotation + (np.eye(3) - rotation) @ e3 @ e3.T) @ np.linalg.inv(k)


def turned_head(frame: np.ndarray, degrees: float) -> np.ndarray:
    h, w = frame.shape[:2]
    return cv2.warpPerspective(frame, yaw_homography((w, h), degrees), (w, h), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


class FailingEngine:
    """The real engine, except that chosen calls raise (a driver hiccup, an out-of-memory on one frame)."""

    def __init__(self, engine: Engine, fail_calls: set[int] | None):
        self.engine = engine
        self.fail_calls = fail_calls  # None: every call fails
        self.inputs, self.outputs, self.backend = engine.inputs, engine.outputs, engine.backend
        self.calls = 0

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        call, self.calls = self.calls, self.calls + 1
        if self.fail_calls is None or call in self.fail_calls:
            raise RuntimeError(f"injected engine failure on call {call}")
        return self.engine(feeds)


if __name__ == "__main__":
    # python tests/reliability_media.py FRAMES_LOG <run.py arguments>: run.py with the recording camera.
    RecordingCamera.log = Path(sys.argv[1])
    pyvirtualcam.register_backend(BACKEND, RecordingCamera)
    sys.argv = ["run.py", *sys.argv[2:]]
    runpy.run_path(str(REPO / "run.py"), run_name="__main__")
