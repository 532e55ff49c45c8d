"""The control server on a real running pipeline (real clip, real generator): the HTTP API, the WebSocket,
the refusals, presets, `run.py live` printing its dock URL, and the dock page in a real headless chromium."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque

import aiohttp
import numpy as np
import pytest
from commands import main_demo, main_live
from stream_media import (ATTRIBUTES, REPO, TEMPLATE, astronaut_bgr, engine_flags, face_box_mask, hull_mask, mesh_landmarks,
                          read_video, webcam_frame, write_engine_checkpoints, write_video)

from engines.profiles import load_engines
from errors import ConfigError
from settings import load_settings
from stream.alignment import AlignmentTemplate
from stream.capture import VideoSource
from stream.config import StreamConfig
from stream.control_server import ControlError, ControlServer
from stream.edit_state import EditState
from stream.keymap import KeymapError, load_keymap
from stream.presets import PresetBook, PresetError, user_config_dir
from stream.session import Controls, Session

TOKEN = "test-token-0123456789abcdef"


class NullSink:
    """Frames only need to go somewhere; the test reads them from the pipeline's on_frame."""

    name = "null"
    watched = False

    def send(self, frame: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


class Live:
    """A running session with its control server, and the most recent frames it put out."""

    def __init__(self, session: Session, server: ControlServer, source_image: np.ndarray):
        self.session, self.server, self.source_image = session, server, source_image
        self.state = session.controls.state
        self.frames: deque = deque(maxlen=40)  # (done at, Δ, bypass, output image)
        self.base = f"http://127.0.0.1:{server.port}"
        forward = session.pipeline.on_frame

        def record(frame) -> None:
            self.frames.append((time.perf_counter(), frame.delta.copy(), frame.bypass, frame.output))
            forward(frame)

        session.pipeline.on_frame = record

    def frames_after(self, t: float, n: int, timeout: float = 60.0) -> list[tuple]:
        """The first n frames out after t. Up to max_in_flight (3) of them read the edit state before t."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            later = [f for f in list(self.frames) if f[0] > t]
            if len(later) >= n:
                return later[:n]
            time.sleep(0.05)
        raise AssertionError(f"fewer than {n} frames came out within {timeout} s")

    def call(self, method: str, path: str, body: bytes | str | None = None, token: str | None = TOKEN,
             headers: dict | None = None) -> tuple[int, dict]:
        url = self.base + path + (f"?token={token}" if token is not None else "")
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            return e.code, json.loads(text) if text.startswith("{") else {"error": text}


def wait_until(check, timeout: float = 20.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def live(tmp_path_factory, one_torch_thread):
    folder = tmp_path_factory.mktemp("control")
    image = webcam_frame(astronaut_bgr())
    clip = write_video(folder / "face.avi", [image] * 25)
    engines = load_engines(write_engine_checkpoints(folder), verbose=False)
    presets = PresetBook(folder / "presets", engines.attributes)
    keymap = {**load_keymap(None, engines.attributes), "p": "preset:bearded"}
    units = StreamConfig().live_units(engines.units)  # as the live command gives them
    controls = Controls(EditState(engines.attributes, ramp_frames=2, units=units), keymap, presets)
    source = VideoSource(str(clip))
    source.open()
    session = Session(StreamConfig(), engines, AlignmentTemplate.load(TEMPLATE), controls, source, [NullSink()],
                      loop=True)
    server = ControlServer(controls, presets, session.live_status, "127.0.0.1", 0, TOKEN)
    server.start()
    running = Live(session, server, read_video(clip)[0])
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(session.run()), daemon=True)
    runner.start()
    assert wait_until(lambda: session.pipeline.stats.frames > 3, 120), "the pipeline never put a frame out"
    yield running
    controls.state.apply("quit")
    runner.join(20)
    server.stop()
    assert result["frames"] > 3


@pytest.fixture
def fresh(live):
    live.call("POST", "/api/reset")
    return live


def face_change(live: Live, output: np.ndarray) -> tuple[float, float]:
    """Mean absolute change inside the face hull and the largest change outside the face's box (the warp may
    move the face's outline past its hull, never past its box)."""
    diff = np.abs(output.astype(int) - live.source_image.astype(int)).mean(2)
    landmarks = mesh_landmarks(live.source_image)
    shape = live.source_image.shape
    inside, box = hull_mask(shape, landmarks), face_box_mask(shape, landmarks, grow=8)
    return float(diff[inside].mean()), float(diff[~box].max())


def test_an_edit_set_over_http_reaches_the_next_frames_and_their_pixels(fresh):
    live = fresh
    beard = live.state.attributes.index("beard")
    before = live.frames_after(time.perf_counter(), 6)  # in flight at reset: 3, ramping out: 2
    assert not before[-1][1].any()
    assert face_change(live, before[-1][3]) == (0.0, 0.0)  # no edit: the camera's own pixels
    sent = time.perf_counter()
    status, state = live.call("POST", "/api/edits", '{"beard": 2.0, "age": 0}')
    assert status == 200
    assert {a["name"]: (a["on"], a["value"]) for a in state["attributes"]}["beard"] == (True, 2.0)
    assert live.call("GET", "/api/state")[1]["attributes"] == state["attributes"]
    # the dock shows what a step asks, and where the warp's head turn saturates
    yaw = {a["name"]: a for a in state["attributes"]}["yaw"]
    assert (yaw["per_step"], yaw["unit"], yaw["most"]) == (10.0, "degrees", 25.0)
    after = live.frames_after(sent, 8)
    deltas = np.array([f[1][beard] for f in after])
    assert deltas[-1] == pytest.approx(2.0) and (np.diff(deltas) >= 0).all()  # ramped in, then held
    inside, outside = face_change(live, after[-1][3])
    assert inside > 2.0 and outside == 0.0
    status, state = live.call("GET", "/api/state")
    assert state["frames"] > 0 and state["faces"] == 1 and state["fps"] > 0 and state["latency_ms"]["p95"] > 0
    assert state["engine"] == "torch"


def test_toggle_bypass_and_reset_over_http(fresh):
    live = fresh
    assert live.call("POST", "/api/toggle/glasses")[1]["selected"] == "glasses"
    assert live.state.active() == {"glasses": 1.0}
    assert live.call("POST", "/api/bypass")[1]["bypass"] is True
    sent = time.perf_counter()
    out = live.frames_after(sent, 4)[-1]
    assert out[2] is True and face_change(live, out[3]) == (0.0, 0.0)  # bypass: the raw camera
    assert live.call("POST", "/api/bypass", '{"on": true}')[1]["bypass"] is True  # setting keeps it on
    assert live.call("POST", "/api/bypass", '{"on": false}')[1]["bypass"] is False
    state = live.call("POST", "/api/reset")[1]
    assert not any(a["on"] for a in state["attributes"]) and live.state.active() == {}
    assert live.call("POST", "/api/toggle/hat")[0] == 404
    assert "toggle:glasses" in live.session.controls.log and "bypass" in live.session.controls.log


async def next_state(ws: aiohttp.ClientWebSocketResponse, check, timeout: float = 10.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            state = json.loads((await ws.receive()).data)
            if check(state):
                return state


def test_the_websocket_pushes_a_key_press_to_every_client(fresh):
    live = fresh

    async def watch() -> list[dict]:
        async with aiohttp.ClientSession() as http:
            url = f"{live.base}/api/ws?token={TOKEN}"
            async with http.ws_connect(url) as first, http.ws_connect(url) as second:
                initial = json.loads((await first.receive()).data)
                assert not any(a["on"] for a in initial["attributes"])
                await second.receive()
                live.session.controls.on_key("3")  # what the preview window and the terminal call
                beard_on = lambda s: {a["name"]: a["on"] for a in s["attributes"]}["beard"]
                return [await next_state(first, beard_on), await next_state(second, beard_on)]

    pushed = asyncio.run(watch())
    assert all(s["selected"] == "beard" for s in pushed)


def test_presets_save_apply_and_bind_to_keys(fresh):
    live = fresh
    live.call("POST", "/api/edits", '{"beard": 1.5, "age": -0.5}')
    status, state = live.call("PUT", "/api/preset/bearded")
    assert status == 200 and state["preset"] == "bearded" and "bearded" in state["presets"]
    saved = live.session.controls.presets.path("bearded").read_text()
    assert "beard = 1.5" in saved and "age = -0.5" in saved
    live.call("POST", "/api/reset")
    assert live.call("GET", "/api/state")[1]["preset"] is None
    state = live.call("POST", "/api/preset/bearded")[1]
    assert state["preset"] == "bearded" and live.state.active() == {"beard": 1.5, "age": -0.5}
    live.call("POST", "/api/reset")
    live.session.controls.on_key("p")  # [preset] bearded = "p" in the keymap
    assert live.state.active() == {"beard": 1.5, "age": -0.5}
    live.call("POST", "/api/toggle/gender")
    assert live.call("GET", "/api/state")[1]["preset"] is None  # changed since: no longer that preset
    assert live.call("POST", "/api/preset/missing")[0] == 404
    assert live.call("POST", "/api/preset/bad.name")[0] == 400


@pytest.mark.parametrize("body,message", [
    ("beard=1", "not JSON"),
    ('{"beard": NaN}', "NaN is not a number"),
    ('{"beard": Infinity}', "Infinity is not a number"),
    ('{"beard": 1e999}', "from -3 to +3"),
    ('{"beard": 3.5}', "from -3 to +3"),
    ('{"beard": "1"}', "from -3 to +3"),
    ('{"beard": true}', "from -3 to +3"),
    ('{"hat": 1}', "not an attribute"),
    ('[1, 2]', "JSON object"),
    ("{}", "JSON object"),
])
def test_bad_bodies_are_refused_and_change_nothing(fresh, body, message):
    before = fresh.state.version
    status, reply = fresh.call("POST", "/api/edits", body)
    assert status == 400 and message in reply["error"]
    assert fresh.state.version == before


def test_requests_without_the_token_from_other_origins_or_too_large_are_refused(fresh):
    live = fresh
    assert live.call("GET", "/api/state", token=None)[0] == 401
    assert live.call("POST", "/api/edits", '{"beard": 1}', token=None)[0] == 401
    assert live.call("POST", "/api/edits", '{"beard": 1}', token="wrong-token-0123456789")[0] == 401
    assert live.call("POST", "/api/edits", '{"beard": 1}', token=None,
                     headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200  # the page's way
    live.call("POST", "/api/reset")
    evil = {"Origin": "http://evil.example"}
    assert live.call("POST", "/api/edits", '{"beard": 1}', headers=evil)[0] == 403
    assert live.call("POST", "/api/toggle/beard", headers={"Origin": "null"})[0] == 403
    assert live.call("GET", "/api/state", headers={"Host": f"rebound.example:{live.server.port}"})[0] == 403
    assert live.call("POST", "/api/edits", '{"beard": ' + "1" * 5000 + "}")[0] == 413
    assert live.state.active() == {}
    same_origin = {"Origin": live.base}
    assert live.call("POST", "/api/toggle/beard", headers=same_origin)[0] == 200

    async def websocket_status(path: str, headers: dict) -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(live.base + path, headers=headers):
                    return 101
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    assert asyncio.run(websocket_status("/api/ws", {})) == 401
    assert asyncio.run(websocket_status(f"/api/ws?token={TOKEN}", evil)) == 403
    assert asyncio.run(websocket_status(f"/api/ws?token={TOKEN}", same_origin)) == 101


def test_only_the_pages_own_files_are_served(live):
    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(live.base + path, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    assert [get(p) for p in ("/", "/control.js", "/control.css")] == [200, 200, 200]
    for path in ("/index.html", "/keymap.toml", "/control_page/control.js", "/%2e%2e/keymap.toml",
                 "/control.js/../../edit_state.py", "/api/ws/../../session.py"):
        assert get(path) in (401, 404), path
    with urllib.request.urlopen(live.base + "/", timeout=10) as response:
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert "http" not in re.sub(r'href="/|src="/', "", response.read().decode())  # nothing from elsewhere


def test_a_network_bind_refuses_to_start_without_a_token(live):
    with pytest.raises(ControlError, match="without a token"):
        ControlServer(live.session.controls, live.session.controls.presets, live.session.live_status, "0.0.0.0", 0, "")
    with pytest.raises(ConfigError, match="control.token"):
        load_settings(overrides=['control.token="short"'])


def test_presets_live_in_the_platforms_config_dir_and_bad_files_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_dir() == tmp_path / "xdg" / "livel2l"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert user_config_dir() == tmp_path / "roaming" / "livel2l"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert str(user_config_dir()).endswith("Library/Application Support/livel2l")
    book = PresetBook(tmp_path / "presets", ("age", "beard"))
    book.save("old", {"beard": 1.25})
    assert book.load("old") == {"beard": 1.25} and book.names() == ["old"]
    (tmp_path / "presets" / "hat.toml").write_text("[edits]\nhat = 1\n")
    (tmp_path / "presets" / "huge.toml").write_text("[edits]\nage = 9\n")
    (tmp_path / "presets" / "broken.toml").write_text("[edits\n")
    for name, message in (("hat", "not an attribute"), ("huge", "from -3 to +3"), ("broken", "cannot read"),
                          ("none", "save it first"), ("../up", "letters, digits")):
        with pytest.raises(PresetError, match=re.escape(message)) as err:
            book.load(name)
        assert "\n" not in str(err.value)


def test_keymap_binds_keys_to_presets(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('[preset]\nbearded = "p"\n[actions]\nreset = "r"\nquit = "q"\n')
    assert load_keymap(path, tuple(ATTRIBUTES)) == {"p": "preset:bearded", "r": "reset", "q": "quit"}
    path.write_text('[preset]\n"../up" = "p"\n')
    with pytest.raises(KeymapError, match="preset names are"):
        load_keymap(path, tuple(ATTRIBUTES))


def test_cli_preset_starts_with_its_edits_and_a_missing_one_is_one_line(tmp_path, monkeypatch, capsys,
                                                                        one_torch_thread):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    PresetBook(user_config_dir() / "presets", tuple(ATTRIBUTES)).save("grey", {"age": 2.0, "glasses": 1.0})
    clip = write_video(tmp_path / "face.avi", [webcam_frame(astronaut_bgr())] * 3)
    engines = write_engine_checkpoints(tmp_path)
    report = tmp_path / "r.json"
    argv = ["--input", str(clip), "--output", "", "--report", str(report), *engine_flags(engines)]
    assert main_demo([*argv, "--preset", "grey"]) == 0
    assert json.loads(report.read_text())["edits"] == {"age": 2.0, "glasses": 1.0}
    assert "control:" not in capsys.readouterr().out  # demo starts no control server unless asked
    assert main_demo([*argv, "--control", "--control-port", "0"]) == 0
    assert re.search(r"control: http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]{32}", capsys.readouterr().out)
    assert main_demo([*argv, "--preset", "grey", "--edit", "beard=+1"]) == 0  # --edit goes on top
    assert json.loads(report.read_text())["edits"] == {"age": 2.0, "glasses": 1.0, "beard": 1.0}
    capsys.readouterr()
    assert main_demo([*argv, "--preset", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "preset 'nope'" in err[0] and "save it first" in err[0]


def test_a_busy_port_falls_back_to_a_free_one_and_an_address_not_here_is_one_line(live, capsys, tmp_path):
    controls = live.session.controls
    second = ControlServer(controls, controls.presets, live.session.live_status, "127.0.0.1", live.server.port, TOKEN)
    try:
        url = second.start()
        assert second.port != live.server.port and f":{second.port}/" in url
        assert "is busy" in capsys.readouterr().out
    finally:
        second.stop()
    clip = write_video(tmp_path / "face.avi", [webcam_frame(astronaut_bgr())] * 3)
    argv = ["--input", str(clip), "--no-preview", "--no-virtualcam", "--control-host", "203.0.113.7",
            *engine_flags(write_engine_checkpoints(tmp_path))]
    assert main_live(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot listen on 203.0.113.7" in err[0] and "--control-host" in err[0]


def test_run_py_live_prints_the_dock_url_and_answers_curl(tmp_path):
    """The issue's check: `run.py live --input clip --loop --no-preview --no-virtualcam`, then curl."""
    clip = write_video(tmp_path / "face.avi", [webcam_frame(astronaut_bgr())] * 10)
    engines = write_engine_checkpoints(tmp_path)
    log = tmp_path / "live.log"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    live = subprocess.Popen([sys.executable, str(REPO / "run.py"), "live", "--input", str(clip), "--loop",
                             "--no-preview", "--no-virtualcam", "--control-port", "0", *engine_flags(engines)],
                            stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    try:
        found: list[str] = []

        def dock_url() -> bool:
            found[:] = re.findall(r"control: (http://127\.0\.0\.1:\d+/)\?token=([A-Za-z0-9_-]+)", log.read_text())
            return bool(found)

        assert wait_until(dock_url, 120), log.read_text()[-2000:]
        base, token = found[0]
        post = urllib.request.Request(f"{base}api/edits?token={token}", data=b'{"beard": 1}', method="POST")
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{base}api/state?token={token}", timeout=10) as response:
            beard = {a["name"]: a for a in json.loads(response.read())["attributes"]}["beard"]
        assert beard["on"] and beard["strength"] == 1.0
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{base}api/edits", data=b'{"beard": 0}', method="POST"))
        assert refused.value.code == 401
    finally:
        live.send_signal(signal.SIGINT)
        try:
            live.wait(20)
        except subprocess.TimeoutExpired:
            live.kill()


CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def headless_chromium(width: int = 320, height: int = 800):
    """Debian's chromium through chromium-driver, headless; nothing is downloaded."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # Chromium keeps windows at least 500 px wide; an OBS dock is narrower, so emulate its viewport.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return browser


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromium-driver "
                                                            "(apt-get install chromium chromium-driver)")
def test_the_dock_page_in_headless_chromium_drives_the_running_pipeline(fresh, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    live = fresh
    browser = headless_chromium()
    try:
        browser.get(f"{live.base}/?token={TOKEN}")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.find_element(By.ID, "link").text == "live")
        rows = browser.find_elements(By.CSS_SELECTOR, ".attr")
        assert [r.get_attribute("data-name") for r in rows] == list(live.state.attributes)
        assert browser.execute_script("return window.innerWidth") == 320
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 320  # nothing cut off

        slider = browser.find_element(By.CSS_SELECTOR, '.attr[data-name="beard"] input[type=range]')
        width = slider.size["width"]
        ActionChains(browser).move_to_element_with_offset(slider, int(width * 0.25), 0).click().perform()
        assert wait_until(lambda: live.state.enabled["beard"] and 1.0 < live.state.strength["beard"] < 2.5), \
            live.state.slider_values()

        browser.find_element(By.CSS_SELECTOR, '.attr[data-name="age"] button').click()
        assert wait_until(lambda: live.state.enabled["age"])
        browser.find_element(By.ID, "bypass").click()
        assert wait_until(lambda: live.state.bypass)
        browser.find_element(By.ID, "bypass").click()
        assert wait_until(lambda: not live.state.bypass)

        live.session.controls.on_key("4")  # a hotkey: the page follows through the WebSocket
        glasses = browser.find_element(By.CSS_SELECTOR, '.attr[data-name="glasses"] button')
        wait.until(lambda b: glasses.get_attribute("aria-pressed") == "true")
        wait.until(lambda b: "fps" in b.find_element(By.ID, "figures").text)

        browser.find_element(By.ID, "preset-name").send_keys("dock")
        browser.find_element(By.ID, "preset-save").click()
        assert wait_until(lambda: live.session.controls.presets.active(live.state) == "dock")
        browser.find_element(By.ID, "reset").click()
        assert wait_until(lambda: not live.state.active())
        wait.until(lambda b: b.find_element(By.ID, "preset-list").get_attribute("value") == "dock")
        browser.find_element(By.ID, "preset-apply").click()
        assert wait_until(lambda: set(live.state.active()) == {"beard", "age", "glasses"})
        assert browser.find_element(By.ID, "error").text == ""
        browser.save_screenshot(str(tmp_path / "dock.png"))
    finally:
        browser.quit()


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromium-driver")
def test_the_page_without_a_token_reads_and_changes_nothing_and_says_why(fresh):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = headless_chromium()
    try:
        browser.get(f"{fresh.base}/")
        WebDriverWait(browser, 20).until(lambda b: "wrong token" in b.find_element(By.ID, "error").text)
        assert browser.find_elements(By.CSS_SELECTOR, ".attr") == []  # no state came: the API refused it
        assert browser.find_element(By.ID, "link").text == "offline"
    finally:
        browser.quit()
