"""The command table: every command's user mistakes end as one `error:` line and exit code 2, a bug keeps its
traceback and exits 1, and `run.py` is the same entry point as the `livel2l` console script."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib

from stream_media import REPO

from livel2l import COMMANDS, main


def test_the_console_script_and_run_py_reach_the_same_main():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert pkgutil.resolve_name(scripts["livel2l"]) is main
    for module, function, _ in COMMANDS.values():
        assert callable(pkgutil.resolve_name(f"{module}:{function}"))


def test_a_windows_path_that_does_not_exist_is_one_line_naming_it_exactly():
    path = r"C:\Users\me\clip.mp4"
    result = subprocess.run([sys.executable, "run.py", "demo", "--input", path], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot open {path}; check the file path or URL (and that ffmpeg can decode it)"]


def test_a_bug_keeps_its_traceback_and_exits_1(capsys):
    # json.loads given the argument list instead of a string: a TypeError, not a user's mistake.
    table = {"parse": ("json", "loads", "parse JSON")}
    assert main(["parse", "{}"], table) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "Traceback (most recent call last):"
    assert err[-1].startswith("error: internal error (TypeError: the JSON object must be str")


def test_usage_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS)
    assert main(["no-such-command"]) == 2
