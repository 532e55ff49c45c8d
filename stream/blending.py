"""Putting an edited face back into the frame: inverse warp, feathered hull mask, colour match, composite.

The mask is drawn in the aligned crop (64 px for the default profile, so feathering costs nothing) and
warped back together with the edit in one call; only the face's bounding region of the frame is touched.
"""
from __future__ import annotations

import cv2
import numpy as np

from stream.alignment import apply_affine


def face_region(landmarks: np.ndarray, frame_shape: tuple[int, ...], margin: float = 0.05) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (exclusive) of the landmarks' box grown by a margin, clipped to the frame."""
    h, w = frame_shape[:2]
    (x0, y0), (x1, y1) = landmarks.min(0), landmarks.max(0)
    pad = margin * max(x1 - x0, y1 - y0) + 2
    return (max(0, int(x0 - pad)), max(0, int(y0 - pad)), min(w, int(np.ceil(x1 + pad))),
            min(h, int(np.ceil(y1 + pad))))


def in_frame(landmarks: np.ndarray, frame_shape: tuple[int, ...]) -> bool:
    """Whether any of the face's region lies inside the frame; a track can trail a face that just left it."""
    x0, y0, x1, y1 = face_region(landmarks, frame_shape)
    return x1 > x0 and y1 > y0


def hull_raster(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: the (x, y) points' convex hull, 255 inside, drawn at 4× and area-downsampled so its
    edge is antialiased."""
    scale = 4
    big = np.zeros((size * scale, size * scale), np.uint8)
    cv2.fillConvexPoly(big, cv2.convexHull(np.round(points[:, :2] * scale).astype(np.int32)), 255)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def crop_hull_mask(crop_landmarks: np.ndarray, size: int, feather: float) -> np.ndarray:
    """Float mask in [0, 1] over the crop: the landmark hull, shrunk by the feather radius then blurred,
    so it is zero on and outside the hull's edge (the edit never leaks past the face)."""
    mask = hull_raster(crop_landmarks, size)
    radius = max(1, int(round(feather * float(np.ptp(crop_landmarks[:, 0])))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    # one pixel more than the blur reaches, since the bilinear warp back spreads the edge by a pixel
    mask = cv2.erode(mask, kernel, iterations=1, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(mask, (2 * radius + 1, 2 * radius + 1), radius / 2.0).astype(np.float32) / 255.0


def warp_to_region(image: np.ndarray, frame_to_crop: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """Warp a crop-space image back into the frame region with the inverse of the frame→crop affine;
    what falls outside the crop becomes zero."""
    x0, y0, x1, y1 = region
    region_to_crop = frame_to_crop.astype(np.float64).copy()
    region_to_crop[:, 2] += region_to_crop[:, :2] @ (x0, y0)
    return cv2.warpAffine(image, region_to_crop, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def match_colours(source: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift and scale each channel of source so its masked mean and spread match the reference's."""
    inside = (mask > 0.5).astype(np.uint8)
    if cv2.countNonZero(inside) < 16:
        return source.astype(np.float32)
    # cv2.meanStdDev: five times faster than numpy's std over (N, 3) rows, the same statistics
    s_mean, s_std = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(source, mask=inside))
    r_mean, r_std = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(reference, mask=inside))
    return (source.astype(np.float32) - s_mean) * ((r_std + 1e-3) / (s_std + 1e-3)) + r_mean


def _warp_back(layer: np.ndarray, mask: np.ndarray, frame_to_crop: np.ndarray, landmarks: np.ndarray,
               frame_shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
    """Warp a crop-space BGR float layer and its mask back to the face region in one call."""
    region = face_region(landmarks, frame_shape)
    both = warp_to_region(np.dstack([layer.astype(np.float32), mask]), frame_to_crop, region)
    return region, both[..., :3], both[..., 3:]


def blend_delta(frame: np.ndarray, original: np.ndarray, edited: np.ndarray, frame_to_crop: np.ndarray,
                landmarks: np.ndarray, feather: float) -> None:
    """Add the upsampled difference G(w') − G(w) (BGR, [-1, 1]) to the camera's own face, in place."""
    if not in_frame(landmarks, frame.shape):
        return
    mask = crop_hull_mask(apply_affine(frame_to_crop, landmarks), original.shape[0], feather)
    (x0, y0, x1, y1), change, mask = _warp_back((edited - original) * 127.5, mask, frame_to_crop, landmarks, frame.shape)
    roi = frame[y0:y1, x0:x1]
    roi[:] = np.clip(roi + change * mask + 0.5, 0, 255).astype(np.uint8)  # +0.5: round, not truncate


def blend_replace(frame: np.ndarray, camera_crop: np.ndarray, edited: np.ndarray, frame_to_crop: np.ndarray,
                  landmarks: np.ndarray, feather: float, colour_match: bool) -> None:
    """Paste the render G(w') (BGR, [-1, 1]) over the face, colour matched to the camera's aligned crop
    (statistics taken at crop size, where they are cheap), in place."""
    if not in_frame(landmarks, frame.shape):
        return
    mask = crop_hull_mask(apply_affine(frame_to_crop, landmarks), edited.shape[0], feather)
    face = (edited + 1.0) * 127.5
    if colour_match:
        face = match_colours(face, camera_crop, mask)
    (x0, y0, x1, y1), face, mask = _warp_back(face, mask, frame_to_crop, landmarks, frame.shape)
    roi = frame[y0:y1, x0:x1]
    roi[:] = np.clip(roi + (face - roi) * mask + 0.5, 0, 255).astype(np.uint8)


def warp_by_flow(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image sampled at x + flow(x) (bilinear, edges replicated)."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
