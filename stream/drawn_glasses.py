"""Glasses drawn on the output frame, anchored on the face mesh: not generated.

The shipped 64-px generator cannot draw glasses (its + glasses edit only darkens the eye sockets; the glasses
classifier moves by ≈ 0), so a + glasses strength is drawn the way an AR filter draws it: a dark frame around
each eye (a rounded lens shape in the eye's own frame, between the brow and the cheek, so a turned or nodding
face foreshortens it), a bridge over the nose, the temple arms to the face's sides, a faint lens tint and
reflection, and the frame's soft shadow on the skin. Everything is drawn anti-aliased at the frame's own
resolution inside the glasses' box; nothing else is touched. The strength ramps the opacity and the frame's
thickness (+1 light and thin, +2 full). The − side (taking real glasses off) cannot be drawn; it stays with the
mapper.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Face-mesh landmarks (468): each eye's corners (outer, inner) and contour, the lower edge of each brow, the
# nose bridge, and the face's sides at the temples (toward the ears). "right" is the person's right (image left).
EYES = {
    "right": dict(outer=33, inner=133, contour=(33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144,
                                                163, 7), brow=(46, 53, 52, 65, 55), side=127),
    "left": dict(outer=263, inner=362, contour=(263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373,
                                                390, 249), brow=(276, 283, 282, 295, 285), side=356),
}
BRIDGE = (168, 6)
_T = np.linspace(0.0, 1.0, 8)[:, None]
BRIDGE_CURVE = np.hstack([(1 - _T) ** 2, 2 * (1 - _T) * _T, _T ** 2])  # a quadratic Bézier's weights, 8 points
ANCHORS = tuple(sorted({i for eye in EYES.values() for k, v in eye.items()
                        for i in (v if isinstance(v, tuple) else (v,))} | set(BRIDGE)))

# The lens in its eye's frame: u along the eye (outer corner − inner corner = 1), v down from the brow's lower
# edge to the eye's centre (= 1). A lens is ≈ 1.6 eye widths wide, sits a little outward and below the eye's
# centre, its top just under the brow.
LENS_CENTRE = (0.16, 0.30)
LENS_HALF = (0.80, 0.84)
LENS_POWER = 3.2  # superellipse exponent: 2 is an ellipse, higher a rounder-cornered rectangle
LENS_TOP_WIDER = 0.10  # the lens is this much wider at its top than at its bottom
LENS_POINTS = 64
HINGE_V = -0.35  # where on the lens' outer edge the temple arm starts (lens v units)
BRIDGE_V = -0.30  # where on the lens' inner edge the bridge starts

# Full strength (+2): the rim's thickness as a fraction of the eye's width, its grey and opacity; the
# lens tint and reflection; the shadow on the skin. +1 is RAMP_LOW of the thickness.
RIM = 0.075
RIM_GREY = 28.0  # the frame is a near-black grey (0…255)
RIM_ALPHA = 0.94
ARM = 0.75  # the arms' thickness against the rim's
HIGHLIGHT_ALPHA = 0.09  # a thin lighter edge on the rim's upper side (a lit frame is not flat black)
TINT = 0.07  # how much light the lens takes off (a faint grey)
GLARE_ALPHA = 0.10
SHADOW_ALPHA = 0.30
FULL_AT = 2.0  # the strength of the full glasses
RAMP_LOW = 0.55  # the thickness at the lowest strength, against full
SUBPIXEL = 3  # cv2's shift: points drawn at 1/8 px
SOFT = 1.0  # the soft layers (shadow, lens tint and reflection, the occlusion cue) are made on a grid this many rims
# a cell (at least a pixel): their edges at the lens' rim are under the rim itself


@dataclass
class GlassesShape:
    """Frame-pixel outlines: each lens (n, 2), the bridge (m, 2), the temple arms (2, 2) each (or none), and the
    rim's thickness (px; below a pixel, as on a small face, it is drawn a pixel wide and as much fainter)."""

    lenses: list[np.ndarray]
    bridge: np.ndarray
    arms: list[np.ndarray]
    rim: float

    def parts(self) -> list[list[np.ndarray]]:
        """The frame's filled outlines, one group per fill: a ring round each lens (two loops, even-odd), the
        bridge, the arms thinning towards the ears."""
        lenses = np.stack(self.lenses)  # both rings at once: (2, n, 2)
        normal = normals(np.roll(lenses, -1, 1) - np.roll(lenses, 1, 1))
        rim = max(1.0, self.rim)
        rings = [[lens + n * (rim / 2), lens - n * (rim / 2)] for lens, n in zip(lenses, normal)]
        return rings + [strip(self.bridge, rim)] + [strip(arm, np.maximum(np.array([ARM, 0.7 * ARM]) * rim, 1.0))
                                                    for arm in self.arms]

    def box(self, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        """x0, y0, x1, y1 of what is drawn (with room for the rim and its shadow), clipped to the frame."""
        pts = np.vstack(self.lenses + [self.bridge] + self.arms)
        grow = 4.5 * max(1.0, self.rim) + 2
        h, w = shape[:2]
        x0, y0 = np.floor(pts.min(0) - grow).astype(int)
        x1, y1 = np.ceil(pts.max(0) + grow).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return (int(x0), int(y0), int(x1), int(y1)) if x1 - x0 > 2 and y1 - y0 > 2 else None


def unit_lens(count: int = LENS_POINTS) -> np.ndarray:
    """(count, 2) the lens outline in its eye's frame (u, v): a superellipse, wider at its top."""
    angle = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    c, s = np.cos(angle), np.sin(angle)
    u = np.sign(c) * np.abs(c) ** (2 / LENS_POWER)
    v = np.sign(s) * np.abs(s) ** (2 / LENS_POWER)
    return lens_point(u, v)


def lens_point(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, 2) eye-frame points of the lens' (u, v) in [-1, 1]² (v = −1 is its top, the widest)."""
    u = u * (1.0 - LENS_TOP_WIDER * (v - 1.0) / 2)
    return np.column_stack([LENS_CENTRE[0] + LENS_HALF[0] * u, LENS_CENTRE[1] + LENS_HALF[1] * v])


def lens_edge(side: float, v: float) -> np.ndarray:
    """(2,) eye-frame point on the lens' outer (side +1) or inner (−1) edge at height v in (−1, 1)."""
    return lens_point(np.array([side * (1.0 - abs(v) ** LENS_POWER) ** (1 / LENS_POWER)]), np.array([v]))[0]


# the lens outline, hinge and bridge end in the eye's frame, one row each: the same for every face
LENS_FRAME = np.vstack([unit_lens(), lens_edge(1.0, HINGE_V), lens_edge(-1.0, BRIDGE_V)])


def lens_outline(points: np.ndarray, eye: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LENS_POINTS, 2) one lens in frame pixels, and its hinge and bridge ends."""
    centre = points[list(eye["contour"])].mean(0)
    along = points[eye["outer"]] - points[eye["inner"]]  # one eye width, outward
    down = centre - points[list(eye["brow"])].mean(0)  # brow → eye centre
    placed = centre + LENS_FRAME @ np.stack([along, down])
    return placed[:-2], placed[-2], placed[-1]


def normals(tangents: np.ndarray) -> np.ndarray:
    """(..., 2) unit normals of (..., 2) tangents (turned a quarter clockwise in image axes)."""
    length = np.sqrt((tangents * tangents).sum(-1, keepdims=True))
    return np.stack([-tangents[..., 1], tangents[..., 0]], -1) / np.maximum(length, 1e-9)


def strip(line: np.ndarray, width: np.ndarray | float) -> list[np.ndarray]:
    """The outline of a band `width` px wide (per point, or one width) along an open polyline, as one polygon."""
    tangent = np.empty_like(line)
    tangent[1:-1] = line[2:] - line[:-2]
    tangent[0], tangent[-1] = line[1] - line[0], line[-1] - line[-2]
    side = normals(tangent) * (np.asarray(width, np.float64) / 2).reshape(-1, 1)
    return [np.concatenate([line + side, (line - side)[::-1]])]


def glasses_shape(points: np.ndarray, strength: float) -> GlassesShape:
    """The glasses on (468, 2) frame-pixel landmarks at a strength in (0, FULL_AT]."""
    points = np.asarray(points, np.float64)[:, :2]
    lenses, hinges, ends = [], [], []
    for eye in EYES.values():
        lens, hinge, end = lens_outline(points, eye)
        lenses.append(lens)
        hinges.append(hinge)
        ends.append(end)
    # the bridge: a curve from one lens' inner edge to the other's, through the nose bridge
    top = points[list(BRIDGE)].mean(0)
    control = 2.0 * top - 0.5 * (ends[0] + ends[1])
    bridge = BRIDGE_CURVE @ np.stack([ends[0], control, ends[1]])
    arms = []
    span = hinges[1] - hinges[0]
    for hinge, eye, outward in zip(hinges, EYES.values(), (-1.0, 1.0)):
        side = points[eye["side"]]
        # the arm shows only where the face's side lies beyond the hinge (on a turned face the far one is hidden)
        if outward * float(np.dot(side - hinge, span)) > 0.02 * float(np.dot(span, span)):
            arms.append(np.stack([hinge, side]))
    eye_width = float(np.mean([np.linalg.norm(points[e["outer"]] - points[e["inner"]]) for e in EYES.values()]))
    ramp = RAMP_LOW + (1 - RAMP_LOW) * min(1.0, strength / FULL_AT)
    return GlassesShape(lenses, bridge, arms, RIM * eye_width * ramp)


def fixed(points: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Points relative to origin as cv2's fixed-point int32 (SUBPIXEL bits)."""
    return np.round((points - np.asarray(origin, np.float64)) * (1 << SUBPIXEL)).astype(np.int32)


def rim_mask(parts: list[list[np.ndarray]], origin: tuple[float, float], size: tuple[int, int],
             scale: float = 1.0) -> np.ndarray:
    """uint8 (h, w), anti-aliased: the frame's parts (GlassesShape.parts) on a grid of `size` whose pixel (0, 0)
    is the frame's `origin`, `scale` grid px a frame px."""
    out = np.zeros((size[1], size[0]), np.uint8)
    loops = [p for part in parts for p in part]
    # one conversion for every loop (they are many small arrays), then one fill per part
    flat = np.split(fixed(np.concatenate(loops) * scale, np.asarray(origin, np.float64) * scale),
                    np.cumsum([len(p) for p in loops])[:-1])
    at = 0
    for part in parts:
        cv2.fillPoly(out, flat[at:at + len(part)], 255, cv2.LINE_AA, SUBPIXEL)
        at += len(part)
    return out


def glare_band(lens: np.ndarray) -> np.ndarray:
    """(4, 2) a diagonal band across the lens' box, rising to the right through its upper part: where a window's
    reflection lies."""
    lo, hi = lens.min(0), lens.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    corners = [(-1.5, c + 1.5) for c in (-0.55, -0.15)] + [(1.5, c - 1.5) for c in (-0.15, -0.55)]
    return centre + np.array(corners) * half


def soft_layers(shape: GlassesShape, parts: list[list[np.ndarray]], box: tuple[int, int, int, int],
                opacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (h, w) over the box on a coarse grid (opacity's): what of the camera's pixel stays (255: all) under
    the rim's shadow on the skin and the lens' tint, and the reflected light added on the lenses (a soft diagonal
    band across each lens' upper part), both already faded by `opacity`."""
    x0, y0, x1, y1 = box
    size = (opacity.shape[1], opacity.shape[0])
    scale = size[0] / (x1 - x0)
    origin = np.array([x0, y0], np.float64) * scale
    lens, band = np.zeros(opacity.shape, np.uint8), np.zeros(opacity.shape, np.uint8)
    cv2.fillPoly(lens, [fixed(p * scale, origin) for p in shape.lenses], 255, cv2.LINE_AA, SUBPIXEL)
    for outline in shape.lenses:
        cv2.fillConvexPoly(band, fixed(glare_band(outline) * scale, origin), 255, cv2.LINE_AA, SUBPIXEL)
    # the shadow: the rim dropped by its thickness; it and the reflection blurred together
    dropped = np.zeros(opacity.shape, np.uint8)
    drop = max(1, int(round(shape.rim * scale)))
    dropped[drop:] = rim_mask(parts, (x0, y0), size, scale)[:-drop]
    shadow, shine = cv2.split(cv2.GaussianBlur(cv2.merge([dropped, band]), (0, 0), max(0.6, 0.8 * shape.rim * scale)))
    lens_f = lens.astype(np.float32) * (1 / 255)
    stays = cv2.convertScaleAbs(255.0 - opacity * (SHADOW_ALPHA * shadow * (1.0 - lens_f) + (TINT * 255.0) * lens_f))
    shine = cv2.convertScaleAbs(opacity * shine * lens_f, alpha=GLARE_ALPHA)
    # nothing changes on the grid's border: upsampled, the layers fade to nothing at the box's edge, never a step
    for layer, none in ((stays, 255), (shine, 0)):
        layer[[0, -1]] = none
        layer[:, [0, -1]] = none
    return stays, shine


def draw_glasses(frame: np.ndarray, points: np.ndarray, strength: float,
                 keep: np.ndarray | None = None, frame_to_keep: np.ndarray | None = None) -> None:
    """Draw glasses on the face with (468, 2) frame-pixel landmarks `points`, in place, at a strength in
    (0, FULL_AT] (more saturates). `keep` (k, k) in [0, 1] with its 2×3 frame → keep affine: where the face
    is not covered (nothing is drawn on a hand in front of the eyes).

    The rim is drawn anti-aliased at full resolution; the soft layers on a coarse grid, upsampled; the frame
    gets uint8 multiplies and saturating adds only (≈ 0.3 ms a face at 1080p)."""
    if strength <= 0:
        return
    shape = glasses_shape(points, strength)
    box = shape.box(frame.shape)
    if box is None:
        return
    x0, y0, x1, y1 = box
    full = (x1 - x0, y1 - y0)
    cell = max(1.0, SOFT * shape.rim)
    grid = (max(2, int(round(full[0] / cell))), max(2, int(round(full[1] / cell))))
    opacity = np.full((grid[1], grid[0]), min(1.0, strength / FULL_AT), np.float32)
    if keep is not None and frame_to_keep is not None and keep.min() < 0.99:  # (a face seen whole costs less)
        fx, fy = grid[0] / full[0], grid[1] / full[1]
        grid_to_frame = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5], [0, 0, 1]])
        opacity *= cv2.warpAffine(keep.astype(np.float32), frame_to_keep.astype(np.float64) @ grid_to_frame, grid,
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    parts = shape.parts()
    stays, shine = (cv2.resize(a, full, interpolation=cv2.INTER_LINEAR) for a in soft_layers(shape, parts, box, opacity))
    rim = rim_mask(parts, (x0, y0), full)
    # the highlight: the rim's upper edge, a third of its thickness deep (a lit frame is not flat black)
    lift = max(1, int(round(shape.rim / 3)))
    faint = RIM_ALPHA * min(1.0, shape.rim)  # a rim thinner than a pixel is a pixel wide and as much fainter
    light = rim.copy()
    cv2.subtract(rim[lift:], rim[:-lift], dst=light[lift:])
    if np.ptp(opacity) == 0:
        ink = cv2.convertScaleAbs(rim, alpha=faint * float(opacity[0, 0]))
    else:
        ink = cv2.multiply(rim, cv2.resize(cv2.convertScaleAbs(opacity, alpha=255.0), full), scale=faint / 255)
    # camera × what stays under the shadow and tint × what the rim leaves; + the reflection where the rim is not,
    # + the rim's grey and its highlight
    roi = frame[y0:y1, x0:x1]
    stays = cv2.multiply(stays, cv2.bitwise_not(ink), scale=1 / 255)
    add = cv2.add(cv2.multiply(shine, cv2.bitwise_not(ink), scale=1 / 255),
                  cv2.addWeighted(ink, RIM_GREY / 255, cv2.multiply(light, ink, scale=1 / 255), HIGHLIGHT_ALPHA * 0.7, 0))
    kept = cv2.multiply(roi, cv2.cvtColor(stays, cv2.COLOR_GRAY2BGR), scale=1 / 255)
    cv2.add(kept, cv2.cvtColor(add, cv2.COLOR_GRAY2BGR), dst=roi)
