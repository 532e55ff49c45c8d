"""`run.py eval --video`: the live stages over a real clip, every attribute of the profile at −2 and +2,
judged on the output frames; a JSON file per clip and a contact sheet."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from commands import main_eval

DATA = Path(__file__).parent / "data"
pytest.importorskip("dlib", reason="the identity judge needs pip install -e '.[eval]'")


def test_video_eval_writes_every_edit_and_a_sheet(tmp_path):
    rc = main_eval(["--video", str(DATA / "occluded_face.mp4"), "--frames", "4", "--out", str(tmp_path),
                    "--set", "engine.backend=\"torch\"", "--set", f"engine.cache_dir=\"{tmp_path / 'cache'}\""])
    assert rc == 0
    result = json.loads((tmp_path / "occluded_face.json").read_text())
    attributes = result["attributes"]  # whatever the shipped profile declares
    assert "age" in attributes
    assert set(result["edits"]) == {f"{a}{s}" for a in attributes for s in ("-2", "+2")}
    assert result["frames_with_face"] == 4
    for name, e in result["edits"].items():
        assert {"target", "unit", "identity_dlib", "outside", "flicker", "frames"} <= set(e)
        assert e["frames"] == 4 and e["outside"] == 0.0  # nothing outside the face changes
        assert 0.0 <= e["identity_dlib"] < 0.6  # the same person, by dlib's threshold
    assert result["edits"]["age+2"]["unit"] == "years" and result["edits"]["yaw-2"]["unit"].startswith("degrees")
    sheet = cv2.imread(result["sheet"])
    assert sheet.shape[0] == 144 * len(attributes) and sheet.shape[1] == 144 * 6


def test_video_eval_names_a_missing_clip(tmp_path, capsys):
    assert main_eval(["--video", str(tmp_path / "nope.mp4"), "--out", str(tmp_path)]) == 2
    assert "nope.mp4: no such file" in capsys.readouterr().err
