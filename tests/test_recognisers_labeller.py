"""FaceLabeller on real photos and real renders: stable under picture changes, different for different faces,
ordering hand-picked renders the way the docs/recognisers grids show."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from recognisers_faces import ROOT, aligned_crops, astronaut_photo, augmentations, lfw_photos, renders

from errors import ConfigError
from recognisers.config import LabellerConfig, OnnxHeadConfig
from recognisers.labeller import FaceLabeller
from settings import load_settings
from training.frozen import load_labeller

# Renders of scripts/recogniser_grids.py (seed 0, pool 1000), picked by eye from its grids. Beard, bald, glasses
# and smile are checked on real faces in test_recognisers_attributes.py.
EYES_OPEN, EYES_CLOSED = [19, 33, 56, 71], [43, 550, 660, 74]
TURNED = [7, 11, 12, 22]  # two to each side, |yaw| 25-40°


@pytest.fixture(scope="module")
def labeller():
    lab = FaceLabeller()
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def photos():
    crops = aligned_crops([astronaut_photo()] + lfw_photos(6))
    assert all(c is not None for c in crops)
    return crops[0], np.stack(crops[1:])


def test_astronaut_labels_are_stable_under_picture_changes(labeller, photos):
    astronaut, _ = photos
    images = np.stack([astronaut, *augmentations(astronaut).values()])
    out = labeller.label(images)
    assert (out["face_found"] == 1).all()
    assert (out["gender"] < 0.1).all(), out["gender"]  # Eileen Collins
    assert ((out["age"] > 22) & (out["age"] < 50)).all(), out["age"]
    assert (out["smile"] > 0.1).all(), out["smile"]
    for key in ("yaw", "pitch", "roll"):
        assert np.abs(out[key] - out[key][0]).max() < 4, (key, out[key])
    for key in ("mouth_open", "eyes_open"):
        assert np.abs(out[key] - out[key][0]).max() < 0.05, (key, out[key])
    for key in ("beard", "bald", "glasses"):  # probabilities: the verdict (none of them) holds on every copy
        assert (out[key] < 0.3).all(), (key, out[key])


def test_different_faces_get_different_labels(labeller, photos):
    astronaut, lfw = photos
    out = labeller.label(np.concatenate([astronaut[None], lfw]))
    men = out["gender"][1:] > 0.5
    assert men.sum() >= 4 and out["gender"][0] < 0.1  # most of the first LFW faces are men
    assert out["smile"][0] > out["smile"][1:].max()  # she smiles, the LFW faces mostly do not


def test_crop_size_does_not_change_the_labels(labeller):
    photos = [astronaut_photo()] + lfw_photos(3)
    small, big = (labeller.label(np.stack(aligned_crops(photos, size=s))) for s in (64, 256))
    assert (small["face_found"] == 1).all() and (big["face_found"] == 1).all()
    np.testing.assert_allclose(big["age"], small["age"], atol=8)
    # Same verdicts; P(male) itself swings on the blurry 25-px LFW faces with sub-pixel changes of the chip.
    np.testing.assert_array_equal(big["gender"] > 0.5, small["gender"] > 0.5)
    assert big["gender"][0] < 0.1 and small["gender"][0] < 0.1
    np.testing.assert_allclose(big["yaw"], small["yaw"], atol=3)
    for key in ("smile", "mouth_open", "eyes_open", "beard", "glasses"):
        np.testing.assert_allclose(big[key], small[key], atol=0.06, err_msg=key)


def test_roll_follows_an_image_rotation(labeller, photos):
    astronaut, _ = photos
    turned = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((32, 32), 10, 1.0), (64, 64), borderMode=cv2.BORDER_REFLECT)
    out = labeller.label(np.stack([astronaut, turned]))
    assert out["roll"][1] - out["roll"][0] == pytest.approx(10, abs=2)  # counter-clockwise: image-right eye rises
    assert abs(out["yaw"][1] - out["yaw"][0]) < 3


def test_yaw_sign_and_mirror(labeller):
    images = renders(TURNED)
    out = labeller.label(np.concatenate([images, images[:, :, ::-1]]))
    yaw, mirrored = out["yaw"][:4], out["yaw"][4:]
    assert (np.abs(yaw) > 20).all()
    np.testing.assert_allclose(mirrored, -yaw, atol=6)


@pytest.mark.parametrize(
    "key, high, low",
    [("eyes_open", EYES_OPEN, EYES_CLOSED)],
)
def test_scores_order_hand_picked_renders(labeller, key, high, low):
    out = labeller.label(renders(high + low))
    assert (out["face_found"] == 1).all()
    scores = out[key]
    assert scores[: len(high)].min() > scores[len(high) :].max(), scores


def test_no_face_gives_nan_labels_and_face_found_zero(labeller):
    noise = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    out = labeller.label(noise)
    assert (out["face_found"] == 0).all()
    assert np.isnan(out["age"]).all() and np.isnan(out["beard"]).all()


EXTRA_GENDER_HEAD = """
[[train.labeller.extra]]
path = "models/recognisers/gender-v1.onnx"
outputs = {male_again = 1}
input_size = 32
mean = [122.781998, 117.000999, 104.297997]
std = [256.0]
"""


def test_an_extra_onnx_head_named_in_a_settings_file_reaches_the_training_labeller(photos, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(EXTRA_GENDER_HEAD)
    lab = load_labeller(load_settings(config).train.labeller)
    astronaut, lfw = photos
    out = lab.label(np.concatenate([astronaut[None], lfw]))
    lab.close()
    np.testing.assert_allclose(out["male_again"], out["gender"], atol=1e-5)


def test_a_settings_file_cannot_name_an_extra_head_outside_the_models_folder(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text(EXTRA_GENDER_HEAD.replace("models/recognisers/gender-v1.onnx", "/etc/hosts"))
    with pytest.raises(ConfigError, match=r"train.labeller.extra\[0\].path = '/etc/hosts' is outside the models folder"):
        load_settings(config)


def test_bad_extra_head_config_is_one_clear_line():
    with pytest.raises(ConfigError, match="does not exist"):
        LabellerConfig(extra=[{"path": "models/recognisers/nope.onnx", "outputs": {"x": 0}}]).validate()
    with pytest.raises(ConfigError, match="color"):
        OnnxHeadConfig.from_dict({"path": "models/recognisers/gender-v1.onnx", "outputs": {"x": 0}, "color": "cmyk"})
    with pytest.raises(ConfigError, match="unknown key"):
        OnnxHeadConfig.from_dict({"path": "models/recognisers/gender-v1.onnx", "outputs": {"x": 0}, "colour": "rgb"})
    assert (ROOT / "models/recognisers/gender-v1.onnx").is_file()
