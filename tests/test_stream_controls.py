"""Controls: the keymap file, the edit state's ramp, and real keys through a window (Xvfb + xdotool) and
through a terminal (tmux) driving `run.py live` on a real video file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from stream_media import REPO, engine_flags, moving_face_clip, wait_for, write_engine_checkpoints, write_video

from project import ATTRIBUTES
from stream.edit_state import EditError, EditState, parse_edits
from stream.keymap import KeymapError, load_keymap


def test_default_keymap_binds_every_attribute_and_action():
    keymap = load_keymap(None, ATTRIBUTES)
    actions = set(keymap.values())
    assert {f"toggle:{a}" for a in ATTRIBUTES} <= actions
    assert {"stronger", "weaker", "reset", "bypass", "quit"} <= actions


def test_a_user_keymap_replaces_the_keys(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('[toggle]\nbeard = "x"\n[actions]\nquit = "esc"\n')
    assert load_keymap(path, ATTRIBUTES) == {"x": "toggle:beard", "esc": "quit"}


@pytest.mark.parametrize("text,message", [
    ('[toggle]\nbeard = "x"\nage = "x"\n', "bound to both"),
    ('[toggle]\nhat = "h"\n', "not an attribute"),
    ('[actions]\nquit = "ctrl-q"\n', "one character"),
    ("[toggle\n", "cannot read"),
])
def test_bad_keymaps_fail_with_one_clear_line(tmp_path, text, message):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(KeymapError, match=message) as err:
        load_keymap(path, ATTRIBUTES)
    assert "\n" not in str(err.value)


def test_toggled_edits_ramp_in_and_out():
    state = EditState(ATTRIBUTES, ramp_frames=4)
    assert not state.step().any()
    state.apply("toggle:beard")
    beard = [state.step()[2] for _ in range(6)]
    np.testing.assert_allclose(beard, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    state.apply("toggle:beard")
    assert 0.0 < state.step()[2] < 1.0
    assert [state.step()[2] for _ in range(4)][-1] == 0.0


def test_strength_keys_reset_bypass_and_sliders():
    state = EditState(ATTRIBUTES, {"age": 0.8}, ramp_frames=1, strength_step=0.25)
    np.testing.assert_allclose(state.step(), [0.8] + [0] * (len(ATTRIBUTES) - 1))  # initial edits apply at once
    state.apply("stronger")
    assert state.strength["age"] == pytest.approx(1.05)
    state.apply("toggle:smile")
    state.apply("weaker")
    assert state.active() == {"age": pytest.approx(1.05), "smile": 0.75}
    state.set_strength("smile", 0.0)  # slider to zero: off, strength kept for the next toggle
    assert "smile" not in state.active() and state.strength["smile"] == 0.75
    state.apply("bypass")
    assert state.bypass
    state.apply("reset")
    assert state.active() == {} and not state.bypass


def test_reset_returns_every_strength_to_the_default_strength():
    state = EditState(ATTRIBUTES, {"age": 0.8}, default_strength=1.5)
    state.apply("toggle:smile")
    state.apply("stronger")
    state.apply("reset")
    assert state.strength == dict.fromkeys(ATTRIBUTES, 1.5) and state.active() == {}
    state.apply("toggle:beard")
    assert state.active() == {"beard": 1.5}


def test_edit_flag_parsing():
    assert parse_edits("age=+0.8, beard=+1") == {"age": 0.8, "beard": 1.0}
    with pytest.raises(EditError, match="one of age"):
        parse_edits("hat=1")
    with pytest.raises(EditError, match="not a number"):
        parse_edits("age=lots")


@pytest.fixture(scope="module")
def live_command(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    clip = write_video(folder / "face.avi", moving_face_clip(25))
    config = write_engine_checkpoints(folder)

    def command(report: Path, *extra: str) -> list[str]:
        return [sys.executable, str(REPO / "run.py"), "live", "--input", str(clip), "--loop", "--no-virtualcam",
                "--report", str(report), *engine_flags(config), *extra]

    return command


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool")
def test_window_hotkeys_change_the_edit_state(tmp_path, live_command):
    # -displayfd: Xvfb picks a free display number and tells us which.
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    env = {**os.environ, "DISPLAY": f":{xvfb.stdout.readline().strip()}"}
    report = tmp_path / "report.json"
    log = tmp_path / "live.log"
    live = None
    try:
        live = subprocess.Popen(live_command(report, "--preview"), env=env, stdout=log.open("w"),
                                stderr=subprocess.STDOUT)
        window: list[str] = []

        def find_window() -> bool:
            out = subprocess.run(["xdotool", "search", "--name", "LiveL2L"], env=env, capture_output=True, text=True)
            window[:] = out.stdout.split()
            return bool(window)

        assert wait_for(find_window, 60), f"the preview window never opened: {log.read_text()[-2000:]}"
        time.sleep(1.0)
        for key in ("3", "plus", "b", "b", "q"):
            subprocess.run(["xdotool", "key", "--window", window[0], key], env=env, check=True)
            time.sleep(0.4)
        assert live.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if live is not None and live.poll() is None:
            live.kill()
        xvfb.terminate()
        xvfb.wait(5)
    result = json.loads(report.read_text())
    assert result["actions"] == ["toggle:beard", "stronger", "bypass", "bypass", "quit"]
    assert result["edits"] == {"beard": 1.25} and result["bypass"] is False
    assert result["faces_edited"] > 0


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")
def test_terminal_hotkeys_change_the_edit_state(tmp_path, live_command):
    session = f"livel2l-test-{os.getpid()}"
    report = tmp_path / "report.json"
    log = tmp_path / "live.log"
    env_cmd = " ".join(f"'{part}'" for part in live_command(report))
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50",
                    f"env -u DISPLAY {env_cmd} > {log} 2>&1"], check=True)
    try:
        assert wait_for(lambda: log.exists() and "keys:" in log.read_text(), 60), "live never listened for keys"
        for key in ("1", "3", "-", "q"):
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
            time.sleep(0.4)
        assert wait_for(report.exists, 30), log.read_text()[-2000:]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    result = json.loads(report.read_text())
    assert result["actions"] == ["toggle:age", "toggle:beard", "weaker", "quit"]
    assert result["edits"] == {"age": 1.0, "beard": 0.75}
