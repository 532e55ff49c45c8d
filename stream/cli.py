"""`python run.py live` and `python run.py demo`: flags → settings → engines, stages, sinks → pipeline."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

import torch

from engines.checkpoint import read_header
from errors import ConfigError
from flags import add_common_flags, settings_from_flags
from project import ATTRIBUTES, DEMO_CLIP, resolve_path
from settings import Settings
from stream.alignment import alignment_template
from stream.allocator import keep_freed_memory
from stream.capture import CaptureError, VideoSource
from stream.control_server import ControlError, ControlServer, new_token
from stream.edit_state import EditState, parse_edits
from stream.keymap import load_keymap
from stream.presets import PresetBook, user_config_dir
from stream.run_stats import write_report
from stream.session import Controls, Session
from stream.sinks import PreviewWindowSink, Sink, SinkError, VideoFileSink, VirtualCameraSink, display_problem
from stream.terminal_keys import TerminalKeys

DEMO_OUTPUT = "out/demo.mp4"
DEMO_EDIT = "age=+2,beard=+2,glasses=+2"  # what shows most at a glance on the shipped profile (docs/eval/video)
STREAM_FLAGS = {"faces": "stream.faces", "blend": "stream.blend", "keymap": "stream.keymap", "control_host": "control.host",
                "control_token": "control.token", "control_port": "control.port"}
OUTPUT_FAILED = 3  # the run went to its end, but a sink or the report failed on the way (see run.py)


def add_stream_flags(parser: argparse.ArgumentParser) -> None:
    """The flags live and demo share: the common settings and engine flags, then the stream's own."""
    add_common_flags(parser)
    parser.add_argument("--edit", help="edits to start with, e.g. age=+0.8,beard=+1 (units: std of the attribute)")
    parser.add_argument("--faces", help="which faces to edit: largest | all | N")
    parser.add_argument("--blend", choices=("warp", "delta", "replace"),
                        help="warp (default): move the face as G(w)->G(w') moves, add the rest; delta: add G(w')-G(w)")
    parser.add_argument("--keymap", help="hotkeys TOML (default: stream/keymap.toml)")
    parser.add_argument("--preset", help="start with a saved preset (edits from --edit go on top)")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction, default=None,
                        help="control server for the OBS dock, Stream Deck and phones (default: on for live)")
    parser.add_argument("--control-host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for a phone)")
    parser.add_argument("--control-port", type=int, help="port of the control server (default 8765)")
    parser.add_argument("--control-token", help="fixed API token (default: a random one each start)")
    parser.add_argument("--frames", type=int, default=0, help="stop after N frames (0 = until the input ends / q)")
    parser.add_argument("--report", help="write the run report JSON here")
    parser.add_argument("--output", help="also write the edited video to this .mp4/.avi file")
    parser.add_argument("--overwrite", action="store_true", help="replace an --output file that already exists")
    parser.add_argument("--preview", action=argparse.BooleanOptionalAction, default=None,
                        help="preview window with sliders (default: on when a display exists)")
    parser.add_argument("--virtualcam", action=argparse.BooleanOptionalAction, default=None,
                        help="send to a virtual camera (default: on when one exists)")


def settings_from(args: argparse.Namespace, demo: bool) -> Settings:
    """The settings for a live or demo run: the common road (flags.settings_from_flags) with the stream's own
    flags as typed values, so a Windows path or a quote in a file name arrives exactly as typed."""
    flags: dict[str, object] = {key: getattr(args, flag) for flag, key in STREAM_FLAGS.items()}
    if args.control is not None:
        flags["control.enabled"] = "on" if args.control else "off"
    if not demo:
        flags["stream.camera"] = args.camera
    flags["stream.input"] = args.input or None
    for flag, key in (("preview", "stream.preview"), ("virtualcam", "stream.virtualcam")):
        value = getattr(args, flag)
        flags[key] = ("on" if value else "off") if value is not None else "off" if demo else None
    return settings_from_flags(args, flags)


def open_sinks(settings: Settings, controls: Controls, width: int, height: int, fps: float,
               output: str | None) -> tuple[list[Sink], PreviewWindowSink | None]:
    """The sinks asked for; 'auto' ones that cannot start are skipped with one line saying why."""
    cfg = settings.stream
    sinks: list[Sink] = []
    preview = None
    if output:
        sinks.append(VideoFileSink(output, width, height, fps))
    if cfg.virtualcam != "off":
        try:
            cam = VirtualCameraSink(width, height, fps, cfg.virtualcam_backend or None, cfg.virtualcam_device or None)
            print(f"virtual camera: {cam.device}")
            sinks.append(cam)
        except SinkError as e:
            if cfg.virtualcam == "on":
                raise
            print(f"virtual camera off: {e}")
    if wants_preview(cfg.preview):
        preview = PreviewWindowSink(controls.state.slider_values(), controls.on_key, controls.state.set_strength)
        sinks.append(preview)
    return sinks, preview


def wants_preview(setting: str) -> bool:
    """'on', or 'auto' where a display is named (a display that is named but dead is then an error)."""
    named = sys.platform in ("win32", "darwin") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return setting == "on" or setting == "auto" and bool(named)


def check_output_paths(args: argparse.Namespace, input_spec: str, demo: bool) -> None:
    """Before anything is loaded: the video and report never replace the input or each other, an existing
    video is replaced only with --overwrite (the demo's own default file excepted), and both can be written."""
    named = {"--output": args.output, "--report": args.report}
    for flag, value in named.items():
        if not value:
            continue
        path = Path(value)
        if input_spec and Path(input_spec).exists() and (path.exists() and path.samefile(input_spec)
                                                           or path.resolve() == Path(input_spec).resolve()):
            raise ConfigError(f"{flag} {value} is the input file; write to another file")
        if path.is_dir():
            raise ConfigError(f"{flag} {value} is a folder; give a file name in it")
        folder = next((p for p in path.absolute().parents if p.exists()), Path("/"))
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} {value}: {folder} is not a writable folder; pick a path in a writable folder")
        if path.exists() and not os.access(path, os.W_OK):
            raise ConfigError(f"{flag} {value} is not writable; pick another path")
    if args.output and args.report and Path(args.output).absolute() == Path(args.report).absolute():
        raise ConfigError(f"--output and --report are both {args.output}; give them different files")
    default_demo_output = demo and args.output == DEMO_OUTPUT
    if args.output and Path(args.output).exists() and not args.overwrite and not default_demo_output:
        raise ConfigError(f"--output {args.output} already exists; pass --overwrite to replace it, or pick another name")


def probe_size(source: VideoSource) -> tuple[int, int]:
    """Width and height of the source's frames (reads one frame, then reopens so none is lost)."""
    image = source.read()
    if image is None:
        raise CaptureError(f"{source.describe()} opened but gave no frame; check it plays in a video player")
    source.close()
    source.open()
    return image.shape[1], image.shape[0]


def start_control(settings: Settings, controls: Controls, presets: PresetBook, session: Session,
                  demo: bool) -> ControlServer | None:
    """The control server when asked for (live: unless --no-control); prints the dock URL with its token."""
    cfg = settings.control
    if cfg.enabled == "off" or cfg.enabled == "auto" and demo:
        return None
    server = ControlServer(controls, presets, session.live_status, cfg.host, cfg.port, cfg.token or new_token())
    url = server.start()
    print(f"control: {url}  (OBS: Docks > Custom Browser Docks; phone: --control-host 0.0.0.0)")
    print(f"control: Stream Deck / curl: POST {url.replace('/?', '/api/toggle/<attribute>?')}")
    return server


def mapper_attributes(settings: Settings) -> tuple[str, ...]:
    """The attributes the configured mapper edits, from its header alone (nothing is built)."""
    engine = settings.engine
    path = engine.stylegan2_mapper if engine.profile == "stylegan2" else engine.mapper
    return tuple(read_header(resolve_path(path)).attributes) or ATTRIBUTES


def run_stream(args: argparse.Namespace, demo: bool) -> int:
    settings = settings_from(args, demo)
    cfg = settings.stream
    if settings.engine.threads == 0:
        # The stages already overlap on their own threads; more intra-op threads only oversubscribe the CPU.
        settings.engine.threads = 1
    torch.set_num_threads(1)
    keep_freed_memory()  # the per-frame temporaries are reused, not page-faulted in again every frame
    check_output_paths(args, cfg.input, demo)
    if args.edit:  # a typo in --edit should not wait for the engines to load
        parse_edits(args.edit, mapper_attributes(settings))
    if wants_preview(cfg.preview) and (problem := display_problem()) is not None:
        raise SinkError(f"{problem}, so no preview window; run with --no-preview, or set DISPLAY (e.g. xvfb-run)")
    source = VideoSource(cfg.input or cfg.camera, cfg.width, cfg.height)
    source.open()  # cheap checks first: a missing camera should not wait for the engines
    width, height = probe_size(source)
    from engines.profiles import PIPELINE_NETWORKS, load_engines  # heavy import after the flags are known good

    engines = load_engines(settings.engine, networks=PIPELINE_NETWORKS)
    template = alignment_template(settings, engines.resolution)
    presets = PresetBook(settings.control.presets_dir or user_config_dir() / "presets", engines.attributes)
    edit = args.edit if args.edit is not None else DEMO_EDIT if demo and not args.preset else ""
    initial = {**(presets.load(args.preset) if args.preset else {}), **parse_edits(edit, engines.attributes)}
    state = EditState(engines.attributes, initial, cfg.ramp_frames, cfg.strength_step, units=cfg.live_units(engines.units))
    if args.preset and not edit:
        presets.mark_applied(args.preset, state.version)
    controls = Controls(state, load_keymap(cfg.keymap, engines.attributes), presets)
    fps = source.fps if source.fps > 0 else float(cfg.fps)
    sinks, preview = open_sinks(settings, controls, width, height, fps, args.output)
    session = Session(cfg, engines, template, controls, source, sinks, preview, offline=demo, max_frames=args.frames,
                      terminal_keys=preview is None and not demo and TerminalKeys.available(),
                      realtime=args.realtime, loop=args.loop)
    if preview is not None:
        preview.on_closed = lambda: session.stop("window closed")
    try:
        server = start_control(settings, controls, presets, session, demo)
    except ControlError:
        for sink in sinks:
            sink.close()
        raise
    report_written = False
    with StopOnSignals(session):
        try:
            session.run()
        finally:  # also when a stage failed for good: the report and summary still come out
            if server is not None:
                server.stop()
            if session.report is not None:
                report_written = finish_report(session.report, args)
    return exit_code(session, report_written or not args.report)


def finish_report(report: dict, args: argparse.Namespace) -> bool:
    """Write the report (one error line if that fails) and print the one summary line; False when the
    report could not be written."""
    report["output"] = args.output
    written = ""
    if args.report:
        try:
            write_report(args.report, report)
            written = args.report
        except OSError as e:
            print(f"error: cannot write the report {args.report} ({e.strerror or e}); pick a writable --report path",
                  file=sys.stderr)
    failed = report.get("sink_failures") or {}
    wrote = [p for p in (args.output if args.output and "file" not in failed else "", written) if p]
    print(f"{report['frames']} frames, {report['faces_edited']} faces edited, {report['fps']} fps, "
          f"latency p50 {report['latency_ms']['p50']} ms p95 {report['latency_ms']['p95']} ms; ended by {report['ended_by']}"
          + (f"; wrote {', '.join(wrote)}" if wrote else "")
          + "".join(f"; {name} sink failed: {why}" for name, why in failed.items())
          + (f" ({args.output} holds the frames before that)" if "file" in failed else ""))
    if report["frames"] and not report["frames_with_faces"]:
        print(f"warning: no face found in any of the {report['frames']} frames of {report['input']}; nothing was "
              "edited (faces need to be about 30 px wide or more, facing the camera)")
    return bool(written)


def exit_code(session: Session, report_written: bool) -> int:
    """128 + the signal that stopped the run (as a shell reports it); else OUTPUT_FAILED when a sink or the
    report failed; else 0."""
    if session.stop_reason.startswith("SIG"):
        return 128 + signal.Signals[session.stop_reason].value
    return OUTPUT_FAILED if session.sink_stage.failed or not report_written else 0


class StopOnSignals:
    """While a session runs, Ctrl-C, SIGTERM and SIGHUP end it as the quit key does, so the file is finished
    and the report written; a second Ctrl-C interrupts at once."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, session: Session):
        self.session = session
        self.saved: dict[int, object] = {}

    def _handle(self, signum: int, _frame) -> None:
        if signum == signal.SIGINT and self.session.stop_reason:
            raise KeyboardInterrupt
        self.session.stop(signal.Signals(signum).name)

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            self.saved = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.saved.items():
            signal.signal(s, handler)


def main_live(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python run.py live", description="edit a webcam live")
    parser.add_argument("--camera", type=int, help="webcam index (default 0)")
    parser.add_argument("--input", help="a video file or URL instead of a webcam")
    parser.add_argument("--loop", action="store_true", help="restart a video file input at its end")
    add_stream_flags(parser)
    parser.set_defaults(realtime=False)  # a camera is real time already
    return run_stream(parser.parse_args(argv), demo=False)


def main_demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python run.py demo", description="run the live pipeline over a video file and write the edited clip",
        epilog=f"demo defaults: --output out/demo.mp4 --report out/demo_report.json --edit {DEMO_EDIT} (unless --preset); "
               "every frame is processed; preview and virtual camera are off unless asked for")
    parser.add_argument("--input", default=str(DEMO_CLIP), help="video file (default: the shipped demo clip)")
    parser.add_argument("--realtime", action="store_true",
                        help="feed frames at the clip's own rate, like a camera (latency as live; fps capped)")
    parser.add_argument("--loop", action="store_true",
                        help="restart the clip at its end (a soak run: with --frames N, and --output '' to skip the file)")
    add_stream_flags(parser)
    parser.set_defaults(output=DEMO_OUTPUT, report="out/demo_report.json")
    return run_stream(parser.parse_args(argv), demo=True)
