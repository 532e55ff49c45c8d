"""FFHQ-style face alignment: eyes and mouth → an oriented square crop at the generator's size."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from errors import ConfigError, UserError
from project import resolve_path
from settings import Settings

# Face-mesh indices of the eye corners and mouth corners (image-left eye first for a frontal face).
EYE_A = (33, 133)
EYE_B = (362, 263)
MOUTH = (61, 291)


class AlignmentError(UserError, ValueError):
    """An alignment template file is unreadable or malformed."""


@dataclass(frozen=True)
class AlignmentTemplate:
    """Where the two eye centres and the mouth centre sit in the generator's renders, in crop pixels."""

    size: int
    points: np.ndarray  # (3, 2): eye_a, eye_b, mouth

    @classmethod
    def ffhq(cls, size: int) -> "AlignmentTemplate":
        """Where the FFHQ recipe puts a frontal face (eye distance ≈ eye-to-mouth distance): for StyleGAN2."""
        return cls(size=size, points=np.array([[0.375, 0.475], [0.625, 0.475], [0.5, 0.725]]) * size)

    @classmethod
    def load(cls, path: str | Path) -> "AlignmentTemplate":
        """Read a template file; AlignmentError names the file and what is wrong with it."""
        fix = "re-create it with scripts/make_alignment_template.py"
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise AlignmentError(f"alignment template {path}: cannot read it as JSON ({e}); {fix}") from None
        size = data.get("size") if isinstance(data, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 4096:
            raise AlignmentError(f"alignment template {path}: 'size' must be the generator's side in pixels; {fix}")
        try:
            points = np.asarray(data.get("points"), dtype=np.float64)
        except (TypeError, ValueError):
            points = np.zeros(0)
        if points.shape != (3, 2) or not np.isfinite(points).all() or points.min() < 0 or points.max() > size:
            raise AlignmentError(f"alignment template {path}: 'points' must be 3 [x, y] pairs (eyes, mouth) "
                                 f"inside the {size} px crop; {fix}")
        return cls(size=size, points=points)

    def save(self, path: str | Path, extra: dict | None = None) -> None:
        data = {"size": self.size, "points": self.points.round(3).tolist(), "order": ["eye_a", "eye_b", "mouth"]}
        Path(path).write_text(json.dumps({**data, **(extra or {})}, indent=2) + "\n")


def face_keypoints(landmarks: np.ndarray) -> np.ndarray:
    """(468, 2+) face-mesh landmarks in pixels → (3, 2) eye_a, eye_b and mouth centres."""
    pts = landmarks[:, :2]
    return np.stack([pts[list(EYE_A)].mean(0), pts[list(EYE_B)].mean(0), pts[list(MOUTH)].mean(0)])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation taking src points onto dst (Umeyama); 2×3."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    flip = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rot = u @ flip @ vt
    scale = np.trace(np.diag(sig) @ flip) / s.var(0).sum()
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine."""
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 2×3 affine."""
    return points @ m[:, :2].T + m[:, 2]


def align_face(frame: np.ndarray, keypoints: np.ndarray, template: AlignmentTemplate) -> tuple[np.ndarray, np.ndarray]:
    """Crop the face so its eyes and mouth land on the template; returns (crop, frame→crop affine)."""
    m = similarity_transform(keypoints, template.points)
    # warpAffine samples bilinearly, which aliases when shrinking; shrinking more than 2× goes through
    # a larger warp and an area resize instead.
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    factor = int(np.ceil(0.5 / scale)) if scale < 0.5 else 1
    big = template.size * factor
    up = m * factor
    crop = cv2.warpAffine(frame, up, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if factor > 1:
        crop = cv2.resize(crop, (template.size, template.size), interpolation=cv2.INTER_AREA)
    return crop, m


def alignment_template(settings: Settings, resolution: int) -> AlignmentTemplate:
    """The template that matches how the profile's generator frames its faces."""
    if settings.stream.alignment is not None:
        template = AlignmentTemplate.load(settings.stream.alignment)
    elif settings.engine.profile == "default":
        path = resolve_path(Path(settings.engine.generator)).with_name("alignment.json")
        if not path.is_file():
            raise ConfigError(f"{path} missing; run python scripts/make_alignment_template.py")
        template = AlignmentTemplate.load(path)
    else:
        template = AlignmentTemplate.ffhq(resolution)
    if template.size != resolution:
        raise ConfigError(f"alignment template is {template.size} px but the generator makes {resolution} px; "
                          "run scripts/make_alignment_template.py for this generator")
    return template
