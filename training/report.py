"""`run.py eval` end to end: load the shipped networks, evaluate, write JSON, CSV, Markdown and grids."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from engines.checkpoint import load_network
from engines.mapper import L2LMapper
from training.config import TrainConfig
from training.evaluate import Standardiser, evaluate, markdown_table, summary_rows
from training.frozen import load_identity_embedder, load_labeller
from training.grids import write_grids
from training.linear import load_directions
from training.regressor import load_regressor
from training.rendering import load_generator


def load_mapper(path: Path) -> L2LMapper:
    """The shipped mapper in eval mode."""
    return load_network(L2LMapper, path, "l2l_mapper")[0]


def run_evaluation(cfg: TrainConfig, models: Path, out: Path, json_path: Path | None) -> list[Path]:
    """Evaluate the mapper in `models` against its linear directions; returns the files written."""
    template = models / "alignment.json"
    embedder = load_identity_embedder(template if template.is_file() else None)
    generator = load_generator(cfg.generator)
    mapper = load_mapper(models / "mapper.safetensors")
    directions = load_directions(models / "directions.safetensors")
    _, stats = load_regressor(models / "regressor.safetensors")
    standardise = Standardiser(stats["labels"], np.array(stats["label_mean"]), np.array(stats["label_std"]))
    labeller = load_labeller(cfg.labeller)
    from recognisers.dlib_identity import DlibIdentity

    judge = DlibIdentity().describe_crops if cfg.eval.judge_faces > 0 else None
    result, edits = evaluate(generator, mapper, directions, labeller.label, embedder, standardise, cfg.eval, judge)
    out.mkdir(parents=True, exist_ok=True)
    json_path = json_path or out / "eval.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(_rounded(result), indent=2) + "\n")
    rows = summary_rows(_rounded(result))
    csv_path = out / "eval.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    md_path = out / "eval.md"
    md_path.write_text(markdown_table(_rounded(result)))
    grids = write_grids(generator, edits, cfg.eval.grid_faces, out)
    return [json_path, csv_path, md_path, *grids]


def _rounded(value: object) -> object:
    """Four decimals everywhere, so a re-run prints the same table."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
