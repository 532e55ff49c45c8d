"""The quality gate's verdict on one INT8 file, stored beside it: written by `run.py calibrate`, read when engines
are built (`int8_or_float`) and by the bench (`gate_state`). A verdict holds only for the exact file it judged."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from calibration.config import QUANTISABLE
from engines.onnx_export import file_sha256, int8_path


@dataclass
class Verdict:
    network: str
    passed: bool
    failures: list[str]
    figures: dict
    int8_sha256: str
    thresholds: dict

    def line(self) -> str:
        f = self.figures
        parts = [f"PSNR {f['psnr_db']:.1f} dB (worst {f['psnr_db_worst']:.1f})"]
        for key, label in (("latent_cosine", "latent cos"), ("identity_cosine", "identity cos"), ("attribute_ratio", "attribute reached")):
            if f.get(key) is not None:
                parts.append(f"{label} {f[key]:.3f}")
        state = "passed" if self.passed else "REFUSED: " + "; ".join(self.failures)
        return f"{self.network}: {', '.join(parts)} → {state}"


def verdict_path(int8_file: Path) -> Path:
    return Path(int8_file).with_name(Path(int8_file).name + ".gate.json")


def save_verdict(verdict: Verdict, int8_file: Path) -> Path:
    path = verdict_path(int8_file)
    path.write_text(json.dumps(asdict(verdict), indent=1) + "\n")
    return path


def load_verdict(int8_file: Path) -> Verdict | None:
    """The gate's verdict on this exact INT8 file, or None when there is none (or it judged another file)."""
    path = verdict_path(int8_file)
    if not path.is_file() or not Path(int8_file).is_file():
        return None
    try:
        verdict = Verdict(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    return verdict if verdict.int8_sha256 == file_sha256(int8_file) else None


def gate_state(int8_file: Path) -> str:
    """One phrase for reports: what the gate said about this INT8 file."""
    verdict = load_verdict(int8_file)
    if verdict is None:
        return "not judged by the quality gate"
    return "gate passed" if verdict.passed else "gate refused: " + "; ".join(verdict.failures)


def int8_or_float(name: str, onnx_path: Path, say: Callable[[str], None] = print) -> str:
    """The ORT backend to run `name` on when INT8 is asked: "ort-int8" if the gate passed this INT8 file, else "ort".

    A fallback is said in one line, with the gate's figures when it refused. Networks the gate does not judge
    (the mapper alone) run a present INT8 file as before."""
    q = int8_path(onnx_path)
    if name not in QUANTISABLE:
        if not q.is_file():
            return "ort"
        say(f"engine: {name}: INT8 model {q.name} is outside the quality gate's networks; running it unjudged")
        return "ort-int8"
    if not q.is_file():
        say(f"engine: {name}: no INT8 model at {q}; running float (run `python run.py calibrate`)")
        return "ort"
    verdict = load_verdict(q)
    if verdict is None:
        say(f"engine: {name}: INT8 model not judged by the quality gate; running float (run `python run.py calibrate`)")
        return "ort"
    if not verdict.passed:
        say(f"engine: {name}: INT8 refused by the quality gate ({'; '.join(verdict.failures)}); running float")
        return "ort"
    return "ort-int8"
