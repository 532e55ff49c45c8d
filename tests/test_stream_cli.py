"""What a user meets at the command line: one clear line with the fix, never a traceback."""
from __future__ import annotations

import glob
import json

import numpy as np
import pytest
from commands import main_demo, main_live
from stream_media import engine_flags, moving_face_clip, write_engine_checkpoints, write_video

from errors import ConfigError
from settings import load_settings
from stream.sinks import V4L2_FIX


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    return write_video(folder / "face.avi", moving_face_clip(3)), write_engine_checkpoints(folder)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_no_camera(capsys):
    assert main_live(["--camera", "9", "--no-preview", "--no-virtualcam"]) == 2
    assert "no camera at index 9" in one_error_line(capsys)


def test_missing_input_file(capsys, tmp_path):
    assert main_demo(["--input", str(tmp_path / "missing.mp4")]) == 2
    assert "check the file path" in one_error_line(capsys)


def test_bad_edit(capsys, setup):
    clip, engines = setup
    assert main_demo(["--input", str(clip), "--edit", "hat=+1", *engine_flags(engines)]) == 2
    assert "--edit 'hat=+1'" in one_error_line(capsys)


def test_corrupt_checkpoint(capsys, setup, tmp_path):
    clip, engines = setup
    bad = tmp_path / "mapper.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    argv = ["--input", str(clip), *engine_flags(engines), "--set", f'engine.mapper="{bad}"']
    assert main_demo(argv) == 2
    assert "mapper.safetensors" in one_error_line(capsys)


def test_window_without_a_display(capsys, setup, monkeypatch):
    clip, engines = setup
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main_live(["--input", str(clip), "--preview", "--no-virtualcam", *engine_flags(engines)]) == 2
    assert "--no-preview" in one_error_line(capsys)


@pytest.mark.skipif(bool(glob.glob("/dev/video*")), reason="a video device exists here")
def test_virtual_camera_without_v4l2loopback_prints_the_modprobe_line(capsys, setup):
    clip, engines = setup
    assert main_live(["--input", str(clip), "--no-preview", "--virtualcam", *engine_flags(engines)]) == 2
    assert V4L2_FIX in one_error_line(capsys)


def test_auto_virtual_camera_is_skipped_with_a_note_when_absent(capsys, setup, tmp_path):
    clip, engines = setup
    report = tmp_path / "r.json"
    assert main_live(["--input", str(clip), "--no-preview", "--report", str(report), *engine_flags(engines)]) == 0
    out = capsys.readouterr().out
    assert "virtual camera" in out
    result = json.loads(report.read_text())
    assert result["frames"] >= 1 and result["frames"] + result["dropped"] == 3  # live keeps only the newest


@pytest.mark.parametrize("override,message", [
    ('stream.faces="most"', "largest, all or a number of faces from 1 to 8"),
    ("stream.latent_smoothing=1.5", "[0, 0.99]"),
    ('stream.blend="mix"', "delta, replace"),
    ('stream.keymap="/no/such.toml"', "no such file"),
])
def test_config_values_are_validated(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_settings(None, [override])


def test_max_faces_policy():
    assert load_settings(None, ['stream.faces="3"']).stream.max_faces() == 3
    assert load_settings(None, ['stream.faces="all"']).stream.max_faces() is None
    assert load_settings(None, []).stream.max_faces() == 1
    assert np.isfinite(load_settings(None, []).stream.feather)


@pytest.mark.parametrize("path", [r"C:\Users\me\clip.mp4", '/tmp/a "quoted"\tname.mp4', "/tmp/it's.mp4"])
def test_an_input_path_reaches_the_error_exactly_as_typed(capsys, path):
    from commands import main_demo

    assert main_demo(["--input", path, "--output", "", "--report", ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot open {path};" in err[0]
