"""Fold an affine latent map w = mean + chol·u into a generator's style inputs and an encoder's last layer.

The default profile's generator is trained on W, but L2L (sampling, mapper, regressor, linear directions) wants a
latent u ~ N(0, I). Every use of w in the StyleGAN2 synthesis network is an affine modulation, so substituting
w = mean + chol·u is exact and costs nothing at run time: the shipped networks simply take u.
"""
from __future__ import annotations

import torch

from engines.face_encoder import FaceEncoder
from engines.stylegan2 import EqualLinear, Generator


@torch.no_grad()
def fold_into_modulation(layer: EqualLinear, mean: torch.Tensor, chol: torch.Tensor) -> None:
    """layer(mean + chol·u) == layer'(u): new weight W·C, new bias W·mean + b (equalised-lr scales respected)."""
    weight = layer.weight * layer.scale  # effective (out, in)
    bias = layer.bias * layer.lr_mul
    new_weight, new_bias = weight @ chol, weight @ mean + bias
    layer.weight.copy_(new_weight / layer.scale)
    layer.bias.copy_(new_bias / layer.lr_mul)


@torch.no_grad()
def generator_on_standard_latent(generator: Generator, mean: torch.Tensor, chol: torch.Tensor) -> Generator:
    """Make G(u) render what G(mean + chol·u) rendered (in place; returns it)."""
    for module in generator.modules():
        if hasattr(module, "modulation"):
            fold_into_modulation(module.modulation, mean, chol)
    return generator


@torch.no_grad()
def encoder_on_standard_latent(encoder: FaceEncoder, mean: torch.Tensor, chol: torch.Tensor) -> FaceEncoder:
    """Make E(x) return u = chol⁻¹·(E_w(x) − mean) (in place; returns it)."""
    inverse = torch.linalg.inv(chol.double())
    linear = encoder.to_latent
    linear.weight.copy_((inverse @ linear.weight.double()).float())
    linear.bias.copy_((inverse @ (linear.bias.double() - mean.double())).float())
    return encoder
