"""The emotion classifier on real faces: a smiling astronaut is happy, and it stays happy across picture changes."""
from __future__ import annotations

import numpy as np
import torch

from recognisers.emotion import EMOTIONS, EmotionClassifier
from recognisers_faces import aligned_crops, astronaut_photo, augmentations, to_tensor


def test_smiling_astronaut_is_happy_under_augmentation():
    torch.set_num_threads(2)
    classifier = EmotionClassifier()
    crop = aligned_crops([astronaut_photo()])[0]
    images = np.stack([crop, *augmentations(crop).values()])
    with torch.no_grad():
        p = classifier(to_tensor(images))
    torch.testing.assert_close(p.sum(1), torch.ones(len(images)))
    assert (p.argmax(1) == EMOTIONS.index("happy")).all(), p
    x = to_tensor(images[:1]).requires_grad_(True)
    classifier(x)[0, EMOTIONS.index("happy")].backward()
    assert x.grad.abs().sum() > 0
