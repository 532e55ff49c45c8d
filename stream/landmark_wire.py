"""mediapipe's landmark lists as arrays, read from their serialised bytes: 468 attribute reads in Python cost
about 0.12 ms a face, the bytes 0.02 ms, and the face mesh's flow reads three lists a face every frame."""
from __future__ import annotations

import numpy as np

# A NormalizedLandmark with x, y and z set, as the wire format lays it out: the list's field tag and length, then
# each float's tag and its 4 little-endian bytes.
LANDMARK_WIRE = np.dtype([("list_tag", "u1"), ("length", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"),
                          ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
LANDMARK_TAGS = {"list_tag": 0x0A, "length": LANDMARK_WIRE.itemsize - 2, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def landmark_xyz(landmarks) -> np.ndarray:
    """(n, 3) float64 x, y, z of a mediapipe NormalizedLandmarkList: from its bytes when every landmark has
    exactly x, y and z (as the face mesh's have), else attribute by attribute."""
    wire = landmarks.SerializeToString()
    if len(wire) % LANDMARK_WIRE.itemsize == 0:
        rows = np.frombuffer(wire, LANDMARK_WIRE)
        if all((rows[name] == tag).all() for name, tag in LANDMARK_TAGS.items()):
            return np.column_stack([rows["x"], rows["y"], rows["z"]]).astype(np.float64)
    return np.array([(q.x, q.y, q.z) for q in landmarks.landmark], np.float64)
