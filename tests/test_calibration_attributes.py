"""The gate's attribute check with the real labeller on real generator edits (the training's linear directions):
a path that still reaches the float path's change passes, one whose edits no longer move the face is refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from calibration.calibrate import label_stds
from calibration.config import CalibrationConfig
from calibration.dataset import to_crops
from calibration.gate import Figures, PathResult, attribute_ratios, edit_signs, judge
from project import ATTRIBUTES
from training.rendering import load_generator
from shipped import LATENT

REPO = Path(__file__).resolve().parents[1]
DIRECTIONS = REPO / "models/default/directions.safetensors"
REGRESSOR = REPO / "models/default/regressor.safetensors"
STEP = 4.0  # along a unit direction in a 100-d latent whose norm is about 10


@pytest.fixture(scope="module")
def edits():
    if not DIRECTIONS.is_file() or not REGRESSOR.is_file():
        pytest.skip("linear directions / regressor not trained yet (python run.py train)")
    from recognisers.labeller import FaceLabeller
    from training.linear import load_directions

    torch.set_num_threads(1)
    generator = load_generator(REPO / "models/default/generator.safetensors")
    directions = torch.from_numpy(load_directions(DIRECTIONS))
    latents = torch.randn(8, LATENT, generator=torch.Generator().manual_seed(3))
    signs = torch.from_numpy(edit_signs(8))[:, None]

    def path(step: float) -> PathResult:
        with torch.no_grad():
            moved = [generator(latents + step * signs * directions[a]).numpy() for a in range(len(ATTRIBUTES))]
            return PathResult(latents.numpy(), generator(latents).numpy(), np.stack(moved))

    labeller = FaceLabeller()
    stds = label_stds(REGRESSOR)

    def label(images: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v / stds.get(k, 1.0) for k, v in labeller.label(to_crops(images)).items()}

    return path(STEP), path(STEP * 0.3), path(0.0), label


def test_the_same_edits_reach_all_of_the_change(edits):
    reference, _, _, label = edits
    ratios = attribute_ratios(reference, reference, ATTRIBUTES, label)
    counted = {k: v for k, v in ratios.items() if v is not None}
    assert "yaw" in counted  # head turn moves the landmarks far more than 0.25 std
    assert all(v == pytest.approx(1.0) for v in counted.values())


def test_weakened_or_lost_edits_are_refused(edits):
    reference, weak, frozen, label = edits
    cfg = CalibrationConfig()
    for candidate in (weak, frozen):
        ratios = attribute_ratios(candidate, reference, ATTRIBUTES, label)
        worst = min(v for v in ratios.values() if v is not None)
        figures = Figures(8, 40.0, 38.0, None, 0.99, worst, ratios)
        verdict = judge("generator", figures, cfg, DIRECTIONS)
        assert not verdict.passed and verdict.failures[0].startswith("attribute change reached")
    assert max(abs(v) for v in attribute_ratios(frozen, reference, ATTRIBUTES, label).values() if v is not None) < 0.2
