"""Model profiles: load a profile's networks, export them to ONNX once, and wrap them in the chosen runtime."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engines.backends import choose_backend, make_engine
from engines.checkpoint import CheckpointError, load_network, load_state_into, load_torch_file
from engines.config import NETWORKS, EngineConfig
from engines.e4e import E4EInversion, StyleEncoder, load_e4e
from engines.editor import MapperGenerator
from engines.engine import Engine, EngineError, TensorSpec
from engines.face_encoder import FaceEncoder
from engines.generator_file import load_generator_file
from engines.int8_verdict import int8_or_float
from engines.mapper import L2LMapper
from engines.onnx_export import export_onnx
from engines.stylegan2 import Generator, generator_config
from project import ATTRIBUTES, resolve_path

PIPELINE_NETWORKS = ("encoder", "mapper+generator")  # all the live pipeline runs per frame
OUTPUT_NAMES = {"encoder": ("latent",), "mapper": ("latent",), "generator": ("image",), "mapper+generator": ("original", "edited")}
# Names inside the ONNX graphs: an output may not share an input's name.
GRAPH_OUTPUT_NAMES = {**OUTPUT_NAMES, "mapper": ("latent_out",)}
NETWORK_SOURCES = ("dcgan.py", "face_encoder.py", "mapper.py", "stylegan2.py", "e4e.py", "editor.py", "generator_file.py")


@dataclass
class NetworkSet:
    """The torch networks of one profile, in eval mode, with what the pipeline must know about them."""

    profile: str
    encoder: nn.Module
    mapper: nn.Module
    generator: nn.Module
    resolution: int
    latent_shape: tuple[int, ...]
    attributes: tuple[str, ...] = ATTRIBUTES
    weights: dict[str, str] = field(default_factory=dict)  # network → file it came from, or "random"
    units: dict[str, tuple[float, str]] = field(default_factory=dict)  # attribute → what a strength of 1 asks: (12.3, "years")

    def module(self, name: str) -> nn.Module:
        if name == "mapper+generator":
            return MapperGenerator(self.mapper, self.generator).eval()
        return getattr(self, name)

    def input_specs(self, name: str) -> tuple[TensorSpec, ...]:
        """Fixed batch-1 shapes, following the conventions in engines/engine.py."""
        latent = TensorSpec("latent", (1, *self.latent_shape))
        delta = TensorSpec("delta", (1, len(self.attributes)))
        return {
            "encoder": (TensorSpec("image", (1, 3, self.resolution, self.resolution)),),
            "mapper": (latent, delta),
            "generator": (latent,),
            "mapper+generator": (latent, delta),
        }[name]

    def example_inputs(self, name: str, seed: int = 0) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return {s.name: torch.randn(s.shape, generator=g) for s in self.input_specs(name)}

    def weights_key(self) -> str:
        """Identifies these weights and network code, so cached ONNX files are re-exported when either changes."""
        h = hashlib.sha256(json.dumps([self.profile, self.resolution, list(self.latent_shape), list(self.attributes)]).encode())
        for name in sorted(self.weights):
            source = self.weights[name]
            h.update(name.encode() + source.encode())
            if not source.startswith("random"):
                st = Path(source).stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        here = Path(__file__).parent
        for src in NETWORK_SOURCES:
            h.update((here / src).read_bytes())
        return h.hexdigest()[:12]


@dataclass
class EngineSet:
    """The built engines; `editor` is the fused mapper+generator (outputs original, edited). `mapper` and
    `generator` are None when only PIPELINE_NETWORKS were built."""

    encoder: Engine
    mapper: Engine | None
    generator: Engine | None
    editor: Engine
    attributes: tuple[str, ...]
    resolution: int
    latent_shape: tuple[int, ...]
    backend: str
    profile: str
    units: dict[str, tuple[float, str]] = field(default_factory=dict)  # attribute → what a strength of 1 asks


def load_engines(config: EngineConfig, verbose: bool = True, networks: tuple[str, ...] = NETWORKS) -> EngineSet:
    """Load the configured profile and build `networks` (encoder and mapper+generator at least) on the chosen
    backend (one line says which). The live pipeline builds only PIPELINE_NETWORKS: a separate generator would
    cost another export or TensorRT build and its GPU memory for nothing."""
    nets = load_networks(config)
    backend, why = choose_backend(config.backend)
    if verbose:
        print(f"engine: {backend} ({why})")
    engines = {name: build_engine(nets, name, backend, config) for name in dict.fromkeys((*PIPELINE_NETWORKS, *networks))}
    if verbose and backend == "torch-cuda":
        for name, engine in engines.items():
            print(f"  {name}: {engine.precision} ({engine.precision_reason})")
    return EngineSet(
        encoder=engines["encoder"],
        mapper=engines.get("mapper"),
        generator=engines.get("generator"),
        editor=engines["mapper+generator"],
        attributes=nets.attributes,
        resolution=nets.resolution,
        latent_shape=nets.latent_shape,
        backend=backend,
        profile=nets.profile,
        units=nets.units,
    )


def build_engine(nets: NetworkSet, name: str, backend: str, config: EngineConfig, calibrator=None) -> Engine:
    """One network on one backend ("torch", "torch-cuda", "ort", "ort-int8", "trt"); ONNX is exported on demand.

    With `engine.precision = "int8"`, "ort" runs the calibrated INT8 file when the calibration gate passed it (else
    float, said in one line), and
    "trt" builds INT8 with `calibrator` (a TensorRT IInt8Calibrator; not needed once the engine is cached).
    """
    onnx_path = onnx_file(nets, name, config) if backend in ("ort", "ort-int8", "trt") else None
    if backend == "ort" and config.precision == "int8":
        backend = int8_or_float(name, onnx_path)
    module = nets.module(name)
    return make_engine(name, backend, module, nets.input_specs(name), OUTPUT_NAMES[name], onnx_path, config, calibrator)


def onnx_file(nets: NetworkSet, name: str, config: EngineConfig) -> Path:
    """The network's ONNX file under `<cache_dir>/onnx/`, exported now if absent or stale."""
    stem = f"{nets.profile}-{nets.resolution}-{name.replace('+', '_')}"
    path = onnx_dir(config) / f"{stem}-{nets.weights_key()}.onnx"
    if path.is_file() and (problem := cached_onnx_problem(path, nets, name)) is not None:
        print(f"warning: {path}: {problem}; exporting it again")
        path.unlink()
    if not path.is_file():
        try:
            for stale in path.parent.glob(f"{stem}-*.onnx*"):  # older weights or code, their INT8 versions and verdicts
                stale.unlink()
            export_onnx(nets.module(name), nets.example_inputs(name), list(GRAPH_OUTPUT_NAMES[name]), path)
        except OSError as e:
            raise EngineError(f"cannot write the ONNX cache {path} ({e.strerror or e}); set engine.cache_dir to a "
                              "writable folder") from None
    return path


def cached_onnx_problem(path: Path, nets: NetworkSet, name: str) -> str | None:
    """Why a cached ONNX file cannot be this network's (unreadable, other inputs or outputs), None when it fits."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as e:  # protobuf raises its own DecodeError; any failure means the file is not usable
        return f"not a readable ONNX file ({type(e).__name__})"
    inputs = [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    wanted = [s.name for s in nets.input_specs(name)]
    if inputs != wanted or len(graph.output) != len(GRAPH_OUTPUT_NAMES[name]):
        return f"holds another network (inputs {inputs}, {len(graph.output)} outputs; {name} takes {wanted})"
    return None


def onnx_dir(config: EngineConfig) -> Path:
    return resolve_path(config.cache_dir) / "onnx"


def load_networks(config: EngineConfig, random_missing: bool = False) -> NetworkSet:
    """The configured profile's torch networks; `random_missing` (bench only) puts random weights where the
    encoder or mapper file of the default profile, or the stylegan2 mapper, is absent."""
    if config.profile == "stylegan2":
        return _load_stylegan2(config, random_missing)
    return _load_default(config, random_missing)


def _load_default(config: EngineConfig, random_missing: bool) -> NetworkSet:
    gen_path = resolve_path(config.generator)
    generator = load_generator_file(gen_path)
    latent_dim = generator.latent_dim
    weights = {"generator": str(gen_path)}

    enc_path = resolve_path(config.encoder)
    if enc_path.is_file() or not random_missing:
        encoder, _ = load_network(FaceEncoder, enc_path, "face_encoder")
        weights["encoder"] = str(enc_path)
    else:
        encoder = FaceEncoder(latent_dim=latent_dim, size=generator.size)
        weights["encoder"] = "random"

    map_path = resolve_path(config.mapper)
    attributes = ATTRIBUTES
    if map_path.is_file() or not random_missing:
        mapper, map_head = load_network(L2LMapper, map_path, "l2l_mapper")
        attributes = tuple(map_head.attributes) or ATTRIBUTES
        weights["mapper"] = str(map_path)
        units = strength_units(map_head.extra)
    else:
        mapper = L2LMapper(latent_dim=latent_dim, n_attributes=len(ATTRIBUTES))
        weights["mapper"] = "random"
        units = {}
    _check_fit(encoder.latent_dim, mapper.latent_dim, latent_dim, len(attributes), mapper.n_attributes, weights)
    return NetworkSet("default", encoder.eval(), mapper.eval(), generator.eval(), generator.size, (latent_dim,), attributes,
                      weights, units)


def strength_units(extra: dict) -> dict[str, tuple[float, str]]:
    """attribute → (12.3, "years"): what a strength of 1 asks, from a mapper header's `units` (empty when absent)."""
    out = {}
    for name, unit in (extra.get("units") or {}).items():
        if isinstance(unit, dict) and isinstance(unit.get("per_step"), (int, float)) and isinstance(unit.get("unit"), str):
            out[str(name)] = (float(unit["per_step"]), unit["unit"][:20])
    return out


def _check_fit(enc_dim: int, map_dim: int, gen_dim: int, n_attr: int, map_attr: int, weights: dict[str, str]) -> None:
    if not enc_dim == map_dim == gen_dim:
        raise CheckpointError(
            f"latent sizes differ: encoder {enc_dim} ({weights['encoder']}), mapper {map_dim} ({weights['mapper']}), "
            f"generator {gen_dim} ({weights['generator']}); retrain the encoder and mapper on this generator"
        )
    if n_attr != map_attr:
        raise CheckpointError(f"{weights['mapper']}: header lists {n_attr} attributes but the mapper takes {map_attr}; re-save it")


def _load_stylegan2(config: EngineConfig, random_missing: bool) -> NetworkSet:
    e4e_path = resolve_path(config.e4e_checkpoint)
    inversion, generator, _ = load_e4e(e4e_path, config.trust_pickle)
    weights = {"encoder": str(e4e_path), "generator": str(e4e_path)}
    if config.stylegan2_generator is not None:
        gen_path = resolve_path(config.stylegan2_generator)
        generator = load_rosinality_generator(gen_path, config.trust_pickle)
        weights["generator"] = str(gen_path)
    if config.resolution and config.resolution != generator.size:
        raise CheckpointError(f"{weights['generator']}: generator is {generator.size} px but engine.resolution = {config.resolution}; set it to 0 or {generator.size}")
    latent_shape = (generator.n_latent, generator.style_dim)
    map_path = resolve_path(config.stylegan2_mapper)
    attributes = ATTRIBUTES
    if not map_path.is_file() and not random_missing:
        # No stylegan2 mapper ships and `run.py train` trains the default profile's: never edit with a stand-in.
        raise CheckpointError(
            f"engine.stylegan2_mapper = {config.stylegan2_mapper}: no such file; the stylegan2 profile needs an l2l_mapper "
            "checkpoint trained on this generator (none ships with LiveL2L); pass --set engine.stylegan2_mapper=PATH")
    if map_path.is_file():
        mapper, head = load_network(L2LMapper, map_path, "l2l_mapper")
        weights["mapper"] = str(map_path)
        attributes = tuple(head.attributes) or ATTRIBUTES
    else:
        mapper = L2LMapper(latent_dim=generator.n_latent * generator.style_dim, n_attributes=len(ATTRIBUTES))
        weights["mapper"] = "random"
    _check_fit(inversion.encoder.style_count * generator.style_dim, mapper.latent_dim, generator.n_latent * generator.style_dim, len(attributes), mapper.n_attributes, weights)
    return NetworkSet("stylegan2", inversion, mapper.eval(), generator, generator.size, latent_shape, attributes, weights)


def load_rosinality_generator(path: Path, trust_pickle: bool = False) -> Generator:
    """A rosinality-layout .pt (`g_ema`, optional `latent_avg`) → Generator."""
    ckpt = load_torch_file(path, trust_pickle)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        raise CheckpointError(f"{path}: not a StyleGAN2 checkpoint (expected a dict with 'g_ema')")
    try:
        generator = Generator(**generator_config(ckpt["g_ema"]))
    except (KeyError, IndexError) as e:
        raise CheckpointError(f"{path}: g_ema lacks the key {e} of the StyleGAN2 layout") from None
    load_state_into(generator, ckpt["g_ema"], f"{path} (g_ema)")
    return generator.eval()


# Narrow widths in the public layout: the same networks, seconds per frame on a CPU (bench --small, timing files).
SMALL_GENERATOR = {"style_dim": 64, "n_mlp": 2, "channel_multiplier": 1, "max_channels": 64}
SMALL_ENCODER_BASE = 16


def random_stylegan2(resolution: int, seed: int = 0, attributes: tuple[str, ...] = ATTRIBUTES, small: bool = False) -> NetworkSet:
    """StyleGAN2 + e4e + mapper with random weights, full size (they time the same as trained ones) or `small`."""
    torch.manual_seed(seed)
    generator = Generator(resolution, **(SMALL_GENERATOR if small else {}))
    encoder = StyleEncoder(resolution, base=SMALL_ENCODER_BASE if small else 64, style_dim=generator.style_dim)
    inversion = E4EInversion(encoder, torch.zeros(1, generator.style_dim))
    mapper = L2LMapper(latent_dim=generator.n_latent * generator.style_dim, n_attributes=len(attributes))
    latent_shape = (generator.n_latent, generator.style_dim)
    weights = dict.fromkeys(("encoder", "mapper", "generator"), "random, small widths" if small else "random")
    return NetworkSet("stylegan2", inversion.eval(), mapper.eval(), generator.eval(), resolution, latent_shape, attributes, weights)
