"""Odd flags, settings and files the config names are one `error:` line and exit code 2, never a traceback or
a hang; every configurable number is bounded and finite."""
from __future__ import annotations

import json
import os

import pytest
from commands import main_demo
from stream_media import REPO, moving_face_clip, write_video



@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("mistakes") / "face.avi", moving_face_clip(3))


def demo_error(capsys, clip, *argv: str) -> str:
    code = main_demo(["--input", str(clip), "--output", "", "--report", "", "--engine", "torch", *argv])
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("argv,expected", [
    (["--faces", "99999999999999999999"], "from 1 to 8"),
    (["--faces", "²"], "from 1 to 8"),
    (["--faces", "0"], "from 1 to 8"),
    (["--set", f"engine.threads={100_000}"], f"up to this machine's {os.cpu_count()} cores"),
    (["--set", "engine.threads=-1"], "engine.threads = -1"),
    (["--set", "stream.landmark_min_cutoff=nan"], "stream.landmark_min_cutoff = nan"),
    (["--set", "stream.landmark_beta=inf"], "stream.landmark_beta = inf"),
    (["--set", "stream.strength_step=-inf"], "stream.strength_step"),
    (["--set", "stream.reconnect_max_s=1e300"], "stream.reconnect_max_s"),
    (["--set", "stream.fps=100000"], "from 1 to 240"),
    (["--set", "stream.width=1000000"], "from 1 to 7680"),
    (["--set", "stream.camera=-1"], "stream.camera = -1"),
    (["--set", 'stream.virtualcam_backend="nope"', "--virtualcam"], "'nope' is unknown"),
])
def test_a_number_out_of_bounds_or_an_unknown_name_is_one_line(capsys, clip, argv, expected):
    assert expected in demo_error(capsys, clip, *argv)


@pytest.mark.parametrize("text,expected", [
    ('toggle = "x"\n[actions]\nquit = "q"\n', "[toggle] must be a table"),
    ('[actions]\nquit = "q"\nstronger = 5\n', "key 5 for stronger"),
    ("", "no key quits"),
    ('[toggle]\nage = "1"\n', "no key quits"),
    ('[keys]\nquit = "q"\n', "unknown section 'keys'"),
    ('[toggle]\nwings = "1"\n[actions]\nquit = "q"\n', "[toggle] wings is not an attribute"),
])
def test_a_bad_keymap_is_one_line(capsys, clip, tmp_path, text, expected):
    keymap = tmp_path / "keys.toml"
    keymap.write_text(text)
    line = demo_error(capsys, clip, "--keymap", str(keymap))
    assert str(keymap) in line and expected in line


@pytest.mark.parametrize("content,expected", [
    (b"\x89PNG not json", "cannot read it as JSON"),
    (json.dumps({"size": 64}).encode(), "'points' must be 3 [x, y] pairs"),
    (json.dumps({"size": 64, "points": [[20, 30], [40, 30]]}).encode(), "'points' must be 3 [x, y] pairs"),
    (json.dumps({"size": 64, "points": [[20, 30], [40, 30], [32, "a"]]}).encode(), "'points' must be 3"),
    (json.dumps({"size": 64, "points": [[20, 30], [40, 30], [32, 1e400]]}).encode(), "'points' must be 3"),
    (json.dumps({"size": "64", "points": [[20, 30], [40, 30], [32, 50]]}).encode(), "'size' must be"),
    (json.dumps([1, 2]).encode(), "'size' must be"),
    (b"[" * 100_000 + b"]" * 100_000, "cannot read it as JSON"),
])
def test_a_bad_alignment_template_is_one_line(capsys, clip, tmp_path, content, expected):
    template = tmp_path / "alignment.json"
    template.write_bytes(content)
    line = demo_error(capsys, clip, "--set", f'stream.alignment="{template}"')
    assert str(template) in line and expected in line


def test_a_cache_dir_that_is_a_file_is_one_line(capsys, clip, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file")
    line = demo_error(capsys, clip, "--set", f'engine.cache_dir="{not_a_folder}"', "--engine", "ort")
    assert "engine.cache_dir" in line and "is a file" in line


def test_an_onnx_cache_that_cannot_be_written_is_one_line(capsys, clip):
    line = demo_error(capsys, clip, "--set", 'engine.cache_dir="/proc/livel2l-cache"', "--engine", "ort")
    assert "cannot write the ONNX cache" in line and "engine.cache_dir" in line


def test_the_shipped_keymap_and_template_still_load(capsys, clip):
    assert main_demo(["--input", str(clip), "--output", "", "--report", "", "--engine", "torch",
                      "--keymap", str(REPO / "stream/keymap.toml"),
                      "--set", f'stream.alignment="{REPO / "models/default/alignment.json"}"']) == 0


@pytest.mark.parametrize("argv, expected", [
    (["--threads", "-1"], "--threads -1: use 1 to this machine's"),
    (["--threads", "100000"], "--threads 100000: use 1 to this machine's"),
    (["--json", "/proc/no/bench.json"], "--json /proc/no/bench.json: cannot be written"),
    (["--repeats", "0"], "--repeats 0: use"),
])
def test_bench_mistakes_are_one_line_before_any_timing(capsys, argv, expected):
    from commands import bench_main as bench

    assert bench(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0]


@pytest.mark.parametrize("edit, expected", [("agee=1", "--edit 'agee=1'"), ("age=nan", "--edit 'age=nan'")])
def test_a_bad_edit_is_one_line_before_the_engines_load(capsys, clip, tmp_path, edit, expected):
    cache = tmp_path / "cache"
    assert expected in demo_error(capsys, clip, "--edit", edit, "--set", f'engine.cache_dir="{cache}"')
    assert not cache.exists()  # no network was exported or built


@pytest.mark.parametrize("toml, expected", [
    ('[stream]\nkeymap = "/etc/passwd"\n', "stream.keymap = '/etc/passwd' is outside this project"),
    ('[stream]\nalignment = "/etc/hosts"\n', "stream.alignment = '/etc/hosts' is outside this project"),
    ('[engine]\ncache_dir = "/var/tmp/elsewhere"\n', "engine.cache_dir = '/var/tmp/elsewhere' is outside this project"),
])
def test_a_config_file_cannot_point_at_files_outside_the_project(capsys, clip, tmp_path, toml, expected):
    config = tmp_path / "settings.toml"
    config.write_text(toml)
    assert expected in demo_error(capsys, clip, "--config", str(config))


def test_the_shipped_keymap_serves_a_model_with_fewer_attributes():
    from stream.keymap import load_keymap

    six = ("age", "gender", "beard", "glasses", "smile", "yaw")
    keys = load_keymap(None, six)
    assert keys["1"] == "toggle:age" and keys["6"] == "toggle:yaw"
    assert "7" not in keys and "8" not in keys  # bald and pitch: not in that model, so unbound
    assert load_keymap(None, (*six, "bald", "pitch"))["8"] == "toggle:pitch"
