"""`python run.py export`: write a profile's networks as ONNX files (the cache the ORT and TensorRT engines read)."""
from __future__ import annotations

import argparse

from engines.engine_args import add_engine_args, engine_config_from_args
from engines.profiles import NETWORKS, load_networks, onnx_file


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py export", description=__doc__)
    add_engine_args(parser)
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    args = parser.parse_args(argv)
    config = engine_config_from_args(args)
    nets = load_networks(config)
    for name in args.networks:
        print(f"{name}: {onnx_file(nets, name, config)}")
    return 0
