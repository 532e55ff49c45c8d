"""Settings of the stream section (`[stream]` in the TOML file)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from errors import ConfigError


MAX_FACES = 8  # the face mesh is opened for at most this many faces ('all' is this many too)
# Bounds every number must keep: the largest frame a camera gives, rates a camera and a filter can have.
INT_RANGES = {"camera": (0, 63), "width": (1, 7680), "height": (1, 4320), "fps": (1, 240), "mesh_width": (16, 7680),
              "ramp_frames": (1, 600)}
FLOAT_RANGES = {  # name: (low, high, low end open)
    "landmark_min_cutoff": (0.0, 100.0, True), "landmark_beta": (0.0, 100.0, False),
    "latent_smoothing": (0.0, 0.99, False), "strength_step": (0.0, 3.0, True), "feather": (0.0, 0.99, True),
    "reconnect_max_s": (0.0, 600.0, True), "turn_step_deg": (0.0, 30.0, False), "turn_max_deg": (0.0, 45.0, False),
    "smile_step": (0.0, 0.3, False), "smile_max": (0.0, 0.6, False),
    "hairline_step": (0.0, 0.2, False), "hairline_max": (0.0, 0.4, False)}


# How the HUD and the dock state each geometric step: (multiplier, unit)
GEOMETRIC_UNITS = {"yaw": (1.0, "degrees"), "pitch": (1.0, "degrees"),
                   "smile": (100.0, "% of the mouth's width, corner lift"),
                   "bald": (100.0, "% of the face's height, hairline rise")}
# How the HUD and the dock state a drawn glasses strength: the + side only is drawn (stream/drawn_glasses.py)
DRAWN_GLASSES_UNIT = (50.0, "% of the drawn glasses (− side: the mapper)", 100.0)


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
    colour_match: bool = True  # replace mode: match the render's colours to the camera's face
    occlusion: bool = True  # warp mode: fade the edit where something covers the face
    mesh_flow: bool = True  # warp mode: move the face by the mesh's landmarks on both renders (off: optical flow)
    # With the mesh flow the warp draws head turns and smiles as geometry (stream/geometric_edit.py): a yaw or pitch
    # strength of 1 turns the head turn_step_deg degrees (about the spread of real faces: yaw 9.6°, pitch 9.9° std
    # over the UTKFace photos), at most turn_max_deg; a smile strength of 1 lifts the mouth corners smile_step of
    # the mouth's width, at most smile_max; a bald strength of 1 raises the hairline hairline_step of the face's
    # height, at most hairline_max (the mapper still paints the skin). A step of 0 leaves that edit to the mapper.
    turn_step_deg: float = 10.0
    turn_max_deg: float = 25.0
    smile_step: float = 0.2
    smile_max: float = 0.45
    hairline_step: float = 0.05
    hairline_max: float = 0.15
    # A + glasses strength draws glasses on the face mesh (stream/drawn_glasses.py: frames, bridge, arms, a faint
    # tint) instead of asking the mapper (the 64-px generator cannot draw them); +2 is full, +1 light and thin. The
    # − side stays with the mapper. false: glasses are all the mapper's.
    drawn_glasses: bool = True
    virtualcam: Literal["auto", "on", "off"] = "auto"
    virtualcam_backend: str = ""  # pyvirtualcam backend (v4l2loopback, obs, unitycapture); "" = first that works
    virtualcam_device: str = ""  # e.g. /dev/video10; "" = any free one
    preview: Literal["auto", "on", "off"] = "auto"
    keymap: Path | None = None  # TOML keymap; None = the shipped stream/keymap.toml
    alignment: Path | None = None  # template JSON; None = models/<profile>/alignment.json, FFHQ's for stylegan2
    reconnect_max_s: float = 5.0  # longest wait between camera reconnect attempts

    def validate(self) -> None:
        """Raise ConfigError naming the bad value and the fix."""
        faces = self.faces
        if faces not in ("largest", "all") and not (faces.isascii() and faces.isdecimal() and 1 <= int(faces) <= MAX_FACES):
            raise ConfigError(f"stream.faces = {faces!r}; use largest, all or a number of faces from 1 to {MAX_FACES}")
        for name, (low, high) in INT_RANGES.items():
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"stream.{name} = {getattr(self, name)}; use an integer from {low} to {high}")
        for name, (low, high, low_open) in FLOAT_RANGES.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and (low < value if low_open else low <= value) and value <= high):
                raise ConfigError(f"stream.{name} = {value}; use a number in {'(' if low_open else '['}{low:g}, {high:g}]")
        if self.alignment is not None and not Path(self.alignment).is_file():
            raise ConfigError(f"stream.alignment = {self.alignment}: no such file; run scripts/make_alignment_template.py")
        if self.keymap is not None and not Path(self.keymap).is_file():
            raise ConfigError(f"stream.keymap = {self.keymap}: no such file; point it at a TOML keymap or leave it out")

    def max_faces(self) -> int | None:
        """How many faces to edit; None means all."""
        return {"largest": 1, "all": None}.get(self.faces, int(self.faces) if self.faces.isdigit() else 1)

    def geometric_steps(self) -> dict[str, tuple[float, float]]:
        """attribute → (what a strength of 1 asks, at most) of each edit the warp draws as geometry: degrees for
        yaw and pitch, a fraction of the mouth's width for smile, of the face's height for bald; none when the
        warp has no mesh flow, and none for a step of 0 (that edit stays with the mapper)."""
        if not self.uses_mesh_flow():
            return {}
        steps = {"yaw": (self.turn_step_deg, self.turn_max_deg), "pitch": (self.turn_step_deg, self.turn_max_deg),
                 "smile": (self.smile_step, self.smile_max), "bald": (self.hairline_step, self.hairline_max)}
        return {a: step for a, step in steps.items() if step[0] > 0}

    def live_units(self, units: dict[str, tuple]) -> dict[str, tuple]:
        """What a strength of 1 asks live, (per step, unit[, at most]): the mapper's units, with the edits the
        warp draws as geometry in its own, which saturate at their caps."""
        drawn = dict(units)
        for attribute, (step, most) in self.geometric_steps().items():
            scale, unit = GEOMETRIC_UNITS[attribute]
            drawn[attribute] = (scale * step, unit, scale * most)
        if self.drawn_glasses and "glasses" in units:
            drawn["glasses"] = DRAWN_GLASSES_UNIT
        return drawn

    def uses_mesh_flow(self) -> bool:
        """Whether the warp blend gets the mesh's flow (a stage of its own in the latents worker)."""
        return self.blend == "warp" and self.mesh_flow
