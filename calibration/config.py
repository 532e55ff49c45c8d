"""Settings of the calibration section (`[calibration]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CalibrationConfig:
    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
