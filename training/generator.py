"""Training of the StyleGAN2 generator and its encoder on a folder of real aligned faces.

The generator G (engines/stylegan2.py) and the encoder E (engines/face_encoder.py, image → w) learn together:
G(E(x)) must give back the photo x (L1 on pixels and on image gradients; E sees the photo degraded as a webcam
would, G is asked for the clean one). With `adversarial_weight > 0` a residual discriminator with lazy R1 and
DiffAugment also judges G(w) for w drawn from the encoded faces, which sharpens the faces: that is the GPU
setting (training/generator_gpu.toml). On two CPU cores the adversarial part costs ~6 s a step, so the CPU
default trains G as the decoder of this autoencoder alone. New faces are drawn from a Gaussian fitted to the
encoded training faces (`w_mean`, `w_chol` in the shipped file). EMA copies of G and E are what ship.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engines.checkpoint import CheckpointHeader, save_checkpoint
from engines.face_encoder import FaceEncoder
from engines.standard_latent import encoder_on_standard_latent, generator_on_standard_latent
from engines.stylegan2 import Generator, channel_widths
from training.augment import augment_faces
from training.config import GeneratorConfig
from training.diffaugment import diff_augment
from training.discriminator import Discriminator
from training.face_folder import load_faces, to_float
from training.resume import load_states, save_states

DATA_LICENCE = ("trained on UTKFace (Zhang, Song, Qi, CVPR 2017): non-commercial research use only; "
                "these weights inherit that restriction")


def generator_kwargs(cfg: GeneratorConfig) -> dict:
    """Constructor kwargs of engines.stylegan2.Generator, as written into the shipped header."""
    return dict(size=cfg.size, style_dim=cfg.style_dim, n_mlp=cfg.n_mlp, channel_multiplier=1,
                max_channels=cfg.max_channels, channel_base=cfg.channel_base)


def encoder_kwargs(cfg: GeneratorConfig) -> dict:
    return dict(latent_dim=cfg.style_dim, channels=cfg.encoder_channels, size=cfg.size)


class TrainState:
    """Networks, their EMAs and optimisers: everything a killed run needs to go on, saved in one safetensors file."""

    def __init__(self, cfg: GeneratorConfig, device: torch.device):
        self.nets: dict[str, torch.nn.Module] = {
            "g": Generator(**generator_kwargs(cfg)), "e": FaceEncoder(**encoder_kwargs(cfg)),
            "g_ema": Generator(**generator_kwargs(cfg)), "e_ema": FaceEncoder(**encoder_kwargs(cfg)),
        }
        params = [*self.nets["g"].parameters(), *self.nets["e"].parameters()]
        self.opts: dict[str, torch.optim.Optimizer] = {"ge": torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.99))}
        if cfg.adversarial_weight > 0:
            self.nets["d"] = Discriminator(cfg.size, channel_widths(cfg.size, 1, cfg.d_max_channels, cfg.d_channel_base))
            ratio = cfg.r1_every / (cfg.r1_every + 1)  # lazy regularisation keeps Adam's effective step
            self.opts["d"] = torch.optim.Adam(self.nets["d"].parameters(), lr=cfg.lr * ratio, betas=(0.5**ratio, 0.99**ratio))
        for net in self.nets.values():
            net.to(device)
        for name in ("g", "e"):
            self.nets[f"{name}_ema"].load_state_dict(self.nets[name].state_dict())
            self.nets[f"{name}_ema"].eval().requires_grad_(False)
        self.step = 0

    def save(self, path: Path) -> None:
        save_states(path, self.nets, {f"opt_{k}": v for k, v in self.opts.items()}, self.step)

    def load(self, path: Path) -> None:
        self.step = load_states(path, self.nets, {f"opt_{k}": v for k, v in self.opts.items()})


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


def reconstruction_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 on pixels plus L1 on horizontal and vertical differences (edges count, so the decoder is less blurry)."""
    (fy, fx), (ry, rx) = image_gradients(fake), image_gradients(real)
    return F.l1_loss(fake, real) + F.l1_loss(fy, ry) + F.l1_loss(fx, rx)


def r1_penalty(d: Discriminator, reals: torch.Tensor) -> torch.Tensor:
    reals = reals.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(diff_augment(reals)).sum(), reals, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def ema_beta(cfg: GeneratorConfig, step: int) -> float:
    """EMA half-life of cfg.ema_kimg thousand images, ramped up over the first images seen."""
    half_life = min(cfg.ema_kimg * 1000, max(step * cfg.batch * cfg.ema_rampup, 1.0))
    return 0.5 ** (cfg.batch / half_life)


def train_step(state: TrainState, cfg: GeneratorConfig, reals: torch.Tensor, rng: torch.Generator, autocast) -> dict[str, float]:
    """One step: reconstruction (and, when on, the adversarial G and D terms); then the EMAs."""
    g, e = state.nets["g"], state.nets["e"]
    seen = augment_faces(reals, cfg.augment, rng).to(reals.device)
    with autocast():
        w = e(seen)
        loss = cfg.reconstruction_weight * reconstruction_loss(g(w), reals) + cfg.latent_weight * w.pow(2).mean()
    logs = {"rec": float(loss.detach())}
    if "d" in state.nets:
        d = state.nets["d"]
        d.requires_grad_(False)
        w_new = sample_like(w.detach())
        with autocast():
            adv = F.softplus(-d(diff_augment(g(w_new)))).mean()
        loss = loss + cfg.adversarial_weight * adv
        logs["g_adv"] = float(adv.detach())
        d.requires_grad_(True)
    state.opts["ge"].zero_grad(set_to_none=True)
    loss.backward()
    # the encoder's w is unbounded: one bad batch can throw G far off (seen at lr 2e-3 without clipping)
    logs["grad"] = float(torch.nn.utils.clip_grad_norm_([*g.parameters(), *e.parameters()], cfg.grad_clip))
    state.opts["ge"].step()
    if "d" in state.nets:
        logs.update(discriminator_step(state, cfg, reals, w.detach(), autocast))
    with torch.no_grad():
        beta = ema_beta(cfg, state.step)
        for name in ("g", "e"):
            for p_ema, p in zip(state.nets[f"{name}_ema"].parameters(), state.nets[name].parameters()):
                p_ema.lerp_(p, 1 - beta)
    state.step += 1
    return logs


def discriminator_step(state: TrainState, cfg: GeneratorConfig, reals: torch.Tensor, w: torch.Tensor, autocast) -> dict[str, float]:
    d, opt = state.nets["d"], state.opts["d"]
    with autocast(), torch.no_grad():
        fakes = state.nets["g"](sample_like(w))
    with autocast():
        loss = F.softplus(d(diff_augment(fakes))).mean() + F.softplus(-d(diff_augment(reals))).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    logs = {"d": float(loss.detach())}
    if state.step % cfg.r1_every == 0:
        r1 = r1_penalty(d, reals)
        opt.zero_grad(set_to_none=True)
        (cfg.r1_gamma / 2 * r1 * cfg.r1_every).backward()
        opt.step()
        logs["r1"] = float(r1.detach())
    return logs


def sample_like(w: torch.Tensor) -> torch.Tensor:
    """New latents with the batch's own mean and per-dimension spread: new faces near the encoded ones."""
    return w.mean(0, keepdim=True) + torch.randn_like(w) * w.std(0, keepdim=True)


def fit_latent_gaussian(encoder: FaceEncoder, faces: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and Cholesky factor of the encoded training faces: sampling w = mean + chol·n draws new faces."""
    with torch.no_grad():
        ws = torch.cat([encoder(to_float(faces[i:i + batch])) for i in range(0, len(faces), batch)]).double()
    mean = ws.mean(0)
    cov = torch.cov(ws.T) + 1e-5 * torch.eye(ws.shape[1], dtype=ws.dtype)
    return mean.float(), torch.linalg.cholesky(cov).float()


def sample_latents(mean: torch.Tensor, chol: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return mean + torch.randn(n, len(mean), generator=generator) @ chol.T


def to_grid(images: torch.Tensor, columns: int = 8) -> np.ndarray:
    """(N,3,H,W) in [-1,1] → one RGB uint8 grid."""
    images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    rows, (h, w) = math.ceil(len(images) / columns), images.shape[1:3]
    grid = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, image in enumerate(images):
        grid[(i // columns) * h:(i // columns + 1) * h, (i % columns) * w:(i % columns + 1) * w] = image
    return grid


def progress_sheet(state: TrainState, held_out: torch.Tensor) -> np.ndarray:
    """Top: held-out photos; middle: their reconstructions G(E(x)); bottom: new faces from the batch statistics."""
    with torch.no_grad():
        x = to_float(held_out)
        w = state.nets["e_ema"](x)
        again = state.nets["g_ema"](w)
        new = state.nets["g_ema"](sample_like(w))
    return to_grid(torch.cat([x, again, new]))


def export(state: TrainState, cfg: GeneratorConfig, faces: torch.Tensor, generator_path: Path, encoder_path: Path,
           profile: str, extra: dict) -> list[Path]:
    """The EMA generator (fp16) and EMA encoder as the profile's shipped files, both moved onto the standard-normal
    latent u of the encoded training faces (engines/standard_latent.py), so L2L samples u ~ N(0, I)."""
    g, e = copy.deepcopy(state.nets["g_ema"]).cpu(), copy.deepcopy(state.nets["e_ema"]).cpu()
    mean, chol = fit_latent_gaussian(e, faces.cpu())
    generator_on_standard_latent(g, mean, chol)
    encoder_on_standard_latent(e, mean, chol)
    common = dict(profile=profile, resolution=cfg.size, latent_shape=[cfg.style_dim])
    info = {**extra, "train": asdict(cfg), "steps": state.step, "data_licence": DATA_LICENCE,
            "latent": "u ~ N(0, I); w = mean + chol·u of the encoded training faces, folded into the modulations "
                      "(the mapping network is not trained and not used)"}
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in g.state_dict().items()}
    gen = save_checkpoint(generator_path, tensors,
                          CheckpointHeader(network="stylegan2_generator", config=generator_kwargs(cfg), extra=info, **common))
    enc = save_checkpoint(encoder_path, e.state_dict(),
                          CheckpointHeader(network="face_encoder", config=encoder_kwargs(cfg), extra=info, **common))
    return [gen, enc]


def train_generator(cfg: GeneratorConfig, data: Path, generator_path: Path, encoder_path: Path, state_path: Path,
                    samples_dir: Path, seed: int, profile: str, extra: dict) -> dict[str, float]:
    """Train (or resume) to cfg.steps, with a progress sheet every sample_every steps; then export."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    state = TrainState(cfg, device)
    if state_path.is_file():
        state.load(state_path)
        print(f"generator: resuming at step {state.step} from {state_path}", flush=True)
    faces = load_faces(data, cfg.size, "train").images
    held_out = load_faces(data, cfg.size, "heldout", limit=16).images
    on_device = faces.to(device)
    autocast = (lambda: torch.autocast("cuda", torch.bfloat16)) if device.type == "cuda" else nullcontext
    samples_dir.mkdir(parents=True, exist_ok=True)
    logs: dict[str, float] = {}
    started = time.time()
    bar = tqdm(total=cfg.steps, initial=state.step, desc="generator", dynamic_ncols=True, mininterval=10)
    while state.step < cfg.steps:
        rng = torch.Generator().manual_seed(seed * 1_000_003 + state.step)
        index = torch.randint(0, len(faces), (cfg.batch,), generator=rng)
        reals = to_float(on_device[index.to(device)])
        flip = (torch.rand(cfg.batch, generator=rng) < 0.5).to(device)
        reals = torch.where(flip[:, None, None, None], reals.flip(3), reals)
        logs = train_step(state, cfg, reals, rng, autocast)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
        if state.step % cfg.sample_every == 0 or state.step == cfg.steps:
            cv2.imwrite(str(samples_dir / f"step_{state.step:06d}.png"), progress_sheet(state, held_out.to(device))[:, :, ::-1])
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps:
            state.save(state_path)
    bar.close()
    export(state, cfg, faces, generator_path, encoder_path, profile, {**extra, "seconds_this_run": round(time.time() - started), "device": str(device)})
    return logs
