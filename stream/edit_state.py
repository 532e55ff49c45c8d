"""What the user asked for: per-attribute strength and on/off, bypass, and the ramp towards it."""
from __future__ import annotations

import math
import threading

import numpy as np

from errors import UserError
from project import ATTRIBUTES

MAX_STRENGTH = 3.0  # std of the attribute; the shipped mapper is trained to ±3 and clamps Δ there (saturates)


class EditError(UserError, ValueError):
    """An --edit value is malformed."""


def parse_edits(text: str, attributes: tuple[str, ...] = ATTRIBUTES) -> dict[str, float]:
    """'age=+0.8,beard=+1' → {'age': 0.8, 'beard': 1.0}; EditError names the bad part and the fix."""
    edits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in attributes:
            raise EditError(f"--edit '{part}': write attribute=value with one of {', '.join(attributes)}")
        try:
            strength = float(value)
        except ValueError:
            raise EditError(f"--edit '{part}': '{value}' is not a number (e.g. age=+0.8)") from None
        if not math.isfinite(strength) or abs(strength) > MAX_STRENGTH:
            raise EditError(f"--edit '{part}': strength out of range; use a number from -{MAX_STRENGTH:g} to "
                            f"+{MAX_STRENGTH:g} (standard deviations of the attribute)")
        edits[name.strip()] = strength
    return edits


class EditState:
    """Thread-safe: hotkeys and sliders write it, the edit stage reads `step()` once per frame.

    A toggled attribute ramps to its strength over `ramp_frames` frames instead of jumping."""

    def __init__(self, attributes: tuple[str, ...] = ATTRIBUTES, initial: dict[str, float] | None = None,
                 ramp_frames: int = 6, strength_step: float = 0.25, default_strength: float = 1.0,
                 units: dict[str, tuple] | None = None):
        self.attributes = attributes
        self.units = dict(units or {})  # attribute → (label change per strength 1, its unit), from the mapper
        self.ramp_frames = ramp_frames
        self.strength_step = strength_step
        self.default_strength = default_strength
        self._lock = threading.Lock()
        self.strength = {a: default_strength for a in attributes}
        self.enabled = {a: False for a in attributes}
        for name, value in (initial or {}).items():
            self.strength[name], self.enabled[name] = value, value != 0.0
        self.selected = next(iter(initial)) if initial else attributes[0]
        self.bypass = False
        self.quit = False
        self.version = 0  # bumped on every change so views (sliders) can resync
        self._current = self.target()  # initial edits apply from the first frame

    def target(self) -> np.ndarray:
        """The Δ the user asked for (before ramping)."""
        return np.array([self.strength[a] if self.enabled[a] else 0.0 for a in self.attributes], np.float32)

    def step(self) -> np.ndarray:
        """Advance the ramp by one frame and return the Δ to apply now."""
        with self._lock:
            target = self.target()
            strength = np.abs([self.strength[a] for a in self.attributes])
            rate = np.maximum(strength, np.abs(self._current)) / self.ramp_frames  # full strength in ramp_frames
            self._current = self._current + np.clip(target - self._current, -rate, rate)
            return self._current.copy()

    def slider_values(self) -> dict[str, float]:
        """What each attribute's slider shows: its strength when on, zero when off."""
        return {a: self.strength[a] if self.enabled[a] else 0.0 for a in self.attributes}

    def active(self) -> dict[str, float]:
        """Attributes switched on, with their strengths."""
        return {a: self.strength[a] for a in self.attributes if self.enabled[a]}

    def describe(self, attribute: str, strength: float) -> str:
        """'age +2.00 (≈ +24.7 years)': a strength with what it asks of the face, when the mapper says."""
        text = f"{attribute} {strength:+.2f}"
        if attribute in self.units:
            per_step, unit, *most = self.units[attribute]
            asked = float(np.clip(strength * per_step, -most[0], most[0])) if most else strength * per_step
            text += f" (≈ {asked:+.3g} {unit})"
        return text

    def apply(self, action: str) -> None:
        """Run one named action: toggle:<attr>, select:<attr>, stronger, weaker, reset, bypass, quit."""
        with self._lock:
            kind, _, arg = action.partition(":")
            if kind == "toggle" and arg in self.enabled:
                self.enabled[arg] = not self.enabled[arg]
                self.selected = arg
            elif kind == "select" and arg in self.enabled:
                self.selected = arg
            elif kind in ("stronger", "weaker"):
                sign = 1.0 if kind == "stronger" else -1.0
                raised = self.strength[self.selected] + sign * self.strength_step
                self.strength[self.selected] = round(float(np.clip(raised, -MAX_STRENGTH, MAX_STRENGTH)), 4)
                self.enabled[self.selected] = self.strength[self.selected] != 0.0
            elif kind == "reset":
                self.enabled = {a: False for a in self.attributes}
                self.strength = {a: self.default_strength for a in self.attributes}
                self.bypass = False
            elif kind == "bypass":
                self.bypass = not self.bypass
            elif kind == "quit":
                self.quit = True
            else:
                raise ValueError(f"unknown action '{action}'")
            self.version += 1

    def set_strength(self, attribute: str, value: float) -> None:
        """A slider moved: set the strength; zero switches the attribute off."""
        with self._lock:
            current = self.strength[attribute] if self.enabled[attribute] else 0.0
            if value == current:
                return
            if value != 0.0:  # zero only switches off, so toggling back restores the last strength
                self.strength[attribute] = value
            self.enabled[attribute] = value != 0.0
            self.selected = attribute
            self.version += 1

    def set_strengths(self, values: dict[str, float]) -> int:
        """Several sliders at once (an API call, a preset), as one change; zero switches an attribute off.
        Returns the state's version after the change."""
        with self._lock:
            changed = False
            for attribute, value in values.items():
                if value == (self.strength[attribute] if self.enabled[attribute] else 0.0):
                    continue
                if value != 0.0:
                    self.strength[attribute] = value
                self.enabled[attribute] = value != 0.0
                changed = True
            if len(values) == 1:
                self.selected = next(iter(values))
            if changed:
                self.version += 1
            return self.version
