"""Real faces for the mapper's on-face attribute loss: aligned photos as the live pipeline crops them, their
encoded latents and the dlib chip geometry of each, cached once per photo folder.

The live filter never shows G(w′): it adds G(w′) − G(w) to the camera's own face (delta/warp blending). An edit
that moves the age network on a render can vanish on a real face, whose own wrinkles, skin and light stay.
Training part of the attribute loss on exactly that composite, read by the real recognisers
(training/on_face.py), is what makes the edit show where it is judged."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from errors import MissingFileError
from recognisers.age_gender_torch import landmark_geometry
from recognisers.face_mesh import FaceMesher
from recognisers.face_views import view_matrix
from stream.alignment import AlignmentTemplate, align_face, apply_affine, face_keypoints
from training.face_folder import load_faces

CROP_SCALE = 2  # composite crops are this × the generator's side: the dlib age chip (64 px) is not upsampled
FORMAT = 3
VIEWS = ("face", "head")  # the MobileFace views the beard and bald heads embed (recognisers/face_views.py)


@dataclass
class RealFaces:
    """crops uint8 (N,3,S,S) RGB at CROP_SCALE × the generator's side, latents (N,D) = E(crop at the
    generator's side), geometry (N,3,3) dlib chip unit → crop pixel maps, views (N,len(VIEWS),2,3) crop → view
    pixel maps of the MobileFace views."""

    crops: torch.Tensor
    latents: torch.Tensor
    geometry: torch.Tensor
    views: torch.Tensor

    def __len__(self) -> int:
        return len(self.crops)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(crops in [-1, 1], latents, geometry, views) of the rows in index."""
        return self.crops[index].float() / 127.5 - 1, self.latents[index], self.geometry[index], self.views[index]


def build_real_faces(folder: Path, template: AlignmentTemplate, encoder: torch.nn.Module, limit: int,
                     batch: int = 64, split: str = "train") -> RealFaces:
    """Align `limit` photos of `folder`'s split (training: "train", never the held-out ones), spread over the whole
    folder, with the face mesh and the generator's template at CROP_SCALE × its side, and encode each at the generator's side."""
    size = template.size * CROP_SCALE
    big = AlignmentTemplate(size=size, points=template.points * CROP_SCALE)
    photos = load_faces(folder, 200, split, limit, evenly=True).images.permute(0, 2, 3, 1).numpy()  # names sort by age
    mesher = FaceMesher(192)
    crops, geometry, views = [], [], []
    for start in tqdm(range(0, len(photos), batch), desc="real faces (align)", dynamic_ncols=True):
        part = np.ascontiguousarray(photos[start:start + batch])
        landmarks, found = mesher(part)
        for i in np.flatnonzero(found):
            crop, m = align_face(part[i], face_keypoints(landmarks[i]), big)
            points = np.concatenate([apply_affine(m, landmarks[i][:, :2]), landmarks[i][:, 2:]], axis=1)
            crops.append(crop)
            geometry.append(landmark_geometry(points[None])[0])
            views.append(torch.tensor(np.stack([view_matrix(points, v) for v in VIEWS]), dtype=torch.float32))
    mesher.close()
    if not crops:
        raise MissingFileError(f"--data {folder}: the face mesh found no face in its photos; pass aligned face photos")
    crops_t = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    latents = []
    with torch.no_grad():
        for start in range(0, len(crops_t), batch):
            x = crops_t[start:start + batch].float() / 127.5 - 1
            latents.append(encoder(torch.nn.functional.interpolate(x, size=template.size, mode="area")))
    return RealFaces(crops_t, torch.cat(latents).flatten(1), torch.stack(geometry), torch.stack(views))


def save_real_faces(path: Path, faces: RealFaces, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, crops=faces.crops.numpy(), latents=faces.latents.numpy(), geometry=faces.geometry.numpy(),
             views=faces.views.numpy(), format=np.array(FORMAT), source=np.array(source))
    tmp.replace(path)


def load_real_faces(path: Path, source: str) -> RealFaces | None:
    """The cached set, or None when there is none or it was made from other photos, encoder or format."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        if int(f["format"]) != FORMAT or str(f["source"]) != source:
            return None
        return RealFaces(*(torch.from_numpy(f[k]) for k in ("crops", "latents", "geometry", "views")))
