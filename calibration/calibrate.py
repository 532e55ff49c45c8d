"""One calibration run: the set, the INT8 models, the TensorRT calibration, the gate's verdicts and the report dict."""
from __future__ import annotations

import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort
import torch

from calibration.config import CalibrationConfig
from calibration.dataset import CalibrationSet, build_calibration_set, to_crops, to_network
from calibration.faces import find_faces, folder_sources, photo_sources, video_source
from calibration.gate import PathResult, compare, judge, run_path
from calibration.quantise import calibration_feeds, quantise_network
from calibration.tensorrt_calibrator import CalibrationBatches, CalibrationCache, entropy_calibrator, write_trt_ep_table
from engines.bench import time_engine
from engines.checkpoint import CheckpointError, read_header
from engines.config import EngineConfig
from engines.engine import Engine, TensorSpec, run_batched
from engines.engine_cache import EngineCache
from engines.int8_verdict import Verdict, save_verdict
from engines.onnx_export import file_sha256, int8_path
from engines.profiles import NetworkSet, build_engine, onnx_file
from engines.tensorrt_engine import TrtEngine, tensorrt_missing
from project import DEMO_CLIP, resolve_path
from stream.alignment import AlignmentTemplate



def float_encode_render(nets: NetworkSet) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """The float torch encoder (crops → flat latents) and generator (flat latents → images) on numpy arrays."""

    def encode(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([nets.encoder(torch.from_numpy(images[i : i + 64])) for i in range(0, len(images), 64)]).flatten(1).numpy()

    def render(latents: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = torch.from_numpy(latents).view(len(latents), *nets.latent_shape)
            return nets.generator(z).numpy()

    return encode, render


def load_or_build_set(
    nets: NetworkSet, template: AlignmentTemplate, cfg: CalibrationConfig, faces_dir: Path | None, rebuild: bool, say: Callable[[str], None]
) -> tuple[CalibrationSet, Path]:
    """The calibration set of these weights, from disk when it was built before with the same settings."""
    key = f"{nets.profile}-{nets.resolution}-{nets.weights_key()}-c{cfg.crops}-r{cfg.renders}-s{cfg.seed}-a{cfg.augment}"
    path = Path(cfg.out_dir) / f"set-{key}{'-extra' if faces_dir else ''}.npz"
    if path.is_file() and not rebuild:
        say(f"calibration set: {path} (built before; --rebuild-set to rebuild)")
        return CalibrationSet.load(path), path
    sources = photo_sources()
    if DEMO_CLIP.is_file():
        sources.append(video_source(DEMO_CLIP, every=cfg.video_every, identity="astronaut"))  # the clip is of the astronaut photo
    if faces_dir is not None:
        sources += folder_sources(faces_dir, cfg.video_every)
    faces, missed = find_faces(sources)
    say(f"calibration set: {len(faces)} real faces found in {sum(len(s.frames) for s in sources)} frames ({len(missed)} without a face)")

    encode, render = float_encode_render(nets)
    data = build_calibration_set(
        faces, template, encode, render, cfg.crops, cfg.renders, cfg.heldout, cfg.heldout_variants, cfg.augment, cfg.seed,
        int(np.prod(nets.latent_shape)), tuple(cfg.heldout_people),
    )
    data.meta["sources"] = sorted({name.split("#")[0] for s in sources for name, _ in s.frames})
    data.save(path)
    return data, path


def quantise_all(nets: NetworkSet, data: CalibrationSet, engine_cfg: EngineConfig, cfg: CalibrationConfig, say) -> dict[str, dict]:
    """The INT8 QDQ model of every configured network, beside its float ONNX file (where the engines look for it)."""
    out = {}
    for name in cfg.networks:
        onnx_path = onnx_file(nets, name, engine_cfg)
        feeds = calibration_feeds(name, data, len(nets.attributes), cfg.max_delta, cfg.seed, nets.latent_shape)
        report = quantise_network(name, onnx_path, int8_path(onnx_path), feeds, cfg)
        say(f"quantised {name}: {report.path} ({report.seconds} s; left in float: {report.float_weighted_ops or 'none'})")
        out[name] = report.to_dict()
    return out


def tensorrt_calibration(nets: NetworkSet, data: CalibrationSet, engine_cfg: EngineConfig, cfg: CalibrationConfig, say) -> dict[str, str]:
    """Entropy calibration for TensorRT over the same set: ONNX Runtime's TensorRT-provider table (on any CPU), and
    native INT8 engines through the entropy calibrator with its cache file where TensorRT runs."""
    missing = tensorrt_missing()
    out = {}
    for name in cfg.networks:
        onnx_path = onnx_file(nets, name, engine_cfg)
        feeds = calibration_feeds(name, data, len(nets.attributes), cfg.max_delta, cfg.seed, nets.latent_shape)
        table = write_trt_ep_table(onnx_path, feeds, Path(cfg.out_dir) / f"{onnx_path.stem}.trt-ep")
        out[name] = f"ONNX Runtime TensorRT-provider table {table}"
        if missing:
            out[name] += f"; native engine not built here ({missing}); where TensorRT runs, `python run.py calibrate` builds it and writes its cache"
        else:
            cache = CalibrationCache(Path(cfg.out_dir) / f"{onnx_path.stem}.trt-calibration.cache", file_sha256(onnx_path)[:16] + str(len(feeds)))
            calibrator = entropy_calibrator(CalibrationBatches(feeds, cfg.trt_batch), cache)
            TrtEngine(name, onnx_path, EngineCache(resolve_path(engine_cfg.cache_dir) / "trt"), "int8", calibrator, None)
            out[name] += f"; native INT8 engine built, calibration cache {cache.path}"
        say(f"tensorrt {name}: {out[name]}")
    return out


class MapperThenGenerator:
    """The editor engine made of the float torch mapper and a generator engine: what an INT8 generator alone changes."""

    backend = "torch+ort-int8"

    def __init__(self, nets: NetworkSet, generator: Engine):
        self.name = "mapper+generator"
        self.nets = nets
        self.generator = generator
        self.inputs = nets.input_specs("mapper+generator")
        image = TensorSpec("image", (1, 3, nets.resolution, nets.resolution))
        self.outputs = (replace(image, name="original"), replace(image, name="edited"))

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.no_grad():
            edited = self.nets.mapper(torch.from_numpy(feeds["latent"]), torch.from_numpy(feeds["delta"])).numpy()
        images = run_batched(self.generator, {"latent": np.concatenate([feeds["latent"], edited])})["image"]
        n = len(edited)
        return {"original": images[:n], "edited": images[n:]}


def label_stds(regressor: Path) -> dict[str, float] | None:
    """The training renders' label standard deviations (the Δ unit) from the regressor's header, if it is there."""
    try:
        extra = read_header(regressor).extra
        return dict(zip(extra["labels"], extra["label_std"]))
    except (CheckpointError, KeyError, FileNotFoundError):
        return None


def gate_networks(
    nets: NetworkSet, data: CalibrationSet, engine_cfg: EngineConfig, cfg: CalibrationConfig, regressor: Path, with_attributes: bool, say
) -> dict[str, Verdict]:
    """Judge every INT8 model against the float one on the held-out faces; write each verdict next to its model."""
    fp32 = replace(engine_cfg, precision="fp32")
    images = to_network(data.heldout_crops)
    onnx_paths = {n: onnx_file(nets, n, engine_cfg) for n in ("encoder", "generator", "mapper+generator")}
    float_enc = build_engine(nets, "encoder", "ort", fp32)
    float_editor = build_engine(nets, "mapper+generator", "ort", fp32)
    int8 = {n: build_engine(nets, n, "ort-int8", fp32) for n in cfg.networks}
    paths = {}
    if "encoder" in int8:
        paths["encoder"] = (int8["encoder"], float_editor)
    if "generator" in int8:
        paths["generator"] = (float_enc, MapperThenGenerator(nets, int8["generator"]))
    if "mapper+generator" in int8:
        paths["mapper+generator"] = (float_enc, int8["mapper+generator"])
    if "encoder" in int8 and "mapper+generator" in int8:
        paths["encoder + mapper+generator"] = (int8["encoder"], int8["mapper+generator"])
    reference = run_path(float_enc, float_editor, images, len(nets.attributes), cfg.edit_magnitude)
    embed, label = _recognisers(reference, regressor, with_attributes and cfg.min_attribute_ratio > 0, say)
    verdicts = {}
    for name, (encoder, editor) in paths.items():
        say(f"gate: measuring the INT8 {name} path on {len(images)} held-out faces")
        result = run_path(encoder, editor, images, len(nets.attributes), cfg.edit_magnitude)
        figures = compare(result, reference, nets.attributes, encoder is float_enc, embed, label)
        verdicts[name] = judge(name, figures, cfg, int8_path(onnx_paths[name.split(" + ")[0]]))
    combined = verdicts.get("encoder + mapper+generator")
    if combined is not None and not combined.passed:
        for name in ("encoder", "mapper+generator"):  # each alone passed, together they are too far: ship neither
            v = verdicts[name]
            verdicts[name] = replace(v, passed=False, failures=v.failures + [f"together with the other INT8 network: {'; '.join(combined.failures)}"])
    for name in cfg.networks:
        save_verdict(verdicts[name], int8_path(onnx_paths[name]))
    return verdicts


def _recognisers(reference: PathResult, regressor: Path, attributes: bool, say):
    """Identity embedder (images → embeddings) and standardised labeller (images → labels in std), memoised per array."""
    from recognisers.identity import IdentityEmbedder

    embedder = IdentityEmbedder().eval()

    def embed(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([embedder(torch.from_numpy(images[i : i + 64])) for i in range(0, len(images), 64)]).numpy()

    if not attributes:
        return embed, None
    from recognisers.labeller import FaceLabeller

    labeller = FaceLabeller()
    memo: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    def raw(images: np.ndarray) -> dict[str, np.ndarray]:
        if id(images) not in memo:
            memo[id(images)] = (images, labeller.label(to_crops(images)))  # keep the array alive so its id stays unique
        return memo[id(images)][1]

    stds = label_stds(regressor)
    if stds is None:
        base = raw(reference.originals)
        stds = {k: float(np.nanstd(v)) or 1.0 for k, v in base.items()}
        say(f"gate: no regressor at {regressor}; attribute changes are measured in the held-out faces' own label spread")

    def label(images: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v / stds.get(k, 1.0) for k, v in raw(images).items()}

    return embed, label


def speed_table(nets: NetworkSet, engine_cfg: EngineConfig, cfg: CalibrationConfig, repeats: int = 100) -> dict[str, dict[str, float]]:
    """Median ms of float and INT8 ONNX Runtime for each quantised network, same threads, same inputs."""
    fp32 = replace(engine_cfg, precision="fp32")
    out = {}
    for name in cfg.networks:
        feeds = {k: v.numpy() for k, v in nets.example_inputs(name).items()}
        out[name] = {}
        for backend in ("ort", "ort-int8"):
            times = time_engine(build_engine(nets, name, backend, fp32), feeds, warmup=10, repeats=repeats)
            out[name][backend] = round(statistics.median(times), 3)
    return out


def environment(engine_cfg: EngineConfig) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "") if Path("/proc/cpuinfo").is_file() else ""
    return {"cpu": cpu or platform.machine(), "onnxruntime": ort.__version__, "threads": engine_cfg.threads or "auto", "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
