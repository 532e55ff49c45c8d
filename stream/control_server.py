"""The control server: HTTP API, WebSocket state pushes and the dock page, on its own thread (aiohttp).

It writes the same EditState the hotkeys and sliders write, so every control sees every change."""
from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import math
import secrets
import socket
import threading
from pathlib import Path
from typing import Callable

from aiohttp import WSMsgType, web

from errors import UserError
from stream.edit_state import MAX_STRENGTH, EditState
from stream.presets import PresetBook, PresetError, PresetMissing
from stream.session import Controls

PAGE_DIR = Path(__file__).with_name("control_page")
PAGE_FILES = {  # URL path → (file, content type): nothing else is ever served
    "/": ("index.html", "text/html"),
    "/control.js": ("control.js", "text/javascript"),
    "/control.css": ("control.css", "text/css"),
}
MAX_BODY = 4096  # bytes: an edit for every attribute fits many times over
PUSH_EVERY_S = 0.1  # how often a change is looked for; fps/latency go out every STATS_EVERY_S regardless
STATS_EVERY_S = 1.0
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class ControlError(UserError, RuntimeError):
    """The control server cannot start as configured; the message says how to fix it."""


class BadRequest(ValueError):
    """A request body the API refuses; the message is sent back to the caller."""


def parse_edits_body(body: bytes, attributes: tuple[str, ...]) -> dict[str, float]:
    """`{"age": 1.0, "beard": 0}` → strengths; only known attributes, finite numbers within ±MAX_STRENGTH."""
    try:
        data = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(BadRequest(f"{c} is not a number")))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"body is not JSON ({e}); send e.g. {{\"beard\": 1.0}}") from None
    if not isinstance(data, dict) or not data:
        raise BadRequest('send a JSON object of attribute: strength, e.g. {"beard": 1.0}')
    edits: dict[str, float] = {}
    for name, value in data.items():
        if name not in attributes:
            raise BadRequest(f"{name!r} is not an attribute; use {', '.join(attributes)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > MAX_STRENGTH:
            raise BadRequest(f"{name} = {value!r}; use a number from -{MAX_STRENGTH:g} to +{MAX_STRENGTH:g}")
        edits[name] = float(value)
    return edits


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def lan_address() -> str:
    """This computer's address on the local network (what a phone types), or its hostname."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP: picks the outgoing interface, sends nothing
            return s.getsockname()[0]
        except OSError:
            return socket.gethostname()


class ControlServer:
    """`start()` listens and returns the dock URL (with its token); `stop()` closes every connection."""

    def __init__(self, controls: Controls, presets: PresetBook, status: Callable[[], dict], host: str = "127.0.0.1",
                 port: int = 8765, token: str = ""):
        if not token:
            raise ControlError(f"control server on {host}: refusing to start without a token; "
                               "leave control.token empty for a random one or set 16+ characters")
        self.controls = controls
        self.state: EditState = controls.state
        self.presets = presets
        self.status = status
        self.host = host
        self.port = port
        self.token = token
        self.sockets: set[web.WebSocketResponse] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._pushed: tuple | None = None
        self._api_calls = 0  # part of what counts as a change: a saved preset alters the list, not the edits

    # ---- what is sent -------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything a control shows: edits, bypass, preset, and the live figures."""
        s = self.state
        version = s.version
        attributes = [{"name": a, "strength": s.strength[a], "on": s.enabled[a],
                       "value": s.strength[a] if s.enabled[a] else 0.0,
                       "per_step": s.units[a][0] if a in s.units else None,
                       "unit": s.units[a][1] if a in s.units else None,
                       "most": s.units[a][2] if len(s.units.get(a, ())) > 2 else None} for a in s.attributes]
        return {"version": version, "attributes": attributes, "max_strength": MAX_STRENGTH, "bypass": s.bypass,
                "selected": s.selected, "preset": self.presets.active(s), "presets": self.presets.names(),
                **self.status()}

    # ---- HTTP ---------------------------------------------------------------------------------------------
    def allowed_hosts(self) -> set[str] | None:
        """Host headers accepted on a loopback bind (a DNS-rebinding page sends its own name); None = any."""
        if not is_loopback(self.host):
            return None
        return {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}

    def token_of(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        return request.headers.get("X-LiveL2L-Token") or request.query.get("token", "")

    @web.middleware
    async def guard(self, request: web.Request, handler):
        hosts = self.allowed_hosts()
        if hosts is not None and request.host not in hosts:
            return web.json_response({"error": f"host {request.host!r} refused; use http://127.0.0.1:{self.port}/"},
                                     status=403)
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return web.json_response({"error": f"cross-origin request from {origin!r} refused"}, status=403)
        if request.path.startswith("/api/") and not hmac.compare_digest(self.token_of(request).encode(),
                                                                        self.token.encode()):
            return web.json_response({"error": "missing or wrong token; use the URL LiveL2L printed (?token=…)"},
                                     status=401)
        try:
            return await handler(request)
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)
        except PresetError as e:
            return web.json_response({"error": str(e)}, status=404 if isinstance(e, PresetMissing) else 400)

    async def page(self, request: web.Request) -> web.StreamResponse:
        name, content_type = PAGE_FILES[request.path]
        return web.Response(body=(PAGE_DIR / name).read_bytes(), content_type=content_type, headers=PAGE_HEADERS)

    async def body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
        return await request.read()  # the app's client_max_size bounds a body without a length too

    def reply(self) -> web.Response:
        """The state after a change, to the caller now and to every socket on the next push."""
        self._api_calls += 1
        return web.json_response(self.snapshot())

    async def get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def post_edits(self, request: web.Request) -> web.Response:
        self.state.set_strengths(parse_edits_body(await self.body(request), self.state.attributes))
        return self.reply()

    async def post_toggle(self, request: web.Request) -> web.Response:
        attribute = request.match_info["attribute"]
        if attribute not in self.state.attributes:
            return web.json_response({"error": f"{attribute!r} is not an attribute; use "
                                               f"{', '.join(self.state.attributes)}"}, status=404)
        self.controls.run(f"toggle:{attribute}")
        return self.reply()

    async def post_bypass(self, request: web.Request) -> web.Response:
        """No body toggles; `{"on": true|false}` sets."""
        body = await self.body(request)
        if body.strip():
            try:
                wanted = json.loads(body).get("on")
            except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                wanted = None
            if not isinstance(wanted, bool):
                raise BadRequest('send no body to toggle, or {"on": true} / {"on": false}')
            if wanted == self.state.bypass:
                return self.reply()
        self.controls.run("bypass")
        return self.reply()

    async def post_reset(self, request: web.Request) -> web.Response:
        self.controls.run("reset")
        return self.reply()

    async def post_preset(self, request: web.Request) -> web.Response:
        self.controls.run_preset(request.match_info["name"])
        return self.reply()

    async def put_preset(self, request: web.Request) -> web.Response:
        self.presets.save_current(request.match_info["name"], self.state)
        return self.reply()

    # ---- WebSocket ----------------------------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_BODY, heartbeat=20.0)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await ws.send_json(self.snapshot())
            async for message in ws:  # the socket only listens; commands go through the HTTP API
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.discard(ws)
        return ws

    async def push_changes(self) -> None:
        """Send the state to every socket when it changed (keys, sliders, API) and every STATS_EVERY_S."""
        since_stats = 0.0
        while True:
            await asyncio.sleep(PUSH_EVERY_S)
            since_stats += PUSH_EVERY_S
            key = (self.state.version, self.presets.active(self.state), self._api_calls)
            if self.sockets and (key != self._pushed or since_stats >= STATS_EVERY_S):
                self._pushed, since_stats = key, 0.0
                message = json.dumps(self.snapshot())
                await asyncio.gather(*(ws.send_str(message) for ws in list(self.sockets)), return_exceptions=True)

    # ---- lifetime -----------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=MAX_BODY)
        for path in PAGE_FILES:
            app.router.add_get(path, self.page)
        app.router.add_get("/api/state", self.get_state)
        app.router.add_get("/api/ws", self.websocket)
        app.router.add_post("/api/edits", self.post_edits)
        app.router.add_post("/api/toggle/{attribute}", self.post_toggle)
        app.router.add_post("/api/bypass", self.post_bypass)
        app.router.add_post("/api/reset", self.post_reset)
        app.router.add_post("/api/preset/{name}", self.post_preset)
        app.router.add_put("/api/preset/{name}", self.put_preset)
        return app

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
        except OSError as e:
            if self.port == 0 or e.errno != errno.EADDRINUSE:
                raise
            print(f"warning: control port {self.port} is busy ({e.strerror}); using a free one instead "
                  "(pass --control-port for a fixed dock / Stream Deck URL)")
            site = web.TCPSite(self._runner, self.host, 0)
            await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._pusher = asyncio.get_running_loop().create_task(self.push_changes())

    def _serve(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._listen())
        except BaseException as e:  # reported on the caller's thread by start()
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _close(self) -> None:
        self._pusher.cancel()
        for ws in list(self.sockets):
            await ws.close()
        await self._runner.cleanup()

    def start(self) -> str:
        self._thread = threading.Thread(target=self._serve, name="control-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise ControlError(f"control server: cannot listen on {self.host}:{self.port} ({self._error}); "
                               "pass another --control-host/--control-port or --no-control") from None
        return self.url()

    def url(self, path: str = "/") -> str:
        host = self.host if is_loopback(self.host) else lan_address() if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}{path}?token={self.token}"

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)


def new_token() -> str:
    return secrets.token_urlsafe(24)
