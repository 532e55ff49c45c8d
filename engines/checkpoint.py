"""Our checkpoint format: safetensors tensors plus one JSON header, and safe loading of foreign .pt files."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

HEADER_KEY = "livel2l"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or not the network that was asked for."""


@dataclass
class CheckpointHeader:
    """What a checkpoint holds: which network, for which profile, with which latent and attributes."""

    network: str
    profile: str = "default"
    resolution: int = 64
    latent_shape: list[int] = field(default_factory=lambda: [100])
    attributes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    version: int = FORMAT_VERSION


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], header: CheckpointHeader) -> Path:
    """Write tensors and header; tensors are made contiguous CPU copies first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(asdict(header))})
    tmp.replace(path)
    return path


def read_header(path: str | Path) -> CheckpointHeader:
    """Read only the JSON header of one of our checkpoints."""
    path = Path(path)
    _require_file(path)
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or n > 100_000_000 or n + 8 > path.stat().st_size:
                raise ValueError("bad header length")
            top = json.loads(f.read(n))
            if not isinstance(top, dict):
                raise ValueError("header is not a JSON object")
            meta = top.get("__metadata__", {})
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e}); check its permissions and the disk") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a safetensors file ({e}); re-create it with the tool that made it") from None
    if HEADER_KEY not in meta:
        raise CheckpointError(f"{path}: safetensors file without a LiveL2L header; convert it with scripts/ or retrain")
    try:
        raw = json.loads(meta[HEADER_KEY])
        return CheckpointHeader(**raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable LiveL2L header ({e})") from None


def load_checkpoint(
    path: str | Path, expect_network: str | None = None
) -> tuple[dict[str, torch.Tensor], CheckpointHeader]:
    """Load tensors and header; fail with one clear line when the file is not what is expected."""
    path = Path(path)
    header = read_header(path)
    if expect_network is not None and header.network != expect_network:
        raise CheckpointError(
            f"{path}: holds a '{header.network}' network, expected '{expect_network}'; point the config at the right file"
        )
    if header.version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {header.version} is newer than this LiveL2L ({FORMAT_VERSION}); upgrade")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: truncated or corrupt tensors ({e}); re-download or retrain it") from None
    return tensors, header


def load_state_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Copy tensors into a module, naming the file and the first mismatches when the layout differs."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"shape of {k} is {tuple(tensors[k].shape)}, expected {tuple(expected[k].shape)}")
        raise CheckpointError(f"{path}: layout does not match {type(module).__name__} ({'; '.join(parts)})")
    module.load_state_dict(tensors, strict=True)


def load_torch_file(path: str | Path, trust_pickle: bool = False) -> dict:
    """Load a foreign PyTorch .pt/.pth file; pickled code runs only with trust_pickle=True."""
    path = Path(path)
    _require_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:  # torch raises many types for bad files
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if not trust_pickle and ("weights_only" in str(e) or "Unsupported global" in str(e)):
            raise CheckpointError(
                f"{path}: contains pickled Python objects, refused; pass --trust-pickle only if you trust its source"
            ) from None
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint ({msg})") from None


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; check the path or run the step that creates it")
