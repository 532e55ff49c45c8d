"""Where built TensorRT engines live, keyed by everything that makes a build stale."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from engines.onnx_export import file_sha256


@dataclass(frozen=True)
class EngineKey:
    """An engine file is valid only for this ONNX graph, GPU model, TensorRT version and precision."""

    onnx_sha256: str
    gpu_name: str
    trt_version: str
    precision: str

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


class EngineCache:
    """Engine files `<name>-<precision>-<digest>.engine` with a JSON sidecar recording their key."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def key(self, onnx_path: str | Path, gpu_name: str, trt_version: str, precision: str) -> EngineKey:
        return EngineKey(file_sha256(onnx_path), gpu_name, trt_version, precision)

    def path(self, name: str, key: EngineKey) -> Path:
        safe = name.replace("+", "_")
        return self.root / f"{safe}-{key.precision}-{key.digest()}.engine"

    def lookup(self, name: str, key: EngineKey) -> Path | None:
        """The cached engine for this key, or None when absent or written for another key."""
        path = self.path(name, key)
        meta = path.with_suffix(".json")
        if not path.is_file() or not meta.is_file():
            return None
        try:
            return path if json.loads(meta.read_text()) == asdict(key) else None
        except ValueError:
            return None

    def store(self, name: str, key: EngineKey, blob: bytes) -> Path:
        """Write the engine, then its sidecar, and drop stale engines of the same network and precision."""
        path = self.path(name, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in self.root.glob(f"{path.name.rsplit('-', 1)[0]}-*.engine"):
            if old != path:
                old.unlink()
                old.with_suffix(".json").unlink(missing_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(asdict(key), indent=1))
        return path

    def timing_cache(self) -> Path:
        return self.root / "timing.cache"
