"""Real media and real engines for the stream tests: photos from scikit-image, videos the tests write,
the real default generator with freshly initialised encoder and mapper checkpoints."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
import skimage.data
import torch

from engines.checkpoint import CheckpointHeader, read_header, save_checkpoint
from engines.config import EngineConfig
from engines.face_encoder import FaceEncoder
from engines.mapper import L2LMapper
from project import ATTRIBUTES as PROJECT_ATTRIBUTES
from project import REPO_ROOT

REPO = REPO_ROOT
GENERATOR = REPO / "models/default/generator.safetensors"
LATENT = read_header(GENERATOR).latent_shape[0]  # the shipped generator's latent width
PIPELINE_THREADS = {"capture", "faces", "latents", "ffmpeg-writer", "terminal-keys"}  # threads a live run starts
TEMPLATE = REPO / "models/default/alignment.json"
BACKEND = "livel2l-test"  # the pyvirtualcam backend name RecordingCamera is registered under
ATTRIBUTES = list(PROJECT_ATTRIBUTES)


def astronaut_bgr() -> np.ndarray:
    """The astronaut photo (NASA, public domain), 512×512 BGR."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def webcam_frame(photo: np.ndarray, angle: float = 0.0, scale: float = 2.0, shift: tuple[float, float] = (0, 0),
                 centre: tuple[float, float] = (222.0, 150.0), size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A 640×480 view of a photo as a webcam would frame the face (rotated, scaled, shifted)."""
    m = cv2.getRotationMatrix2D(centre, angle, scale)
    m[:, 2] += (size[0] / 2 - centre[0] + shift[0], size[1] / 2 - centre[1] + shift[1])
    return cv2.warpAffine(photo, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def no_face_frame(size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A real photo without a face (scikit-image's coffee cup)."""
    return cv2.resize(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_AREA)


def two_face_frame() -> np.ndarray:
    """Two real faces side by side (the astronaut and her mirror image) in a 640×480 frame."""
    face = webcam_frame(astronaut_bgr(), scale=1.2, size=(320, 480))
    return np.concatenate([face, face[:, ::-1]], axis=1)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write frames losslessly-enough (MJPEG, quality 100) so tests compare what the pipeline saw."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h),
                             [cv2.VIDEOWRITER_PROP_QUALITY, 100])
    assert writer.isOpened(), f"cannot write {path}"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def encoded_frame(engines, clip: Path, index: int = 0):
    """(image, Frame) of one frame of a real clip through the face, alignment and encoder stages: its face has a
    track, a crop and a latent, ready for a GenerateStage."""
    from stream.alignment import AlignmentTemplate
    from stream.face_tracker import FaceTracker
    from stream.frame import Frame
    from stream.stages import AlignStage, DetectStage, EncodeStage

    image = read_video(clip)[index]
    tracker = FaceTracker(1)
    frame = Frame(0, image, 0.0, 0.0)
    for stage in (DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5)):
        stage.process(frame)
    tracker.close()
    return image, frame


def edits_over_clip(engines, clip: Path, frames: int, edits: dict[str, dict[str, float]], generate, flow, blends):
    """Yield (image, face, name, work) for each of a real clip's first `frames` frames and each named edit
    (attribute → strength): the face, alignment and encoder stages once a frame, then that edit's `generate` →
    `flow` → its own blend (`blends[name]`) on a copy of the frame (`work`, its output filled)."""
    from stream.alignment import AlignmentTemplate
    from stream.face_tracker import FaceTracker
    from stream.frame import FaceWork, Frame
    from stream.stages import AlignStage, DetectStage, EncodeStage

    tracker = FaceTracker(1)
    face_stages = (DetectStage(tracker), AlignStage(AlignmentTemplate.load(TEMPLATE)), EncodeStage(engines.encoder, 0.5))
    try:
        for i, image in enumerate(read_video(clip)[:frames]):
            frame = Frame(i, image, 0.0, i / 25)
            for stage in face_stages:
                stage.process(frame)
            face = frame.faces[0]
            for name, asked in edits.items():
                work = Frame(i, image.copy(), 0.0, i / 25,
                             faces=[FaceWork(face.track, face.crop, face.frame_to_crop, face.latent)])
                work.delta = np.zeros(len(engines.attributes), np.float32)
                for attr, strength in asked.items():
                    work.delta[engines.attributes.index(attr)] = strength
                for stage in (generate, flow, blends[name]):
                    stage.process(work)
                yield image, face, name, work
    finally:
        tracker.close()


def read_video(path: Path | str) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def moving_face_clip(n: int, photo: np.ndarray | None = None) -> list[np.ndarray]:
    """n frames of a slowly panning, rolling camera on the astronaut's face."""
    photo = astronaut_bgr() if photo is None else photo
    return [webcam_frame(photo, angle=3 * np.sin(i / 5), shift=(10 * np.sin(i / 7), 4 * np.cos(i / 6))) for i in range(n)]


def mesh_landmarks(frame: np.ndarray, faces: int = 1) -> list[np.ndarray]:
    """(468, 2) pixel landmarks of each face the face mesh finds in a still image."""
    h, w = frame.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=faces) as mesh:
        result = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return [np.array([(p.x * w, p.y * h) for p in f.landmark]) for f in result.multi_face_landmarks or []]


def hull_mask(frame_shape: tuple[int, ...], landmarks: list[np.ndarray], grow: int = 0) -> np.ndarray:
    """Boolean mask of the faces' landmark hulls, optionally grown by `grow` pixels."""
    mask = np.zeros(frame_shape[:2], np.uint8)
    for lm in landmarks:
        cv2.fillConvexPoly(mask, cv2.convexHull(lm.astype(np.int32)), 1)
    if grow:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return mask.astype(bool)


def face_box_mask(frame_shape: tuple[int, ...], landmarks: list[np.ndarray], grow: int = 0) -> np.ndarray:
    """Boolean mask of the faces' regions the warp blend may write (their landmark boxes grown by the warp's
    OUTLINE_MARGIN: a moving face outline may cross its hull), optionally grown by `grow` pixels."""
    from stream.blending import face_region
    from stream.warp_blend import OUTLINE_MARGIN

    mask = np.zeros(frame_shape[:2], bool)
    for lm in landmarks:
        x0, y0, x1, y1 = face_region(lm, frame_shape, OUTLINE_MARGIN)
        mask[max(0, y0 - grow):y1 + grow, max(0, x0 - grow):x1 + grow] = True
    return mask


def write_engine_checkpoints(folder: Path) -> EngineConfig:
    """Random encoder and mapper (scaled so latents and edits are as large as trained ones') next to
    the real generator, as proper checkpoints; torch backend, one thread."""
    torch.manual_seed(0)
    enc_cfg = dict(latent_dim=LATENT, channels=16, size=64)
    net = FaceEncoder(**enc_cfg)
    with torch.no_grad():
        net.to_latent.weight.mul_(60.0)  # latents of unit scale, as a trained encoder gives the generator
    encoder = save_checkpoint(folder / "encoder.safetensors", net.state_dict(),
                              CheckpointHeader(network="face_encoder", config=enc_cfg))
    map_cfg = dict(latent_dim=LATENT, n_attributes=len(ATTRIBUTES), hidden=128, depth=3)
    mapper = L2LMapper(**map_cfg)
    torch.nn.init.normal_(mapper.out.weight, std=0.5)
    mapper_path = save_checkpoint(folder / "mapper.safetensors", mapper.state_dict(),
                                  CheckpointHeader(network="l2l_mapper", attributes=ATTRIBUTES, config=map_cfg))
    return EngineConfig(backend="torch", generator=GENERATOR, encoder=encoder, mapper=mapper_path,
                        cache_dir=folder / "cache", threads=1)


def engine_flags(config: EngineConfig) -> list[str]:
    """The CLI flags that point run.py at these checkpoints."""
    return ["--engine", "torch", "--set", f'engine.encoder="{config.encoder}"', "--set",
            f'engine.mapper="{config.mapper}"', "--set", f'engine.cache_dir="{config.cache_dir}"']


class RecordingCamera:
    """A pyvirtualcam backend keeping every frame sent and when (perf_counter); with `log` set (a child
    process) it appends `time height width` per frame to that file instead of keeping the frames."""

    received: list[np.ndarray] = []
    times: list[float] = []
    log: Path | None = None

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        self.width, self.height = width, height

    def send(self, frame: np.ndarray) -> None:
        now = time.perf_counter()
        frame = frame.reshape(self.height, self.width, 3)
        if RecordingCamera.log is not None:
            with open(RecordingCamera.log, "a") as f:
                f.write(f"{now} {frame.shape[0]} {frame.shape[1]}\n")
            return
        RecordingCamera.received.append(frame.copy())
        RecordingCamera.times.append(now)

    def close(self) -> None:
        pass

    def device(self) -> str:
        return "recording-camera"

    def native_fourcc(self) -> None:
        return None


def virtualcam_flags() -> list[str]:
    return ["--virtualcam", "--set", f'stream.virtualcam_backend="{BACKEND}"']


def wait_for(condition, timeout: float = 30.0, poll_s: float = 0.02) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass (a loaded CPU may be slow); its last answer."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(poll_s)
    return True
