"""The flags every command shares, and the one road from flags to Settings:
defaults < --config TOML < --set SECTION.KEY=VALUE < the command's own flags (typed values, never TOML text)."""
from __future__ import annotations

import argparse
import sys

from engines.config import BACKENDS, PROFILES
from settings import SECTIONS, Settings, load_settings


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """--config and --set: the same meaning in every command."""
    parser.add_argument("--config", help="settings TOML file")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting, e.g. --set stream.feather=0.1 or --set train.mapper.steps=2000 "
                             "(repeatable)")


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """--engine, --profile, --e4e, --trust-pickle: shorthands for engine.* settings."""
    parser.add_argument("--engine", choices=BACKENDS, help="runtime: auto takes the fastest present (engine.backend)")
    parser.add_argument("--profile", choices=PROFILES, help="model profile (engine.profile)")
    parser.add_argument("--e4e", help="stylegan2 profile: e4e/pSp checkpoint (engine.e4e_checkpoint)")
    parser.add_argument("--trust-pickle", action="store_true", default=None,
                        help="allow .pt files that contain pickled Python objects (engine.trust_pickle)")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """The settings and engine flags together, for every command that loads engines."""
    add_settings_flags(parser)
    add_engine_flags(parser)


ENGINE_FLAGS = {"engine": "engine.backend", "profile": "engine.profile", "e4e": "engine.e4e_checkpoint",
                "trust_pickle": "engine.trust_pickle"}


def settings_from_flags(args: argparse.Namespace, flags: dict[str, object] | None = None,
                        short_section: str | None = None) -> Settings:
    """The settings after the TOML file, --set, the engine flags the parser has, and the command's own `flags`
    ({"section.key": typed value}); validated once. With `short_section`, a --set key that names no section is
    taken as that section's (the old `run.py train --set mapper.steps=…`), with a one-line deprecation note."""
    typed = {key: getattr(args, flag) for flag, key in ENGINE_FLAGS.items()
             if flag in vars(args) and getattr(args, flag) is not None}
    typed.update({key: value for key, value in (flags or {}).items() if value is not None})
    overrides = [_full_key(item, short_section) for item in args.set]
    return load_settings(args.config, overrides, typed)


def _full_key(item: str, short_section: str | None) -> str:
    key = item.partition("=")[0].strip()
    if short_section is None or key.split(".")[0] in SECTIONS:
        return item
    print(f"warning: --set {item} is deprecated; write --set {short_section}.{item}", file=sys.stderr)
    return f"{short_section}.{item}"
