"""Resumable training state (networks, Adam moments, step) in a safetensors file — no pickles."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_states(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                step: int) -> None:
    """Write the named networks' weights and the named optimizers' moments (keys `name.param` and
    `name.index.moment`) so a killed run goes on where it stopped."""
    tensors = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    for name, optimizer in optimizers.items():
        for index, slot in optimizer.state_dict()["state"].items():
            for key, value in slot.items():
                tensors[f"{name}.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
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


def load_states(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> int:
    """Restore what save_states wrote (onto each module's own device); the step to go on from, 0 without a file."""
    step = saved_step(path)
    if step == 0:
        return 0
    tensors = load_file(str(path))
    for name, module in modules.items():
        device = next(module.parameters()).device
        prefix = f"{name}."
        module.load_state_dict({k[len(prefix):]: v.to(device) for k, v in tensors.items() if k.startswith(prefix)})
    for name, optimizer in optimizers.items():
        slots: dict[int, dict[str, torch.Tensor]] = {}
        prefix = f"{name}."
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, moment = key[len(prefix):].split(".", 1)
                slots.setdefault(int(index), {})[moment] = value
        optimizer.load_state_dict({"state": slots, "param_groups": optimizer.state_dict()["param_groups"]})
    return step


def save_state(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
    """One network and its optimizer (keys `model.…`, `opt.…`)."""
    save_states(path, {"model": module}, {"opt": optimizer}, step)


def load_state(path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore what save_state wrote; returns the step to continue from (0 when there is no file)."""
    return load_states(path, {"model": module}, {"opt": optimizer})
