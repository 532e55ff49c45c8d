"""Command-line flags shared by every command that loads engines (`--engine`, `--profile`, `--trust-pickle`, …)."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from engines.config import BACKENDS, PROFILES, EngineConfig


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
    parser.add_argument("--engine", choices=BACKENDS, help="runtime: auto takes the fastest present (default: engine.backend)")
    parser.add_argument("--profile", choices=PROFILES, help="model profile (default: engine.profile)")
    parser.add_argument("--e4e", type=Path, help="stylegan2 profile: e4e/pSp checkpoint (engine.e4e_checkpoint)")
    parser.add_argument("--trust-pickle", action="store_true", help="allow .pt files that contain pickled Python objects")


def engine_config_from_args(args: argparse.Namespace) -> EngineConfig:
    """The `[engine]` section after the TOML file, `--set` overrides and the dedicated flags; validated."""
    from settings import load_settings

    config = load_settings(args.config, args.overrides).engine
    flags = {"backend": args.engine, "profile": args.profile, "e4e_checkpoint": args.e4e}
    config = replace(config, **{k: v for k, v in flags.items() if v is not None})
    if args.trust_pickle:
        config = replace(config, trust_pickle=True)
    config.validate()
    return config
