"""LiveL2L: the one entry point. `python run.py <command> --help` for each command."""
from __future__ import annotations

import importlib
import sys

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


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
        print("usage: python run.py <command> [options]\n\ncommands:\n" + "\n".join(lines))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module, func, _ = COMMANDS[argv[0]]
    return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
