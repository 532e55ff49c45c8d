"""LiveL2L's command table and entry point (`livel2l <command>`, or `python run.py <command>`).

Exit codes, for every command: 0 done; 2 a user's mistake (one `error:` line says what and the fix); 1 an
internal error (a bug: traceback and one `error: internal error` line); 3 the run went to its end but an output
failed on the way (disk full, ffmpeg gone: the summary and the report say which); 128 + N stopped by signal N."""
from __future__ import annotations

import importlib
import sys
import traceback

from errors import UserError

COMMANDS = {
    "live": ("stream.cli", "main_live", "edit a webcam live: preview window, hotkeys, virtual camera"),
    "demo": ("stream.cli", "main_demo", "run the live pipeline over a video file and write the edited clip"),
    "bench": ("engines.bench", "main", "time every network on every backend present"),
    "train": ("training.cli", "main_train", "train the default profile: generator (+ encoder), dataset, regressor, mapper"),
    "eval": ("training.cli", "main_eval", "compare L2L with linear directions; tables and grids"),
    "eval-generator": ("training.generator_report", "main", "KID of the generator's faces and inversion of real photos"),
    "calibrate": ("calibration.cli", "main", "INT8 calibration and the quality gate"),
    "export": ("engines.export", "main", "export the networks of a profile to ONNX"),
}


def main(argv: list[str] | None = None, commands: dict[str, tuple[str, str, str]] = COMMANDS) -> int:
    """Run one command of `commands` (name → module, function, help); a UserError becomes one `error:` line and
    exit code 2, anything else keeps its traceback (exit code 1)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        width = max(map(len, commands))
        lines = [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in commands.items()]
        print("usage: livel2l <command> [options]   (or: python run.py <command> [options])\n\ncommands:\n"
              + "\n".join(lines))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module, func, _ = commands[argv[0]]
    try:
        return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # not a user's mistake: a bug of ours
        traceback.print_exc()
        print(f"error: internal error ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
              "please report it with the traceback above", file=sys.stderr)
        return 1
