"""Resumable training checkpoints: modules, optimizer, scheduler, step, skips and every RNG state.

``<out_dir>/checkpoint.pt`` holds tensors and plain data only (loaded with ``weights_only=True``); it is
written atomically, with the resolved config beside it as ``config.json``.
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import to_dict
from .config import TrainConfig

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainState:
    """Everything a checkpoint holds. ``modules`` are saved by name (trainable nets and EMA copies)."""

    modules: dict[str, nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    device: torch.device = torch.device("cpu")
    step: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)   # means of the last log window
    wall_s: float = 0.0                                       # training time over all runs
    planned_steps: int | None = None                          # step count planned for a time limit

    def device_rng(self) -> torch.Tensor | None:
        """RNG state of the accelerator (dropout on GPU draws from it); None on the CPU."""
        if self.device.type == "cpu":
            return None
        return torch.get_device_module(self.device).get_rng_state(self.device)


def save_checkpoint(path: Path, state: TrainState, cfg: TrainConfig) -> None:
    """Atomic write (temp file + rename) so an interruption never leaves a broken checkpoint."""
    payload = {
        "modules": {k: m.state_dict() for k, m in state.modules.items()},
        "optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict(),
        "step": state.step, "skipped": dict(state.skipped), "generator": state.generator.get_state(),
        "losses": dict(state.losses), "wall_s": state.wall_s,
        "torch_rng": torch.get_rng_state(), "config": to_dict(cfg),
        "device_rng": state.device_rng(), "planned_steps": state.planned_steps,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    (path.parent / "config.json").write_text(json.dumps(to_dict(cfg), indent=1, sort_keys=True))


def load_checkpoint(path: Path, state: TrainState) -> None:
    """Restore ``state`` in place from :func:`save_checkpoint`'s file."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:   # tensors and plain data only
        raise ValueError(f"checkpoint {path} is unreadable ({exc}); delete it or pass --no-resume") from exc
    missing = set(state.modules) - set(payload["modules"])
    if missing:
        raise ValueError(f"checkpoint {path} lacks modules {sorted(missing)}; it belongs to another stage")
    for name, module in state.modules.items():
        module.load_state_dict(payload["modules"][name])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    state.step, state.skipped = int(payload["step"]), dict(payload["skipped"])
    state.losses, state.wall_s = dict(payload.get("losses", {})), float(payload.get("wall_s", 0.0))
    state.planned_steps = payload.get("planned_steps")
    state.generator.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    if payload.get("device_rng") is not None and state.device.type != "cpu":
        torch.get_device_module(state.device).set_rng_state(payload["device_rng"], state.device)
