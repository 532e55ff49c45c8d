"""Facts every layer shares: where the project lives, the attributes it edits, and its shipped demo clip."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
ATTRIBUTES = ("age", "gender", "beard", "glasses", "smile", "yaw", "bald", "pitch")  # the project's fixed Δ order
DEMO_CLIP = REPO_ROOT / "assets" / "demo_face.mp4"


def resolve_path(path: Path) -> Path:
    """A configured path: absolute as is; relative from the current directory if it exists there, else the repo root."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path
