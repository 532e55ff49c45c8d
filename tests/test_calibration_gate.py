"""The quality gate on real held-out faces: a broken calibration (one constant image) is refused and the engines
fall back to float, saying so; a calibration on real faces passes and the INT8 engines are used."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

from calibration.calibrate import float_encode_render, gate_networks
from calibration.config import CalibrationConfig
from calibration.dataset import CalibrationSet, build_calibration_set
from calibration.faces import find_faces, photo_sources, video_source
from calibration.gate import psnr_db, row_cosine
from calibration.quantise import calibration_feeds, quantise_network
from engines.bench import run_bench
from engines.config import EngineConfig
from engines.int8_verdict import int8_or_float
from engines.onnx_export import int8_path
from engines.profiles import build_engine, load_networks, onnx_file
from stream.alignment import AlignmentTemplate
from shipped import LATENT

REPO = Path(__file__).resolve().parents[1]
ENCODER = REPO / "models/default/encoder.safetensors"


def test_psnr_of_known_noise_and_cosine_of_real_images():
    photo = skimage.data.astronaut().transpose(2, 0, 1)[None].astype(np.float64) / 127.5 - 1
    noisy = photo + np.random.default_rng(0).normal(0, 0.02, photo.shape)
    assert psnr_db(noisy, photo)[0] == pytest.approx(20 * np.log10(2 / 0.02), abs=0.1)
    assert psnr_db(photo, photo)[0] == 100.0
    assert row_cosine(photo, noisy)[0] > 0.99 and row_cosine(photo, -photo)[0] == pytest.approx(-1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not ENCODER.is_file():
        pytest.skip(f"{ENCODER} not trained yet (python run.py train); a random encoder maps every face to one latent")
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("calibration")
    engine_cfg = EngineConfig(cache_dir=tmp, threads=1, precision="fp32")
    nets = load_networks(engine_cfg, random_missing=True)
    cfg = CalibrationConfig(out_dir=tmp, networks=["encoder", "generator"], min_attribute_ratio=0.0)
    photos = {s.identity: s for s in photo_sources()}
    sources = [photos["astronaut"], photos["grace_hopper"], *(photos[f"lfw#{i}"] for i in range(12))]
    sources.append(video_source(REPO / "assets/demo_face.mp4", every=20, identity="astronaut"))
    faces, _ = find_faces(sources)

    encode, render = float_encode_render(nets)
    template = AlignmentTemplate.load(REPO / "models/default/alignment.json")
    real = build_calibration_set(faces, template, encode, render, 96, 16, 0.3, 2, 1.0, 0, LATENT, ("grace_hopper",))
    grey = np.full((16, 64, 64, 3), 128, np.uint8)
    broken = CalibrationSet(grey, encode(grey.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1), np.array(["grey"] * 16),
                            real.heldout_crops, real.heldout_sources)
    return nets, engine_cfg, cfg, real, broken


def calibrate(nets, engine_cfg, cfg, data):
    for name in cfg.networks:
        onnx_path = onnx_file(nets, name, engine_cfg)
        quantise_network(name, onnx_path, int8_path(onnx_path), calibration_feeds(name, data, 6, cfg.max_delta, 0), cfg)
    return gate_networks(nets, data, engine_cfg, cfg, REPO / "no-regressor", with_attributes=False, say=lambda line: None)


def test_broken_calibration_is_refused_and_the_pipeline_runs_float(setup):
    nets, engine_cfg, cfg, _, broken = setup
    verdicts = calibrate(nets, engine_cfg, cfg, broken)
    encoder = verdicts["encoder"]
    assert not encoder.passed
    assert any(f.startswith("latent cosine") for f in encoder.failures)
    assert encoder.figures["latent_cosine"] < cfg.min_latent_cosine
    said = []
    assert int8_or_float("encoder", onnx_file(nets, "encoder", engine_cfg), said.append) == "ort"
    assert len(said) == 1 and "refused by the quality gate" in said[0] and "latent cosine" in said[0]
    int8_cfg = replace(engine_cfg, precision="int8")
    assert build_engine(nets, "encoder", "ort", int8_cfg).backend == "ort"


def test_real_face_calibration_passes_and_the_pipeline_runs_int8(setup):
    nets, engine_cfg, cfg, real, _ = setup
    verdicts = calibrate(nets, engine_cfg, cfg, real)
    for name in ("encoder", "generator"):
        assert verdicts[name].passed, verdicts[name].line()
    assert verdicts["encoder"].figures["latent_cosine"] >= cfg.min_latent_cosine
    assert verdicts["generator"].figures["identity_cosine"] >= cfg.min_identity_cosine
    int8_cfg = replace(engine_cfg, precision="int8")
    assert build_engine(nets, "encoder", "ort", int8_cfg).backend == "ort-int8"
    assert build_engine(nets, "generator", "ort", int8_cfg).backend == "ort-int8"
    # bench times float and INT8 in one run and says what the gate decided (speed itself is only reported)
    report = run_bench(nets, engine_cfg, ["ort", "ort-int8"], ["encoder"], warmup=1, repeats=3)
    assert set(report["networks"]["encoder"]) == {"ort", "ort-int8"} and report["int8_speedup_vs_ort"]["encoder"] > 0
    assert report["int8_gate"] == {"encoder": "gate passed"}


def test_a_changed_int8_file_is_no_longer_trusted(setup, tmp_path):
    nets, engine_cfg, cfg, real, _ = setup
    onnx_path = onnx_file(nets, "encoder", engine_cfg)
    if not int8_path(onnx_path).is_file():
        calibrate(nets, engine_cfg, cfg, real)
    with open(int8_path(onnx_path), "ab") as f:
        f.write(b"\0")  # another file than the gate judged
    said = []
    assert int8_or_float("encoder", onnx_path, said.append) == "ort"
    assert "not judged" in said[0]
