"""Frames out. Every sink has the same tiny surface: `send(frame_bgr)`, `close()`; several run at once."""
from __future__ import annotations

import os
import platform
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from errors import UserError

V4L2_FIX = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=LiveL2L"


class SinkError(UserError, RuntimeError):
    """A sink cannot start; the message says why and how to fix it."""


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame at the size a sink was opened with (a camera may come back at another resolution)."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


class Sink(Protocol):
    name: str
    # Watched live (a virtual camera, a window): while the camera is lost it gets the last frame again so it does
    # not freeze. A recording is not watched and never gets a repeated frame.
    watched: bool

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


# Containers that stay playable up to the last second written even when the writer dies (disk full, ffmpeg
# killed): fragmented MP4 (a fragment a second, flushed as it is made) and Matroska clusters of a second.
STREAMABLE_CONTAINER_FLAGS = {
    ".mp4": ["-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000"],
    ".mov": ["-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "1000000"],
    ".mkv": ["-cluster_time_limit", "1000"],
}
FFMPEG_STALL_S = 10.0  # ffmpeg taking no frame for this long has hung (a dead network disk)
FFMPEG_FINISH_S = 60.0  # the longest ffmpeg may take to encode its buffered frames and finish the file
GROWTH_CHECK_FRAMES = 25  # an OpenCV writer reports no errors: its file must grow at least every this many frames


def x264_preset(width: int, height: int) -> str:
    """veryfast up to 720p; ultrafast above, the one preset whose single thread encodes 1080p at camera rate on
    a small CPU (measured on 2 shared cores: veryfast 26 fps, superfast 39, ultrafast 64), so the file does not
    hold the stream back. Files are larger (≈ 3× at crf 14), not worse."""
    return "veryfast" if width * height <= 1280 * 720 else "ultrafast"


class VideoFileSink:
    """Writes frames to a video file. .mp4/.mov/.mkv: H.264 (crf 14, full-range 4:2:0, x264_preset) through ffmpeg
    when present, else OpenCV's mp4v (lossier, about 2/255 of noise); .avi: OpenCV's MJPEG at quality 100. A write
    that fails (disk full, ffmpeg gone) raises SinkError; what was written up to then stays playable."""

    name = "file"
    watched = False

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 14):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkError(f"cannot create the folder for --output {self.path} ({e.strerror or e}); "
                            "pick a path in a writable folder") from None
        self.width, self.height = width, height
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._ffmpeg: subprocess.Popen | None = None
        suffix = self.path.suffix.lower()
        ffmpeg = find_ffmpeg() if suffix in STREAMABLE_CONTAINER_FLAGS else None
        if ffmpeg:
            cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                   "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", x264_preset(width, height), "-crf", str(crf),
                   # H.264 4:2:0 needs even sides: an odd column or row is padded, never cropped
                   "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                   # full-range 4:2:0 with exact rounding: the least colour shift OpenCV reads back
                   "-sws_flags", "accurate_rnd+full_chroma_int+bitexact", "-pix_fmt", "yuvj420p",
                   "-threads", "1", *STREAMABLE_CONTAINER_FLAGS[suffix], "-flush_packets", "1", str(self.path)]
            # Its own session: a Ctrl-C in the terminal stops us, and we then finish the file by closing
            # ffmpeg's input; ffmpeg interrupted by the same Ctrl-C would quit with an error instead.
            try:
                self._ffmpeg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                                                start_new_session=True)
            except OSError as e:
                raise SinkError(f"cannot start ffmpeg ({e.strerror or e}) for {self.path}; reinstall imageio-ffmpeg "
                                "or use an .avi output") from None
            self.codec = "h264"
            self._failed = False
            self._closed = False
            self._error: str | None = None
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
                raise SinkError(f"cannot write video {self.path}; use a .mp4, .mkv or .avi path in a writable folder "
                                "(sides of an .mp4 written without ffmpeg must be even)")
            self._size_seen = (0, 0)  # (frames, bytes) at the last growth check

    def send(self, frame: np.ndarray) -> None:
        frame = fit_frame(frame, self.width, self.height)
        self.frames += 1
        if self._ffmpeg is None:
            self._writer.write(frame)
            if self.frames - self._size_seen[0] >= GROWTH_CHECK_FRAMES:
                self._check_growth()
            return
        if self._failed or self._ffmpeg.poll() is not None:
            raise SinkError(f"ffmpeg stopped writing {self.path}: {self._ffmpeg_error()}")
        try:
            self._queue.put(np.ascontiguousarray(frame).tobytes(), timeout=FFMPEG_STALL_S)
        except queue.Full:
            raise SinkError(f"ffmpeg took no frame for {FFMPEG_STALL_S:g} s writing {self.path}: "
                            f"{self._ffmpeg_error()}") from None

    def _check_growth(self) -> None:
        """OpenCV's writers drop what they cannot write without a word: a file that stopped growing failed."""
        try:
            size = self.path.stat().st_size
        except OSError as e:
            raise SinkError(f"{self.path} is gone ({e.strerror or e})") from None
        if size <= self._size_seen[1]:
            raise SinkError(f"{self.path} stopped growing at {size} bytes; the disk is full or the file is not writable")
        self._size_seen = (self.frames, size)

    def _pump(self) -> None:
        # Own thread: a pipe write blocks until ffmpeg has encoded, which must not stall the pipeline.
        while (data := self._queue.get()) is not None:
            try:
                self._ffmpeg.stdin.write(data)
            except (OSError, ValueError):  # ffmpeg gone (broken pipe), or its input closed by close()
                self._failed = True
                return

    def _ffmpeg_error(self) -> str:
        """ffmpeg's last line of complaint, once it has exited (it is stopped if it has not)."""
        if self._ffmpeg.poll() is None:
            self._ffmpeg.kill()
        self._ffmpeg.wait()
        if self._error is None:
            lines = self._ffmpeg.stderr.read().decode(errors="replace").strip().splitlines()
            code = self._ffmpeg.returncode
            self._error = lines[-1] if lines else (f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}")
        return self._error

    def close(self) -> None:
        """Finish the container; SinkError when frames were lost (the file still plays up to them). Never
        waits on a stuck ffmpeg for more than a few seconds."""
        if self._ffmpeg is not None:
            if self._closed:
                return
            self._closed = True
            try:
                self._queue.put(None, timeout=FFMPEG_STALL_S)
            except queue.Full:
                self._ffmpeg.kill()  # stuck: its pipe write then fails and the pump stops
            self._pumper.join(FFMPEG_STALL_S)
            if self._pumper.is_alive():
                self._ffmpeg.kill()
                self._pumper.join()
            try:
                self._ffmpeg.stdin.close()
            except OSError:
                self._failed = True  # the pipe's last bytes could not be written: ffmpeg is gone
            try:
                code = self._ffmpeg.wait(FFMPEG_FINISH_S)
            except subprocess.TimeoutExpired:
                code = None
            if code != 0 or self._failed:
                raise SinkError(f"ffmpeg failed writing {self.path}: {self._ffmpeg_error()}")
            return
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        self._check_frames_on_disk()

    def _check_frames_on_disk(self) -> None:
        """An .avi's index says how many frames reached the disk; fewer than were sent means a write failed."""
        if self.path.suffix.lower() != ".avi" or not self.frames:
            return
        cap = cv2.VideoCapture(str(self.path))
        on_disk = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        if on_disk < self.frames:
            raise SinkError(f"only {on_disk} of {self.frames} frames reached {self.path}; the disk is full or "
                            "the file is not writable")


class VirtualCameraSink:
    """pyvirtualcam: v4l2loopback on Linux, OBS / Unity Capture on Windows and macOS."""

    name = "virtualcam"
    watched = True

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None, device: str | None = None):
        import pyvirtualcam

        from pyvirtualcam import camera as pyvirtualcam_camera

        if backend and backend not in pyvirtualcam_camera.BACKENDS:
            raise SinkError(f"stream.virtualcam_backend = {backend!r} is unknown; use one of "
                            f"{', '.join(pyvirtualcam_camera.BACKENDS)} or leave it empty (the first that works)")
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


def display_problem() -> str | None:
    """Why no window can open here, or None when one can: always on Windows/macOS; elsewhere the X or
    Wayland display named in the environment must answer (Qt aborts the whole process on a dead one)."""
    if sys.platform in ("win32", "darwin"):
        return None
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland:
        path = Path(wayland) if wayland.startswith("/") else Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / wayland
        if _answers(socket.AF_UNIX, str(path)):
            return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display (DISPLAY is not set)"
    host, _, number = display.rpartition(":")
    number = number.split(".")[0]
    if not number.isdecimal():
        return f"DISPLAY={display} is not a display name"
    if host in ("", "unix"):
        found = _answers(socket.AF_UNIX, f"/tmp/.X11-unix/X{number}") or _answers(socket.AF_UNIX, f"\0/tmp/.X11-unix/X{number}")
    else:
        found = _answers(socket.AF_INET, (host, 6000 + int(number)))
    return None if found else f"the display DISPLAY={display} does not answer"


def _answers(family: int, address) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


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
    watched = True
    title = "LiveL2L"
    SLIDER_RANGE = 3.0  # sliders span −3…+3 standard deviations in 0.05 steps (the mapper saturates there)
    SLIDER_HEIGHT = 25  # pixels a slider row takes below the image (Qt), so the image shows at 1:1

    def __init__(self, values: dict[str, float], on_key: Callable[[str], None],
                 on_slider: Callable[[str, float], None], on_closed: Callable[[], None] | None = None):
        problem = display_problem()
        if problem is not None:
            raise SinkError(f"{problem}, so no preview window; run with --no-preview, or set DISPLAY (e.g. xvfb-run)")
        self.on_key = on_key
        self.on_closed = on_closed  # the user closed the window (its ×): by default, show it again
        self.closed = False
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
        if self.closed:
            return
        if self._sized and self.on_closed is not None and self._window_gone():
            self.closed = True  # imshow would bring a closed window back: stop drawing and end the run
            self.on_closed()
            return
        if not self._sized:
            cv2.resizeWindow(self.title, frame.shape[1], frame.shape[0] + self.SLIDER_HEIGHT * self._sliders)
            self._sized = True
        cv2.imshow(self.title, self.overlay(frame) if self.overlay else frame)
        name = key_name(cv2.waitKeyEx(1))
        if name is not None:
            self.on_key(name)

    def _window_gone(self) -> bool:
        """The window was closed with its × or destroyed by the window manager."""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        if not self.closed:
            cv2.destroyWindow(self.title)
        cv2.waitKey(1)
