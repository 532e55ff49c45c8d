"""Settings of the training section (`[train]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

ATTRIBUTES = ("age", "gender", "beard", "glasses", "smile", "yaw")


@dataclass
class DatasetConfig:
    samples: int = 16000  # renders labelled; rows without a face are dropped
    chunk: int = 1000  # rows per cached chunk, the unit of resuming
    batch: int = 250  # renders per generator call


@dataclass
class RegressorConfig:
    hidden: int = 256
    depth: int = 3
    epochs: int = 40
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.05
    holdout: float = 0.1  # fraction kept aside to report the regressor's R²


@dataclass
class MapperConfig:
    hidden: int = 512
    depth: int = 4
    steps: int = 3000
    batch: int = 256
    lr: float = 1e-3
    max_delta: float = 2.0  # largest asked change, in label standard deviations
    pair_fraction: float = 0.3  # share of samples that ask two attributes at once
    attribute_weight: float = 1.0
    preserve_weight: float = 1.0  # attributes not asked must stay (the disentangling half of the attribute loss)
    cycle_weight: float = 0.5
    identity_weight: float = 1.0  # frozen face embedder on G(f(w, Δ)) vs G(w)
    zero_weight: float = 5.0  # f(w, 0) = w
    neighbourhood_weight: float = 0.05
    identity_batch: int = 8  # the embedder term runs on this many rows of each batch (it renders)
    identity_every: int = 2  # ... on every n-th step
    checkpoint_every: int = 500


@dataclass
class EncoderConfig:
    channels: int = 32
    steps: int = 1200
    batch: int = 64
    lr: float = 5e-4
    latent_weight: float = 0.2  # high values pull every face towards the blurry mean face
    pixel_weight: float = 2.0
    prior_weight: float = 1.0  # keeps |z|²/dim near 1 so encodings stay where the mapper was trained
    identity_weight: float = 0.5
    identity_batch: int = 16  # faces of each batch the embedder term looks at (it is the costly part)
    identity_start: int = 900  # step the embedder term starts at: the cheap losses shape the encoder first
    augment: float = 1.0  # strength of the real-webcam augmentations, 0 turns them off
    checkpoint_every: int = 250


@dataclass
class EvalConfig:
    faces: int = 96  # faces edited per attribute
    magnitude: float = 1.5  # asked L2L change, in standard deviations
    grid_faces: int = 6
    match_iterations: int = 7  # bisection steps that match the linear step to the L2L target change
    seed: int = 1234


@dataclass
class TrainConfig:
    generator: Path = Path("models/default/generator.safetensors")
    out_dir: Path = Path("models/default")
    cache_dir: Path = Path("cache/train")
    seed: int = 0
    threads: int = 1  # 1 is fastest on a shared CPU; raise it on a machine of your own
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    mapper: MapperConfig = field(default_factory=MapperConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
        from settings import ConfigError

        if self.threads < 1:
            raise ConfigError(f"train.threads = {self.threads}; use 1 or more")
        for name in ("dataset", "regressor", "mapper", "encoder", "eval"):
            section = getattr(self, name)
            for f in fields(section):
                value = getattr(section, f.name)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                    raise ConfigError(f"train.{name}.{f.name} = {value}; it cannot be negative")
        positive = {
            "dataset.samples": self.dataset.samples,
            "dataset.chunk": self.dataset.chunk,
            "dataset.batch": self.dataset.batch,
            "regressor.batch": self.regressor.batch,
            "mapper.batch": self.mapper.batch,
            "mapper.max_delta": self.mapper.max_delta,
            "encoder.batch": self.encoder.batch,
            "eval.faces": self.eval.faces,
            "eval.magnitude": self.eval.magnitude,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"train.{key} = {value}; it must be above 0")
        if not 0 <= self.mapper.pair_fraction <= 1:
            raise ConfigError(f"train.mapper.pair_fraction = {self.mapper.pair_fraction}; use a value in [0, 1]")
        if not 0 < self.regressor.holdout < 0.5:
            raise ConfigError(f"train.regressor.holdout = {self.regressor.holdout}; use a value in (0, 0.5)")
        if self.mapper.identity_batch > self.mapper.batch:
            raise ConfigError(
                f"train.mapper.identity_batch = {self.mapper.identity_batch} exceeds train.mapper.batch; lower it"
            )
