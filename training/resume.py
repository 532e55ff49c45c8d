"""Resumable training state (network, Adam moments, step) in a safetensors file — no pickles."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_state(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Write the weights and the optimizer moments so a killed run goes on where it stopped."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in module.state_dict().items()}
    for index, slot in optimizer.state_dict()["state"].items():
        for key, value in slot.items():
            tensors[f"opt.{index}.{key}"] = torch.as_tensor(value).detach().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"step": json.dumps(step)})
    tmp.replace(path)


def saved_step(path: Path) -> int:
    """The step a state file was written at, 0 when there is none."""
    if not path.is_file():
        return 0
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return int(json.loads(f.metadata()["step"]))


def load_state(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore what save_state wrote; returns the step to continue from (0 when there is no file)."""
    step = saved_step(path)
    if step == 0:
        return 0
    tensors = load_file(str(path))
    module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            slots.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": optimizer.state_dict()["param_groups"]})
    return step
