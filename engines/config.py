"""Settings of the engines section (`[engine]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EngineConfig:
    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
