"""L2L against linear directions at matched target change, measured by the real recognisers on renders."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engines.dcgan import DCGANGenerator
from engines.mapper import L2LMapper
from project import ATTRIBUTES
from training.config import EvalConfig
from training.dataset import FACE_KEY
from training.rendering import render, to_uint8

Labeller = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass
class Faces:
    """The faces an evaluation edits: latents, renders, standardised labels, face embeddings."""

    latents: torch.Tensor
    images: torch.Tensor
    labels: dict[str, np.ndarray]
    found: np.ndarray
    embeddings: torch.Tensor


@dataclass
class Standardiser:
    """Raw recogniser labels → standard deviations of the training renders (the Δ unit)."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    def __call__(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {n: (np.asarray(raw[n], np.float64) - m) / s for n, m, s in zip(self.names, self.mean, self.std)}


def observe(
    generator: DCGANGenerator, labeller: Labeller, embedder: torch.nn.Module, std: Standardiser, latents: torch.Tensor
) -> Faces:
    """Render, label and embed a batch of latents."""
    images = render(generator, latents)
    raw = labeller(to_uint8(images))
    with torch.no_grad():
        embeddings = torch.cat([embedder(images[i : i + 64]) for i in range(0, len(images), 64)])
    return Faces(latents, images, std(raw), np.asarray(raw[FACE_KEY]) > 0.5, embeddings)


def measure(base: Faces, edit: Faces, attribute: str, signs: np.ndarray) -> dict[str, float]:
    """Target change (signed, in std), identity cosine, and the mean |change| of the other attributes."""
    ok = base.found & edit.found
    for name in ATTRIBUTES:
        ok &= np.isfinite(base.labels[name]) & np.isfinite(edit.labels[name])
    change = {n: edit.labels[n][ok] - base.labels[n][ok] for n in base.labels}
    others = {n: float(np.mean(np.abs(change[n]))) for n in ATTRIBUTES if n != attribute}
    untouched = [n for n in base.labels if n not in ATTRIBUTES and np.isfinite(change[n]).all()]
    return {
        "target": float(np.mean(signs[ok] * change[attribute])),
        "identity": float(F.cosine_similarity(edit.embeddings, base.embeddings, dim=1).mean()),
        "others": float(np.mean(list(others.values()))),
        "others_each": {n: round(v, 4) for n, v in others.items()},
        "non_edit_labels": {n: round(float(np.mean(np.abs(change[n]))), 4) for n in untouched},
        "faces_measured": int(ok.sum()),
    }


def match_linear_step(
    reach: Callable[[float], float], wanted: float, iterations: int = 8, ceiling: float = 16.0
) -> float:
    """The step along a direction whose measured target change equals `wanted` (doubling, then bisection)."""
    if wanted <= 0:
        return 0.0
    low, high = 0.0, 1.0
    while reach(high) < wanted and high < ceiling:
        low, high = high, high * 2
    for _ in range(iterations):
        mid = (low + high) / 2
        low, high = (mid, high) if reach(mid) < wanted else (low, mid)
    return (low + high) / 2


def evaluate(
    generator: DCGANGenerator,
    mapper: L2LMapper,
    directions: np.ndarray,
    labeller: Labeller,
    embedder: torch.nn.Module,
    std: Standardiser,
    cfg: EvalConfig,
    judge: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[dict, dict]:
    """The comparison table and, for the grids, the edited latents of every attribute and method.

    `judge` (uint8 (N,H,W,3) renders → (N,128) descriptors, e.g. dlib's, which no training used) gives each
    method's identity as the mean descriptor distance over the first cfg.judge_faces faces."""
    rng = torch.Generator().manual_seed(cfg.seed)
    candidates = torch.randn(cfg.faces * 2, generator.latent_dim, generator=rng)
    probe = observe(generator, labeller, embedder, std, candidates)
    complete = probe.found.copy()
    for name in ATTRIBUTES:
        complete &= np.isfinite(probe.labels[name])
    base = observe(generator, labeller, embedder, std, candidates[np.flatnonzero(complete)[: cfg.faces]])
    judged = slice(0, cfg.judge_faces)
    base_descriptors = judge(to_uint8(base.images[judged])) if judge is not None else None

    def judge_distance(edited: Faces) -> float | None:
        if judge is None:
            return None
        d = np.linalg.norm(judge(to_uint8(edited.images[judged])) - base_descriptors, axis=1)
        return round(float(np.nanmean(d)), 4) if np.isfinite(d).any() else None

    table: dict[str, dict] = {}
    edits: dict[str, dict[str, torch.Tensor]] = {}
    cycles = []
    for k, name in enumerate(tqdm(ATTRIBUTES, desc="eval (attributes)", dynamic_ncols=True)):
        # Push each face away from where it is, so a saturated attribute (glasses on) is edited the possible way.
        signs = np.where(base.labels[name] > 0, -1.0, 1.0)
        delta = torch.zeros(len(base.latents), len(ATTRIBUTES))
        delta[:, k] = torch.from_numpy(signs).float() * cfg.magnitude
        with torch.no_grad():
            l2l = mapper(base.latents, delta)
            cycles.append((mapper(l2l, -delta) - base.latents).norm(dim=1).mean().item())
        l2l_faces = observe(generator, labeller, embedder, std, l2l)
        l2l_result = measure(base, l2l_faces, name, signs)
        direction = torch.from_numpy(directions[k])[None] * torch.from_numpy(signs).float()[:, None]

        def reach(step: float) -> float:
            edit = observe(generator, labeller, embedder, std, base.latents + step * direction)
            return measure(base, edit, name, signs)["target"]

        step = match_linear_step(reach, l2l_result["target"], cfg.match_iterations)
        linear = base.latents + step * direction
        linear_faces = observe(generator, labeller, embedder, std, linear)
        linear_result = measure(base, linear_faces, name, signs)
        l2l_result["latent_step"] = float((l2l - base.latents).norm(dim=1).mean())
        linear_result["latent_step"] = step
        l2l_result["identity_judge"] = judge_distance(l2l_faces)
        linear_result["identity_judge"] = judge_distance(linear_faces)
        # Matched when the two target changes agree within 10 % (or 0.05 std for tiny changes).
        gap = abs(linear_result["target"] - l2l_result["target"])
        linear_result["matched"] = bool(gap <= max(0.1 * abs(l2l_result["target"]), 0.05))
        table[name] = {"l2l": l2l_result, "linear": linear_result}
        edits[name] = {"l2l": l2l, "linear": linear}
    with torch.no_grad():
        zero = mapper(base.latents, torch.zeros(len(base.latents), len(ATTRIBUTES)))
    zero_faces = observe(generator, labeller, embedder, std, zero)
    result = {
        "attributes": table,
        "identity_at_zero": float((zero - base.latents).norm(dim=1).mean()),
        "identity_at_zero_cosine": float(F.cosine_similarity(zero_faces.embeddings, base.embeddings, dim=1).mean()),
        "cycle_error": float(np.mean(cycles)),
        "latent_norm": float(base.latents.norm(dim=1).mean()),
        "faces": len(base.latents),
        "magnitude": cfg.magnitude,
        "seed": cfg.seed,
    }
    edits["original"] = {"latents": base.latents}
    return result, edits


def summary_rows(result: dict) -> list[dict]:
    """One row per attribute and method, for the CSV and the Markdown table."""
    rows = []
    for name, methods in result["attributes"].items():
        for method, m in methods.items():
            rows.append({"attribute": name, "method": method, "target": m["target"], "identity": m["identity"],
                         "identity_dlib": m.get("identity_judge"),
                         "others": m["others"], "latent_step": m["latent_step"], "faces": m["faces_measured"]})
    return rows


def markdown_table(result: dict) -> str:
    """The table of the model card: matched target change, identity kept, other attributes moved."""
    lines = [
        "| attribute | target change L2L / linear (std) | dlib distance L2L / linear | MobileFace cos L2L / linear "
        "| others L2L / linear |",
        "|---|---|---|---|---|",
    ]
    judged = lambda m: "–" if m.get("identity_judge") is None else f"{m['identity_judge']:.3f}"  # noqa: E731
    for name, m in result["attributes"].items():
        a, b = m["l2l"], m["linear"]
        lines.append(f"| {name} | {a['target']:.3f} / {b['target']:.3f} | {judged(a)} / {judged(b)} "
                     f"| {a['identity']:.3f} / {b['identity']:.3f} | {a['others']:.3f} / {b['others']:.3f} |")
    lines.append("")
    lines.append("dlib distance: 128-D descriptor of the edited vs the original render (no training used it; "
                 "< 0.6 = same person), on the first faces of each attribute; MobileFace is the training's embedder.")
    lines.append("")
    lines.append(f"f(w, 0) distance: {result['identity_at_zero']:.4f} (latent norm {result['latent_norm']:.2f}); "
                 f"identity cosine at Δ=0: {result['identity_at_zero_cosine']:.4f}; "
                 f"cycle error: {result['cycle_error']:.4f}; faces: {result['faces']}, "
                 f"L2L |Δ| = {result['magnitude']} std, seed {result['seed']}.")
    return "\n".join(lines) + "\n"
