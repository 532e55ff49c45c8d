"""`run.py train` and `run.py eval`: the default profile's training stages and the comparison with linear directions."""
from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import torch

from errors import ConfigError
from flags import add_settings_flags, settings_from_flags
from settings import Settings

STAGES = ("generator", "dataset", "regressor", "mapper", "encoder")


def git_commit() -> str:
    """HEAD of the repository the code runs from, recorded in every trained checkpoint."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _settings(args: argparse.Namespace, flags: dict[str, object]) -> Settings:
    """The common road from flags to settings; `--set mapper.steps=…` (no section) still means train.mapper.steps."""
    settings = settings_from_flags(args, flags, short_section="train")
    torch.set_num_threads(settings.train.threads)
    return settings


def _common(parser: argparse.ArgumentParser) -> None:
    add_settings_flags(parser)
    parser.add_argument("--seed", type=int, help="random seed (train.seed; train.eval.seed for eval)")


def main_train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py train", description="train the default profile stage by stage; "
                                     "finished stages are skipped and interrupted ones resume")
    _common(parser)
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {', '.join(STAGES)}")
    parser.add_argument("--force", action="store_true", help="redo the chosen stages from scratch")
    parser.add_argument("--data", type=Path, help="folder of aligned real face photos for the generator stage "
                        "(train.data), e.g. UTKFace's aligned & cropped faces")
    args = parser.parse_args(argv)
    cfg = _settings(args, {"train.seed": args.seed, "train.data": args.data}).train
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"--stages: unknown stage {unknown[0]!r}; choose from {', '.join(STAGES)}")
    from training.stages import run_stage

    for stage in stages:
        start = time.time()
        outcome = run_stage(stage, cfg, force=args.force, commit=git_commit())
        print(f"[{stage}] {outcome} ({time.time() - start:.0f} s)", flush=True)
    return 0


def main_eval(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run.py eval", description="compare the L2L mapper with linear directions "
                                     "at matched target change; writes JSON, CSV, Markdown and PNG grids")
    _common(parser)
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="folder for the table and grids")
    parser.add_argument("--json", type=Path, help="where the JSON goes (default: OUT/eval.json)")
    parser.add_argument("--models", type=Path, help="folder with mapper, regressor and directions "
                        "(default: train.out_dir)")
    parser.add_argument("--faces", type=int, help="faces per attribute (train.eval.faces)")
    parser.add_argument("--video", type=Path, help="instead: run the live pipeline over this real clip, every "
                        "attribute at -2 and +2, and judge the output frames (JSON + contact sheet in --out)")
    parser.add_argument("--videos", type=Path, help="the same for every clip in a folder")
    parser.add_argument("--frames", type=int, default=32, help="--video: frames with a face per clip (from its first face)")
    parser.add_argument("--blend", choices=("warp", "delta", "replace"), help="--video: blend mode (stream.blend)")
    parser.add_argument("--attributes", default="", help="--video: only these attributes, e.g. yaw,pitch (default all)")
    args = parser.parse_args(argv)
    if args.video or args.videos:
        return main_video_eval(args)
    cfg = _settings(args, {"train.eval.seed": args.seed, "train.eval.faces": args.faces}).train
    from training.report import run_evaluation

    written = run_evaluation(cfg, args.models or cfg.out_dir, args.out, args.json)
    for path in written:
        print(f"wrote {path}")
    return 0


def main_video_eval(args: argparse.Namespace) -> int:
    """`run.py eval --video CLIP | --videos DIR`: the live pipeline's engines and stream settings (engine.*, stream.*)."""
    settings = _settings(args, {"stream.blend": args.blend})
    from training.video_eval import VideoEvalConfig, VideoEvaluator, clips_in

    clips = clips_in(args.video, args.videos)
    from engines.profiles import PIPELINE_NETWORKS, load_engines
    from stream.alignment import alignment_template

    settings.engine.threads = settings.engine.threads or 1
    engines = load_engines(settings.engine, networks=PIPELINE_NETWORKS)
    template = alignment_template(settings, engines.resolution)
    only = tuple(a.strip() for a in args.attributes.split(",") if a.strip())
    evaluator = VideoEvaluator(engines, template, settings.stream, VideoEvalConfig(frames=args.frames, only=only))
    out = args.out if args.out != Path("out/eval") else Path("out/eval/video")
    from training.video_eval import write_summary

    results = []
    try:
        for clip in clips:
            result = evaluator.evaluate(clip, out)
            results.append(result)
            print(f"{clip.name}: {result['frames_with_face']}/{result['frames']} frames with a face; "
                  f"wrote {out / (clip.stem + '.json')}" + (f", {result['sheet']}" if "sheet" in result else ""))
            for name, e in result["edits"].items():
                target = "n/a" if e["target"] is None else f"{e['target']:+.3f} {e['unit']}"
                print(f"  {name:>12}: target {target}; identity {e['identity_dlib']}; outside {e['outside']}; "
                      f"flicker {e['flicker']}")
    finally:
        evaluator.close()
    print(f"wrote {write_summary(results, out / 'summary.md')}")
    return 0
