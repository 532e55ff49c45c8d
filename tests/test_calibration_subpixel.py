"""The ConvTranspose → Conv + DepthToSpace rewrite is exact in float on the DCGAN layout, on other shapes, and
leaves the shipped StyleGAN2 generator (whose transposed convs are not sub-pixel shapes) unchanged."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from calibration.subpixel import phase_taps, subpixel_rewrite
from engines.config import EngineConfig
from engines.dcgan import DCGANGenerator
from engines.onnx_export import export_onnx
from engines.profiles import load_networks


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_phase_taps_of_the_dcgan_layer():
    # output 2i reads x[i-1]·w[3] + x[i]·w[1]; output 2i+1 reads x[i]·w[2] + x[i+1]·w[0]
    assert phase_taps(4, 2, 1, 0) == ([3, 1], 1, 0)
    assert phase_taps(4, 2, 1, 1) == ([2, 0], 0, 1)


def test_shipped_generator_passes_through_unchanged_and_exact(tmp_path):
    torch.set_num_threads(1)
    generator = load_networks(EngineConfig(), random_missing=True).generator
    latent = np.random.default_rng(0).standard_normal((1, generator.latent_dim)).astype(np.float32)
    path = export_onnx(generator, {"latent": torch.from_numpy(latent)}, ["image"], tmp_path / "generator.onnx")
    original = onnx.load(str(path))
    rewritten, report = subpixel_rewrite(original)
    assert not report.rewritten and report.kept
    a, b = run(original, {"latent": latent})[0], run(rewritten, {"latent": latent})[0]
    assert a.std() > 0.1 and np.abs(a - b).max() < 1e-5


def test_dcgan_layout_is_rewritten_exactly(tmp_path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = DCGANGenerator().eval()
    with torch.no_grad():  # batch-norm statistics as a trained network has them, so there is something to fold
        for bn in (m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.normal_(0, 0.5), bn.running_var.uniform_(0.5, 2), bn.weight.normal_(1, 0.1), bn.bias.normal_(0, 0.1)
    path = export_onnx(generator, {"latent": torch.zeros(1, 100)}, ["image"], tmp_path / "generator.onnx")
    original = onnx.load(str(path))
    rewritten, report = subpixel_rewrite(original)
    ops = {n.op_type for n in rewritten.graph.node}
    assert "ConvTranspose" not in ops and "BatchNormalization" not in ops
    assert len(report.rewritten) == 5 and report.folded_batchnorms == 4 and not report.kept
    # 1×1 first layer: one conv; three 4-phase layers; the 3-channel RGB layer merged into one conv
    assert [n.op_type for n in rewritten.graph.node].count("Conv") == 1 + 3 * 4 + 1
    for seed in range(3):
        latent = np.random.default_rng(seed).standard_normal((1, 100)).astype(np.float32)
        a, b = run(original, {"latent": latent})[0], run(rewritten, {"latent": latent})[0]
        assert a.std() > 0.01  # not a flat image
        assert np.abs(a - b).max() < 1e-4


@pytest.mark.parametrize("kernel,stride,pad", [(6, 2, 2), (9, 3, 3), (8, 4, 2)])
def test_other_subpixel_shapes_are_exact(tmp_path, kernel, stride, pad):
    torch.manual_seed(0)
    layer = nn.Sequential(nn.ConvTranspose2d(5, 7, kernel, stride, pad, bias=True), nn.BatchNorm2d(7)).eval()
    layer[1].running_mean.uniform_(-1, 1)
    layer[1].running_var.uniform_(0.5, 2)
    x = torch.randn(2, 5, 6, 6)
    path = export_onnx(layer, {"x": x}, ["y"], tmp_path / "layer.onnx")
    rewritten, report = subpixel_rewrite(onnx.load(str(path)))
    assert report.rewritten and report.folded_batchnorms == 1
    assert np.abs(run(rewritten, {"x": x.numpy()})[0] - layer(x).detach().numpy()).max() < 1e-4


def test_a_layer_that_is_no_subpixel_shape_stays_with_the_reason(tmp_path):
    layer = nn.ConvTranspose2d(4, 4, 3, 2, 1).eval()
    x = torch.randn(1, 4, 5, 5)
    path = export_onnx(layer, {"x": x}, ["y"], tmp_path / "layer.onnx")
    rewritten, report = subpixel_rewrite(onnx.load(str(path)))
    assert not report.rewritten
    assert list(report.kept.values()) == ["kernel 3, stride 2, pad 1: not a sub-pixel shape"]
    assert np.abs(run(rewritten, {"x": x.numpy()})[0] - layer(x).detach().numpy()).max() < 1e-5
