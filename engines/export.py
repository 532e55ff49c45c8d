"""`python run.py export`: write a profile's networks as ONNX files (the cache the ORT and TensorRT engines read)."""
from __future__ import annotations

import argparse

from engines.profiles import NETWORKS, load_networks, onnx_file
from flags import add_common_flags, settings_from_flags


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py export", description=__doc__)
    add_common_flags(parser)
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    args = parser.parse_args(argv)
    config = settings_from_flags(args).engine
    nets = load_networks(config)
    for name in args.networks:
        print(f"{name}: {onnx_file(nets, name, config)}")
    return 0
