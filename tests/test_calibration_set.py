"""The calibration set: real faces aligned as the live pipeline aligns them, augmented, split by person, saved."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from calibration.augment import augmented_crops, jitter_keypoints, vary_colour
from calibration.calibrate import float_encode_render
from calibration.dataset import CalibrationSet, CalibrationSetError, build_calibration_set, split_people, to_crops, to_network
from calibration.faces import find_faces, photo_sources, video_source
from engines.config import EngineConfig
from engines.profiles import load_networks
from stream.alignment import AlignmentTemplate, align_face
from shipped import LATENT

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = AlignmentTemplate.load(REPO / "models/default/alignment.json")


@pytest.fixture(scope="module")
def faces():
    """Astronaut, Grace Hopper, six LFW faces and four frames of the demo clip: real faces, found by the live tracker."""
    photos = {s.identity: s for s in photo_sources()}
    sources = [photos["astronaut"], photos["grace_hopper"], *(photos[f"lfw#{i}"] for i in range(6))]
    sources.append(video_source(REPO / "assets/demo_face.mp4", every=25, identity="astronaut"))
    found, missed = find_faces(sources)
    assert len(found) >= 10, f"faces missed: {missed}"
    return found


@pytest.fixture(scope="module")
def nets():
    torch.set_num_threads(1)
    return load_networks(EngineConfig(), random_missing=True)


def test_first_crop_is_the_live_pipelines_crop(faces):
    face = next(f for f in faces if f.identity == "astronaut")
    crops = augmented_crops(face.frame, face.keypoints, TEMPLATE, 3, np.random.default_rng(0))
    live, _ = align_face(face.frame, face.keypoints, TEMPLATE)
    assert np.array_equal(crops[0], cv2.cvtColor(live, cv2.COLOR_BGR2RGB))
    assert crops.shape == (3, 64, 64, 3) and not np.array_equal(crops[1], crops[0])
    # the aligned astronaut is a face: skin-coloured centre, brighter than the crop's corners
    centre = crops[0, 24:40, 24:40].astype(float).mean((0, 1))
    assert centre[0] > centre[2] + 20


def test_misalignment_is_small_and_off_at_zero_strength(faces):
    kp = faces[0].keypoints
    size = np.linalg.norm(kp[2] - kp[:2].mean(0))
    rng = np.random.default_rng(1)
    moved = np.stack([jitter_keypoints(kp, rng) for _ in range(200)])
    shift = np.linalg.norm(moved - kp, axis=2).max()
    assert 0.02 * size < shift < 0.2 * size
    assert np.allclose(jitter_keypoints(kp, rng, strength=0.0), kp)


def test_colour_variation_keeps_the_face_and_changes_the_exposure(faces):
    crop = augmented_crops(faces[0].frame, faces[0].keypoints, TEMPLATE, 1, np.random.default_rng(0))[0]
    varied = [vary_colour(crop, np.random.default_rng(s)) for s in range(20)]
    means = [v.astype(float).mean() for v in varied]
    assert np.ptp(means) > 20
    assert all(np.corrcoef(v.astype(float).mean(2).ravel(), crop.astype(float).mean(2).ravel())[0, 1] > 0.9 for v in varied)


def test_people_are_split_whole_and_the_named_ones_held_out(faces):
    calib, held = split_people(faces, 0.2, seed=0, always=("grace_hopper",))
    assert {f.identity for f in calib}.isdisjoint({f.identity for f in held})
    assert "grace_hopper" in {f.identity for f in held}
    assert len(calib) + len(held) == len(faces) and calib


def test_set_is_mostly_real_and_survives_saving(faces, nets, tmp_path):
    encode, render = float_encode_render(nets)
    data = build_calibration_set(faces, TEMPLATE, encode, render, crops=40, renders=8, heldout=0.3, heldout_variants=2,
                                 strength=1.0, seed=0, latent_dim=LATENT, heldout_people=("grace_hopper",))
    assert data.crops.shape == (40, 64, 64, 3) and data.latents.shape == (40, LATENT)
    assert data.real_fraction == pytest.approx(32 / 40)
    assert np.allclose(data.latents, encode(data.images), atol=1e-5)  # the float encoder's latents of these very crops
    assert not set(data.meta["people_heldout"]) & {s for s in data.sources if not s.startswith("render#")}
    loaded = CalibrationSet.load(data.save(tmp_path / "set.npz"))
    assert np.array_equal(loaded.crops, data.crops) and np.array_equal(loaded.latents, data.latents)
    assert list(loaded.sources) == list(data.sources) and loaded.meta == data.meta
    assert np.array_equal(to_crops(to_network(data.heldout_crops)), data.heldout_crops)


def test_a_corrupt_set_file_names_the_fix(tmp_path):
    bad = tmp_path / "set.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(CalibrationSetError, match="not a calibration set.*run `python run.py calibrate`"):
        CalibrationSet.load(bad)


def test_one_person_cannot_be_held_out(faces):
    only = [f for f in faces if f.identity == "astronaut"]
    with pytest.raises(CalibrationSetError, match="only one person"):
        build_calibration_set(only, TEMPLATE, lambda x: x, lambda z: z, 8, 0, 0.2, 1, 1.0, 0, LATENT)
