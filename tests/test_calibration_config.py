"""The [calibration] section: defaults valid, wrong values refused with the setting and the fix named."""
from __future__ import annotations

import pytest

from errors import ConfigError
from settings import load_settings


def test_defaults_are_valid():
    cfg = load_settings().calibration
    assert cfg.networks == ["encoder", "generator", "mapper+generator"] and cfg.min_psnr_db > 0


@pytest.mark.parametrize("override,message", [
    ('calibration.networks=["decoder"]', "calibration.networks"),
    ("calibration.renders=500", "real faces stay the majority"),
    ("calibration.heldout=1.5", "calibration.heldout = 1.5"),
    ("calibration.min_identity_cosine=1.2", "calibration.min_identity_cosine"),
    ("calibration.crops=0", "calibration.crops = 0"),
    ('calibration.method="kl"', "choose one of minmax, entropy, percentile"),
])
def test_bad_values_name_the_setting(override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides=[override])
