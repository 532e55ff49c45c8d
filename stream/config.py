"""Settings of the stream section (`[stream]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StreamConfig:
    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
