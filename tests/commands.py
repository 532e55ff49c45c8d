"""The commands as a user runs them: through livel2l.main, which turns a UserError into one `error:` line and
exit code 2 (a bug keeps its traceback, exit code 1)."""
from __future__ import annotations

from livel2l import main


def main_demo(argv: list[str]) -> int:
    return main(["demo", *argv])


def main_live(argv: list[str]) -> int:
    return main(["live", *argv])


def main_train(argv: list[str]) -> int:
    return main(["train", *argv])


def main_eval(argv: list[str]) -> int:
    return main(["eval", *argv])


def bench_main(argv: list[str]) -> int:
    return main(["bench", *argv])


def export_main(argv: list[str]) -> int:
    return main(["export", *argv])
