"""The quality gate: an INT8 engine ships only if, on held-out real faces, its results stay close to the float ones.

Figures, each INT8 path against the float path (encoder → mapper → generator, one network swapped to INT8):
PSNR of the generated faces, cosine of the encoder latents, identity cosine of the generated faces, and the share
of the float path's asked attribute change the INT8 path still reaches. The verdict is written next to the INT8
file (engines/int8_verdict.py); the engines read it when they are built and fall back to float (saying so) when
it refused the file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from calibration.config import CalibrationConfig
from engines.engine import run_batched
from engines.int8_verdict import Verdict
from engines.onnx_export import file_sha256

Engine = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
MEANINGFUL_CHANGE = 0.25  # attributes the float path moves less than this (in std) cannot show a loss


def psnr_db(a: np.ndarray, b: np.ndarray, peak_to_peak: float = 2.0) -> np.ndarray:
    """Per-image PSNR in dB of two (N, …) batches of images in [-1, 1] (capped at 100 dB for identical images)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2, axis=tuple(range(1, a.ndim)))
    return np.minimum(10 * np.log10(peak_to_peak**2 / np.maximum(mse, 1e-12)), 100.0)


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows of two (N, …) arrays."""
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return np.sum(a * b, 1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


@dataclass
class PathResult:
    """What one encoder → mapper → generator path makes of the held-out faces."""

    latents: np.ndarray  # (M, D)
    originals: np.ndarray  # (M, 3, R, R) G(w)
    edits: np.ndarray  # (A, M, 3, R, R) G(f(w, ±m·e_a)) for every attribute a


def edit_signs(count: int) -> np.ndarray:
    """+1, −1, +1, …: half the faces are pushed each way, so a saturated attribute still shows change."""
    return np.where(np.arange(count) % 2 == 0, 1.0, -1.0).astype(np.float32)


def run_path(encoder: Engine, editor: Engine, images: np.ndarray, n_attributes: int, magnitude: float) -> PathResult:
    """Encode the images, then render each face unedited and with each attribute asked ±magnitude."""
    latents = run_batched(encoder, {"image": images})["latent"]
    signs = edit_signs(len(images))
    originals, edits = None, []
    for a in range(n_attributes):
        delta = np.zeros((len(images), n_attributes), np.float32)
        delta[:, a] = signs * magnitude
        out = run_batched(editor, {"latent": latents, "delta": delta})
        originals = out["original"] if originals is None else originals
        edits.append(out["edited"])
    return PathResult(latents, originals, np.stack(edits))


@dataclass
class Figures:
    """INT8 path vs float path on the held-out faces (None: not applicable or not measured, with the reason)."""

    faces: int
    psnr_db: float
    psnr_db_worst: float
    latent_cosine: float | None
    identity_cosine: float | None
    attribute_ratio: float | None
    attribute_ratio_each: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def compare(
    candidate: PathResult, reference: PathResult, attributes: tuple[str, ...], same_encoder: bool,
    embed: Callable[[np.ndarray], np.ndarray] | None, label: Callable[[np.ndarray], dict[str, np.ndarray]] | None,
) -> Figures:
    """The gate's figures for one INT8 path; `embed` (images → embeddings) and `label` (images → std-unit labels) may be None."""
    notes = []
    ours = np.concatenate([candidate.originals[None], candidate.edits]).reshape(-1, *candidate.originals.shape[1:])
    theirs = np.concatenate([reference.originals[None], reference.edits]).reshape(-1, *reference.originals.shape[1:])
    psnr = psnr_db(ours, theirs)
    latent = None if same_encoder else float(row_cosine(candidate.latents, reference.latents).mean())
    identity = None
    if embed is None:
        notes.append("identity not measured (no face embedder)")
    else:
        identity = float(row_cosine(embed(ours), embed(theirs)).mean())
    ratio, each = None, {}
    if label is None:
        notes.append("attribute change not measured (off, or no labeller)")
    else:
        each = attribute_ratios(candidate, reference, attributes, label)
        counted = [v for v in each.values() if v is not None]
        ratio = min(counted) if counted else None
        if not counted:
            notes.append(f"no attribute moved ≥ {MEANINGFUL_CHANGE} std on the float path, so none can show a loss")
    return Figures(len(candidate.latents), float(psnr.mean()), float(psnr.min()), latent, identity, ratio, each, notes)


def attribute_ratios(candidate: PathResult, reference: PathResult, attributes: tuple[str, ...], label) -> dict[str, float | None]:
    """Per attribute: the INT8 path's mean signed change over the float path's (None where the float change is too small)."""
    signs = edit_signs(len(candidate.latents)).astype(np.float64)
    out = {}
    base_c, base_r = label(candidate.originals), label(reference.originals)
    for a, name in enumerate(attributes):
        edit_c, edit_r = label(candidate.edits[a]), label(reference.edits[a])
        change_c = signs * (edit_c[name] - base_c[name])
        change_r = signs * (edit_r[name] - base_r[name])
        ok = np.isfinite(change_c) & np.isfinite(change_r)
        reached = float(change_r[ok].mean()) if ok.any() else 0.0
        out[name] = round(float(change_c[ok].mean()) / reached, 4) if reached >= MEANINGFUL_CHANGE else None
    return out


def judge(network: str, figures: Figures, cfg: CalibrationConfig, int8_file: Path) -> Verdict:
    """Compare the figures with the thresholds in the config; every failure is named with its numbers."""
    failures = []
    if figures.psnr_db < cfg.min_psnr_db:
        failures.append(f"PSNR {figures.psnr_db:.2f} dB < {cfg.min_psnr_db}")
    if figures.latent_cosine is not None and figures.latent_cosine < cfg.min_latent_cosine:
        failures.append(f"latent cosine {figures.latent_cosine:.4f} < {cfg.min_latent_cosine}")
    if figures.identity_cosine is not None and figures.identity_cosine < cfg.min_identity_cosine:
        failures.append(f"identity cosine {figures.identity_cosine:.4f} < {cfg.min_identity_cosine}")
    if cfg.min_attribute_ratio > 0 and figures.attribute_ratio is not None and figures.attribute_ratio < cfg.min_attribute_ratio:
        worst = min((k for k, v in figures.attribute_ratio_each.items() if v is not None), key=lambda k: figures.attribute_ratio_each[k])
        failures.append(f"attribute change reached {figures.attribute_ratio:.3f} < {cfg.min_attribute_ratio} ({worst})")
    thresholds = {k: getattr(cfg, k) for k in ("min_psnr_db", "min_latent_cosine", "min_identity_cosine", "min_attribute_ratio")}
    return Verdict(network, not failures, failures, asdict(figures), file_sha256(int8_file), thresholds)
