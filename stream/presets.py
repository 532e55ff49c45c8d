"""Presets: named edit sets, one TOML file each in the user's config directory."""
from __future__ import annotations

import math
import os
import re
import sys
import tomllib
from pathlib import Path

from errors import UserError
from stream.edit_state import MAX_STRENGTH, EditState

NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
APP_DIR = "livel2l"


class PresetError(UserError, ValueError):
    """A preset name is malformed or its file is unreadable."""


class PresetMissing(PresetError):
    """No preset of that name has been saved."""


def user_config_dir() -> Path:
    """The platform's per-user config folder for LiveL2L: %APPDATA%\\livel2l on Windows,
    ~/Library/Application Support/livel2l on macOS, $XDG_CONFIG_HOME/livel2l (~/.config) elsewhere."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / APP_DIR
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / APP_DIR


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise PresetError(f"preset name {name!r}: use 1-40 letters, digits, '-' or '_' (e.g. bearded)")
    return name


class PresetBook:
    """The presets in one folder, and which one the edit state was last set to (until it changes)."""

    def __init__(self, folder: Path, attributes: tuple[str, ...]):
        self.folder = Path(folder)
        self.attributes = attributes
        self._applied: tuple[str, int] | None = None  # (name, state.version right after applying it)

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.toml"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.toml") if NAME.fullmatch(p.stem))

    def load(self, name: str) -> dict[str, float]:
        """attribute → strength; attributes the preset leaves out are off."""
        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names()) or "none yet"
            raise PresetMissing(f"preset {name!r}: no {path}; save it first (the dock's Save button) or use one of: {known}")
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise PresetError(f"preset {path}: cannot read it ({e}); fix or delete the file") from None
        edits = data.get("edits", {})
        if not isinstance(edits, dict):
            raise PresetError(f"preset {path}: [edits] must be a table of attribute = strength")
        for attr, value in edits.items():
            if attr not in self.attributes:
                raise PresetError(f"preset {path}: {attr!r} is not an attribute of this model; "
                                  f"use {', '.join(self.attributes)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or abs(value) > MAX_STRENGTH:
                raise PresetError(f"preset {path}: {attr} = {value!r}; use a number from -{MAX_STRENGTH:g} "
                                  f"to +{MAX_STRENGTH:g}")
        return {a: float(v) for a, v in edits.items()}

    def save(self, name: str, edits: dict[str, float]) -> Path:
        """Write the edits (the attributes switched on) as preset `name`, replacing any before."""
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"# LiveL2L preset {name!r}: attributes left out are off. Strengths in std of the attribute.",
                 "[edits]", *(f"{a} = {float(v)!r}" for a, v in edits.items()), ""]
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text("\n".join(lines))
        tmp.replace(path)
        return path

    def apply(self, name: str, state: EditState) -> None:
        """Switch the edit state to the preset: its attributes on at their strengths, all others off."""
        edits = self.load(name)
        self._applied = (name, state.set_strengths({a: edits.get(a, 0.0) for a in state.attributes}))

    def mark_applied(self, name: str, version: int) -> None:
        """The state was set to this preset some other way (at start-up)."""
        self._applied = (check_name(name), version)

    def save_current(self, name: str, state: EditState) -> Path:
        path = self.save(name, state.active())
        self._applied = (name, state.version)
        return path

    def active(self, state: EditState) -> str | None:
        """The preset the state was last set to, as long as nothing has changed it since."""
        if self._applied is not None and self._applied[1] == state.version:
            return self._applied[0]
        return None
