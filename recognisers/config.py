"""Settings of the face labeller: where its models live and which extra ONNX heads to run."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from errors import ConfigError
from project import REPO_ROOT


@dataclass
class OnnxHeadConfig:
    """One extra ONNX classifier or regressor; `outputs` maps an attribute name to its output column."""

    path: str
    outputs: dict[str, int]
    input_size: int = 64
    mean: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # subtracted from 0..255 pixels
    std: list[float] = field(default_factory=lambda: [255.0, 255.0, 255.0])
    color: str = "rgb"  # rgb | bgr | gray
    layout: str = "nchw"  # nchw | nhwc
    crop: str = "chip"  # chip: dlib 5-point template with `padding`; full: the whole crop resized
    padding: float = 0.2
    softmax: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> OnnxHeadConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"extra recogniser: unknown key(s) {unknown}; known: {', '.join(sorted(known))}")
        if "path" not in data or "outputs" not in data:
            raise ConfigError("extra recogniser: give at least path = '...onnx' and outputs = {name = column}")
        head = cls(**data)
        head.validate()
        return head

    def resolved_path(self) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else REPO_ROOT / p

    def validate(self) -> None:
        if not self.resolved_path().is_file():
            raise ConfigError(f"extra recogniser path '{self.path}' does not exist; give an .onnx file")
        if not self.outputs or not all(isinstance(v, int) and v >= 0 for v in self.outputs.values()):
            raise ConfigError(f"extra recogniser '{self.path}': outputs must map names to column numbers ≥ 0")
        if self.color not in ("rgb", "bgr", "gray"):
            raise ConfigError(f"extra recogniser color = '{self.color}'; choose rgb, bgr or gray")
        if self.layout not in ("nchw", "nhwc"):
            raise ConfigError(f"extra recogniser layout = '{self.layout}'; choose nchw or nhwc")
        if self.crop not in ("chip", "full"):
            raise ConfigError(f"extra recogniser crop = '{self.crop}'; choose chip or full")
        channels = 1 if self.color == "gray" else 3
        if len(self.mean) not in (1, channels) or len(self.std) not in (1, channels) or min(self.std) <= 0:
            raise ConfigError(f"extra recogniser '{self.path}': mean/std need 1 or {channels} values, std > 0")
        if self.input_size < 8:
            raise ConfigError(f"extra recogniser input_size = {self.input_size}; must be ≥ 8")


@dataclass
class LabellerConfig:
    models_dir: str = "models/recognisers"
    mesh_size: int = 256  # side the 64-px crop is upscaled to before the face mesh
    threads: int = 1
    emotion: bool = True  # add the 7 emotion probabilities (emotion_<name>) to the labels
    extra: list[dict[str, object]] = field(default_factory=list)  # tables of OnnxHeadConfig fields

    def resolved_models_dir(self) -> Path:
        p = Path(self.models_dir)
        return p if p.is_absolute() else REPO_ROOT / p

    def heads(self) -> list[OnnxHeadConfig]:
        return [OnnxHeadConfig.from_dict(dict(d)) for d in self.extra]

    def validate(self) -> None:
        if not (self.resolved_models_dir() / "manifest.json").is_file():
            raise ConfigError(f"models_dir = '{self.models_dir}' holds no manifest.json; point it at models/recognisers")
        if self.mesh_size < 128:
            raise ConfigError("mesh_size must be ≥ 128 (pixels)")
        if self.threads < 1:
            raise ConfigError(f"threads = {self.threads}; must be ≥ 1")
        self.heads()
