"""Warp blending: move the camera's own face the way G(w) → G(w′) moves, then add what the move leaves.

An edit that moves features (a head turn, a lifted mouth corner) cannot be drawn as a pixel difference:
G(w′) − G(w) of a moved feature is a double image. Here the dense motion between the two small renders
(DIS optical flow, about a millisecond at 64 px) is carried to the face region and moves the camera's
real pixels; only the appearance change left after that move (the residual) is added, as the delta mode
adds its difference. The mask follows the warped face.

Given the face mesh's flow between the renders (stream.landmark_flow), that flow moves the face instead (and
for a head turn the mesh's `pose` flow turns it on as far as asked), and the move reaches past the face hull by
OUTLINE of the face width: a head turn moves the face's outline over the
background (real pixels of the frame, moved, not painted), fading out inside the face region's box (grown by
OUTLINE_MARGIN). The residual stays inside the face hull either way.

Everything costly runs on a work grid over the face's bounding box, at most a few times the render's size;
only the final remap and add touch the face region's full-resolution pixels, and nothing outside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from stream.alignment import apply_affine
from stream.blending import crop_hull_mask, face_region, in_frame, warp_by_flow
from stream.colour import tame_residual
from stream.geometric_edit import turn_pad
from stream.landmark_flow import MeshFlow, support_mask
from stream.occlusion import OcclusionTracker
from stream.one_euro import OneEuroFilter

FLOW_SIDE = 128  # renders are shrunk to at most this side for the flow
DEAD_FLOW = 0.1  # render pixels of flow below which nothing moves (ramping in up to twice that)
MIN_MOVE_PX = 0.2  # below this displacement (frame px) a pixel is not moved: a fifth of a pixel is invisible
OUTLINE = 0.05  # with the mesh's flow: the face moves this fraction of its width past its hull, fading out over as much
OUTLINE_MARGIN = 0.12  # … inside the face region grown by this (≥ 2 × OUTLINE: nothing changes past the region)
TURN_MARGIN = 0.4  # a head turn reaches (TURN_RING − 1) / 2 of the face past its landmarks' box
COVERED = (0.2, 0.5)  # keep below the first: surely covered, held still and unpainted; above the second: moves
BAND_ROWS = 48  # full-resolution work goes in bands of this many rows, each as wide as its changing cells reach


@dataclass
class WarpEdit:
    """One face's edit in crop space: flow (S,S,2) crop px with edited(x) ≈ original(x + flow(x)),
    residual (S,S,3) BGR in 0…255 units, keep (S,S) in [0, 1]: where the residual may show, and move (S,S)
    in [0, 1]: where the face may move (keep itself when None). held (S,S) in [0, 1], when not None: where
    something surely covers the face in this frame; the blend neither moves nor paints it there, whatever the
    smoothing over time still carries from earlier frames."""

    flow: np.ndarray
    residual: np.ndarray
    keep: np.ndarray
    move: np.ndarray | None = None
    pad: int = 0  # the layers cover the crop padded by this many crop px each way (a head turn's canvas)
    held: np.ndarray | None = None

    def stacked(self, pad: int = 0) -> np.ndarray:
        """(S,S,7) float32: flow, residual, keep, move; on the crop padded to `pad` px each way where that is more
        than the edit's own pad (nothing moves or changes there). cv2.merge, not np.dstack: 6 µs, not 30–90."""
        planes = [self.flow, self.residual, self.keep, self.keep if self.move is None else self.move]
        layers = cv2.merge([np.asarray(plane, np.float32) for plane in planes])
        more = pad - self.pad
        if more > 0:
            layers = cv2.copyMakeBorder(layers, more, more, more, more, cv2.BORDER_CONSTANT, value=0)
        return layers

    @classmethod
    def unstack(cls, layers: np.ndarray, pad: int = 0) -> "WarpEdit":
        return cls(layers[..., :2], layers[..., 2:5], layers[..., 5], layers[..., 6], pad)

    def unheld(self, layers: np.ndarray) -> np.ndarray:
        """Stacked layers (e.g. smoothed over time, on this edit's canvas or one padded more) with nothing moved or
        painted where this edit is held."""
        if self.held is None or not self.held.any():
            return layers
        more = (layers.shape[0] - self.held.shape[0]) // 2
        held = cv2.copyMakeBorder(self.held, more, more, more, more, cv2.BORDER_CONSTANT, value=0)
        return layers * (1.0 - held)[..., None]


def make_flow_estimator() -> cv2.DISOpticalFlow:
    """DIS flow for renders of 64–256 px: the fastest preset, but down to the finest pyramid level (the
    preset stops at 1/4 scale, a 16-px grid on a 64-px render)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    dis.setFinestScale(0)
    return dis


def to_grey(render: np.ndarray) -> np.ndarray:
    """BGR render in [-1, 1] → uint8 grey."""
    return cv2.cvtColor(np.clip((render + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)


def render_flow(dis: cv2.DISOpticalFlow, original: np.ndarray, edited: np.ndarray, max_side: int = FLOW_SIDE) -> np.ndarray:
    """(S,S,2) float32 crop-pixel displacement with edited(x) ≈ original(x + flow(x)), smoothed a little
    (DIS without variational refinement is patchy; a torn flow would tear the face). Renders larger than
    max_side are shrunk for the flow and the flow is scaled back: a 256-px render costs what a 128-px one does."""
    a, b = to_grey(edited), to_grey(original)
    size = a.shape[0]
    if size > max_side:
        a, b = (cv2.resize(g, (max_side, max_side), interpolation=cv2.INTER_AREA) for g in (a, b))
    flow = dis.calc(a, b, None)
    flow = cv2.GaussianBlur(flow, (0, 0), max(1.0, flow.shape[0] / 48))
    if size > max_side:
        flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_LINEAR) * (size / max_side)
    return flow


def warp_edit(dis: cv2.DISOpticalFlow, camera_crop: np.ndarray, original: np.ndarray, edited: np.ndarray,
              crop_landmarks: np.ndarray, feather: float, keep: np.ndarray | None = None,
              mesh: MeshFlow | None = None) -> WarpEdit:
    """The crop-space layers of one face: flow G(w) → G(w′) (the mesh's where it has one, else optical
    flow), the residual after warping G(w) by it (colour-tamed against the camera's face), the hull mask
    times `keep` (e.g. not occluded), and where the face moves: that mask, or with the mesh's flow the
    face grown by OUTLINE."""
    flow = render_flow(dis, original, edited)
    if mesh is not None:
        weight = mesh.weight[..., None]
        flow = weight * mesh.flow + (1.0 - weight) * flow
    # A dead zone: flow noise between two renders of one face (a tenth of a render pixel is several frame
    # pixels at 4K) must not wobble the face; real moves of an edit are larger.
    flow *= np.clip((cv2.magnitude(flow[..., 0], flow[..., 1])[..., None] - DEAD_FLOW) / DEAD_FLOW, 0.0, 1.0)
    moved = warp_by_flow(original, flow)
    hull = crop_hull_mask(crop_landmarks, original.shape[0], feather)
    # follows the face inward, but never past the camera face's own hull: the edit must not leak off the face
    mask = np.minimum(warp_by_flow(hull, flow), hull)
    residual = tame_residual((edited - moved) * 127.5, camera_crop, (moved + 1.0) * 127.5, mask)
    # what surely covers the face (keep below COVERED[0]; a fade of the partly covered would tear a moved face)
    held = None if keep is None else np.clip((COVERED[1] - keep) / (COVERED[1] - COVERED[0]), 0.0, 1.0)
    if keep is not None:
        mask = mask * keep
    if mesh is None:
        return WarpEdit(flow, residual, mask, held=held)
    move = support_mask(crop_landmarks, original.shape[0], OUTLINE)
    if keep is not None:
        move = move * keep
    if mesh.pose is None:
        return WarpEdit(flow, residual, mask, move, held=held)
    # What the warp draws as geometry (a head turn, a smile, a hairline): the edited face (the camera's pixels
    # moved by the masked flow, plus the residual) moved on by the pose flow, on the padded canvas; where it
    # moves is baked in. What surely covers the face (keep below COVERED) stays where it is — a cup held in
    # front of the mouth does not turn or smile with the face; a fade of the partly covered (a smiling mouth
    # the occlusion memory half doubts) would tear the moved face there, so only the sure part is held.
    pad = (mesh.pose.shape[0] - original.shape[0]) // 2
    layers = WarpEdit(flow * move[..., None], residual, mask, move).stacked(pad)
    turned = WarpEdit.unstack(warp_by_flow(layers, mesh.pose), pad)
    turned.flow += mesh.pose
    turned.move = np.ones_like(turned.keep)
    if held is not None:
        # held where it is in the output: neither the pose nor the face's own move (which the pose brings from
        # beside the occluder) moves it, and nothing is painted on it
        turned.held = cv2.copyMakeBorder(held, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
        free = 1.0 - turned.held
        turned.flow *= free[..., None]
        turned.residual *= free[..., None]
        turned.keep *= free
        turned.move *= free
    return turned


def work_grid(region: tuple[int, int, int, int], max_side: int) -> tuple[int, int]:
    """Width and height of the work grid over a region: the region itself when small, else shrunk so its
    longer side is max_side."""
    x0, y0, x1, y1 = region
    w, h = x1 - x0, y1 - y0
    scale = min(1.0, max_side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def crop_to_work(frame_to_crop: np.ndarray, region: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """2×3 affine from work-grid pixels to crop pixels, on cv2.resize's pixel-centre convention, so a
    work layer resized to the region lands where the frame pixels are."""
    x0, y0, x1, y1 = region
    sx, sy = (x1 - x0) / size[0], (y1 - y0) / size[1]
    work_to_frame = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return frame_to_crop.astype(np.float64) @ work_to_frame


def sample_points(dx: np.ndarray, dy: np.ndarray, region: tuple[int, int, int, int],
                  box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """x and y (h, w) float32 frame coordinates that each pixel of `box` (region pixels) samples: itself plus
    the work-grid displacement (dx, dy) upsampled. The work cells' own frame positions ride along in the
    resize: a linear ramp upsamples to exactly the pixels' positions wherever the resize need not clamp at the
    grid's outer half-cell, which a box of moving cells keeps clear of; a box that reaches it adds them apart.
    (Two planes, not one two-channel map: cv2.remap reads those faster.)"""
    x0, y0, x1, y1 = region
    full = (x1 - x0, y1 - y0)
    size = dx.shape[1], dx.shape[0]
    bx0, by0, bx1, by1 = box
    sx, sy = full[0] / size[0], full[1] / size[1]
    if (bx0 + 0.5) / sx >= 0.5 and (by0 + 0.5) / sy >= 0.5 and (bx1 - 0.5) / sx <= size[0] - 0.5 \
            and (by1 - 0.5) / sy <= size[1] - 0.5:
        cx = x0 + (np.arange(size[0], dtype=np.float32) + 0.5) * sx - 0.5  # frame position of each cell's centre
        cy = y0 + (np.arange(size[1], dtype=np.float32) + 0.5) * sy - 0.5
        return (cv2.resize(dx + cx, full, interpolation=cv2.INTER_LINEAR)[by0:by1, bx0:bx1],
                cv2.resize(dy + cy[:, None], full, interpolation=cv2.INTER_LINEAR)[by0:by1, bx0:bx1])
    mx = cv2.resize(dx, full, interpolation=cv2.INTER_LINEAR)[by0:by1, bx0:bx1]
    my = cv2.resize(dy, full, interpolation=cv2.INTER_LINEAR)[by0:by1, bx0:bx1]
    mx += np.arange(x0 + bx0, x0 + bx1, dtype=np.float32)
    my += np.arange(y0 + by0, y0 + by1, dtype=np.float32)[:, None]
    return mx, my


def reaching(planes: list[np.ndarray], least: float) -> np.ndarray:
    """(h, w) bool: the work-grid cells where any of the planes reaches `least` in magnitude."""
    cells = np.abs(planes[0]) >= least
    for plane in planes[1:]:
        cells |= np.abs(plane) >= least
    return cells


def active_bands(cells: np.ndarray, full: tuple[int, int], rows: int,
                 *also: np.ndarray) -> tuple[list[tuple[int, int, int, int]], list[np.ndarray]]:
    """Boxes x0, y0, x1, y1 in region pixels, one per band of `rows` region rows (top to bottom, without
    overlap), that hold every pixel the work-grid `cells` reach under bilinear upsampling to `full` (grown by a
    work pixel and one region pixel), each band only as wide as its own cells reach: outside them the upsampled
    layer is made of other cells alone. With further grids in `also`: for each, whether it reaches each band."""
    size = cells.shape[1], cells.shape[0]
    ys = np.flatnonzero(cells.any(1))
    if not len(ys):
        return [], [np.zeros(0, bool) for _ in also]
    sx, sy = full[0] / size[0], full[1] / size[1]
    top, bottom = max(0, int((ys[0] - 0.5) * sy)), min(full[1], int(np.ceil((ys[-1] + 1.5) * sy)) + 1)
    # per region row from top to bottom: the two cell rows its bilinear weights come from
    lo = np.clip(np.floor((np.arange(top, bottom) + 0.5) / sy - 0.5).astype(int), 0, size[1] - 1)
    hi = np.minimum(lo + 1, size[1] - 1)
    starts = np.arange(0, bottom - top, rows)

    def columns(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and last column the grid hits in each band's cell rows (last < first where none)."""
        found = grid.any(1)
        first = np.where(found, grid.argmax(1), size[0])
        last = np.where(found, size[0] - 1 - grid[:, ::-1].argmax(1), -1)
        return (np.minimum.reduceat(np.minimum(first[lo], first[hi]), starts),
                np.maximum.reduceat(np.maximum(last[lo], last[hi]), starts))

    c0, c1 = columns(cells)
    hit = c1 >= c0
    x0 = np.maximum(0, ((c0 - 0.5) * sx).astype(int))
    x1 = np.minimum(full[0], np.ceil((c1 + 1.5) * sx).astype(int) + 1)
    y0 = starts + top
    y1 = np.minimum(y0 + rows, bottom)
    bands = [(int(a), int(b), int(c), int(d)) for a, b, c, d in zip(x0[hit], y0[hit], x1[hit], y1[hit])]
    reached = []
    for grid in also:
        first, last = columns(grid)
        reached.append((last >= first)[hit])
    return bands, reached


def blend_warp(frame: np.ndarray, edit: WarpEdit, frame_to_crop: np.ndarray, landmarks: np.ndarray,
               work_side: int, margin: float = 0.05) -> None:
    """Move the face region's own pixels by the edit's flow and add its residual, in place. Full-resolution
    work is one remap and one saturating add over bands of rows, each only as wide as the work cells that move
    (by MIN_MOVE_PX) or whose residual rounds to a change reach; nothing else of the frame (the landmarks' box
    grown by `margin`) is read or written."""
    blend_layers(frame, edit.stacked(), frame_to_crop, landmarks, work_side, margin, edit.pad)


def blend_layers(frame: np.ndarray, stacked: np.ndarray, frame_to_crop: np.ndarray, landmarks: np.ndarray,
                 work_side: int, margin: float = 0.05, pad: int = 0) -> None:
    """blend_warp on a WarpEdit's stacked layers (on the crop padded by `pad` px each way)."""
    if not in_frame(landmarks, frame.shape):
        return
    if pad:  # the layers' pixel (0, 0) is the crop's (-pad, -pad)
        frame_to_crop = frame_to_crop.astype(np.float64) + np.array([[0.0, 0.0, pad], [0.0, 0.0, pad]])
    region = face_region(landmarks, frame.shape, margin)
    x0, y0, x1, y1 = region
    full = (x1 - x0, y1 - y0)
    size = work_grid(region, work_side)
    layers = cv2.warpAffine(stacked, crop_to_work(frame_to_crop, region, size), size,
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # The masks and residual live where the edited face is; the warped mask (layers[..., 5]) is already
    # in output positions because the whole stack was built on the edited render's grid. Planes, not numpy
    # broadcasts over the 7-channel stack: those cost more than the whole grid's arithmetic.
    flow_x, flow_y, *residual, mask, move_mask = cv2.split(layers)
    (a, b), (c, d) = cv2.invertAffineTransform(frame_to_crop.astype(np.float64))[:, :2]  # crop → frame vectors
    dx = cv2.multiply(cv2.addWeighted(flow_x, a, flow_y, b, 0.0), move_mask)
    dy = cv2.multiply(cv2.addWeighted(flow_x, c, flow_y, d, 0.0), move_mask)
    add = [cv2.multiply(plane, mask) for plane in residual]
    moving = reaching([dx, dy], MIN_MOVE_PX)
    # below half a level the residual rounds to no change (the offset layer below is exactly 128 there)
    bands, (moves,) = active_bands(moving | reaching(add, 0.5), full, BAND_ROWS, moving)
    if not bands:
        return
    roi = frame[y0:y1, x0:x1]
    # One uint8 layer offset by 128, upsampled, then moved + layer − 128 in one saturating pass written straight
    # into the frame (addWeighted rounds once, and every term is an integer: exact). A residual past ±127
    # levels stops there; tame_residual keeps luma within ±MAX_LUMA = 96.
    offset = cv2.resize(np.clip(cv2.merge(add) + 128.5, 0, 255).astype(np.uint8), full, interpolation=cv2.INTER_LINEAR)
    sources = []  # every band is sampled from the frame before any is written: a move reaches across bands
    if moves.any():
        box = (min(b[0] for b in bands), bands[0][1], max(b[2] for b in bands), bands[-1][3])
        mx, my = sample_points(dx, dy, region, box)
        moved = np.empty((box[3] - box[1], box[2] - box[0], 3), np.uint8)
    for (bx0, by0, bx1, by1), band_moves in zip(bands, moves):
        if band_moves:
            rows, cols = slice(by0 - box[1], by1 - box[1]), slice(bx0 - box[0], bx1 - box[0])
            sources.append(cv2.remap(frame, mx[rows, cols], my[rows, cols], cv2.INTER_LINEAR, dst=moved[rows, cols],
                                     borderMode=cv2.BORDER_REPLICATE))
        else:
            sources.append(roi[by0:by1, bx0:bx1])
    for (bx0, by0, bx1, by1), source in zip(bands, sources):
        cv2.addWeighted(source, 1.0, offset[by0:by1, bx0:bx1], 1.0, -128.0, dst=roi[by0:by1, bx0:bx1])


class WarpBlender:
    """The warp mode for a stream: one flow estimator, the edit layers of each face smoothed over time
    (One-Euro, per face id, in crop space, so they move with the smoothed landmarks and a steady edit
    does not flicker), and the edit faded where the face is covered."""

    def __init__(self, feather: float, occlusion: bool = True, min_cutoff: float = 2.0, beta: float = 0.01,
                 work_factor: int = 2, outline: bool = False):
        self.feather = feather
        self.occlusion = occlusion
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.work_factor = work_factor  # work grid side = this × the render's side
        self.outline = outline  # faces may come with the mesh's flow: the outline moves past the hull
        self.dis = make_flow_estimator()
        self.occluders = OcclusionTracker()
        self._filters: dict[int, OneEuroFilter] = {}
        self._drawn: dict[int, tuple[np.ndarray, int]] = {}  # face id → the layers last blended, their pad
        self._keeps: dict[int, np.ndarray | None] = {}  # face id → where its crop was last judged uncovered

    def margin_for(self, mesh: MeshFlow | None) -> float:
        """How far past the landmarks' box the blend may touch: room for a geometric edit's move of the head and
        hair (TURN_MARGIN) only while one is asked; the region's size is most of the blend's cost at 4K."""
        if not self.outline:
            return 0.05
        return TURN_MARGIN if mesh is not None and mesh.pose is not None else OUTLINE_MARGIN

    def edit_for(self, face_id: int, camera_crop: np.ndarray, original: np.ndarray, edited: np.ndarray,
                 crop_landmarks: np.ndarray, mesh: MeshFlow | None = None) -> WarpEdit:
        keep = None
        if self.occlusion:
            hull = crop_hull_mask(crop_landmarks, original.shape[0], 0.02)
            keep = self.occluders.keep(face_id, camera_crop, original, hull, crop_landmarks)
        self._keeps[face_id] = keep
        return warp_edit(self.dis, camera_crop, original, edited, crop_landmarks, self.feather, keep, mesh)

    def blend(self, frame: np.ndarray, faces: list, t: float) -> None:
        """Blend every face (FaceWork with crop, original, edited and maybe mesh_flow) into frame, in place;
        t in seconds."""
        seen = {}
        for face in faces:
            crop_landmarks = apply_affine(face.frame_to_crop, face.track.landmarks)
            edit = self.edit_for(face.track.id, face.crop, face.original, face.edited, crop_landmarks, face.mesh_flow)
            filt = self._filters.get(face.track.id) or OneEuroFilter(self.min_cutoff, self.beta, dtype=np.float32)
            seen[face.track.id] = filt
            # with the outline, every edit on the turn's canvas, so the smoothing sees one shape per face
            pad = max(edit.pad, turn_pad(face.original.shape[0])) if self.outline else edit.pad
            # smoothed over time, but what covers the face now is held now (a hand moving over the mouth is not
            # bent or painted for the frames the smoothing takes to follow it)
            layers = edit.unheld(filt(edit.stacked(pad), t))
            blend_layers(frame, layers, face.frame_to_crop, face.track.landmarks,
                         self.work_factor * face.original.shape[0], self.margin_for(face.mesh_flow), pad)
            self._drawn[face.track.id] = (layers, pad)
        self._filters = seen
        self._drawn = {k: v for k, v in self._drawn.items() if k in seen}
        self._keeps = {k: v for k, v in self._keeps.items() if k in seen}
        self.occluders.forget_except(set(seen))

    def keep_of(self, face_id: int) -> np.ndarray | None:
        """(S,S) in [0, 1] over the face's crop: where the last blend judged it uncovered (None: not judged)."""
        return self._keeps.get(face_id)

    def follow(self, face_id: int, frame_to_crop: np.ndarray, points: np.ndarray, rounds: int = 6) -> np.ndarray:
        """(n, 2) frame points of the camera's face → where the last blend moved them in its output (a head turn,
        a nod, a smile): each is the output pixel y that samples it, y + move(y) = point, found by fixed-point
        rounds on the blended layers' flow (it is smooth, and smaller than the face)."""
        last = self._drawn.get(face_id)
        if last is None:
            return points
        layers, pad = last
        moves = np.ascontiguousarray(layers[..., :2] * layers[..., 6:7])
        target = apply_affine(frame_to_crop, points[:, :2]).astype(np.float32) + pad
        at = target.copy()
        for _ in range(rounds):
            step = cv2.remap(moves, at[:, :1], at[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[:, 0]
            at = target - step
        return apply_affine(cv2.invertAffineTransform(frame_to_crop.astype(np.float64)), at - pad)
