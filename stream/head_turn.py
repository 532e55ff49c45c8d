"""Head turns drawn by the warp: yaw and pitch edits move the camera's own face as far as they ask.

A 64-px generator hardly turns a head (its renders turn ≈ 8° where 20° are asked, and the difference of two
renders is a blurred second face), so in warp mode the mapper is not asked to turn (GenerateStage leaves yaw
and pitch out of its Δ) and the turn is geometry. A head seen from the front turns like a drum under its
outline: the outline stays where it is and the features slide across the face by how far they stand in front
of it. The face mesh's landmarks on the render of the camera's face (crop space, with depth) slide so; a
thin-plate spline through their moves inside the outline, and through the outline's own moves and a still ring
around the head outside it, gives a flow on the crop padded all round (hair and ears stretch, nothing tears);
what slides past the far side is squeezed against it rather than folded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from stream.landmark_flow import FLOW_POINTS, GRID, OVAL, polygon_mask, spline_on_grid

# A head turn moves the hair and the head's outline too, past the render's crop (the face fills it): its flow
# lives on a canvas of the crop padded by TURN_PAD of its side each way, and fades to nothing at a ring
# TURN_RING times the face's size about its centre (hair and ears stretch a little, nothing tears).
TURN_PAD = 0.25
# How far the features slide for a turn, against the plain drum model: the face mesh reads a flat warp of a
# photo as about 0.75 of its yaw (the mesh's depth is shallow, and a real turn also foreshortens), so yaw slides
# 1.15 × as far (the mesh then reads 17–21° at 20° asked on the repository's clips; more swells the near cheek).
# Pitch stays at 1: the mesh reads 10–23° of 20° asked, and more squeezes the mouth against the chin and loses
# identity (dlib distance past 0.6 on cap13_edit2 at 1.2).
YAW_GAIN = 1.15
PITCH_GAIN = 1.0
TURN_RING = 1.45
RING_POINTS = 24
FEATHER = 0.02  # of the canvas side: how soft the outline's and the ring's edges are


@dataclass
class HeadTurn:
    """What the yaw and pitch strengths ask of the warp: step_deg degrees per strength 1, at most max_deg either
    way (the slider's ends saturate); an attribute the mapper lacks (index None) asks nothing."""

    yaw: int | None = None
    pitch: int | None = None
    step_deg: float = 0.0
    max_deg: float = 0.0

    @classmethod
    def of(cls, attributes: Sequence[str], step_deg: float, max_deg: float) -> "HeadTurn":
        index = {a: i for i, a in enumerate(attributes)}
        return cls(index.get("yaw"), index.get("pitch"), step_deg, max_deg)

    def indices(self) -> list[int]:
        """Where yaw and pitch sit in Δ."""
        return [i for i in (self.yaw, self.pitch) if i is not None]

    def asked(self, delta: np.ndarray | None) -> tuple[float, float]:
        """(yaw, pitch) degrees for a Δ."""
        def degrees(i: int | None) -> float:
            if i is None or delta is None:
                return 0.0
            return float(np.clip(delta[i] * self.step_deg, -self.max_deg, self.max_deg))
        return degrees(self.yaw), degrees(self.pitch)


def turn_points(points: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """(468+, 3) mesh landmarks (image axes, depth + away from the camera) as they look after the head turns by
    yaw (+ nose towards image right) and pitch (+ nose up), degrees (orthographic; depth kept).

    A head seen from the front turns like a drum under its outline: the outline stays where it is and the
    features slide across the face by how far they stand in front of it. So a point moves by its height above
    the outline's sides at its own row (the sides' depth, interpolated by row) times the sine of the turn. (One
    pivot for the whole face, deeper or shallower, swings the outline out over the background or into the
    cheek.) What slides past the far side is squeezed there by the flow's unfold."""
    oval = points[OVAL]
    off = oval[:, :2] - oval[:, :2].mean(0)
    sides = oval[np.abs(off[:, 0]) >= np.abs(off[:, 1])]
    order = np.argsort(sides[:, 1])
    outline_depth = np.interp(points[:, 1], sides[order, 1], sides[order, 2])
    height = outline_depth - points[:, 2]  # in front of the outline: + (depth grows away from the camera)
    out = points.astype(np.float64).copy()
    out[:, 0] += YAW_GAIN * height * np.sin(np.radians(yaw))
    out[:, 1] -= PITCH_GAIN * height * np.sin(np.radians(pitch))
    return out


def turn_pad(size: int) -> int:
    """Pixels a crop of `size` is padded by each way for a head turn's flow."""
    return int(round(TURN_PAD * size))


def ring(points: np.ndarray, scale: float = TURN_RING, count: int = RING_POINTS) -> np.ndarray:
    """(count, 2) points on the ellipse around the face's landmarks (their box's centre and half-sides) grown
    by `scale`."""
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * scale
    angle = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    return centre + half * np.column_stack([np.cos(angle), np.sin(angle)])


def unfold(flow: np.ndarray, least: float = 0.5) -> np.ndarray:
    """The flow made fold-free: along every row the sampled x (x + flow_x) and down every column the sampled y
    rise by at least `least` px a pixel (nothing is stretched more than 1 / least times). A turn's far cheek slides
    behind its own outline, which a warp can only fold (a mirrored strip); here it is squeezed instead: the mean
    of the two one-sided monotone fits (a running max from the left and a running min from the right), so
    neither side of a fold is favoured."""
    out = flow.copy()
    for axis, channel in ((1, 0), (0, 1)):
        n = flow.shape[axis]
        shape = (1, n) if axis == 1 else (n, 1)
        index = np.arange(n, dtype=np.float64).reshape(shape)
        ramp = index * least
        slack = index + flow[..., channel] - ramp  # the sampled coordinate less the least rise
        rising = np.maximum.accumulate(slack, axis=axis)
        falling = np.flip(np.minimum.accumulate(np.flip(slack, axis), axis=axis), axis)
        out[..., channel] = (0.5 * (rising + falling) + ramp - index).astype(np.float32)
    return out


def pose_flow(edited_points: np.ndarray, yaw: float, pitch: float, size: int) -> np.ndarray:
    """(C,C,2) on the canvas padded by turn_pad(size): the edited render's face turned by yaw and pitch degrees,
    as a flow with turned(x) ≈ edited(x + flow(x)), fading to nothing at a ring around the head.

    Inside the face's outline the spline runs through the features' moves; outside it, through the outline's
    own (small) moves and the ring: one spline through both would carry the features' slide out past the
    outline and swell the near cheek over the background."""
    pad = turn_pad(size)
    side = size + 2 * pad
    cells = GRID * side // size
    src = edited_points[:, :2] + pad
    dst = turn_points(edited_points, yaw, pitch)[:, :2] + pad
    anchors = ring(src[OVAL])
    inner = spline_on_grid(dst[FLOW_POINTS], src[FLOW_POINTS], side, cells)
    outer = spline_on_grid(np.vstack([dst[OVAL], anchors]), np.vstack([src[OVAL], anchors]), side, cells)
    inside = polygon_mask(dst[OVAL], side, feather=FEATHER * side)[..., None]
    # the spline is still at the ring's points, not between or past them: it fades out inside the ring
    still = polygon_mask(ring(src[OVAL], TURN_RING - 0.2), side, feather=FEATHER * side)[..., None]
    return unfold((inside * inner + (1.0 - inside) * outer) * still)
