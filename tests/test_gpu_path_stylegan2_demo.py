"""The GPU path's profile, run as far as a CPU takes it: an e4e checkpoint in the public layout (narrow random
weights, 256 px) drives `run.py demo --profile stylegan2` over a 1280×720 clip of a real face; only the face changes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from commands import main_demo
from stream_media import astronaut_bgr, face_box_mask, hull_mask, mesh_landmarks, read_video, webcam_frame, write_video
from test_engines_stylegan2_profile import SIZE, STYLE_DIM, small_generator, write_e4e, write_mapper
from stream_media import BACKEND

from engines.config import EngineConfig
from engines.engine import TensorSpec
from engines.profiles import PIPELINE_NETWORKS, load_engines, load_networks
from engines.torch_engine import TorchEngine

REPO = Path(__file__).resolve().parents[1]
HD = (1280, 720)
N_LATENT = 2 * 8 - 2  # W+ entries of a 256-px StyleGAN2


@pytest.fixture(scope="module")
def stylegan2_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sg2")
    e4e = write_e4e(folder / "e4e_ffhq_encode.pt")
    mapper = write_mapper(folder / "mapper.safetensors", N_LATENT)
    frames = [webcam_frame(astronaut_bgr(), angle=2.0 * i, scale=3.0, size=HD) for i in range(2)]
    clip = write_video(folder / "face_720p.avi", frames)
    return folder, e4e, mapper, clip


def demo_argv(folder, e4e, clip, *extra: str) -> list[str]:
    return ["--input", str(clip), "--profile", "stylegan2", "--e4e", str(e4e), "--engine", "torch",
            "--set", f'engine.cache_dir="{folder / "cache"}"', "--output", "", *extra]


def test_720p_clip_through_the_stylegan2_profile_edits_only_the_face(stylegan2_files, recording_camera, tmp_path):
    folder, e4e, mapper, clip = stylegan2_files
    report_path = tmp_path / "report.json"
    argv = demo_argv(folder, e4e, clip, "--set", f'engine.stylegan2_mapper="{mapper}"', "--report", str(report_path),
                     "--virtualcam", "--set", f'stream.virtualcam_backend="{BACKEND}"', "--edit", "age=+2,glasses=+2")
    assert main_demo(argv) == 0
    report = json.loads(report_path.read_text())
    inputs = read_video(clip)
    assert len(recording_camera) == len(inputs) == 2
    for src, out in zip(inputs, recording_camera):
        assert out.shape == (HD[1], HD[0], 3) and out.dtype == np.uint8
        landmarks = mesh_landmarks(src)
        diff = np.abs(out.astype(int) - src.astype(int)).mean(2)
        assert diff[~face_box_mask(src.shape, landmarks, grow=8)].mean() < 0.05  # the frame around the face is the camera's
        assert diff[hull_mask(src.shape, landmarks)].mean() > 1.0  # the 256-px edit reached the face
    assert report["frames"] == 2 and report["faces_edited"] == 2 and report["engine"] == "torch"
    assert set(report["stage_ms"]) == {"capture", "detect", "align", "delta", "encode", "generate", "mesh_flow", "blend",
                                       "sink"}
    assert all(ms > 0 for ms in report["stage_ms"].values())
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0


def test_without_a_stylegan2_mapper_the_demo_says_which_setting_to_give(stylegan2_files, capsys):
    folder, e4e, _, clip = stylegan2_files
    argv = demo_argv(folder, e4e, clip, "--set", f'engine.stylegan2_mapper="{folder / "none.safetensors"}"')
    assert main_demo(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "engine.stylegan2_mapper" in err[0] and "none ships" in err[0]


def test_stylegan2_profile_resolution_is_the_checkpoint_s(stylegan2_files, capsys):
    folder, e4e, mapper, clip = stylegan2_files
    argv = demo_argv(folder, e4e, clip, "--set", f'engine.stylegan2_mapper="{mapper}"', "--set",
                     f"engine.resolution={2 * SIZE}")
    assert main_demo(argv) == 2
    assert f"generator is {SIZE} px" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_generator_replays_its_graph_on_its_own_stream():
    generator = small_generator()
    spec = (TensorSpec("latent", (1, N_LATENT, STYLE_DIM)),)
    w = {"latent": np.random.default_rng(0).standard_normal(spec[0].shape).astype(np.float32)}
    want = TorchEngine("generator", generator, spec, ("image",))(w)["image"]
    engine = TorchEngine("generator", generator, spec, ("image",), device="cuda", precision="fp16")
    assert engine.graph is not None and engine.stream != torch.cuda.current_stream()
    for _ in range(2):  # replays reuse the pinned buffers and the captured graph
        got = engine(w)["image"]
    assert got.dtype == np.float32 and got.shape == want.shape
    assert float(np.abs(got - want).max()) <= 5e-2 * float(np.abs(want).max())  # fp16 on the GPU


def test_timing_files_script_writes_a_loadable_profile_and_a_mapper_for_a_given_e4e(stylegan2_files, tmp_path):
    folder, e4e, _, _ = stylegan2_files
    script = [sys.executable, str(REPO / "scripts/write_random_stylegan2.py")]
    subprocess.run([*script, "--out", str(tmp_path / "small"), "--small"], check=True, capture_output=True)
    subprocess.run([*script, "--out", str(tmp_path / "for_e4e"), "--e4e", str(e4e)], check=True, capture_output=True)
    assert not (tmp_path / "for_e4e/e4e_random.pt").exists()  # a given e4e file is used, not replaced
    for e4e_path, mapper in ((tmp_path / "small/e4e_random.pt", tmp_path / "small/mapper_random.safetensors"),
                             (e4e, tmp_path / "for_e4e/mapper_random.safetensors")):
        nets = load_networks(EngineConfig(profile="stylegan2", e4e_checkpoint=e4e_path, stylegan2_mapper=mapper))
        assert nets.weights["mapper"] == str(mapper) and nets.resolution == SIZE and nets.latent_shape == (N_LATENT, STYLE_DIM)
        w = torch.from_numpy(np.random.default_rng(0).standard_normal((1, N_LATENT, STYLE_DIM)).astype(np.float32))
        with torch.no_grad():
            edited = nets.mapper(w, torch.zeros(1, len(nets.attributes)).index_fill_(1, torch.tensor([0]), 1.0))
        assert not torch.allclose(edited, w)  # a random step, not the identity start: timing runs render real edits


def test_the_live_pipeline_builds_only_the_engines_it_runs(stylegan2_files):
    folder, e4e, mapper, _ = stylegan2_files
    config = EngineConfig(profile="stylegan2", e4e_checkpoint=e4e, stylegan2_mapper=mapper, backend="torch",
                          cache_dir=folder / "cache")
    engines = load_engines(config, verbose=False, networks=PIPELINE_NETWORKS)
    assert engines.mapper is None and engines.generator is None  # no second generator build or its GPU memory
    assert [s.name for s in engines.editor.outputs] == ["original", "edited"]
    assert engines.encoder.outputs[0].shape == (1, N_LATENT, STYLE_DIM)
