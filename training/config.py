"""Settings of the training section (`[train]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
