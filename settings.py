"""The one configuration tree: dataclasses per subsystem, loaded from TOML, overridden by `section.key=value`."""
from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from calibration.config import CalibrationConfig
from engines.config import EngineConfig, check_config_model_paths
from stream.config import StreamConfig
from stream.control_config import ControlConfig
from training.config import TrainConfig


class ConfigError(ValueError):
    """A configuration value is unknown or of the wrong type."""


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


def load_settings(path: str | Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Defaults, then the TOML file, then `section.key=value` overrides; validated once."""
    settings = Settings()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; pass an existing TOML file or leave --config out")
        try:
            data = tomllib.loads(path.read_text())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"config file {path}: invalid TOML ({e})") from None
        check_config_model_paths(data, str(path))
        check_config_file_paths(data, str(path))
        _apply(settings, data, str(path))
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override '{item}' must look like section.key=value")
        *parents, leaf = key.strip().split(".")
        nested: dict = {leaf: tomllib.loads(f"v = {value}")["v"] if _is_toml_value(value) else value}
        for p in reversed(parents):
            nested = {p: nested}
        _apply(settings, nested, "override")
    settings.validate()
    return settings


# Other files and folders a config file may name: they must stay inside this project or the current directory,
# so a shared or downloaded config cannot make LiveL2L read or write anywhere on the machine.
CONFIG_FILE_PATHS = (("stream", "keymap"), ("stream", "alignment"), ("engine", "cache_dir"))


def check_config_file_paths(data: dict, where: str) -> None:
    import os

    from engines.config import REPO_ROOT, resolve_path

    roots = [REPO_ROOT, Path.cwd()]
    for section, key in CONFIG_FILE_PATHS:
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if not isinstance(value, str):
            continue  # absent, or of the wrong type: the type check names it
        path = Path(os.path.normpath(resolve_path(Path(value)).absolute()))
        if not any(path.is_relative_to(root) for root in roots):
            raise ConfigError(f"{where}: {section}.{key} = {value!r} is outside this project and the current folder; "
                              f"move it there, or pass it on the command line (--set {section}.{key}=PATH)")


def _is_toml_value(text: str) -> bool:
    try:
        tomllib.loads(f"v = {text}")
        return True
    except tomllib.TOMLDecodeError:
        return False


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
