"""Settings of the engines section (`[engine]` in the TOML file)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from errors import ConfigError
from project import resolve_path

MODEL_FIELDS = ("generator", "encoder", "mapper", "e4e_checkpoint", "stylegan2_generator", "stylegan2_mapper")
BACKENDS = ("auto", "trt", "ort", "torch")
PROFILES = ("default", "stylegan2")
NETWORKS = ("encoder", "mapper", "generator", "mapper+generator")
TORCH_PRECISIONS = ("fp32", "fp16", "bf16")  # the float types torch-cuda can run a network in


@dataclass
class EngineConfig:
    """Which networks to load and which runtime runs them.

    Relative paths are taken from the current directory when they exist there, else from the repo root.
    """

    backend: Literal["auto", "trt", "ort", "torch"] = "auto"
    profile: Literal["default", "stylegan2"] = "default"
    # default profile
    generator: Path = Path("models/default/generator.safetensors")
    encoder: Path = Path("models/default/encoder.safetensors")
    mapper: Path = Path("models/default/mapper.safetensors")
    # stylegan2 profile: one e4e/pSp file brings encoder, generator and mean latent
    e4e_checkpoint: Path | None = None
    stylegan2_generator: Path | None = None  # optional rosinality .pt whose g_ema replaces the e4e decoder
    stylegan2_mapper: Path = Path("models/stylegan2/mapper.safetensors")
    resolution: int = 0  # stylegan2: 0 = the checkpoint's own; otherwise must match it
    trust_pickle: bool = False
    # trt builds at this precision (torch-cuda: network_precision below); ort on CPU runs fp32, or the calibrated INT8 file when "int8"
    precision: Literal["fp32", "fp16", "int8"] = "fp16"
    # torch-cuda float type per network, e.g. {encoder = "fp16", "mapper+generator" = "bf16"}: fp32, fp16, bf16 or
    # auto. A network not named here is auto, i.e. the fastest of the three measured on this GPU whose output stays
    # within 5 % of fp32's; with precision = "fp32" an unnamed network runs fp32. torch on the CPU always runs fp32.
    network_precision: dict[str, str] = field(default_factory=dict)
    cuda_graphs: bool = True
    threads: int = 0  # ONNX Runtime intra-op threads on CPU; 0 = one per physical core
    cache_dir: Path = Path("cache")

    def validate(self) -> None:
        """Raise ConfigError naming the bad value and the fix."""
        if self.resolution and (self.resolution < 256 or self.resolution > 1024 or self.resolution & (self.resolution - 1)):
            raise ConfigError(f"engine.resolution = {self.resolution}; use 0 (the checkpoint's) or 256, 512 or 1024")
        for name, value in self.network_precision.items():
            if name not in NETWORKS:
                raise ConfigError(f"engine.network_precision names '{name}'; use the networks {', '.join(NETWORKS)}")
            if value not in (*TORCH_PRECISIONS, "auto"):
                raise ConfigError(f"engine.network_precision.{name} = {value!r}; choose one of {', '.join(TORCH_PRECISIONS)} or auto")
        cores = os.cpu_count() or 1
        if not 0 <= self.threads <= cores:
            raise ConfigError(f"engine.threads = {self.threads}; use 0 (automatic) or a thread count up to this "
                              f"machine's {cores} cores")
        cache = resolve_path(self.cache_dir)
        if cache.exists() and not cache.is_dir():
            raise ConfigError(f"engine.cache_dir = {self.cache_dir} is a file; point it at a folder (default: cache)")
        if cache.is_dir() and not os.access(cache, os.W_OK | os.X_OK):
            raise ConfigError(f"engine.cache_dir = {self.cache_dir} is not writable; point it at a writable folder")
        if self.profile == "stylegan2" and self.e4e_checkpoint is None:
            raise ConfigError("engine.profile = 'stylegan2' needs engine.e4e_checkpoint = '<path to e4e_ffhq_encode.pt>'")


def torch_cuda_precision(config: EngineConfig, network: str) -> str:
    """The setting that applies to one network on torch-cuda: fp32, fp16, bf16, or auto (measure them)."""
    if network in config.network_precision:
        return config.network_precision[network]
    return "fp32" if config.precision == "fp32" else "auto"

