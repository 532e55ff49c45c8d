"""A dense flow G(w) → G(w′) from the face-mesh landmarks of the two renders.

Optical flow between two blurry 64-px renders finds about a fifth of a head turn (docs/eval/video/README.md,
"yaw"); the face mesh finds all of it. The mesh runs on both renders (mediapipe in tracking mode: the renders
are aligned crops, so the face is where it was and the detector need not run again). The mesh's landmarks
shift with the region it is run on (by ~0.4 render px, as much as a small edit moves them), so both renders
are read on the same region (RenderMesher.pair). A thin-plate spline
through the landmark displacements of the face's contours and nose, evaluated on a coarse grid and upsampled,
gives the displacement of every crop pixel. `weight` says where the mesh backs it: 1 over the face and a band
around it, fading to 0 beyond, where the caller's optical flow takes over.

Edits the warp draws as geometry (stream.geometric_edit: a head turn, a smile) ride on the same mesh: MeshFlow
carries their `pose` flow.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np
from scipy.interpolate import RBFInterpolator

from stream.blending import hull_raster
from stream.landmark_wire import landmark_xyz

fm = mp.solutions.face_mesh
# the face's outline, eyes, brows, lips and nose: what moves when the head turns or the mouth moves
FLOW_POINTS = np.array(sorted({i for edge in fm.FACEMESH_CONTOURS | fm.FACEMESH_NOSE for i in edge}))
OVAL = np.array(sorted({i for edge in fm.FACEMESH_FACE_OVAL for i in edge}))
GRID = 16  # the spline is evaluated on GRID × GRID points over the crop, then upsampled
SMOOTHING = 0.1  # thin-plate smoothing: a little, so a landmark's jitter does not ripple the face
SUPPORT = 0.08  # the mesh's flow is trusted this fraction of the face width beyond its hull


@dataclass
class MeshFlow:
    """flow (S,S,2) crop px with edited(x) ≈ original(x + flow(x)), and weight (S,S) in [0, 1]. For a head
    turn or smile (stream.geometric_edit), pose (C,C,2) on the padded canvas (turn_pad(S) px more each side): the turned
    face(x) ≈ edited(x + pose(x))."""

    flow: np.ndarray
    weight: np.ndarray
    points: np.ndarray | None = None  # (468, 3) the edited render's landmarks
    pose: np.ndarray | None = None


class RenderMesher:
    """Face-mesh landmarks of renders (BGR float in [-1, 1]), in the render's pixels; one per stream."""

    def __init__(self, pad: float = 0.5):
        self.pad = pad  # renders fill the frame; the mesh finds them more reliably with a border
        self._mesh = fm.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False,
                                 min_detection_confidence=0.3, min_tracking_confidence=0.3)

    def __call__(self, render: np.ndarray) -> np.ndarray | None:
        """(468, 3) landmarks in render px (depth on the x scale, origin at the head's centre, + away from the
        camera), or None where the mesh finds no face."""
        size = render.shape[0]
        p = int(round(self.pad * size))
        image = cv2.cvtColor(np.clip((render + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB)
        result = self._mesh.process(cv2.copyMakeBorder(image, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
        if not result.multi_face_landmarks:
            return None
        return landmark_xyz(result.multi_face_landmarks[0]) * (size + 2 * p) - np.array([p, p, 0])

    def pair(self, original: np.ndarray, edited: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks of G(w) and G(w′) read on the same region, or None when the mesh misses either: G(w)
        twice, the second time on the region its own landmarks give, then G(w′) on that region."""
        a = self(original)
        a = self(original) if a is not None else None
        b = self(edited) if a is not None else None
        return None if b is None else (a, b)

    def close(self) -> None:
        self._mesh.close()


def support_mask(points: np.ndarray, size: int, grow: float) -> np.ndarray:
    """(size, size) float32 in [0, 1]: 1 on the points' hull grown by `grow` × their width, fading to 0
    over as much again."""
    mask = hull_raster(points, size)
    radius = max(1, int(round(grow * float(np.ptp(points[:, 0])))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    mask = cv2.dilate(mask, kernel)
    return cv2.GaussianBlur(mask, (2 * radius + 1, 2 * radius + 1), radius / 2.0).astype(np.float32) / 255.0


def mesh_flow(original_points: np.ndarray, edited_points: np.ndarray, size: int) -> MeshFlow:
    """The dense flow that moves original_points onto edited_points: at each edited landmark the flow is
    original − edited (the warp samples the original there), a thin-plate spline in between."""
    src, dst = original_points[FLOW_POINTS, :2], edited_points[FLOW_POINTS, :2]
    return MeshFlow(spline_on_grid(dst, src, size, GRID), support_mask(dst, size, SUPPORT), edited_points)


def spline_on_grid(dst: np.ndarray, src: np.ndarray, side: int, cells: int) -> np.ndarray:
    """(side, side, 2) float32: the thin-plate spline through the moves dst → src (the flow samples src at dst),
    evaluated on a cells × cells grid and upsampled."""
    spline = RBFInterpolator(dst, src - dst, kernel="thin_plate_spline", smoothing=SMOOTHING)
    ticks = (np.arange(cells) + 0.5) * (side / cells) - 0.5  # cell centres on cv2.resize's pixel-centre convention
    gx, gy = np.meshgrid(ticks, ticks)
    coarse = spline(np.column_stack([gx.ravel(), gy.ravel()])).reshape(cells, cells, 2).astype(np.float32)
    return cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)


def polygon_mask(points: np.ndarray, side: int, feather: float = 0.0) -> np.ndarray:
    """(side, side) float32 in [0, 1]: the points' convex hull, antialiased, its edge blurred by `feather` px."""
    mask = hull_raster(points, side).astype(np.float32) / 255.0
    return cv2.GaussianBlur(mask, (0, 0), feather) if feather > 0 else mask


class MeshFlowMaker:
    """Per face: the mesh on G(w) and G(w′) and the flow between them, or None when the mesh misses either."""

    def __init__(self):
        self.mesher = RenderMesher()
        self.missed = 0  # faces whose renders the mesh missed (their blend falls back to optical flow)

    def __call__(self, original: np.ndarray, edited: np.ndarray) -> MeshFlow | None:
        points = self.mesher.pair(original, edited)
        if points is None:
            self.missed += 1
            return None
        return mesh_flow(*points, original.shape[0])

    def close(self) -> None:
        self.mesher.close()
