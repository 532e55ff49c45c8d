"""Settings of the stream section (`[stream]` in the TOML file)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass
class StreamConfig:
    camera: int = 0  # webcam index when no input file/URL is given
    input: str = ""  # a video file or URL instead of a webcam
    width: int = 640
    height: int = 480
    fps: int = 30
    faces: str = "largest"  # largest | all | N (the N largest faces)
    blend: Literal["warp", "delta", "replace"] = "warp"
    mesh_width: int = 640  # frames wider than this are downscaled for the face mesh
    landmark_min_cutoff: float = 1.0  # One-Euro: Hz of smoothing at rest (lower = steadier)
    landmark_beta: float = 0.05  # One-Euro: how fast the cutoff opens with speed (higher = less lag)
    latent_smoothing: float = 0.5  # weight of the previous latent per face (0 = none)
    ramp_frames: int = 6  # frames an edit takes to reach its strength when toggled
    strength_step: float = 0.25  # one raise/lower keypress
    feather: float = 0.12  # mask feather, as a fraction of the face width
    color_match: bool = True  # replace mode: match the render's colours to the camera's face
    occlusion: bool = True  # warp mode: fade the edit where something covers the face
    virtualcam: Literal["auto", "on", "off"] = "auto"
    virtualcam_backend: str = ""  # pyvirtualcam backend (v4l2loopback, obs, unitycapture); "" = first that works
    virtualcam_device: str = ""  # e.g. /dev/video10; "" = any free one
    preview: Literal["auto", "on", "off"] = "auto"
    keymap: Path | None = None  # TOML keymap; None = the shipped stream/keymap.toml
    alignment: Path | None = None  # template JSON; None = models/<profile>/alignment.json, FFHQ's for stylegan2
    reconnect_max_s: float = 5.0  # longest wait between camera reconnect attempts

    def validate(self) -> None:
        """Raise settings.ConfigError naming the bad value and the fix."""
        from settings import ConfigError

        if self.faces not in ("largest", "all") and not (self.faces.isdigit() and int(self.faces) > 0):
            raise ConfigError(f"stream.faces = {self.faces!r}; use largest, all or a positive number like 2")
        for name in ("width", "height", "fps", "mesh_width", "ramp_frames"):
            if getattr(self, name) < 1:
                raise ConfigError(f"stream.{name} = {getattr(self, name)}; it must be a positive integer")
        if not 0.0 <= self.latent_smoothing < 1.0:
            raise ConfigError(f"stream.latent_smoothing = {self.latent_smoothing}; use a value in [0, 1)")
        if self.landmark_min_cutoff <= 0 or self.landmark_beta < 0:
            raise ConfigError("stream.landmark_min_cutoff must be > 0 and stream.landmark_beta >= 0")
        if not 0.0 < self.feather < 1.0:
            raise ConfigError(f"stream.feather = {self.feather}; use a fraction of the face width in (0, 1)")
        if self.strength_step <= 0 or self.reconnect_max_s <= 0:
            raise ConfigError("stream.strength_step and stream.reconnect_max_s must be > 0")
        if self.alignment is not None and not Path(self.alignment).is_file():
            raise ConfigError(f"stream.alignment = {self.alignment}: no such file; run scripts/make_alignment_template.py")
        if self.keymap is not None and not Path(self.keymap).is_file():
            raise ConfigError(f"stream.keymap = {self.keymap}: no such file; point it at a TOML keymap or leave it out")

    def max_faces(self) -> int | None:
        """How many faces to edit; None means all."""
        return {"largest": 1, "all": None}.get(self.faces, int(self.faces) if self.faces.isdigit() else 1)
