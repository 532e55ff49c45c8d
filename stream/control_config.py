"""Settings of the control server (`[control]` in the TOML file): the OBS dock, Stream Deck and phone API."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from errors import ConfigError

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass
class ControlConfig:
    enabled: Literal["auto", "on", "off"] = "auto"  # auto: on for `live`, off for `demo`
    host: str = "127.0.0.1"  # 0.0.0.0 lets a phone on the same network in (the token still guards it)
    port: int = 8765  # when taken, another free port is used and printed
    token: str = ""  # "" = a fresh random token each start; set one for Stream Deck buttons that outlive a restart
    presets_dir: Path | None = None  # None = <user config dir>/livel2l/presets

    def validate(self) -> None:
        """Raise ConfigError naming the bad value and the fix."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"control.port = {self.port}; use a TCP port from 1 to 65535 (0 = any free one)")
        if not self.host.strip():
            raise ConfigError("control.host is empty; use 127.0.0.1 (this computer) or 0.0.0.0 (phones on the network)")
        if self.token and not TOKEN.fullmatch(self.token):
            raise ConfigError("control.token: use 16-128 letters, digits, '-' or '_' "
                              "(e.g. python -c \"import secrets; print(secrets.token_urlsafe(24))\")")
