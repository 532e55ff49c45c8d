"""The TF.js graph interpreter against TensorFlow itself, on real faces, and its padding arithmetic."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recognisers.tfjs_graph import load_tfjs_graph, same_padding
from recognisers_faces import ROOT

# Inputs and outputs computed once by scripts/tfjs_reference_outputs.py: TensorFlow 2.17 running the original
# model.json graphs (fused ops unfused into TF's own Conv2D/DepthwiseConv2dNative/BiasAdd kernels) on an
# aligned astronaut crop, a generator render and an LFW face.
REFERENCE = ROOT / "tests/data/recognisers_tf_reference.npz"


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


def test_mobileface_matches_tensorflow(reference):
    graph, config = load_tfjs_graph(ROOT / "models/recognisers/mobileface.safetensors", "mobileface")
    x = torch.from_numpy(reference["rgb112"]).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        out = graph(x)[next(iter(config["outputs"].values()))].numpy()
    expected = reference["mobileface"]
    assert out.shape == expected.shape == (3, 256)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_emotion_matches_tensorflow(reference):
    graph, config = load_tfjs_graph(ROOT / "models/recognisers/emotion.safetensors", "emotion")
    grey = (reference["grey64"].astype(np.float32) / 255 - 0.5) * 2
    with torch.no_grad():
        out = graph(torch.from_numpy(grey)[:, None])[next(iter(config["outputs"].values()))].numpy()
    np.testing.assert_allclose(out, reference["emotion"], atol=1e-5)


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(112, 3, 2) == (0, 1)  # TF pads bottom/right only; symmetric padding shifts the grid
    assert same_padding(112, 3, 1) == (1, 1)
    assert same_padding(7, 7, 1) == (3, 3)
    assert same_padding(56, 1, 1) == (0, 0)


def test_wrong_model_name_is_one_clear_error():
    from engines.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="expected 'mobileface'"):
        load_tfjs_graph(ROOT / "models/recognisers/emotion.safetensors", "mobileface")
