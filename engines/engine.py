"""The one engine interface every runtime implements: named arrays in, named arrays out, fixed shapes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from errors import UserError


@dataclass(frozen=True)
class TensorSpec:
    """Name, fixed shape and dtype of one engine input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


class Engine(Protocol):
    """A compiled network. `backend` is one of torch, torch-cuda, ort, ort-int8, trt.

    Conventions for the networks (batch first, fixed batch):
      encoder:           image (B,3,R,R) in [-1,1]           -> latent (B,*latent_shape)
      mapper:            latent, delta (B,n_attributes)      -> latent
      generator:         latent                               -> image (B,3,R,R) in [-1,1]
      mapper+generator:  latent, delta                        -> original, edited (both B,3,R,R)
    """

    name: str
    backend: str
    precision: str  # what it computes in: fp32, fp16, bf16 or int8
    precision_reason: str  # why: the setting that chose it, or the measurement
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def __call__(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class EngineError(UserError, RuntimeError):
    """An engine could not be built, loaded or run; the message names the network, backend and fix."""


def engine_batch(engine: Engine) -> int:
    """The fixed batch size of an engine (its first input's leading dimension)."""
    return int(engine.inputs[0].shape[0])


def run_batched(engine: Engine, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Call a fixed-batch engine on any number of rows: chunks of its batch, the last one padded."""
    batch = engine_batch(engine)
    n = len(next(iter(feeds.values())))
    outs: list[dict[str, np.ndarray]] = []
    for start in range(0, n, batch):
        chunk = {k: v[start:start + batch] for k, v in feeds.items()}
        short = batch - len(next(iter(chunk.values())))
        if short:
            chunk = {k: np.concatenate([v, np.repeat(v[-1:], short, 0)]) for k, v in chunk.items()}
        result = engine(chunk)
        outs.append({k: v[: batch - short] for k, v in result.items()})
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
