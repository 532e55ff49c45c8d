"""Settings of the calibration section (`[calibration]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from errors import ConfigError

QUANTISABLE = ("encoder", "generator", "mapper+generator")


@dataclass
class CalibrationConfig:
    """The calibration set, the INT8 quantisation and the thresholds of the quality gate.

    The gate compares the INT8 engine with the float one on held-out real faces (people absent from the set).
    """

    out_dir: Path = Path("cache/calibration")  # the set, the TensorRT calibration caches
    crops: int = 384  # augmented crops of real faces in the set
    renders: int = 64  # generator renders added to the set (it stays mostly real faces)
    heldout: float = 0.2  # share of the people kept out of the set for the gate
    heldout_people: list[str] = field(default_factory=lambda: ["grace_hopper"])  # always held out (the one colour photo)
    heldout_variants: int = 2  # crops per held-out face (the first one unaugmented)
    video_every: int = 4  # every n-th frame of the demo clip and of --faces videos
    augment: float = 1.0  # strength of misalignment, colour, blur and noise; 0 = plain crops
    seed: int = 0
    networks: list[str] = field(default_factory=lambda: list(QUANTISABLE))
    method: Literal["minmax", "entropy", "percentile"] = "percentile"  # measured best on the DCGAN (see the report)
    percentile: float = 99.99  # method "percentile": the share of activations the range covers (measured best)
    moving_average: bool = False  # method "minmax": average the per-sample ranges instead of taking the extremes
    per_channel: bool = True
    subpixel: bool = True  # rewrite ConvTranspose as Conv + DepthToSpace, which ONNX Runtime runs in INT8 on CPU
    keep_float: list[str] = field(default_factory=lambda: ["/mapper/"])  # nodes whose name contains one stay float
    float_output_layers: bool = True  # the last weighted layer before each output stays float (8-bit images band)
    max_delta: float = 2.0  # Δ range of the edits the set feeds the mapper+generator
    edit_magnitude: float = 1.5  # the change the gate asks for, in attribute standard deviations
    # the gate: the INT8 engine is refused below any of these
    min_psnr_db: float = 30.0  # generated face, INT8 path vs float path
    min_latent_cosine: float = 0.98  # encoder latent, INT8 vs float
    min_identity_cosine: float = 0.95  # face embedding of the INT8 result vs the float result
    min_attribute_ratio: float = 0.8  # share of the float path's attribute change the INT8 path still reaches; 0 = off
    trt_batch: int = 8  # TensorRT calibrator batch

    def validate(self) -> None:
        """Raise ConfigError naming the bad value and the fix."""
        unknown = [n for n in self.networks if n not in QUANTISABLE]
        if unknown or not self.networks:
            raise ConfigError(f"calibration.networks = {self.networks}; choose among {', '.join(QUANTISABLE)}")
        counts = {"crops": self.crops, "heldout_variants": self.heldout_variants, "video_every": self.video_every, "trt_batch": self.trt_batch}
        for key, value in counts.items():
            if value < 1:
                raise ConfigError(f"calibration.{key} = {value}; it must be 1 or more")
        if self.renders < 0 or self.renders > self.crops:
            raise ConfigError(f"calibration.renders = {self.renders}; use 0 to calibration.crops ({self.crops}) so real faces stay the majority")
        if not 0 < self.heldout < 1:
            raise ConfigError(f"calibration.heldout = {self.heldout}; use a share in (0, 1), e.g. 0.2")
        if self.augment < 0:
            raise ConfigError(f"calibration.augment = {self.augment}; use 0 (off) or a positive strength")
        for key in ("max_delta", "edit_magnitude"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"calibration.{key} = {getattr(self, key)}; it must be above 0")
        for key in ("min_latent_cosine", "min_identity_cosine", "min_attribute_ratio"):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(f"calibration.{key} = {getattr(self, key)}; use a value in [0, 1]")
        if self.min_psnr_db < 0:
            raise ConfigError(f"calibration.min_psnr_db = {self.min_psnr_db}; use a positive dB figure, e.g. 30")
