"""The live pipeline: stage workers joined by small buffers, so capture, faces, latents and output overlap.

    capture thread ─slot─▶ [detect, align] ─q─▶ [edit, encode, generate] ─q─▶ caller's thread: [blend, sink]

The last group runs on the caller's thread because the preview window (HighGUI) must live there.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from errors import UserError
from stream.capture import CAPTURE_STAGE, CaptureThread
from stream.frame import Frame
from stream.run_stats import RunStats
from stream.stages import Stage

END = None  # what a worker passes on when the stream is over


MAX_FAILED_IN_A_ROW = 30  # about a second of frames: past this a failing stage stops an offline run


class StageFailure(UserError, RuntimeError):
    """A stage failed on every frame for a while; the message names the stage and its last error."""


def run_stages(stages: Sequence[Stage], frame: Frame) -> None:
    """Run stages in order on one frame, each recording its own milliseconds."""
    for stage in stages:
        t0 = time.perf_counter()
        stage.process(frame)
        frame.stage_ms[stage.name] = (time.perf_counter() - t0) * 1e3


@dataclass
class FaultTolerance:
    """A stage that fails on one frame costs that frame its edit, not the stream: the frame goes on
    without faces (so it passes through unchanged). A run of `give_up_after` failures stops the pipeline;
    with 0 (live) nothing does: the stream goes out unedited until the stage works again."""

    name: str
    give_up_after: int = MAX_FAILED_IN_A_ROW
    failures: int = 0
    in_a_row: int = 0

    def run(self, stages: Sequence[Stage], frame: Frame) -> bool:
        """True when every stage ran; False when the frame was stripped of its faces after a failure."""
        try:
            run_stages(stages, frame)
            self.in_a_row = 0
            return True
        except Exception as e:  # any stage error; a persistent one is re-raised below
            self.failures += 1
            self.in_a_row += 1
            if self.give_up_after and self.in_a_row >= self.give_up_after:
                raise StageFailure(f"{self.name} stages failed on {self.in_a_row} frames in a row; last: {e!r}") from e
            if self.failures == 1:
                print(f"warning: {self.name} failed on frame {frame.index} ({e!r}); passing such frames through")
            elif self.in_a_row == MAX_FAILED_IN_A_ROW:
                print(f"warning: {self.name} fails on every frame ({e!r}); the stream goes out unedited until it works")
            frame.faces = []
            frame.output = None
            return False


class StageWorker(threading.Thread):
    """Takes frames from `take`, runs its stages, puts them on its output buffer; END stops it."""

    def __init__(self, name: str, stages: Sequence[Stage], take: Callable[[], Frame | None], out: queue.Queue,
                 stop: threading.Event, give_up_after: int = MAX_FAILED_IN_A_ROW):
        super().__init__(name=name, daemon=True)
        self.stages = stages
        self.take = take
        self.out = out
        self.stop_event = stop
        self.error: BaseException | None = None
        self.faults = FaultTolerance(name, give_up_after)

    def _put(self, item: Frame | None) -> None:
        while not self.stop_event.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                frame = self.take()
                if frame is END:
                    break
                self.faults.run(self.stages, frame)
                self._put(frame)
        except BaseException as e:  # surfaced on the caller's thread by Pipeline.run
            self.error = e
        self._put(END)


@dataclass
class Pipeline:
    """Capture and stage groups joined by buffers, all built here; `run()` drives the output group until the
    stream ends (once: a pipeline is not restarted)."""

    capture: CaptureThread
    face_stages: Sequence[Stage]
    latent_stages: Sequence[Stage]
    output_stages: Sequence[Stage]
    keep_alive: Callable[[], None] | None = None  # called when no frame came for a while (camera lost)
    should_stop: Callable[[], bool] = lambda: False
    on_frame: Callable[[Frame], None] | None = None
    max_frames: int = 0  # 0 = until the source ends
    max_in_flight: int = 3  # one frame per stage group: all groups stay busy, no frame waits in a queue long
    give_up_after: int = MAX_FAILED_IN_A_ROW  # failures in a row that stop the run; 0 = never (live)
    stats: RunStats = field(init=False)
    workers: list[StageWorker] = field(init=False)
    output_faults: FaultTolerance = field(init=False)
    _stop: threading.Event = field(init=False, repr=False)
    _credits: threading.Semaphore = field(init=False, repr=False)
    _latents_out: queue.Queue = field(init=False, repr=False)

    def __post_init__(self) -> None:
        stages = [*self.face_stages, *self.latent_stages, *self.output_stages]
        self.stats = RunStats(stages=(CAPTURE_STAGE, *(stage.name for stage in stages)))
        self._stop = threading.Event()
        self._credits = threading.Semaphore(self.max_in_flight)
        faces_out: queue.Queue = queue.Queue(maxsize=1)
        self._latents_out = queue.Queue(maxsize=1)
        self.workers = [
            StageWorker("faces", self.face_stages, self._take_capture, faces_out, self._stop, self.give_up_after),
            StageWorker("latents", self.latent_stages, lambda: self._take_queue(faces_out), self._latents_out,
                        self._stop, self.give_up_after),
        ]
        self.output_faults = FaultTolerance("output", self.give_up_after)

    def failures(self) -> dict[str, int]:
        """Frames each worker passed through because one of its stages failed on them."""
        return {f.name: f.failures for f in (*(w.faults for w in self.workers), self.output_faults)}

    def _take_capture(self) -> Frame | None:
        """The newest frame, taken only when a pipeline slot is free, so it is as fresh as it can be."""
        while not self._credits.acquire(timeout=0.1):
            if self._stop.is_set():
                return END
        while not self._stop.is_set():
            frame = self.capture.take(timeout=0.1)
            if frame is not None:
                return frame
            if self.capture.ended.is_set():
                break
        self._credits.release()
        return END

    def _take_queue(self, q: queue.Queue) -> Frame | None:
        while not self._stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return END

    def _finish_raw(self, frame: Frame) -> None:
        """After an output stage failed: the frame, stripped of its faces, through the output stages that
        did not finish, so it still goes out raw and no sink gets it twice. A second failure drops it."""
        rest = [stage for stage in self.output_stages if stage.name not in frame.stage_ms]
        try:
            run_stages(rest, frame)
        except Exception:  # already counted by output_faults; the frame is lost, the stream is not
            pass

    def run(self, idle_s: float = 0.1) -> RunStats:
        self.capture.start()
        for w in self.workers:
            w.start()
        try:
            while not self.should_stop():
                try:
                    frame = self._latents_out.get(timeout=idle_s)
                except queue.Empty:
                    if self.keep_alive is not None:
                        self.keep_alive()
                    continue
                if frame is END:
                    break
                if not self.output_faults.run(self.output_stages, frame):
                    self._finish_raw(frame)
                self._credits.release()
                self.stats.add(frame, time.perf_counter())
                if self.on_frame is not None:
                    self.on_frame(frame)
                if self.max_frames and self.stats.frames >= self.max_frames:
                    break
        finally:
            self._stop.set()
            self.capture.stop()
            for w in self.workers:
                w.join(timeout=2.0)
            self.capture.join(timeout=2.0)
        for w in self.workers:
            if w.error is not None:
                raise w.error
        return self.stats
