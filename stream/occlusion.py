"""Where something covers the face, so the edit is faded there and nothing is painted on a hand or a cup.

Two cues, in the face-aligned crop (the same crop pixel is the same point of the face in every frame):

- departure from the face's own look: a per-face memory of each crop pixel's colour and of how much it
  usually changes (talking, blinking, small turns), updated only where the face is not judged covered. A pixel
  far further from its memory than it usually moves is covered, and so are the pixels joined to such a blob
  that depart a little (a hand the colour of the face departs far only at its edges and creases). It needs
  WARM_FRAMES of the face first.
- disagreement with the re-rendered face G(w), far more than the inversion's usual error there. It works from
  a face's first frame, but only on what the encoder cannot draw: a real-face encoder reconstructs a cup too.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from stream.blending import match_colours, warp_by_flow
from stream.landmark_flow import FLOW_POINTS, spline_on_grid

# Disagreement with G(w) in multiples of the face's usual disagreement: below LOW nothing is covered, above HIGH all.
LOW, HIGH = 1.5, 2.3
# Departure from the memory in multiples of the pixel's usual change plus FLOOR (Lab units, camera noise and
# compression): below DEPART_LOW nothing is covered, above DEPART_HIGH all. On real talking and smiling clips 99 %
# of the face stays under 2.8 (a cup: 8–11); what goes past is thin (teeth), and keep_from opens that away.
DEPART_LOW, DEPART_HIGH = 2.5, 4.0
FLOOR = 4.0
# A hand the colour of the face departs from the memory only a little inside (a pink fist over a pink cheek: 1–2),
# far at its edges and creases. What is joined to a surely covered blob and departs past GROW is covered too. It
# needs a sure blob to start from: a smile alone grows nothing (the smiling clip's face: p99 0.4–1.0).
GROW = 1.2
# … at most this many pixels (at WORK_SIDE) from the sure blob: the face beside a hand departs 2–3 while the hand is
# there, and without a reach it is flooded (steady_face with a fist keeps 0.82–0.84 of its edit instead of 0.89).
GROW_REACH = 8
WARM_FRAMES = 5  # frames of a face before its memory is trusted; until then only G(w) judges
RATE = 0.08  # memory update per frame where the face is seen (a time constant of about 12 frames)
# Where it is judged covered the memory stays as it was, for HOLD_FRAMES; then it learns again: what stays that
# long (a face change mistaken for an occluder, a lamp lit on one side, or a hand held still) becomes the face.
HOLD_FRAMES = 60
# The memory lives on the face's shape when it was first seen: each frame is warped onto it through the face mesh's
# landmarks (a thin-plate spline through every other point of the contours and nose), so a smile or a turn that
# moves the cheeks is not a departure (a broad smile otherwise judged 15 % of the crop covered, and the warp held
# it still under a head turn: a torn cheek), while a hand, which the mesh does not follow, still is.
SHAPE_POINTS = FLOW_POINTS[::2]
SHAPE_CELLS = 8  # the spline is evaluated on this many cells a side and upsampled (0.12 ms a spline, not 0.23 at 16)
WORK_SIDE = 64  # larger crops are judged shrunk to this: an occluder is a blob, and the cost stays a crop's at 64 px


def disagreement(camera: np.ndarray, render: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(S,S) per-pixel colour distance between the camera crop and G(w) (both BGR 0…255), after matching
    the render's colours to the camera's and blurring both a little (texture the generator cannot draw
    is not an occluder)."""
    size = camera.shape[0]
    sigma = max(1.0, size / 20)  # coarse: the renders' missing detail (eyes, lashes) must not count
    cam = cv2.GaussianBlur(camera.astype(np.float32), (0, 0), sigma)
    ren = cv2.GaussianBlur(match_colours(render, camera, mask), (0, 0), sigma)
    return length(cam - ren)


def length(vectors: np.ndarray) -> np.ndarray:
    """(S,S) Euclidean length of (S,S,3) float32 vectors (cv2 sums the channels 15× faster than numpy)."""
    return cv2.sqrt(cv2.transform(vectors * vectors, np.ones((1, 3), np.float32)))


def covered_by_disagreement(dist: np.ndarray, mask: np.ndarray, usual: np.ndarray | None) -> np.ndarray:
    """(S,S) in [0, 1], how covered each pixel of the face's hull `mask` is by G(w)'s disagreement `dist`, against
    the face's median disagreement and its usual one per pixel (None: the median only). Off the hull it says
    nothing: the render never draws what is behind the face (a door's edge beside a cheek read as a cover there,
    and a head turn then held the cheek still)."""
    typical = float(np.median(dist[mask > 0.5]))
    typical = np.maximum(usual, typical) if usual is not None else typical
    ratio = dist / (typical + 4.0)  # +4: a perfect inversion must not make noise an occluder
    return np.clip((ratio - LOW) / (HIGH - LOW), 0.0, 1.0) * (mask > 0.5)


def face_colours(camera: np.ndarray) -> np.ndarray:
    """(S,S,3) float32 Lab of the camera crop (BGR uint8), blurred by a pixel at 64 px so that a sub-pixel
    wobble of the alignment is not a change."""
    sigma = max(1.0, camera.shape[0] / 64)
    return cv2.cvtColor(cv2.GaussianBlur(camera.astype(np.float32) * (1 / 255), (0, 0), sigma), cv2.COLOR_BGR2Lab)


def departure(colours: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(S,S) Lab distance of each pixel from its remembered colour, less the face-wide median change (a
    lighting or exposure change moves the whole face; an occluder moves a part)."""
    diff = colours - reference
    # every other row and column: the same median at half the cost
    diff -= np.median(diff[::2, ::2][mask[::2, ::2] > 0.5], axis=0)
    return length(diff)


def covered_by_departure(ratio: np.ndarray) -> np.ndarray:
    """(S,S) in [0, 1], how covered each pixel is by its departure over its usual change (`ratio`, departure_ratio)."""
    return np.clip((ratio - DEPART_LOW) / (DEPART_HIGH - DEPART_LOW), 0.0, 1.0)


def departure_ratio(depart: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """(S,S) each pixel's departure against its usual change `spread`, plus FLOOR of camera noise."""
    return depart / (spread + FLOOR)


def blob_kernel(size: int) -> np.ndarray:
    """The ellipse an occluder must hold in an (S,S) crop to be a blob, not a speckle (its opening's kernel)."""
    k = max(3, (size // 16) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def grow_covered(covered: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(S,S) in [0, 1]: `covered`, and fully covered where a pixel departs past GROW (`ratio`: departure over the
    pixel's usual change) and is connected through such pixels to a blob surely covered (covered = 1 after the
    opening keep_from does: a blob, not a speckle)."""
    size = covered.shape[0]
    seeds = cv2.morphologyEx((covered >= 1.0).astype(np.uint8), cv2.MORPH_OPEN, blob_kernel(size))
    if not seeds.any():
        return covered
    allowed = (ratio > GROW).astype(np.uint8)
    grown = seeds & allowed
    step = np.ones((3, 3), np.uint8)
    for _ in range(max(1, GROW_REACH * size // WORK_SIDE)):  # seeds flooded through the allowed pixels
        more = cv2.dilate(grown, step) & allowed
        if np.array_equal(more, grown):
            break
        grown = more
    return np.maximum(covered, grown.astype(np.float32))


def keep_from(covered: np.ndarray) -> np.ndarray:
    """(S,S) in [0, 1]: 1 where the edit may show. An occluder is a blob, not a speckle: isolated pixels are
    opened away, then the blobs grow and their edge softens."""
    kernel = blob_kernel(covered.shape[0])
    covered = cv2.morphologyEx(covered, cv2.MORPH_OPEN, kernel)
    covered = cv2.dilate(covered, kernel)
    covered = cv2.GaussianBlur(covered, (0, 0), kernel.shape[0] / 2)
    return np.clip(1.0 - 2.5 * covered, 0.0, 1.0).astype(np.float32)


@dataclass
class FaceMemory:
    """One face's running references in crop space: G(w)'s usual disagreement (S,S), the remembered Lab
    colour (S,S,3) and usual change (S,S) of each pixel, for how many frames each pixel has been covered,
    and how many frames built them."""

    usual: np.ndarray
    colours: np.ndarray
    spread: np.ndarray
    covered_for: np.ndarray
    frames: int = 1
    shape: np.ndarray | None = None  # (n, 2) the landmarks (SHAPE_POINTS) the memory's pixels sit on


class OcclusionTracker:
    """Per face id, a FaceMemory; `keep` judges one frame of the face and updates its memory where the face
    was seen, or covered for longer than HOLD_FRAMES."""

    def __init__(self):
        self._memory: dict[int, FaceMemory] = {}

    def keep(self, face_id: int, camera: np.ndarray, render: np.ndarray, mask: np.ndarray,
             points: np.ndarray | None = None) -> np.ndarray:
        """(S,S) in [0, 1]: 1 where the edit may show, 0 where the face is covered. `camera` is the aligned
        BGR uint8 crop, `render` G(w) in [-1, 1], `mask` the face's hull in the crop, `points` (468+, 2) the face
        mesh's landmarks in crop px (None: judged where the pixels are, as if the face never changed shape)."""
        size = mask.shape[0]
        if size > WORK_SIDE:
            camera, render, mask = (cv2.resize(a, (WORK_SIDE, WORK_SIDE), interpolation=cv2.INTER_AREA)
                                    for a in (camera, render, mask))
            points = None if points is None else points * (WORK_SIDE / size)
        keep = self._on_shape(face_id, camera, render, mask, points)
        return keep if size <= WORK_SIDE else cv2.resize(keep, (size, size), interpolation=cv2.INTER_LINEAR)

    def _on_shape(self, face_id: int, camera: np.ndarray, render: np.ndarray, mask: np.ndarray,
                  points: np.ndarray | None) -> np.ndarray:
        """_keep on the memory's shape: the crop warped onto the landmarks the memory was started on, and the
        keep warped back."""
        memory = self._memory.get(face_id)
        if points is None or memory is None or memory.shape is None:
            keep = self._keep(face_id, camera, render, mask)
            if points is not None and face_id in self._memory:
                self._memory[face_id].shape = points[SHAPE_POINTS, :2].astype(np.float64)
            return keep
        here = points[SHAPE_POINTS, :2].astype(np.float64)
        # memory pixel x shows the crop's x + flow
        to_memory = spline_on_grid(memory.shape, here, mask.shape[0], SHAPE_CELLS)
        camera, render, mask = (warp_by_flow(a, to_memory) for a in (camera, render, mask))
        keep = self._keep(face_id, camera, render, mask)
        # back onto the crop by the inverse move, to first order: the crop's y shows memory pixel y − f(y − f(y))
        return warp_by_flow(keep, -warp_by_flow(to_memory, -to_memory))

    def _keep(self, face_id: int, camera: np.ndarray, render: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if np.count_nonzero(mask > 0.5) < 16:
            return np.ones(mask.shape, np.float32)
        dist = disagreement(camera, (render + 1.0) * 127.5, mask)
        colours = face_colours(camera)
        memory = self._memory.get(face_id)
        if memory is None:
            self._memory[face_id] = FaceMemory(dist, colours, np.zeros(mask.shape, np.float32),
                                               np.zeros(mask.shape, np.int32))
            return keep_from(covered_by_disagreement(dist, mask, None))
        covered = covered_by_disagreement(dist, mask, memory.usual)
        depart = departure(colours, memory.colours, mask)
        if memory.frames >= WARM_FRAMES:
            ratio = departure_ratio(depart, memory.spread)
            covered = grow_covered(np.maximum(covered, covered_by_departure(ratio)), ratio)
        keep = keep_from(covered)
        seen = keep > 0.9
        memory.covered_for = np.where(seen, 0, memory.covered_for + 1)
        rate = RATE * (seen | (memory.covered_for > HOLD_FRAMES)).astype(np.float32)
        memory.usual += rate * (dist - memory.usual)
        memory.colours += rate[..., None] * (colours - memory.colours)
        memory.spread += rate * (depart - memory.spread)
        memory.frames += 1
        return keep

    def forget_except(self, ids: set[int]) -> None:
        self._memory = {k: v for k, v in self._memory.items() if k in ids}
