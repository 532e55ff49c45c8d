"""The one configuration tree: dataclasses per subsystem, loaded from TOML, overridden by `section.key=value`."""
from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from calibration.config import CalibrationConfig
from engines.config import MODEL_FIELDS, EngineConfig
from errors import ConfigError
from project import REPO_ROOT, resolve_path
from stream.config import StreamConfig
from stream.control_config import ControlConfig
from training.config import TrainConfig


@dataclass
class Settings:
    engine: EngineConfig = field(default_factory=EngineConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)

    def validate(self) -> None:
        """Ask each section to check its own values; they raise ConfigError with the fix."""
        for f in dataclasses.fields(self):
            check = getattr(getattr(self, f.name), "validate", None)
            if check is not None:
                check()


SECTIONS = tuple(f.name for f in dataclasses.fields(Settings))


def load_settings(path: str | Path | None = None, overrides: list[str] | None = None,
                  flags: dict[str, object] | None = None) -> Settings:
    """Defaults, then the TOML file, then `section.key=value` overrides, then `flags` ({"section.key": value}
    from a command's own flags, typed values used as they are, never parsed as TOML text); validated once."""
    settings = Settings()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; pass an existing TOML file or leave --config out")
        try:
            data = tomllib.loads(path.read_text())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"config file {path}: invalid TOML ({e})") from None
        check_config_file_paths(data, str(path))
        _apply(settings, data, str(path))
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        *parents, leaf = key.strip().split(".")
        nested: dict = {leaf: _parse_value(value)}
        for p in reversed(parents):
            nested = {p: nested}
        _apply(settings, nested, "override")
    for key, value in (flags or {}).items():
        *parents, leaf = key.split(".")
        nested = {leaf: value}
        for p in reversed(parents):
            nested = {p: nested}
        _apply(settings, nested, "flag")
    settings.validate()
    return settings


# Paths a config file may name, and where they must stay, so a shared or downloaded config cannot make
# LiveL2L load or write anywhere on the machine. Paths typed on the command line (--set, --e4e) are the user's
# own choice and are not checked.
CONFIG_FILE_PATHS = (*((("engine", name), "models") for name in MODEL_FIELDS),
                     (("stream", "keymap"), "project"), (("stream", "alignment"), "project"),
                     (("engine", "cache_dir"), "project"))


def check_config_file_paths(data: dict, where: str) -> None:
    """Model files must be under a models/ folder (the repo's or the current directory's), other files and
    folders inside the repo or the current directory; checked lexically, so a symlink the user placed there
    is theirs to make."""
    roots = {"models": [REPO_ROOT / "models", Path.cwd() / "models"], "project": [REPO_ROOT, Path.cwd()]}
    named = [(f"{section}.{key}", _table(data, section).get(key), kind) for (section, key), kind in CONFIG_FILE_PATHS]
    extra = _table(_table(data, "train"), "labeller").get("extra")
    named += [(f"train.labeller.extra[{i}].path", head.get("path"), "models")
              for i, head in enumerate(extra if isinstance(extra, list) else []) if isinstance(head, dict)]
    for dotted, value, kind in named:
        if not isinstance(value, str):
            continue  # absent, or of the wrong type: the type check names it
        path = Path(os.path.normpath(resolve_path(Path(value)).absolute()))
        if any(path.is_relative_to(root) for root in roots[kind]):
            continue
        on_command_line = "" if "[" in dotted else f", or pass it on the command line (--set {dotted}=PATH)"
        if kind == "models":
            raise ConfigError(f"{where}: {dotted} = {value!r} is outside the models folder; put the file under "
                              f"models/ and point to it there{on_command_line}")
        raise ConfigError(f"{where}: {dotted} = {value!r} is outside this project and the current folder; "
                          f"move it there{on_command_line}")


def _table(data: dict, key: str) -> dict:
    table = data.get(key)
    return table if isinstance(table, dict) else {}


def _parse_value(text: str) -> object:
    """A --set value as a typed value: one TOML value (a number, a bool, a "quoted string", a [list]), else the
    text itself as a string (so a bare path such as C:\\clips\\a.mp4 arrives as typed)."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return parsed["v"] if list(parsed) == ["v"] else text


def _apply(obj: object, data: dict, where: str, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{where}: unknown setting '{dotted}'; known here: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{dotted}' is a section, give it a table")
            _apply(current, value, where, dotted + ".")
            continue
        setattr(obj, key, _coerce(value, hints[key], where, dotted))


def _coerce(value: object, hint: object, where: str, dotted: str) -> object:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where, dotted)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: '{dotted}' = {value!r} does not fit {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: '{dotted}' = {value!r}; choose one of {', '.join(map(str, args))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: '{dotted}' must be a list")
        inner = args[0] if args else object
        return origin(_coerce(v, inner, where, dotted) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{dotted}' must be a table")
        return dict(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is Path and isinstance(value, (str, Path)):
        return Path(value)
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    if hint is object:
        return value
    raise ConfigError(f"{where}: '{dotted}' = {value!r} must be {getattr(hint, '__name__', hint)}")
