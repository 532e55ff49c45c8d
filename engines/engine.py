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
