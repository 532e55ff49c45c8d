"""The user's hotkeys: a TOML file mapping keys to edit actions (stream/keymap.toml is the default)."""
from __future__ import annotations

import tomllib
from pathlib import Path

from errors import UserError
from stream.presets import NAME as PRESET_NAME

DEFAULT_KEYMAP = Path(__file__).with_name("keymap.toml")
ACTIONS = ("stronger", "weaker", "reset", "bypass", "quit")
KEY_NAMES = ("space", "esc", "tab", "enter", "backspace")


class KeymapError(UserError, ValueError):
    """The keymap file is unreadable or maps a key twice."""


def load_keymap(path: str | Path | None, attributes: tuple[str, ...]) -> dict[str, str]:
    """key → action ('toggle:age', 'preset:bearded', 'stronger', …) from a keymap TOML file; None loads the default."""
    path = Path(path) if path else DEFAULT_KEYMAP
    shipped = path.resolve() == DEFAULT_KEYMAP.resolve()  # binds every attribute of the shipped profile
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise KeymapError(f"keymap {path}: cannot read it ({e}); fix it or leave --keymap out") from None
    for table in ("toggle", "actions", "preset"):
        if not isinstance(data.get(table, {}), dict):
            raise KeymapError(f"keymap {path}: [{table}] must be a table of name = \"key\" lines, as in {DEFAULT_KEYMAP}")
    unknown = sorted(set(data) - {"toggle", "actions", "preset"})
    if unknown:
        raise KeymapError(f"keymap {path}: unknown section {unknown[0]!r}; it has [toggle], [actions] and [preset]")
    bindings: list[tuple[str, str]] = []
    for attr, key in data.get("toggle", {}).items():
        if attr not in attributes:
            if shipped:  # a model with fewer attributes (e.g. a six-attribute mapper): those keys do nothing
                continue
            raise KeymapError(f"keymap {path}: [toggle] {attr} is not an attribute; use one of {', '.join(attributes)}")
        bindings.append((key, f"toggle:{attr}"))
    for name, key in data.get("preset", {}).items():
        if not PRESET_NAME.fullmatch(name):
            raise KeymapError(f"keymap {path}: [preset] {name!r}; preset names are 1-40 letters, digits, '-' or '_'")
        bindings.append((key, f"preset:{name}"))
    for action, key in data.get("actions", {}).items():
        if action not in ACTIONS:
            raise KeymapError(f"keymap {path}: [actions] {action} is unknown; use one of {', '.join(ACTIONS)}")
        bindings.append((key, action))
    keymap: dict[str, str] = {}
    for key, action in bindings:
        if not isinstance(key, str) or not (len(key) == 1 or key in KEY_NAMES):
            raise KeymapError(f"keymap {path}: key {key!r} for {action}; use one character or {', '.join(KEY_NAMES)}")
        if key in keymap:
            raise KeymapError(f"keymap {path}: key {key!r} is bound to both {keymap[key]} and {action}")
        keymap[key] = action
    if "quit" not in keymap.values():
        raise KeymapError(f"keymap {path}: no key quits; add quit = \"q\" under [actions]")
    return keymap
