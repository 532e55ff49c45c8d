"""Frames out. Every sink has the same tiny surface: `send(frame_bgr)`, `close()`; several run at once."""
from __future__ import annotations

import os
import platform
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

V4L2_FIX = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=LiveL2L"


class SinkError(RuntimeError):
    """A sink cannot start; the message says why and how to fix it."""


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame at the size a sink was opened with (a camera may come back at another resolution)."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


class Sink(Protocol):
    name: str

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


def find_ffmpeg() -> str | None:
    """An ffmpeg executable: the one on PATH, else the one the imageio-ffmpeg wheel ships, else None."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


class VideoFileSink:
    """Writes frames to a video file. .mp4/.mov/.mkv: H.264 (crf 14, full-range 4:2:0) through ffmpeg when present, else
    OpenCV's mp4v (lossier, about 2/255 of noise); .avi: OpenCV's MJPEG at quality 100."""

    name = "file"

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 14):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = width, height
        self._writer: cv2.VideoWriter | None = None
        self._ffmpeg: subprocess.Popen | None = None
        ffmpeg = find_ffmpeg() if self.path.suffix.lower() in (".mp4", ".mov", ".mkv") else None
        if ffmpeg:
            cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                   "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
                   # full-range 4:2:0 with exact rounding: the least colour shift OpenCV reads back
                   "-sws_flags", "accurate_rnd+full_chroma_int+bitexact", "-pix_fmt", "yuvj420p",
                   "-threads", "1", "-movflags", "+faststart", str(self.path)]
            # Its own session: a Ctrl-C in the terminal stops us, and we then finish the file by closing
            # ffmpeg's input; ffmpeg interrupted by the same Ctrl-C would quit with an error instead.
            self._ffmpeg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            self.codec = "h264"
            self._failed = False
            self._queue: queue.Queue = queue.Queue(maxsize=8)
            self._pumper = threading.Thread(target=self._pump, name="ffmpeg-writer", daemon=True)
            self._pumper.start()
        else:
            if self.path.suffix.lower() == ".avi":
                self._writer = cv2.VideoWriter(str(self.path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                                               fps, (width, height), [cv2.VIDEOWRITER_PROP_QUALITY, 100])
                self.codec = "mjpeg"
            else:
                print(f"video {self.path}: ffmpeg not found, writing OpenCV mp4v (lossy); install ffmpeg for H.264")
                self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                self.codec = "mp4v"
            if not self._writer.isOpened():
                raise SinkError(f"cannot write video {self.path}; use a .mp4, .mkv or .avi path in a writable folder")

    def send(self, frame: np.ndarray) -> None:
        frame = fit_frame(frame, self.width, self.height)
        if self._ffmpeg is None:
            self._writer.write(frame)
            return
        if self._failed:
            raise SinkError(f"ffmpeg stopped writing {self.path}: {self._ffmpeg_error()}")
        self._queue.put(np.ascontiguousarray(frame).tobytes())

    def _pump(self) -> None:
        # Own thread: a pipe write blocks until ffmpeg has encoded, which must not stall the pipeline.
        while (data := self._queue.get()) is not None:
            try:
                self._ffmpeg.stdin.write(data)
            except (BrokenPipeError, ValueError):
                self._failed = True
                while self._queue.get() is not None:
                    pass
                return

    def _ffmpeg_error(self) -> str:
        self._ffmpeg.wait()
        lines = self._ffmpeg.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {self._ffmpeg.returncode}"

    def close(self) -> None:
        if self._ffmpeg is not None:
            self._queue.put(None)
            self._pumper.join()
            self._ffmpeg.stdin.close()
            if self._ffmpeg.wait() != 0 or self._failed:
                raise SinkError(f"ffmpeg failed writing {self.path}: {self._ffmpeg_error()}")
        else:
            self._writer.release()


class VirtualCameraSink:
    """pyvirtualcam: v4l2loopback on Linux, OBS / Unity Capture on Windows and macOS."""

    name = "virtualcam"

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None, device: str | None = None):
        import pyvirtualcam

        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR, backend=backend,
                                            device=device)
        except RuntimeError as e:
            raise SinkError(f"no virtual camera ({str(e).splitlines()[0]}); {virtualcam_fix()}") from None
        self.device = self._cam.device
        self.width, self.height = width, height

    def send(self, frame: np.ndarray) -> None:
        self._cam.send(np.ascontiguousarray(fit_frame(frame, self.width, self.height)))

    def close(self) -> None:
        self._cam.close()


def virtualcam_fix() -> str:
    """The one line that makes a virtual camera available on this OS."""
    system = platform.system()
    if system == "Linux":
        return f"load v4l2loopback: {V4L2_FIX}"
    if system == "Windows":
        return "install OBS Studio (28+) and start its Virtual Camera once, or install Unity Capture"
    return "install OBS Studio (28+) and start its Virtual Camera once"


def display_available() -> bool:
    """Whether a window can open: always on Windows/macOS, on Linux only with an X/Wayland display."""
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# cv2.waitKeyEx codes of keys that have names in the keymap.
SPECIAL_KEYS = {27: "esc", 32: "space", 9: "tab", 13: "enter", 10: "enter", 8: "backspace"}


def key_name(code: int) -> str | None:
    """A cv2 key code as the keymap names it ('a', '+', 'space', 'esc'), or None for no key."""
    if code < 0:
        return None
    code &= 0xFFFF
    if code in SPECIAL_KEYS:
        return SPECIAL_KEYS[code]
    return chr(code) if 32 < code < 127 else None


class PreviewWindowSink:
    """An OpenCV window with one slider per attribute; keys go to `on_key`, slider moves to `on_slider`.

    Must be driven from the thread that created it (HighGUI is not thread-safe)."""

    name = "preview"
    title = "LiveL2L"
    SLIDER_RANGE = 2.0  # sliders span −2…+2 standard deviations in 0.05 steps
    SLIDER_HEIGHT = 25  # pixels a slider row takes below the image (Qt), so the image shows at 1:1

    def __init__(self, values: dict[str, float], on_key: Callable[[str], None],
                 on_slider: Callable[[str, float], None]):
        if not display_available():
            raise SinkError("no display for the preview window; run with --no-preview, or set DISPLAY (e.g. xvfb-run)")
        self.on_key = on_key
        self._on_slider = on_slider
        self._ready = False  # some HighGUI backends call the slider callback while creating it
        self._sized = False
        self._sliders = len(values)
        self.overlay: Callable[[np.ndarray], np.ndarray] | None = None
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        steps = int(2 * self.SLIDER_RANGE / 0.05)
        for name, value in values.items():
            cv2.createTrackbar(name, self.title, self._position(value), steps, lambda pos, a=name: self._slider(a, pos))
        self._ready = True

    def _position(self, value: float) -> int:
        return int(round((value + self.SLIDER_RANGE) / 0.05))

    def _slider(self, attribute: str, pos: int) -> None:
        if self._ready:
            self._on_slider(attribute, round(pos * 0.05 - self.SLIDER_RANGE, 2))

    def show_strengths(self, values: dict[str, float]) -> None:
        """Move the sliders to the edit state (after hotkeys changed it)."""
        for name, value in values.items():
            if cv2.getTrackbarPos(name, self.title) != self._position(value):
                cv2.setTrackbarPos(name, self.title, self._position(value))

    def send(self, frame: np.ndarray) -> None:
        if not self._sized:
            cv2.resizeWindow(self.title, frame.shape[1], frame.shape[0] + self.SLIDER_HEIGHT * self._sliders)
            self._sized = True
        cv2.imshow(self.title, self.overlay(frame) if self.overlay else frame)
        name = key_name(cv2.waitKeyEx(1))
        if name is not None:
            self.on_key(name)

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)
