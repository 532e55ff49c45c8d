"""e4e for generators of 256, 512 and 1024 px: the aligned face is resized to 256 as e4e's own data transforms do
(PIL bilinear, antialiased), and the encoder has one style head per W+ entry of the generator."""
from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from engines.config import EngineConfig
from engines.e4e import INPUT_SIZE, resize_like_e4e
from engines.ort_engine import OrtEngine
from engines.profiles import OUTPUT_NAMES, onnx_file, random_stylegan2

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def astronaut(size: int) -> np.ndarray:
    """The astronaut photo (a real face, 512 px) as float (3, size, size) in [-1, 1]; 1024 by PIL bicubic."""
    photo = Image.fromarray(skimage.data.astronaut())
    if size != photo.width:
        photo = photo.resize((size, size), Image.BICUBIC)
    return np.asarray(photo, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1


def pil_resize(image: np.ndarray, size: int) -> np.ndarray:
    """torchvision's Resize((256, 256)) on a PIL image, per channel in float so nothing is rounded to bytes."""
    return np.stack([np.asarray(Image.fromarray(c, mode="F").resize((size, size), Image.BILINEAR)) for c in image])


@pytest.mark.parametrize("size", [512, 1024])
def test_resize_is_e4e_s_pil_bilinear(size):
    face = astronaut(size)
    got = resize_like_e4e(torch.from_numpy(face)[None])[0].numpy()
    want = pil_resize(face, INPUT_SIZE)
    assert got.shape == want.shape == (3, INPUT_SIZE, INPUT_SIZE)
    assert float(np.abs(got - want).max()) < 1e-5
    # area averaging (the earlier resize) is another filter: the difference is visible
    area = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(face)[None], INPUT_SIZE)[0].numpy()
    assert float(np.abs(area - want).max()) > 0.05


@pytest.mark.parametrize("size, n_latent", [(256, 14), (512, 16), (1024, 18)])
def test_e4e_inverts_a_face_at_every_generator_resolution(size, n_latent):
    nets = random_stylegan2(size, small=True)
    assert nets.generator.n_latent == nets.encoder.encoder.style_count == n_latent
    assert len(nets.encoder.encoder.styles) == n_latent
    face = torch.from_numpy(astronaut(size))[None]
    with torch.no_grad():
        w = nets.encoder(face)
        image = nets.generator(w)
        # the encoder sees the face as e4e would: resized to 256 px first
        from_256 = nets.encoder(torch.from_numpy(pil_resize(astronaut(size), INPUT_SIZE))[None])
    assert w.shape == (1, n_latent, 64) and image.shape == (1, 3, size, size)
    assert torch.isfinite(image).all()
    assert float((w - from_256).abs().max()) <= 1e-4 * float(from_256.abs().max())


def test_1024_px_e4e_exports_to_onnx_and_matches_torch(tmp_path):
    nets = random_stylegan2(1024, small=True)
    path = onnx_file(nets, "encoder", EngineConfig(cache_dir=tmp_path))
    engine = OrtEngine("encoder", path, threads=1, output_names=OUTPUT_NAMES["encoder"])
    assert engine.inputs[0].shape == (1, 3, 1024, 1024) and engine.outputs[0].shape == (1, 18, 64)
    face = astronaut(1024)[None]
    got = engine({"image": face})["latent"]
    with torch.no_grad():
        want = nets.encoder(torch.from_numpy(face)).numpy()
    assert float(np.abs(got - want).max()) <= 1e-4 * float(np.abs(want).max())
