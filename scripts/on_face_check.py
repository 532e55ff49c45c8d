"""Age and gender of held-out real faces with a mapper's edit blended in, as the mapper's on-face term reads them.

    python scripts/on_face_check.py --data ../shared/data/utkface [MAPPER.safetensors ...]

For each mapper (default: the shipped one), age ±2 and gender ±2 on up to --faces held-out photos (the
`sha1(name) % 10 == 0` split no network trained on), aligned and encoded as the live pipeline does; dlib's age
and gender networks read the camera face and the face + (G(f(w, Δ)) − G(w)) (the delta blend). Prints the mean
change and, for gender, the share of faces that cross P = 0.5 from the side the edit pushes away from.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from recognisers.age_gender_torch import AgeGenderTorch  # noqa: E402
from training.generator_report import Profile  # noqa: E402
from training.on_face import blend_delta  # noqa: E402
from training.real_faces import build_real_faces  # noqa: E402
from training.report import load_mapper  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mappers", type=Path, nargs="*", default=[ROOT / "models/default/mapper.safetensors"])
    parser.add_argument("--data", type=Path, required=True, help="folder of aligned face photos (e.g. UTKFace)")
    parser.add_argument("--models", type=Path, default=ROOT / "models/default", help="generator, encoder, alignment")
    parser.add_argument("--faces", type=int, default=120)
    args = parser.parse_args()
    torch.set_num_threads(1)
    profile = Profile(args.models)
    faces = build_real_faces(args.data, profile.template, profile.encoder, args.faces, split="heldout")
    judge = AgeGenderTorch()
    crops, w, geometry, _ = faces.batch(torch.arange(len(faces)))
    with torch.no_grad():
        original = profile.generator(w)
        age0, male0 = judge(crops, geometry)
        for path in args.mappers:
            mapper = load_mapper(path)
            for column, name in ((0, "age"), (1, "gender")):
                for strength in (-2.0, 2.0):
                    delta = torch.zeros(len(w), mapper.n_attributes)
                    delta[:, column] = strength
                    _, composite = blend_delta(crops, original, profile.generator(mapper(w, delta)))
                    age, male = judge(composite, geometry)
                    line = f"{path.name} {name}{strength:+g}: age {(age - age0).mean():+.1f} years, P(male) {(male - male0).mean():+.3f}"
                    if name == "gender":
                        away = (male0 > 0.5) if strength < 0 else (male0 < 0.5)
                        crossed = ((male > 0.5) != (male0 > 0.5))[away].float().mean()
                        line += f", {crossed:.0%} of {int(away.sum())} faces cross P = 0.5"
                    print(line, flush=True)
    print(f"{len(faces)} held-out faces")


if __name__ == "__main__":
    main()
