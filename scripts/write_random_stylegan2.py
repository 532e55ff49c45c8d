"""Write random-weight stylegan2-profile files for timing the live pipeline: an e4e checkpoint in the public layout
(encoder, generator, mean latent) and an L2L mapper for it.

Random weights cost the same per frame as trained ones, but their edits mean nothing: these files are for
`run.py demo --profile stylegan2` timings only. No StyleGAN2 weights ship or download; with a real
e4e_ffhq_encode.pt, `--e4e` writes only a random mapper shaped for it.

    python scripts/write_random_stylegan2.py --out out/sg2-small --small     # seconds per frame on a CPU
    python scripts/write_random_stylegan2.py --out out/sg2-full              # full widths, as the public files
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's engines/, installed or not

from engines.checkpoint import CheckpointHeader, save_checkpoint  # noqa: E402
from engines.e4e import E4EInversion, StyleEncoder, load_e4e, save_e4e  # noqa: E402
from engines.mapper import L2LMapper  # noqa: E402
from engines.profiles import SMALL_ENCODER_BASE, SMALL_GENERATOR  # noqa: E402
from engines.stylegan2 import Generator  # noqa: E402
from project import ATTRIBUTES  # noqa: E402


def random_e4e(resolution: int, small: bool) -> tuple[E4EInversion, Generator]:
    generator = Generator(resolution, **(SMALL_GENERATOR if small else {})).eval()
    encoder = StyleEncoder(resolution, base=SMALL_ENCODER_BASE if small else 64, style_dim=generator.style_dim)
    latent_avg = torch.randn(generator.n_latent, generator.style_dim) * 0.1
    return E4EInversion(encoder, latent_avg).eval(), generator


def random_mapper(n_latent: int, style_dim: int, resolution: int) -> tuple[L2LMapper, CheckpointHeader]:
    config = {"latent_dim": n_latent * style_dim, "n_attributes": len(ATTRIBUTES)}
    mapper = L2LMapper(**config)
    torch.nn.init.normal_(mapper.out.weight, std=0.05)  # a trained-looking step: the identity start would edit nothing
    header = CheckpointHeader(network="l2l_mapper", profile="stylegan2", resolution=resolution,
                              latent_shape=[n_latent, style_dim], attributes=list(ATTRIBUTES), config=config,
                              extra={"weights": "random, for timing only"})
    return mapper, header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/stylegan2-random"), help="folder for the two files")
    parser.add_argument("--e4e", type=Path, help="an existing e4e/pSp checkpoint: write only a mapper shaped for it")
    parser.add_argument("--trust-pickle", action="store_true", help="allow an --e4e file with pickled Python objects")
    parser.add_argument("--resolution", type=int, default=256, choices=(256, 512, 1024))
    parser.add_argument("--small", action="store_true", help="narrow widths (64 channels, style 64, encoder base 16)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.e4e is None:
        inversion, generator = random_e4e(args.resolution, args.small)
        e4e = save_e4e(args.out / "e4e_random.pt", inversion, generator, {"weights": "random, for timing only"})
        print(f"wrote {e4e} ({e4e.stat().st_size / 2**20:.0f} MiB)")
    else:
        _, generator, _ = load_e4e(args.e4e, args.trust_pickle)
    mapper, header = random_mapper(generator.n_latent, generator.style_dim, generator.size)
    path = save_checkpoint(args.out / "mapper_random.safetensors", mapper.state_dict(), header)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
