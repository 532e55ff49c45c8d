"""Screenshot the control dock page at OBS dock width, driving a real `run.py live` on the demo clip.

    apt-get install chromium chromium-driver; pip install selenium
    python scripts/control_dock_screenshot.py --out docs/control_dock.png
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[1]


def start_live(config_home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`run.py live` over the demo clip with a private config dir; returns the process and its dock URL."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    live = subprocess.Popen([sys.executable, str(REPO / "run.py"), "live", "--input", str(REPO / "assets/demo_face.mp4"),
                             "--loop", "--no-preview", "--no-virtualcam", "--control-port", "0"],
                            stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        found = re.search(r"control: (http://\S+)", log.read_text())
        if found:
            return live, found.group(1)
        if live.poll() is not None:
            break
        time.sleep(0.2)
    live.kill()
    raise SystemExit(f"run.py live printed no dock URL:\n{log.read_text()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/control_dock.png")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        live, url = start_live(Path(tmp), Path(tmp) / "live.log")
        api = url.replace("/?token=", "/api/{}?token=")
        try:
            for body, preset in (({"age": 1.5, "glasses": 1.0}, "grey-specs"), ({"beard": 1.5}, "bearded")):
                for method, path, data in (("POST", "reset", None), ("POST", "edits", body),
                                           ("PUT", f"preset/{preset}", None)):
                    request = urllib.request.Request(api.format(path), method=method,
                                                     data=json.dumps(data).encode() if data else None)
                    urllib.request.urlopen(request, timeout=10).close()
            options = webdriver.ChromeOptions()
            options.binary_location = args.chromium
            for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"):
                options.add_argument(flag)
            browser = webdriver.Chrome(options=options, service=Service(args.chromedriver))
            try:
                browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": False})
                browser.get(url)
                WebDriverWait(browser, 30).until(lambda b: "fps" in b.find_element(By.ID, "figures").text)
                browser.find_element(By.CSS_SELECTOR, '.attr[data-name="glasses"] button').click()
                time.sleep(2.0)  # a couple of pushes, so fps and latency have settled
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(args.out)
            finally:
                browser.quit()
        finally:
            live.send_signal(signal.SIGINT)
            live.wait(30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
