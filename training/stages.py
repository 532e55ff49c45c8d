"""The training stages in order, each writing one file and skipped when that file exists."""
from __future__ import annotations

import shutil
from pathlib import Path

from errors import ConfigError
from training.config import TrainConfig
from training.frozen import load_identity_embedder, load_labeller
from training.rendering import load_generator
from training.resume import saved_step


def framing(cfg: TrainConfig) -> Path | None:
    """The alignment template of the generator's faces (beside the generator file), None when there is none."""
    path = Path(cfg.generator).parent / "alignment.json"
    return path if path.is_file() else None


def stage_output(stage: str, cfg: TrainConfig) -> Path:
    """The file a stage produces; its presence marks the stage done."""
    return {
        "generator": cfg.generator,
        "dataset": cfg.cache_dir / "dataset" / "complete.json",
        "regressor": cfg.out_dir / "regressor.safetensors",
        "mapper": cfg.out_dir / "mapper.safetensors",
        "encoder": cfg.out_dir / "encoder.safetensors",
    }[stage]


def run_stage(stage: str, cfg: TrainConfig, force: bool, commit: str) -> str:
    """Run one stage unless its output exists; force restarts it from nothing.

    A finished mapper or encoder whose saved state is behind the configured steps is trained on from there,
    so raising `steps` continues a run instead of repeating it."""
    out = stage_output(stage, cfg)
    state = cfg.cache_dir / f"{stage}_state.safetensors"
    if stage == "generator":
        return run_generator_stage(cfg, out, state, force, commit)
    steps = {"mapper": cfg.mapper.steps, "encoder": cfg.encoder.steps}.get(stage)
    if force:
        state.unlink(missing_ok=True)
        if stage == "dataset":
            shutil.rmtree(out.parent, ignore_errors=True)
    elif out.is_file() and (steps is None or not 0 < saved_step(state) < steps):
        return f"done already: {out} (--force to redo)"
    extra = {"training_commit": commit, "seed": cfg.seed}
    generator = load_generator(cfg.generator)
    if stage == "dataset":
        from training.dataset import build_dataset

        summary = build_dataset(cfg.dataset, generator, load_labeller(cfg.labeller).label, out.parent, cfg.seed)
        return f"wrote {out.parent}: {summary['with_face']} of {summary['samples']} renders have a face"
    if stage == "regressor":
        from training.dataset import load_dataset
        from training.linear import fit_directions, save_directions
        from training.regressor import save_regressor, train_regressor

        data = load_dataset(stage_output("dataset", cfg).parent)
        save_directions(cfg.out_dir / "directions.safetensors", fit_directions(data.latents, data.labels),
                        {**extra, "rows": len(data)})
        net, stats = train_regressor(cfg.regressor, data, cfg.seed)
        save_regressor(out, net, stats, cfg.regressor, extra)
        return f"wrote {out} and directions.safetensors; held-out R² {stats['heldout_r2']}"
    if stage == "mapper":
        from training.mapper import train_mapper
        from training.regressor import load_regressor

        regressor, stats = load_regressor(stage_output("regressor", cfg))
        embedder = load_identity_embedder(framing(cfg)) if cfg.mapper.identity_weight > 0 else None
        on_face = load_on_face(cfg, stats)
        losses = train_mapper(cfg.mapper, regressor, stats, generator, embedder, out, state, cfg.seed, extra, on_face)
        return f"wrote {out}; last losses " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items())
    from training.encoder import train_encoder

    embedder = load_identity_embedder(framing(cfg)) if cfg.encoder.identity_weight > 0 else None
    losses = train_encoder(cfg.encoder, generator, embedder, out, state, cfg.seed, extra)
    return f"wrote {out}; last losses " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items())


def trained_steps(path: Path) -> int:
    """Steps a shipped `stylegan2_generator` file was trained for; 0 for any other file or none."""
    from engines.checkpoint import CheckpointError, read_header

    try:
        header = read_header(path)
    except CheckpointError:
        return 0
    return int(header.extra.get("steps", 0)) if header.network == "stylegan2_generator" else 0


def run_generator_stage(cfg: TrainConfig, out: Path, state: Path, force: bool, commit: str) -> str:
    """Train the generator (to train.generator) and its encoder (to out_dir) on train.data; done when the generator
    file holds one trained for the configured steps."""
    from training.generator import train_generator

    steps = cfg.generator_training.steps
    if force:
        state.unlink(missing_ok=True)
    elif trained_steps(out) >= steps:
        return f"done already: {out} ({trained_steps(out)} steps; --force to redo)"
    if cfg.data is None:
        raise ConfigError("the generator stage needs real face photos: pass --data DIR (a folder of aligned faces, e.g. UTKFace)")
    encoder = stage_output("encoder", cfg)
    logs = train_generator(cfg.generator_training, cfg.data, out, encoder, state, cfg.cache_dir / "generator_samples",
                           cfg.seed, "default", {"training_commit": commit, "seed": cfg.seed, "data": cfg.data.name})
    return f"wrote {out} and {encoder}; last losses " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())


def load_on_face(cfg: TrainConfig, regressor_stats: dict):
    """The mapper's on-face term (real faces of train.data aligned and encoded once, cached; the differentiable
    recognisers; Δ units from the render labels' spread), or None when train.data is unset or the term is off."""
    if cfg.data is None or cfg.mapper.on_face_batch == 0 or cfg.mapper.on_face_weight == 0:
        print("mapper: no train.data (--data): training without the on-face term")
        return None
    import torch

    from engines.checkpoint import load_network
    from engines.face_encoder import FaceEncoder
    from project import ATTRIBUTES
    from stream.alignment import AlignmentTemplate
    from training.on_face import READINGS, FaceReadings, OnFace
    from training.real_faces import build_real_faces, load_real_faces, save_real_faces

    encoder_path = cfg.out_dir / "encoder.safetensors"
    template = framing(cfg)
    if template is None or not encoder_path.is_file():
        print("mapper: no encoder or alignment.json beside the generator: training without the on-face term")
        return None
    encoder, _ = load_network(FaceEncoder, encoder_path, "face_encoder")
    st = encoder_path.stat()
    source = f"{Path(cfg.data).resolve()}|{cfg.mapper.on_face_photos}|{st.st_size}:{st.st_mtime_ns}"
    path = cfg.cache_dir / "real_faces.npz"
    faces = load_real_faces(path, source)
    if faces is None:
        faces = build_real_faces(Path(cfg.data), AlignmentTemplate.load(template), encoder, cfg.mapper.on_face_photos)
        save_real_faces(path, faces, source)
    std = regressor_stats["label_std"]
    units = torch.tensor([float(std[ATTRIBUTES.index(a)]) for a in READINGS])
    share = {"gender": cfg.mapper.on_face_gender_weight, "age": cfg.mapper.on_face_age_weight}
    weights = torch.tensor([share.get(a, 1.0) for a in READINGS])
    return OnFace(faces, FaceReadings(), units, weights)
