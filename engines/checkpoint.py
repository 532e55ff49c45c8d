"""Our checkpoint format: safetensors tensors plus one JSON header, and safe loading of foreign .pt files."""
from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from errors import UserError

HEADER_KEY = "livel2l"
FORMAT_VERSION = 1
MAX_HEADER_DEPTH = 8  # the shipped headers nest 6 deep at most (a tfjs graph's node list)
MAX_DIMENSION = 65536  # no width, resolution or latent size of any network here comes near this
# key: (type, least, most): the value's range for int, its length for str and list, its entries for dict
HEADER_SCHEMA = {"network": (str, 1, 64), "profile": (str, 1, 64), "resolution": (int, 1, 4096),
                 "latent_shape": (list, 0, 4), "attributes": (list, 0, 64), "config": (dict, 0, 64),
                 "extra": (dict, 0, 256), "version": (int, 1, 1_000_000)}
HEADER_RULES = {"network": "a name of 1 to 64 characters", "profile": "a name of 1 to 64 characters",
                "resolution": "a whole number from 1 to 4096", "latent_shape": "a list of up to 4 sizes from 1 to 65536",
                "attributes": "a list of up to 64 names", "config": "an object of up to 64 entries",
                "extra": "an object of up to 256 entries", "version": "a whole number from 1 up"}


class CheckpointError(UserError, ValueError):
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
    except RecursionError:
        raise CheckpointError(f"{path}: not a safetensors file (its JSON is nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a safetensors file ({e}); re-create it with the tool that made it") from None
    if not isinstance(meta, dict) or not isinstance(meta.get(HEADER_KEY), str):
        raise CheckpointError(f"{path}: safetensors file without a LiveL2L header; convert it with scripts/ or retrain")
    try:
        raw = json.loads(meta[HEADER_KEY])
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: unreadable LiveL2L header ({type(e).__name__}); re-save it") from None
    return CheckpointHeader(**checked_header_fields(raw, path))


def json_depth(value: object) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar is 0); iterative, so never recursion-bound."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def checked_header_fields(raw: object, path: Path) -> dict:
    """The header's fields once they fit HEADER_SCHEMA (known keys, their types, bounded sizes and nesting);
    CheckpointError naming the first that does not, before anything is built from them."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: invalid LiveL2L header ({why}); re-save it with the tool that made it")

    if not isinstance(raw, dict):
        raise bad(f"it is a JSON {type(raw).__name__}, not an object")
    if json_depth(raw) > MAX_HEADER_DEPTH:
        raise bad(f"nested deeper than {MAX_HEADER_DEPTH} levels")
    unknown = sorted(set(raw) - set(HEADER_SCHEMA))
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}; known: {', '.join(HEADER_SCHEMA)}")
    if "network" not in raw:
        raise bad("no 'network'")
    for key, value in raw.items():
        kind, low, high = HEADER_SCHEMA[key]
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        elif kind is str:
            ok = isinstance(value, str) and low <= len(value) <= high
        elif kind is dict:
            ok = isinstance(value, dict) and len(value) <= high
        else:  # a list of ints (latent_shape) or of strings (attributes)
            item = int if key == "latent_shape" else str
            ok = (isinstance(value, list) and low <= len(value) <= high
                  and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
                  and (item is str or all(1 <= v <= MAX_DIMENSION for v in value)))
        if not ok:
            raise bad(f"{key} = {json.dumps(value)[:60]} must be {HEADER_RULES[key]}")
    return raw


def network_from_header(cls: type[torch.nn.Module], config: dict, path: str | Path) -> torch.nn.Module:
    """`cls(**config)` once the config is known to fit it: only its own keys, each a whole number in range,
    and no more weights than the file can hold (sized on the meta device, so nothing is allocated)."""
    path = Path(path)
    params = inspect.signature(cls).parameters
    unknown = sorted(set(config) - set(params))
    if unknown:
        raise CheckpointError(f"{path}: header config has unknown key {unknown[0]!r} for {cls.__name__}; "
                              f"known: {', '.join(params)}")
    ranges = getattr(cls, "REAL_CONFIG", {})  # keys the class declares as real numbers, with their range
    for key, value in config.items():
        if key in ranges:
            low, high = ranges[key]
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                      or not low <= value <= high):
                raise CheckpointError(f"{path}: header config {key} = {json.dumps(value)[:40]} must be a number "
                                      f"from {low:g} to {high:g}")
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DIMENSION:
            raise CheckpointError(f"{path}: header config {key} = {json.dumps(value)[:40]} must be a whole number "
                                  f"from 1 to {MAX_DIMENSION}")
    try:
        with torch.device("meta"):
            sized = cls(**config)
    except Exception as e:  # a config the network cannot be built from: its own error, in one line
        raise CheckpointError(f"{path}: header config does not make a {cls.__name__} ({e})") from None
    needed = sum(t.numel() * t.element_size() for t in sized.state_dict().values())
    if needed > path.stat().st_size:
        raise CheckpointError(f"{path}: header config asks for {needed / 2**20:.1f} MB of weights but the file holds "
                              f"{path.stat().st_size / 2**20:.1f} MB; the header is wrong")
    return cls(**config)


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
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values; the file is corrupt or its "
                                  "training diverged; retrain or re-download it")
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


def load_network(cls: type[torch.nn.Module], path: str | Path, network: str) -> tuple[torch.nn.Module, CheckpointHeader]:
    """One of our own checkpoint files as `cls` (its header checked, its weights copied in), in eval mode, with
    the header (attributes, extra)."""
    tensors, header = load_checkpoint(path, network)
    module = network_from_header(cls, header.config, path)
    load_state_into(module, tensors, path)
    return module.eval(), header
