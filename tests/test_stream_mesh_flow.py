"""The warp mode's mesh flow on a real clip: a head turn of the shipped generator moves the camera's own face
the way the face mesh sees the renders move (the nose tip, scaled to the frame), which optical flow between
the renders does not; the face's outline may move but nothing past the face region changes; and where the
mesh misses a render, optical flow moves the face as before, inside the face hull."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from stream_media import TEMPLATE, hull_mask, mesh_landmarks, no_face_frame, read_video

from stream.alignment import AlignmentTemplate
from stream.blending import face_region
from stream.face_tracker import FaceTrack, FaceTracker
from stream.frame import FaceWork, Frame
from stream.landmark_flow import MeshFlowMaker
from stream.stages import AlignStage, BlendStage, DetectStage, EncodeStage, GenerateStage, MeshFlowStage
from stream.warp_blend import OUTLINE_MARGIN

DATA = Path(__file__).parent / "data"
NOSE_TIP = 1
YAW = 4.0  # a clear head turn of the shipped mapper (about 12° on the renders)


def yaw_edit_of_a_real_face(engines) -> Frame:
    """The first frame of steady_face.mp4 through the pipeline's stages up to the renders, yaw at YAW."""
    image = read_video(DATA / "steady_face.mp4")[0]
    tracker = FaceTracker(1)
    frame = Frame(0, image, 0.0, 0.0)
    frame.delta = np.zeros(len(engines.attributes), np.float32)
    frame.delta[engines.attributes.index("yaw")] = YAW
    for stage in (DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5),
                  GenerateStage(engines.editor)):
        stage.process(frame)
    tracker.close()
    assert frame.faces and frame.faces[0].edited is not None
    return frame


def blended(frame: Frame, mesh: bool) -> np.ndarray:
    face = frame.faces[0]
    work = Frame(0, frame.image.copy(), 0.0, 0.0, faces=[FaceWork(face.track, face.crop, face.frame_to_crop,
                                                                  face.latent, face.original, face.edited)])
    work.delta = frame.delta
    if mesh:
        stage = MeshFlowStage()
        stage.process(work)
        stage.close()
        assert work.faces[0].mesh_flow is not None
    BlendStage("warp", 0.12, True, outline=mesh).process(work)
    return work.output


def test_the_mesh_flow_moves_the_camera_face_as_the_renders_landmarks_move(engines):
    frame = yaw_edit_of_a_real_face(engines)
    face = frame.faces[0]
    maker = MeshFlowMaker()
    before, after = maker.mesher.pair(face.original, face.edited)
    maker.close()
    crop_to_frame = cv2.invertAffineTransform(face.frame_to_crop.astype(np.float64))[:, :2]
    expected = crop_to_frame @ (after[NOSE_TIP, :2] - before[NOSE_TIP, :2])  # the render's nose move, in frame px
    assert np.linalg.norm(expected) > 2.5  # the generator does turn the head

    (raw,) = mesh_landmarks(frame.image)
    moved = {mesh: mesh_landmarks(out)[0][NOSE_TIP] - raw[NOSE_TIP]
             for mesh, out in ((True, blended(frame, True)), (False, blended(frame, False)))}
    along = {mesh: float(move @ expected) / float(expected @ expected) for mesh, move in moved.items()}
    # The frame's nose follows the render's: about 55 % of its move as the mesh reads the output frame (the
    # spline on a coarse grid rounds the nose tip's peak, and the mesh reads a flat-warped photo's nose a
    # little short), in its direction; optical flow between the two 64-px renders carries about 20 %.
    assert np.linalg.norm(moved[True] - expected) < 0.5 * np.linalg.norm(expected)
    assert along[True] > 0.45 and along[True] > 2 * along[False]

    out = blended(frame, True)
    x0, y0, x1, y1 = face_region(face.track.landmarks, frame.image.shape, OUTLINE_MARGIN)
    outside = np.ones(out.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(out[outside], frame.image[outside])
    beyond_hull = ~hull_mask(out.shape, [face.track.landmarks]) & ~outside
    assert np.abs(out.astype(int) - frame.image)[beyond_hull].max() > 20  # the outline moves over the background


def test_a_render_the_mesh_misses_falls_back_to_optical_flow(face):
    frame, landmarks, crop, m = face
    cup = cv2.resize(no_face_frame()[100:400, 150:450], crop.shape[1::-1], interpolation=cv2.INTER_AREA)
    original = cup.astype(np.float32) / 127.5 - 1.0  # renders with no face in them
    edited = cv2.warpAffine(original, np.float32([[1, 0, 1.5], [0, 1, 0]]), crop.shape[1::-1],
                            borderMode=cv2.BORDER_REFLECT)
    work = Frame(0, frame.copy(), 0.0, 0.0, faces=[FaceWork(FaceTrack(0, landmarks), crop, m, None, original, edited)])
    stage = MeshFlowStage()
    stage.process(work)
    stage.close()
    assert work.faces[0].mesh_flow is None and stage.maker.missed == 1
    BlendStage("warp", 0.12, True, outline=True).process(work)
    diff = np.abs(work.output.astype(int) - frame.astype(int)).max(2)
    inside = hull_mask(frame.shape, [landmarks])
    assert (diff[~inside] == 0).all()  # optical flow's rule: nothing past the face hull moves
    assert (diff[inside] > 10).mean() > 0.05  # and the face does move
