"""Contact sheets of UTKFace photos for labelling beard, bald and glasses by eye.

    python scripts/label_sheets.py --utkface ../shared/data/utkface --out cache/label_sheets

Picks a fixed, seeded sample (mostly adult men, where beards and bald heads are; some women and
children so the labels are not all one kind of face), then men of 40+ whose photo's top edge is most
skin-coloured (bald_cue; bald heads are rare otherwise), writes sheets of 48 faces (8×6, 96 px each,
the sheet-local index 0–47 under each face) as sheet_NN.png and the file names in sheet order as
sheet_NN.txt. A person looks at each sheet and records the labels in recognisers/labels/beard_bald.csv.
The sheets show UTKFace photos: keep them in cache/, never commit them.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2
import numpy as np

TILE, COLS, ROWS, CAPTION = 96, 8, 6, 16


def utkface_fields(name: str) -> tuple[int, int] | None:
    """(age, gender 0 male / 1 female) from a UTKFace file name, None when the name carries no labels."""
    parts = name.split("_")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def pick_faces(names: list[str], men: int, others: int, seed: int) -> list[str]:
    """`men` men aged 18–90 (half of them 40+) and `others` women or under-18s, shuffled."""
    rng = random.Random(seed)
    fields = {n: utkface_fields(n) for n in names}
    young_men = sorted(n for n, f in fields.items() if f and f[1] == 0 and 18 <= f[0] < 40)
    old_men = sorted(n for n, f in fields.items() if f and f[1] == 0 and 40 <= f[0] <= 90)
    rest = sorted(n for n, f in fields.items() if f and not (f[1] == 0 and 18 <= f[0] <= 90))
    picked = rng.sample(young_men, men // 2) + rng.sample(old_men, men - men // 2) + rng.sample(rest, others)
    rng.shuffle(picked)
    return picked


def bald_cue(path: Path) -> float:
    """Lab distance between the top band of the photo and the cheeks: small when skin runs up to the top edge."""
    lab = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    top = lab[: h // 10, w * 3 // 10 : w * 7 // 10].reshape(-1, 3).mean(0)
    cheeks = np.concatenate([lab[h * 11 // 20 : h * 13 // 20, w // 5 : w * 7 // 20], lab[h * 11 // 20 : h * 13 // 20, w * 13 // 20 : w * 4 // 5]])
    return float(np.linalg.norm(top - cheeks.reshape(-1, 3).mean(0)))


def pick_bald_candidates(folder: Path, names: list[str], exclude: set[str], count: int) -> list[str]:
    """`count` men aged 40–90 not in `exclude` whose top band looks most like their cheeks (likely bald)."""
    fields = {n: utkface_fields(n) for n in names}
    men = [n for n, f in fields.items() if f and f[1] == 0 and 40 <= f[0] <= 90 and n not in exclude]
    return sorted(men, key=lambda n: bald_cue(folder / n))[:count]


def sheet(paths: list[Path]) -> np.ndarray:
    """A BGR contact sheet: faces at TILE px with their sheet-local index under each."""
    canvas = np.full((ROWS * (TILE + CAPTION), COLS * TILE, 3), 255, np.uint8)
    for i, path in enumerate(paths):
        r, c = divmod(i, COLS)
        face = cv2.resize(cv2.imread(str(path)), (TILE, TILE), interpolation=cv2.INTER_AREA)
        y, x = r * (TILE + CAPTION), c * TILE
        canvas[y : y + TILE, x : x + TILE] = face
        cv2.putText(canvas, str(i), (x + 38, y + TILE + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utkface", type=Path, default=Path("../shared/data/utkface"))
    parser.add_argument("--out", type=Path, default=Path("cache/label_sheets"))
    parser.add_argument("--men", type=int, default=624)
    parser.add_argument("--others", type=int, default=96)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--bald-cue", type=int, default=192, help="extra sheets of men most likely bald, by bald_cue")
    args = parser.parse_args()
    if not args.utkface.is_dir():
        parser.error(f"--utkface {args.utkface} is not a folder; point it at the UTKFace photos")
    names = sorted(p.name for p in args.utkface.glob("*.jpg"))
    picked = pick_faces(names, args.men, args.others, args.seed)
    picked += pick_bald_candidates(args.utkface, names, set(picked), args.bald_cue)
    args.out.mkdir(parents=True, exist_ok=True)
    per = COLS * ROWS
    for s in range(0, len(picked), per):
        chunk = picked[s : s + per]
        stem = args.out / f"sheet_{s // per:02d}"
        cv2.imwrite(str(stem.with_suffix(".png")), sheet([args.utkface / n for n in chunk]))
        stem.with_suffix(".txt").write_text("\n".join(chunk) + "\n")
    print(f"{len(picked)} faces on {-(-len(picked) // per)} sheets in {args.out}")


if __name__ == "__main__":
    main()
