"""Edits drawn by the warp as geometry: yaw and pitch turn the camera's own face, smile lifts its mouth corners,
bald raises its hairline.

A 64-px generator hardly turns a head or lifts a mouth corner (its renders turn ≈ 8° where 20° are asked, and
the difference of two renders is a blurred second face or a pasted bar of teeth), so in warp mode the mapper is
not asked for these (GenerateStage leaves them out of its Δ) and they are geometry, on the face mesh's landmarks
of the render of the camera's face (crop space, with depth):
- a head seen from the front turns like a drum under its outline: the outline stays where it is and the
  features slide across the face by how far they stand in front of it;
- a smile lifts the mouth corners and draws them out, the lips following by how far out along the mouth they
  sit (the middle of the lips stays);
- bald raises the top of the outline and the hairline above it (the mapper still paints the skin: this one is
  drawn alongside its edit, not instead).
A thin-plate spline through the moves inside the outline, and through the outline's own moves and a still ring
around the head outside it, gives a flow on the crop padded all round (hair and ears stretch, nothing tears);
what slides past the far side is squeezed against it rather than folded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import mediapipe as mp
import numpy as np

from stream.config import StreamConfig
from stream.landmark_flow import FLOW_POINTS, GRID, OVAL, polygon_mask, spline_on_grid

# A head turn moves the hair and the head's outline too, past the render's crop (the face fills it): its flow
# lives on a canvas of the crop padded by TURN_PAD of its side each way, and fades to nothing at a ring
# TURN_RING times the face's size about its centre (hair and ears stretch a little, nothing tears).
TURN_PAD = 0.35
TURN_RING = 1.6
# How far the features slide for a turn, against the plain drum model: the face mesh reads a flat warp of a
# photo as about 0.75 of its yaw (the mesh's depth is shallow, and a real turn also foreshortens), so yaw slides
# 1.15 × as far (the mesh then reads 17–21° at 20° asked on the repository's clips; more swells the near cheek).
# Pitch slides 0.85 × as far: the mesh reads 10–12° of 20° asked on most of those clips but 19° on cap13_edit2,
# whose nod at gain 1 squeezed the mouth against the chin and took dlib's identity distance to 0.58 (a frame 0.61).
YAW_GAIN = 1.15
PITCH_GAIN = 0.85
RING_POINTS = 24
FEATHER = 0.02  # of the canvas side: how soft the outline's and the ring's edges are


@dataclass
class Moves:
    """What one Δ asks of the geometry: turn degrees (yaw + nose towards image right, pitch + nose up), the
    mouth corners' lift (a fraction of the mouth's width, − draws them down) and the hairline's rise."""

    yaw: float = 0.0
    pitch: float = 0.0
    smile: float = 0.0
    bald: float = 0.0  # the hairline's rise, a fraction of the face's height (− lowers it)

    def any(self) -> bool:
        return bool(self.yaw or self.pitch or self.smile or self.bald)


# Edits the warp draws on top of the mapper's: the mapper still paints what geometry cannot (a bald head's skin)
ALONGSIDE = ("bald",)



@dataclass
class GeometricEdit:
    """Which strengths the warp draws as geometry (attribute → its index in Δ), and what a strength of 1 asks of
    each, from the stream's settings: turn_step_deg degrees of yaw or pitch (at most turn_max_deg either way),
    smile_step of the mouth's width (at most smile_max), hairline_step of the face's height for bald (at most
    hairline_max); the slider's ends saturate."""

    index: dict[str, int] = field(default_factory=dict)
    settings: StreamConfig = field(default_factory=StreamConfig)

    @classmethod
    def of(cls, attributes: Sequence[str], settings: StreamConfig) -> "GeometricEdit":
        """Every attribute of the mapper the settings draw (StreamConfig.geometric_steps)."""
        drawn = settings.geometric_steps()
        return cls({a: i for i, a in enumerate(attributes) if a in drawn}, settings)

    def indices(self) -> list[int]:
        """Where the edits the warp draws instead of the mapper sit in Δ."""
        return sorted(i for a, i in self.index.items() if a not in ALONGSIDE)

    def asked(self, delta: np.ndarray | None) -> Moves:
        steps = self.settings.geometric_steps()

        def amount(attr: str) -> float:
            i = self.index.get(attr)
            if i is None or delta is None:
                return 0.0
            step, most = steps[attr]
            return float(np.clip(delta[i] * step, -most, most))
        return Moves(amount("yaw"), amount("pitch"), amount("smile"), amount("bald"))


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


MOUTH_CORNERS = (61, 291)
LIPS = np.array(sorted({i for edge in mp.solutions.face_mesh.FACEMESH_LIPS for i in edge}))
SMILE_SPREAD = 0.6  # the corners draw out by this much of their lift
FROWN = 0.5  # a frown draws the corners down this much of what a smile of the same strength lifts them


# How far a face already smiles, by its mouth's width over its face's (the render's mesh): 0.32–0.34 on the
# repository's neutral faces, 0.38–0.41 on their broad smiles. A smile asked of a face already smiling lifts its
# corners by what is left of the way (at a full smile, SMILE_LEFT of the lift): a broad smile lifted the whole
# way became a grin from ear to ear. A frown asked of it draws the corners down FROWN_ON_SMILE less (at a full
# smile): the whole frown pulled a broad, open smile into a grimace over the teeth; less is a smile taken down.
NEUTRAL_MOUTH, FULL_MOUTH = 0.34, 0.41
SMILE_LEFT = 0.2
FROWN_ON_SMILE = 0.6


def smiling(points: np.ndarray) -> float:
    """0 for a mouth at rest … 1 for a broad smile, by the mouth's width over the face outline's."""
    width = float(np.linalg.norm(points[MOUTH_CORNERS[1], :2] - points[MOUTH_CORNERS[0], :2]))
    face = float(np.ptp(points[OVAL, 0]))
    return float(np.clip((width / max(face, 1e-6) - NEUTRAL_MOUTH) / (FULL_MOUTH - NEUTRAL_MOUTH), 0.0, 1.0))


def smile_points(points: np.ndarray, lift: float) -> np.ndarray:
    """(468+, 2+) landmarks with the mouth corners lifted by `lift` × the mouth's width (−: down, by FROWN of that,
    less on a smiling face; +: by what is left of the way to a broad smile) and drawn out by SMILE_SPREAD of that,
    each lip point by the square of how far out along the mouth it sits, in the mouth's own frame (a tilted face
    smiles along its tilt)."""
    left, right = points[MOUTH_CORNERS[0], :2], points[MOUTH_CORNERS[1], :2]
    centre, along = (left + right) / 2, right - left
    width = float(np.linalg.norm(along))
    if width < 1e-6 or not lift:
        return points.copy()
    along /= width
    up = np.array([along[1], -along[0]])  # the mouth's up: image up for an upright face
    level = smiling(points)
    lift = lift * (1.0 - (1.0 - SMILE_LEFT) * level) if lift > 0 else FROWN * lift * (1.0 - FROWN_ON_SMILE * level)
    out = points.astype(np.float64).copy()
    rel = (points[LIPS, :2] - centre) @ along / (width / 2)  # −1 at one corner, +1 at the other
    out[LIPS, :2] += lift * width * (np.outer(rel ** 2, up) + SMILE_SPREAD * np.outer(rel * np.abs(rel), along))
    return out


BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)  # the upper edge of both brows
HAIR_ABOVE = 0.1  # the hairline sits about this much of the face's height above the outline's top


def hairline_points(points: np.ndarray, rise: float) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks, forehead): the landmarks with the top of the face's outline (above the brows) raised by
    `rise` × the face's height (−: lowered), each outline point by how far up the forehead it sits, and which
    outline points are the forehead's (those the hairline above moves with)."""
    oval = points[OVAL]
    top, brow = oval[:, 1].min(), points[list(BROWS), 1].mean()
    up = np.clip((brow - oval[:, 1]) / max(brow - top, 1e-6), 0.0, 1.0) ** 2  # 0 at the brows' height, 1 at the top
    out = points.astype(np.float64).copy()
    out[OVAL, 1] -= rise * float(np.ptp(oval[:, 1])) * up
    return out, up > 0.25


def hairline(oval: np.ndarray) -> np.ndarray:
    """(n, 2) points HAIR_ABOVE of the face's height out from the outline's points, away from its middle: where
    the hairline runs (the mesh does not mark it)."""
    out = oval - oval.mean(0)
    return oval + out / np.linalg.norm(out, axis=1, keepdims=True) * HAIR_ABOVE * float(np.ptp(oval[:, 1]))


def geometric_flow(edited_points: np.ndarray, moves: Moves, size: int) -> np.ndarray:
    """(C,C,2) on the canvas padded by turn_pad(size): the edited render's face moved as `moves` asks, as a flow
    with moved(x) ≈ edited(x + flow(x)), fading to nothing at a ring around the head.

    Inside the face's outline the spline runs through the features' moves; outside it, through the outline's
    own (small) moves and the ring: one spline through both would carry the features' slide out past the
    outline and swell the near cheek over the background."""
    pad = turn_pad(size)
    side = size + 2 * pad
    cells = GRID * side // size
    src = edited_points[:, :2] + pad
    turned = smile_points(turn_points(edited_points, moves.yaw, moves.pitch), moves.smile)
    moved, forehead = hairline_points(turned, moves.bald)
    dst = moved[:, :2] + pad
    anchors = ring(src[OVAL])
    inner = spline_on_grid(dst[FLOW_POINTS], src[FLOW_POINTS], side, cells)
    # outside the outline: its points, the hairline above it when it moves (as its forehead point does: the
    # skin up to the hair moves as one, the hair above it is pressed up), and the still ring
    out_src, out_dst = [src[OVAL], anchors], [dst[OVAL], anchors]
    if moves.bald:
        hair = hairline(src[OVAL])[forehead]
        out_src.append(hair)
        out_dst.append(hair + (dst[OVAL] - src[OVAL])[forehead])
    outer = spline_on_grid(np.vstack(out_dst), np.vstack(out_src), side, cells)
    inside = polygon_mask(dst[OVAL], side, feather=FEATHER * side)[..., None]
    # the spline is still at the ring's points, not between or past them: it fades out inside the ring
    still = polygon_mask(ring(src[OVAL], TURN_RING - 0.2), side, feather=FEATHER * side)[..., None]
    return unfold((inside * inner + (1.0 - inside) * outer) * still)
