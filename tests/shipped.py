"""Facts of the shipped default profile that tests need: read from its files, never restated."""
from __future__ import annotations

from pathlib import Path

from engines.checkpoint import read_header

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO / "models/default/generator.safetensors"
LATENT = read_header(GENERATOR).latent_shape[0]  # the latent width of the shipped generator
