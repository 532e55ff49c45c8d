"""The networks themselves: StyleGAN2 maths and layout, the e4e layout, the converted DCGAN's renders."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from engines.checkpoint import CheckpointHeader, save_checkpoint
from engines.dcgan import DCGANGenerator
from engines.e4e import StyleEncoder
from engines.generator_file import load_generator_file
from engines.profiles import SMALL_GENERATOR
from engines.stylegan2 import BLUR_KERNEL, Generator, ModulatedConv2d, generator_config, make_kernel, upfirdn2d
from engines.torch_engine import prepare_module

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """upfirdn2d by its definition (the implementation before the depthwise one): insert up-1 zeros after every
    pixel, zero-pad, then filter every channel alone with the flipped kernel."""
    b, c, h, w = x.shape
    grid = torch.zeros(b, c, h * up, w * up)
    grid[:, :, ::up, ::up] = x
    grid = F.pad(grid, (pad[0], pad[1], pad[0], pad[1])).reshape(b * c, 1, h * up + sum(pad), w * up + sum(pad))
    out = F.conv2d(grid, torch.flip(kernel, (0, 1))[None, None])
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


@pytest.mark.parametrize("up, pad", [(1, (1, 1)), (2, (2, 1)), (1, (2, 1)), (2, (1, 0)), (4, (2, 1))])
def test_depthwise_upfirdn2d_is_the_definition(up, pad):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 9, 7)
    # the generator's blur (pads (1, 1)) and skip upsampling (up 2, pads (2, 1)), other pads, a lopsided kernel
    for kernel in (make_kernel(BLUR_KERNEL) * up**2, torch.rand(4, 4)):
        want = reference_upfirdn2d(x, kernel, up, pad)
        got = upfirdn2d(x, kernel, up=up, pad=pad)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) < 1e-5
        as_nhwc = upfirdn2d(x.contiguous(memory_format=torch.channels_last), kernel, up=up, pad=pad)
        assert as_nhwc.is_contiguous(memory_format=torch.channels_last)  # no conversion back to NCHW
        assert float((as_nhwc - want).abs().max()) < 1e-5


def test_channels_last_generator_renders_what_the_nchw_one_renders():
    """The torch-cuda layout (weights and activations channels_last), run on the CPU in fp32."""
    torch.manual_seed(0)
    g = Generator(64, **SMALL_GENERATOR).eval()
    nhwc = prepare_module(g, "cpu", torch.float32)
    w = torch.randn(2, g.n_latent, g.style_dim)
    with torch.no_grad():
        want, got = g(w), nhwc(w)
    assert got.is_contiguous(memory_format=torch.channels_last) and want.is_contiguous()
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())


def test_weights_kept_between_inference_calls_follow_a_changed_parameter():
    torch.manual_seed(0)
    g = Generator(64, **SMALL_GENERATOR).eval()
    w = torch.randn(1, g.n_latent, g.style_dim)
    with torch.no_grad():
        before = g(w)
        g.convs[2].conv.weight.add_(torch.randn_like(g.convs[2].conv.weight))  # e.g. other weights loaded in place
        after = g(w)
        fresh = Generator(64, **SMALL_GENERATOR).eval()
        fresh.load_state_dict(g.state_dict())
        want = fresh(w)
    assert float((after - before).abs().max()) > 0.1
    torch.testing.assert_close(after, want)
    assert set(fresh.state_dict()) == set(g.state_dict())  # the kept weights are no state


def per_sample_modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The StyleGAN2 paper's definition: scale the weights per sample, demodulate them, convolve."""
    s = conv.modulation(style)
    outs = []
    for b in range(x.shape[0]):
        w = conv.scale * conv.weight[0] * s[b][None, :, None, None]
        if conv.demodulate:
            w = w * torch.rsqrt(w.pow(2).sum((1, 2, 3)) + 1e-8)[:, None, None, None]
        if conv.upsample:
            up = F.conv_transpose2d(x[b : b + 1], w.transpose(0, 1), stride=2)
            outs.append(reference_upfirdn2d(up, conv.blur.kernel, 1, conv.blur.pad))
        else:
            outs.append(F.conv2d(x[b : b + 1], w, padding=conv.padding))
    return torch.cat(outs)


@pytest.mark.parametrize("upsample", [False, True])
def test_activation_modulation_equals_weight_modulation(upsample):
    torch.manual_seed(1)
    conv = ModulatedConv2d(8, 6, 3, 16, upsample=upsample)
    x, style = torch.randn(3, 8, 8, 8), torch.randn(3, 16)
    ours = conv(x, style)
    assert ours.shape == (3, 6, 16 if upsample else 8, 16 if upsample else 8)
    torch.testing.assert_close(ours, per_sample_modulated_conv(conv, x, style), atol=1e-5, rtol=1e-4)


def test_upsample_keeps_a_constant_image_constant():
    kernel = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = (kernel[None] * kernel[:, None]) / 64 * 4
    out = upfirdn2d(torch.ones(1, 2, 8, 8), kernel, up=2, pad=(2, 1))
    assert out.shape == (1, 2, 16, 16)
    # away from the zero-padded border, 2× upsampling of a constant is that constant
    torch.testing.assert_close(out[..., 2:-2, 2:-2], torch.ones(1, 2, 12, 12))


def test_stylegan2_keys_match_the_public_layout():
    with torch.device("meta"):
        g = Generator(256, channel_multiplier=2)
    sd = g.state_dict()
    assert g.n_latent == 14 and g.num_layers == 13
    expected = {
        "style.8.weight": (512, 512),
        "input.input": (1, 512, 4, 4),
        "conv1.conv.weight": (1, 512, 512, 3, 3),
        "conv1.activate.bias": (512,),
        "to_rgb1.conv.weight": (1, 3, 512, 1, 1),
        "convs.0.conv.blur.kernel": (4, 4),
        "convs.6.conv.weight": (1, 512, 512, 3, 3),  # 64 px: 256 × channel_multiplier
        "convs.8.conv.weight": (1, 256, 512, 3, 3),  # 128 px
        "convs.11.conv.weight": (1, 128, 128, 3, 3),  # 256 px
        "to_rgbs.5.upsample.kernel": (4, 4),
        "to_rgbs.5.bias": (1, 3, 1, 1),
        "noises.noise_12": (1, 1, 256, 256),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert generator_config(sd) == dict(size=256, style_dim=512, n_mlp=8, channel_multiplier=2, max_channels=512)


def test_w_and_repeated_w_plus_render_the_same_face_with_fixed_noise():
    torch.manual_seed(0)
    g = Generator(64, style_dim=32, n_mlp=2, channel_multiplier=1, max_channels=32).eval()
    w = g.mapping(torch.randn(2, 32))
    with torch.no_grad():
        a = g(w)
        b = g(w[:, None].repeat(1, g.n_latent, 1))
        c = g(w)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)  # noise is the stored buffers, not redrawn
    assert a.shape == (2, 3, 64, 64) and a.std() > 0


def test_full_size_e4e_encoder_has_the_public_shapes():
    with torch.device("meta"):
        enc = StyleEncoder(1024)
    sd = enc.state_dict()
    assert enc.style_count == 18 and len(enc.body) == 24
    expected = {
        "input_layer.0.weight": (64, 3, 3, 3),
        "body.3.shortcut_layer.0.weight": (128, 64, 1, 1),
        "body.23.res_layer.5.fc1.weight": (32, 512, 1, 1),
        "body.20.res_layer.2.weight": (256,),
        "styles.0.convs.6.weight": (512, 512, 3, 3),
        "styles.17.convs.10.weight": (512, 512, 3, 3),
        "styles.17.linear.weight": (512, 512),
        "latlayer1.weight": (512, 256, 1, 1),
        "latlayer2.weight": (512, 128, 1, 1),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert "styles.0.convs.8.weight" not in sd  # coarse heads pool 16 → 1 in four convolutions


def test_the_shipped_generator_draws_varied_faces_the_face_mesh_finds():
    from recognisers.face_mesh import FaceMesher
    from training.rendering import to_uint8

    g = load_generator_file(REPO / "models/default/generator.safetensors")
    with torch.no_grad():
        img = g(torch.randn(16, g.latent_dim, generator=torch.Generator().manual_seed(0)))
    assert img.shape == (16, 3, 64, 64) and torch.isfinite(img).all()
    assert img.std(0).mean() > 0.1  # different faces, not one mean face
    mesher = FaceMesher()
    _, found = mesher(to_uint8(img))
    mesher.close()
    assert found.mean() >= 0.8


def test_an_older_dcgan_generator_file_still_loads(tmp_path):
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=20, channels=8)
    path = save_checkpoint(tmp_path / "dcgan.safetensors", g.state_dict(),
                           CheckpointHeader(network="dcgan_generator", config={"latent_dim": 20, "channels": 8, "size": 64}))
    loaded = load_generator_file(path)
    z = torch.randn(2, 20)
    with torch.no_grad():
        assert torch.equal(loaded(z), g.eval()(z))
