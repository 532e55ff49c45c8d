"""The HUD is drawn on a copy, in the top-left corner only, and says what is active."""
from __future__ import annotations

import numpy as np
from stream_media import astronaut_bgr, webcam_frame

from stream.hud import draw_hud


def test_hud_draws_on_a_copy_in_the_corner():
    frame = webcam_frame(astronaut_bgr())
    before = frame.copy()
    out = draw_hud(frame, 29.7, 41.0, {"detect": 4.2, "blend": 1.1}, ["beard +1.00"], False, "beard")
    np.testing.assert_array_equal(frame, before)
    changed = np.abs(out.astype(int) - frame).sum(2) > 0
    ys, xs = np.nonzero(changed)
    assert changed.any() and ys.max() < 80 and xs.max() < 400
    bypass = draw_hud(frame, 29.7, 41.0, {"detect": 4.2}, ["beard +1.00"], True, "beard")
    assert not np.array_equal(bypass, out)  # "BYPASS" replaces the list of edits


def test_edit_is_described_in_the_units_of_the_mapper():
    from stream.edit_state import EditState

    state = EditState(("age", "beard"), {"age": 2.0}, units={"age": (12.34, "years")})
    assert state.describe("age", 2.0) == "age +2.00 (≈ +24.7 years)"
    assert state.describe("beard", -1.0) == "beard -1.00"  # no unit known: the strength alone
