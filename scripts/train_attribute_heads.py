"""Train the beard and bald heads and validate every recogniser on held-out labelled UTKFace photos.

    python scripts/utkface_features.py --sample 1500          # once: cache/utkface_features.npz
    python scripts/train_attribute_heads.py --utkface ../shared/data/utkface

Labels: beard/bald/glasses by eye (recognisers/labels/beard_bald.csv), age and gender from the file names.
Split: utkface_features.is_holdout (sha1 of the file name); heads see only the other photos. Writes the heads
to models/recognisers/{beard,bald}_head.safetensors, the figures to docs/recognisers/validation.json and
top/bottom grids of held-out photos by score to cache/grids/ (UTKFace photos: never committed).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from project import REPO_ROOT  # noqa: E402
from recognisers.embedding_head import EmbeddingHead, save_head  # noqa: E402

STRENGTHS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # L2 penalty per sample on standardised features


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """L2-regularised, class-balanced logistic regression by L-BFGS on standardised features → (weight, bias).

    Balanced: both classes weigh the same in the loss, so P = 0.5 sits between them even for a rare label
    (bald); the head's P is then a balanced score, not the base-rate probability."""
    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    pos_weight = torch.tensor((len(y) - y.sum()) / max(y.sum(), 1.0), dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, pos_weight=pos_weight) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def choose_l2(x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    """The penalty with the lowest cross-validated log-loss on the training photos."""
    order = np.random.default_rng(0).permutation(len(x))
    losses = []
    for l2 in STRENGTHS:
        total = 0.0
        for k in range(folds):
            val = order[k::folds]
            tr = np.setdiff1d(order, val)
            w, b = fit_logistic(x[tr], y[tr], l2)
            p = np.clip(1 / (1 + np.exp(-(x[val] @ w + b))), 1e-6, 1 - 1e-6)
            total -= np.sum(y[val] * np.log(p) + (1 - y[val]) * np.log(1 - p))
        losses.append(total / len(x))
    return STRENGTHS[int(np.argmin(losses))]


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (probability a positive outscores a negative)."""
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())


def binary_report(p: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and balanced accuracy at P = 0.5, AUC, and the counts."""
    hit = (p >= 0.5) == (y == 1)
    tpr = float(hit[y == 1].mean()) if (y == 1).any() else float("nan")
    tnr = float(hit[y == 0].mean()) if (y == 0).any() else float("nan")
    return {"n": int(len(y)), "positives": int(y.sum()), "accuracy": round(float(hit.mean()), 4),
            "balanced_accuracy": round((tpr + tnr) / 2, 4), "true_positive_rate": round(tpr, 4),
            "true_negative_rate": round(tnr, 4), "auc": round(auc(p, y), 4)}


def grid(paths: list[Path], scores: np.ndarray, out: Path, tile: int = 96, cols: int = 8) -> None:
    """A sheet of photos with their score under each (for looking, kept in cache/)."""
    rows = -(-len(paths) // cols)
    canvas = np.full((rows * (tile + 16), cols * tile, 3), 255, np.uint8)
    for i, (path, s) in enumerate(zip(paths, scores)):
        r, c = divmod(i, cols)
        canvas[r * (tile + 16) : r * (tile + 16) + tile, c * tile : (c + 1) * tile] = cv2.resize(cv2.imread(str(path)), (tile, tile))
        cv2.putText(canvas, f"{s:.2f}", (c * tile + 30, r * (tile + 16) + tile + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), canvas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=Path, default=Path("cache/utkface_features.npz"))
    parser.add_argument("--labels", type=Path, default=REPO_ROOT / "recognisers/labels/beard_bald.csv")
    parser.add_argument("--utkface", type=Path, default=Path("../shared/data/utkface"))
    parser.add_argument("--models", type=Path, default=REPO_ROOT / "models/recognisers")
    parser.add_argument("--report", type=Path, default=REPO_ROOT / "docs/recognisers/validation.json")
    parser.add_argument("--grids", type=Path, default=Path("cache/grids"))
    args = parser.parse_args()
    if not args.features.is_file():
        parser.error(f"--features {args.features} not found; run scripts/utkface_features.py first")
    f = dict(np.load(args.features))
    names = list(f["names"])
    index = {n: i for i, n in enumerate(names)}
    views = [str(v) for v in f["views"]]
    report: dict = {"split": "hold-out = int(sha1(file name)[:8], 16) % 5 == 0", "photos": len(names),
                    "with_face": int(f["found"].sum())}

    with open(args.labels) as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"] in index and f["found"][index[r["file"]]]]
    li = np.array([index[r["file"]] for r in rows])
    hold = f["holdout"][li]
    male_adult = (f["male"][li] == 1) & (f["age"][li] >= 18)
    report["labelled"] = {"photos": len(rows), "holdout": int(hold.sum()), "train": int((~hold).sum())}

    x_all = f["embeddings"][li]
    for attr in ("beard", "bald"):
        y = np.array([float(r[attr]) for r in rows])
        xtr, ytr = x_all[~hold], y[~hold]
        mean, std = xtr.mean(0), xtr.std(0) + 1e-6
        z = (x_all - mean) / std
        l2 = choose_l2(z[~hold], ytr)
        w, b = fit_logistic(z[~hold], ytr, l2)
        header = {"attribute": attr, "views": views, "embedder": "models/recognisers/mobileface.safetensors",
                  "labels": "recognisers/labels/beard_bald.csv (labelled by eye)", "l2": l2,
                  "trained_on": f"{int((~hold).sum())} UTKFace photos outside the hold-out",
                  "licence": "trained on UTKFace: non-commercial research use only"}
        head_path = args.models / f"{attr}_head.safetensors"
        save_head(head_path, w, b, mean, std, header)
        head = EmbeddingHead(head_path, embedder=torch.nn.Identity())
        p = head.from_features(x_all)
        report[attr] = {"l2": l2, "holdout": binary_report(p[hold], y[hold]),
                        "holdout_adult_men": binary_report(p[hold & male_adult], y[hold & male_adult]),
                        "train": binary_report(p[~hold], y[~hold])}
        order = np.argsort(-p[hold])
        hold_files = [args.utkface / rows[i]["file"] for i in np.flatnonzero(hold)]
        grid([hold_files[i] for i in order[:32]], p[hold][order[:32]], args.grids / f"{attr}_top.png")
        grid([hold_files[i] for i in order[-32:]], p[hold][order[-32:]], args.grids / f"{attr}_bottom.png")

    y_glasses = np.array([float(r["glasses"]) for r in rows])
    pg = f["glasses"][li]
    report["glasses"] = {"all_labelled": binary_report(pg, y_glasses), "holdout": binary_report(pg[hold], y_glasses[hold])}
    order = np.argsort(-pg)
    files = [args.utkface / r["file"] for r in rows]
    wrong = np.flatnonzero((pg >= 0.5) != (y_glasses == 1))
    grid([files[i] for i in wrong[:48]], pg[wrong[:48]], args.grids / "glasses_wrong.png")
    grid([files[i] for i in order[:32]], pg[order[:32]], args.grids / "glasses_top.png")

    h = f["holdout"] & f["found"]
    age_err = np.abs(f["dlib_age"][h] - f["age"][h])
    adult = f["age"][h] >= 18
    report["age_dlib"] = {"holdout_photos": int(h.sum()), "mae_years": round(float(age_err.mean()), 2),
                          "mae_years_18_80": round(float(age_err[adult & (f["age"][h] <= 80)].mean()), 2),
                          "correlation": round(float(np.corrcoef(f["dlib_age"][h], f["age"][h])[0, 1]), 3)}
    report["gender_dlib"] = {"holdout_photos": int(h.sum()),
                             "accuracy": round(float(((f["dlib_male"][h] >= 0.5) == (f["male"][h] == 1)).mean()), 4),
                             "accuracy_18plus": round(float(((f["dlib_male"][h][adult] >= 0.5) == (f["male"][h][adult] == 1)).mean()), 4)}
    tr = ~f["holdout"] & f["found"] & np.isfinite(f["age"]) & np.isfinite(f["male"])
    h = h & np.isfinite(f["age"]) & np.isfinite(f["male"])
    mean, std = f["embeddings"][tr].mean(0), f["embeddings"][tr].std(0) + 1e-6
    ztr, zh = (f["embeddings"][tr] - mean) / std, (f["embeddings"][h] - mean) / std
    a = np.c_[ztr, np.ones(len(ztr))]
    coef = np.linalg.solve(a.T @ a + 30.0 * np.eye(a.shape[1]), a.T @ f["age"][tr])
    pred = np.c_[zh, np.ones(len(zh))] @ coef
    w, b = fit_logistic(ztr, f["male"][tr], 1e-2)
    report["age_embedding_ridge"] = {"train_photos": int(tr.sum()), "mae_years": round(float(np.abs(pred - f["age"][h]).mean()), 2)}
    report["gender_embedding_logistic"] = {"accuracy": round(float(((zh @ w + b >= 0) == (f["male"][h] == 1)).mean()), 4)}

    smile = f["smile"][np.isfinite(f["smile"])]
    report["smile_blendshapes"] = {"photos": int(len(smile)),
                                   "quartiles": [round(float(q), 3) for q in np.percentile(smile, [25, 50, 75])],
                                   "p90": round(float(np.percentile(smile, 90)), 3)}
    pose = f["found"]
    report["pose_utkface"] = {k: {"median": round(float(np.median(f[k][pose])), 1),
                                  "p5_p95": [round(float(v), 1) for v in np.percentile(f[k][pose], [5, 95])]}
                              for k in ("yaw", "pitch")}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
