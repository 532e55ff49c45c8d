"""Settings of the training section (`[train]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from errors import ConfigError
from recognisers.config import LabellerConfig

# What each attribute's label is measured in; one step of Δ is one standard deviation of the label over renders.
LABEL_UNITS = {"age": "years", "gender": "P(male)", "beard": "P(beard)", "glasses": "P(glasses)",
               "smile": "smile score", "yaw": "degrees", "bald": "P(bald)", "pitch": "degrees"}


@dataclass
class GeneratorConfig:
    """The CPU default generator and encoder; training/generator_gpu.toml holds the 128-px `gpu` profile's values."""

    size: int = 64
    style_dim: int = 128
    n_mlp: int = 2
    channel_base: int = 1024  # widths 128,128,64,32,16 for 4…64 px: two renders ≈ 6 ms on one CPU thread
    max_channels: int = 128
    encoder_channels: int = 32
    batch: int = 16
    lr: float = 0.0005
    grad_clip: float = 1.0  # gradient-norm clip of G and E
    reconstruction_weight: float = 1.0
    latent_weight: float = 0.01  # keeps encoded w near the origin, where samples are drawn
    augment: float = 0.5  # webcam-like degradation of the encoder's input (training/augment.py)
    adversarial_weight: float = 0.0  # > 0 adds the discriminator (the GPU setting; ~6 s a step on 2 CPU cores)
    d_channel_base: int = 2048
    d_max_channels: int = 128
    r1_gamma: float = 0.2
    r1_every: int = 16
    ema_kimg: float = 5.0  # EMA half-life in thousands of images
    ema_rampup: float = 0.05
    steps: int = 5000
    sample_every: int = 250
    checkpoint_every: int = 100


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
    max_delta: float = 3.0  # largest asked change, in label standard deviations (the sliders' end; beyond it Δ saturates)
    pair_fraction: float = 0.3  # share of samples that ask two attributes at once
    attribute_weight: float = 1.0
    preserve_weight: float = 1.0  # attributes not asked must stay (the disentangling half of the attribute loss)
    cycle_weight: float = 0.5
    identity_weight: float = 1.0  # frozen face embedder on G(f(w, Δ)) vs G(w)
    zero_weight: float = 5.0  # f(w, 0) = w
    neighbourhood_weight: float = 0.05
    identity_batch: int = 8  # the embedder term runs on this many rows of each batch (it renders)
    identity_every: int = 2  # ... on every n-th step
    on_face_weight: float = 2.0  # age, gender, beard, bald read by the real recognisers on real faces with the edit blended in
    on_face_cast_weight: float = 0.5  # against moving the readings by re-lighting the whole face
    on_face_gender_weight: float = 0.3  # gender's share of it: more makes the render-level gender edit re-light
    on_face_age_weight: float = 1.0  # age's share of it
    on_face_batch: int = 16  # real faces per step for that term (0 turns it off); needs train.data
    on_face_photos: int = 3000  # training photos of train.data aligned and encoded for it (cached)
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
    judge_faces: int = 24  # faces per attribute and method whose identity dlib's descriptor judges (~1 s a face)
    seed: int = 1234


@dataclass
class TrainConfig:
    generator: Path = Path("models/default/generator.safetensors")
    data: Path | None = None  # folder of aligned real face photos for the generator stage (e.g. UTKFace)
    out_dir: Path = Path("models/default")
    cache_dir: Path = Path("cache/train")
    seed: int = 0
    threads: int = 1  # 1 is fastest on a shared CPU; raise it on a machine of your own
    generator_training: GeneratorConfig = field(default_factory=GeneratorConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    mapper: MapperConfig = field(default_factory=MapperConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    labeller: LabellerConfig = field(default_factory=LabellerConfig)  # [train.labeller]: extra = [{path, outputs, …}]

    def validate(self) -> None:
        """Raise ConfigError naming the bad value and the fix."""
        if self.threads < 1:
            raise ConfigError(f"train.threads = {self.threads}; use 1 or more")
        self.labeller.validate()
        for name in ("generator_training", "dataset", "regressor", "mapper", "encoder", "eval"):
            section = getattr(self, name)
            for f in fields(section):
                value = getattr(section, f.name)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                    raise ConfigError(f"train.{name}.{f.name} = {value}; it cannot be negative")
        g = self.generator_training
        if g.size < 8 or g.size > 1024 or g.size & (g.size - 1):
            raise ConfigError(f"train.generator_training.size = {g.size}; use a power of two from 8 to 1024")
        positive = {
            "generator_training.batch": g.batch,
            "generator_training.steps": g.steps,
            "generator_training.style_dim": g.style_dim,
            "generator_training.sample_every": g.sample_every,
            "generator_training.checkpoint_every": g.checkpoint_every,
            "generator_training.r1_every": g.r1_every,
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
