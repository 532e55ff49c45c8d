"""One run of the live path: edit state and controls, stages wired into a pipeline, sinks, the report."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from stream.alignment import AlignmentTemplate
from stream.capture import CaptureThread, VideoSource
from stream.config import StreamConfig
from stream.edit_state import EditState
from stream.face_tracker import FaceTracker
from stream.frame import Frame
from stream.hud import draw_hud
from stream.pipeline import MAX_FAILED_IN_A_ROW, Pipeline, StageFailure
from stream.presets import PresetBook, PresetError
from stream.sinks import PreviewWindowSink, Sink
from stream.stages import (AlignStage, BlendStage, DeltaStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage,
                           SinkStage, drawn_glasses, geometric_edit)
from stream.terminal_keys import TerminalKeys

if TYPE_CHECKING:
    from engines.profiles import EngineSet


@dataclass
class Controls:
    """Routes keys (window or terminal) through the keymap, and API calls, to the edit state; remembers
    what it did. A `preset:NAME` action switches to that preset."""

    state: EditState
    keymap: dict[str, str]
    presets: PresetBook | None = None
    log: list[str] = field(default_factory=list)

    def on_key(self, name: str) -> None:
        action = self.keymap.get(name)
        if action is None:
            return
        if action.startswith("preset:"):
            try:
                self.run_preset(action.partition(":")[2])
            except PresetError as e:  # a key must never stop the stream
                print(f"warning: {e}")
        else:
            self.run(action)

    def run(self, action: str) -> None:
        self.state.apply(action)
        self.log.append(action)

    def run_preset(self, name: str) -> None:
        if self.presets is None:
            raise PresetError(f"preset {name!r}: presets are not available in this run")
        self.presets.apply(name, self.state)
        self.log.append(f"preset:{name}")


@dataclass
class Session:
    """Everything one run needs; `run()` returns the report. An `offline` run (demo: a file) processes every
    frame and stops when a stage keeps failing; a live one keeps only the newest frame, reopens a lost source
    with backoff, and never stops for a failing stage (its frames go out raw)."""

    config: StreamConfig
    engines: EngineSet
    template: AlignmentTemplate
    controls: Controls
    source: VideoSource
    sinks: list[Sink]
    preview: PreviewWindowSink | None = None
    offline: bool = False
    max_frames: int = 0
    terminal_keys: bool = False
    realtime: bool = False  # read a file at its own frame rate even when offline
    loop: bool = False  # restart a file input at its end
    capture: CaptureThread = field(init=False)
    pipeline: Pipeline = field(init=False)
    sink_stage: SinkStage = field(init=False)
    generate: GenerateStage = field(init=False)
    error: StageFailure | None = field(init=False, default=None)  # what ended the run, if anything failed
    stop_reason: str = field(init=False, default="")
    report: dict | None = field(init=False, default=None)  # set when run() ends, also when it raises
    _last: np.ndarray | None = field(init=False, default=None)
    _shown_version: int = field(init=False, default=-1)
    faces_tracked: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        cfg, state = self.config, self.controls.state
        pace = self.source.is_file and (self.realtime or not self.offline)
        self.capture = CaptureThread(self.source, lossless=self.offline, pace=pace, reconnect=not self.offline,
                                     loop=self.loop, reconnect_max_s=cfg.reconnect_max_s)
        self.sink_stage = SinkStage(self.sinks)
        geometric = geometric_edit(cfg, self.engines.attributes)
        glasses = drawn_glasses(cfg, self.engines.attributes)
        self.generate = GenerateStage(self.engines.editor, geometric, glasses)
        self.tracker = FaceTracker(cfg.max_faces(), cfg.mesh_width, cfg.landmark_min_cutoff, cfg.landmark_beta)
        self.mesh_flow = MeshFlowStage(geometric) if cfg.uses_mesh_flow() else None
        self.pipeline = Pipeline(
            self.capture,
            face_stages=[DetectStage(self.tracker), AlignStage(self.template)],
            latent_stages=[DeltaStage(state), EncodeStage(self.engines.encoder, cfg.latent_smoothing),
                           self.generate] + ([self.mesh_flow] if self.mesh_flow else []),
            output_stages=[BlendStage(cfg.blend, cfg.feather, cfg.colour_match, cfg.occlusion, in_place=True,
                                      outline=cfg.uses_mesh_flow(), glasses=glasses),
                           self.sink_stage],
            keep_alive=self.keep_alive,
            should_stop=lambda: state.quit,
            on_frame=self.on_frame,
            max_frames=self.max_frames,
            give_up_after=MAX_FAILED_IN_A_ROW if self.offline else 0,
        )
        if self.preview is not None:
            stats = self.pipeline.stats
            self.preview.overlay = lambda img: draw_hud(img, stats.recent_fps(), stats.recent_latency_ms(),
                                                        stats.recent_stage_ms(),
                                                        [state.describe(a, v) for a, v in state.active().items()],
                                                        state.bypass,
                                                        state.selected)

    def on_frame(self, frame: Frame) -> None:
        self._last = frame.output
        self.faces_tracked = len(frame.faces)
        state = self.controls.state
        if self.preview is not None and self._shown_version != state.version:
            self._shown_version = state.version
            self.preview.show_strengths(state.slider_values())

    def live_status(self, window: int = 60) -> dict:
        """fps, latency and faces over the last `window` frames, for the control page; any thread may call it."""
        stats = self.pipeline.stats
        done = list(stats.recent_done.copy())  # copy(): one C call, safe while the output thread appends
        latencies = list(stats.latencies_ms.copy())[-window:]
        fps = (len(done) - 1) / max(done[-1] - done[0], 1e-6) if len(done) > 1 else 0.0
        p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (0.0, 0.0)
        return {"fps": round(fps, 1), "latency_ms": {"p50": round(float(p50), 1), "p95": round(float(p95), 1)},
                "faces": self.faces_tracked, "frames": stats.frames, "engine": self.engines.backend}

    def keep_alive(self) -> None:
        """No frame for a while. Camera lost: repeat the last frame to the live sinks (virtual camera,
        window) so apps watching them do not freeze or drop us; otherwise keep the window responsive."""
        if self._last is None:
            return
        if not self.capture.connected.is_set():
            self.sink_stage.send(self._last, to=lambda sink: sink.watched)
        elif self.preview is not None:
            self.sink_stage.send(self._last, to=lambda sink: sink is self.preview)

    def run(self) -> dict:
        """Run until the input ends, --frames, quit or stop(); the report (also in self.report). A stage
        failing on every frame of an offline run raises StageFailure once the report is made."""
        keys = None
        if self.terminal_keys:
            keys = TerminalKeys(self.controls.on_key)
            keys.start()
            print("keys: " + ", ".join(f"{k}={a}" for k, a in self.controls.keymap.items()))
        started = time.perf_counter()
        try:
            # Wait for a frame no longer than one frame period: while the camera is lost, the repeated
            # last frame then keeps the virtual camera at its own rate.
            self.pipeline.run(idle_s=1.0 / min(self.source.fps or self.config.fps, 60.0))
        except StageFailure as e:
            self.error = e
        finally:
            if keys is not None:
                keys.stop()
            self.tracker.close()
            if self.mesh_flow is not None:
                self.mesh_flow.close()
            self.sink_stage.close()
        state = self.controls.state
        self.report = self.pipeline.stats.report(
            input=str(self.source.spec), dropped=self.capture.dropped, stage_failures=self.pipeline.failures(),
            engine=self.engines.backend, face_detection=self.tracker.counts(),
            blend=self.config.blend, faces=self.config.faces, edits=state.active(), bypass=state.bypass,
            actions=self.controls.log, wall_s=round(time.perf_counter() - started, 2),
            sinks=[s.name for s in self.sinks], sink_failures=dict(self.sink_stage.failed),
            faces_not_finite=self.generate.non_finite,
            mesh_flow_missed=None if self.mesh_flow is None else self.mesh_flow.maker.missed,
            ended_by=self.ended_by(), error=None if self.error is None else str(self.error))
        if self.error is not None:
            raise self.error  # after the report is made: the caller still writes it
        return self.report

    def stop(self, reason: str) -> None:
        """End the run as the quit key does (a signal, the window closed); the report says why."""
        self.stop_reason = self.stop_reason or reason
        self.controls.state.quit = True

    def ended_by(self) -> str:
        if self.error is not None:
            return "error"
        if self.capture.error is not None:
            return f"input failed ({self.capture.error!r})"
        if self.stop_reason:
            return self.stop_reason
        if self.controls.state.quit:
            return "quit key"
        if self.max_frames and self.pipeline.stats.frames >= self.max_frames:
            return "--frames reached"
        return "end of input"
