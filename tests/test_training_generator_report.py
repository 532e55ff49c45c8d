"""The generator report's judges: KID on real face embeddings and dlib's descriptor on real photos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from recognisers.face_mesh import FaceMesher
from recognisers.identity import IdentityEmbedder
from recognisers_faces import astronaut_photo, lfw_photos
from training.generator_report import embed_chips
from training.kid import kid


def test_kid_is_small_between_views_of_the_same_faces_and_large_against_noise():
    faces = np.stack([cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA) for p in lfw_photos(24)])
    mesher, embedder = FaceMesher(), IdentityEmbedder(box=(0.0, 0.0, 1.0)).eval()
    with torch.no_grad():
        a, found_a = embed_chips(faces, mesher, embedder)
        b, found_b = embed_chips(faces[:, :, ::-1].copy(), mesher, embedder)  # the same people, mirrored
        c = torch.nn.functional.normalize(torch.randn(24, a.shape[1]), dim=1).numpy()
    mesher.close()
    assert found_a.mean() > 0.8 and found_b.mean() > 0.8
    same, other = kid(a, b, subsets=20, subset_size=16)[0], kid(a, c, subsets=20, subset_size=16)[0]
    assert same < other / 3
    with pytest.raises(ValueError, match="at least 2"):
        kid(a[:1], b)


def test_dlib_calls_a_mirrored_photo_the_same_person_and_another_person_not():
    pytest.importorskip("dlib", reason="the identity judge needs pip install -e '.[eval]'")
    from recognisers.dlib_identity import SAME_PERSON, DlibIdentity

    face = np.ascontiguousarray(astronaut_photo()[20:220, 40:240])
    other = np.ascontiguousarray(cv2.resize(lfw_photos(1)[0], (200, 200)))
    judge = DlibIdentity()
    d = judge.describe_crops(np.stack([face, face[:, ::-1].copy(), other]))
    assert np.isfinite(d).all()
    assert judge.distance(d[0], d[1]) < SAME_PERSON < judge.distance(d[0], d[2])
