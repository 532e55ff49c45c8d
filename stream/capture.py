"""Frames in: a camera, file or URL read on its own thread into a one-slot buffer, reconnecting when lost."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from errors import UserError
from stream.frame import Frame


CAPTURE_STAGE = "capture"  # its milliseconds in Frame.stage_ms: reading and decoding the frame
OFFLINE_GIVE_UP_S = 10.0  # an offline run's looped file that vanished may come back within this


class CaptureError(UserError, RuntimeError):
    """The source cannot be opened; the message says which and how to fix it."""


class VideoSource:
    """A cv2.VideoCapture that knows what it was opened from, so it can be reopened after a loss."""

    def __init__(self, spec: int | str, width: int = 640, height: int = 480):
        self.spec = spec
        self.width = width
        self.height = height
        self.is_file = isinstance(spec, str) and Path(spec).exists()
        self.fps = 0.0
        self._cap: cv2.VideoCapture | None = None

    def describe(self) -> str:
        return f"camera {self.spec}" if isinstance(self.spec, int) else str(self.spec)

    def open(self) -> None:
        """Open the source or raise CaptureError with the fix."""
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)  # silent: our message below says it better
        try:
            cap = cv2.VideoCapture(self.spec) if isinstance(self.spec, int) else cv2.VideoCapture(str(self.spec))
        finally:
            cv2.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            if isinstance(self.spec, int):
                raise CaptureError(f"no camera at index {self.spec}; plug one in, or pick another with --camera N, "
                                   "or give a video file/URL with --input")
            raise CaptureError(f"cannot open {self.spec}; check the file path or URL (and that ffmpeg can decode it)")
        if isinstance(self.spec, int):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        self._cap = cap

    @property
    def is_open(self) -> bool:
        return self._cap is not None

    def read(self) -> np.ndarray | None:
        """The next frame, or None when the source ended or was lost."""
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        return image if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CaptureThread(threading.Thread):
    """Reads frames on its own thread and keeps only the newest (drops counted), or with `lossless`
    waits for each frame to be taken (files processed offline). `pace` reads a file at its own frame rate,
    as a camera would deliver it; `loop` restarts a file at its end. A lost live source (camera unplugged,
    stream ended) is reopened with exponential backoff."""

    def __init__(self, source: VideoSource, lossless: bool = False, pace: bool = False, reconnect: bool = True,
                 loop: bool = False, reconnect_max_s: float = 5.0, on_status: Callable[[str], None] = print):
        super().__init__(name="capture", daemon=True)
        self.source = source
        self.lossless = lossless
        self.pace = pace
        self.reconnect = reconnect
        self.loop = loop
        self.reconnect_max_s = reconnect_max_s
        self.on_status = on_status
        self.dropped = 0
        self.captured = 0
        self.error: Exception | None = None  # what ended the input, when it failed
        self.ended = threading.Event()
        self.connected = threading.Event()
        self._halt = threading.Event()
        self._slot: Frame | None = None
        self._cond = threading.Condition()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest frame (waiting up to timeout); None on timeout or after the source ended."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._slot is not None or self.ended.is_set() or self._halt.is_set(),
                                       timeout):
                return None
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def stop(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify_all()

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self.lossless:
                self._cond.wait_for(lambda: self._slot is None or self._halt.is_set())
            elif self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._cond.notify_all()

    def _finish(self) -> None:
        self.ended.set()
        with self._cond:
            self._cond.notify_all()

    def _reopen(self, give_up_s: float | None = None) -> bool:
        """Reopen a lost source with exponential backoff; False when stopped first, or after `give_up_s`."""
        delay, lost_at = 0.1, time.perf_counter()
        while not self._halt.is_set():
            try:
                self.source.open()
                self.on_status(f"capture: {self.source.describe()} is back")
                return True
            except CaptureError:
                if give_up_s is not None and time.perf_counter() - lost_at >= give_up_s:
                    self.on_status(f"capture: {self.source.describe()} did not come back in {give_up_s:g} s; "
                                   "ending the run")
                    return False
                self._halt.wait(delay)
                delay = min(delay * 2, self.reconnect_max_s)
        return False

    def run(self) -> None:
        try:
            self._read_until_done()
        except Exception as e:  # a source that fails in an unforeseen way ends the input, never hangs the run
            self.error = e
            self.on_status(f"capture: {self.source.describe()} failed ({e!r}); ending the run")
        finally:
            self.source.close()
            self._finish()

    def _read_until_done(self) -> None:
        index, start = 0, time.perf_counter()
        period = 1.0 / self.source.fps if self.pace and self.source.fps > 0 else 0.0
        read_since_open, backoff = 0, 0.1
        self.connected.set()
        while not self._halt.is_set():
            t0 = time.perf_counter()
            image = self.source.read()
            t1 = time.perf_counter()
            if image is None:
                at_file_end = self.source.is_file and self.source.is_open
                if at_file_end and self.loop and read_since_open > 0:
                    self.source.close()
                    try:
                        self.source.open()
                        read_since_open = 0
                        continue
                    except CaptureError:
                        pass  # removed or replaced by something unreadable: reconnect below
                elif at_file_end and not self.loop or not self.reconnect and not self.loop:
                    break  # a file that ended: done
                self.source.close()
                if self.connected.is_set():
                    self.on_status(f"capture: lost {self.source.describe()}; reconnecting (plug it back in)")
                self.connected.clear()
                if read_since_open == 0:  # it opens but gives no frame: wait before the next try, not spin
                    self._halt.wait(backoff)
                    backoff = min(backoff * 2, self.reconnect_max_s)
                # Offline (no reconnect) a looped file that vanished gets a while to come back, not forever.
                if not self._reopen(None if self.reconnect else OFFLINE_GIVE_UP_S):
                    break
                read_since_open = 0
                start = time.perf_counter() - index * period  # pace from now on, no burst to catch up
                continue
            read_since_open, backoff = read_since_open + 1, 0.1
            self.connected.set()
            media_time = index / self.source.fps if self.source.is_file and self.source.fps > 0 else t1 - start
            self._put(Frame(index, image, t1, media_time, {CAPTURE_STAGE: (t1 - t0) * 1e3}))
            self.captured += 1
            index += 1
            if period:
                self._halt.wait(max(0.0, start + index * period - time.perf_counter()))
