"""One-Euro smoothing on real face-mesh landmarks: steadier at rest, little lag when the face moves."""
from __future__ import annotations

import numpy as np
import pytest
from stream_media import astronaut_bgr, mesh_landmarks, webcam_frame

from stream.one_euro import OneEuroFilter

FPS = 30.0


@pytest.fixture(scope="module")
def landmarks() -> np.ndarray:
    (lm,) = mesh_landmarks(webcam_frame(astronaut_bgr()))
    return lm


def run(filt: OneEuroFilter, frames: list[np.ndarray]) -> list[np.ndarray]:
    return [filt(f, i / FPS) for i, f in enumerate(frames)]


def test_jitter_at_rest_is_cut(landmarks):
    rng = np.random.default_rng(0)
    noisy = [landmarks + rng.normal(0, 1.5, landmarks.shape) for _ in range(90)]
    out = run(OneEuroFilter(min_cutoff=1.0, beta=0.05), noisy)
    raw_jitter = np.std(np.diff(np.stack(noisy[30:]), axis=0))
    smooth_jitter = np.std(np.diff(np.stack(out[30:]), axis=0))
    assert smooth_jitter < 0.35 * raw_jitter
    assert np.abs(np.mean(out[30:], axis=0) - landmarks).mean() < 0.5  # no bias


def test_a_moving_face_is_followed_with_less_lag_than_a_plain_low_pass(landmarks):
    speed = 300.0  # px/s: a quick head movement
    frames = [landmarks + (speed * i / FPS, 0.0) for i in range(30)]
    truth = frames[-1]
    adaptive = run(OneEuroFilter(min_cutoff=1.0, beta=0.05), frames)[-1]
    low_pass = run(OneEuroFilter(min_cutoff=1.0, beta=0.0), frames)[-1]
    lag_adaptive = np.abs(adaptive - truth)[:, 0].mean()
    lag_low_pass = np.abs(low_pass - truth)[:, 0].mean()
    assert lag_adaptive < 0.3 * lag_low_pass
    assert lag_adaptive < 8.0


def test_first_sample_passes_through_and_shape_changes_restart(landmarks):
    filt = OneEuroFilter()
    np.testing.assert_array_equal(filt(landmarks, 0.0), landmarks)
    other = landmarks[:10] + 50
    np.testing.assert_array_equal(filt(other, 0.1), other)
