"""Multi-process training under ``torchrun``: set-up and gradient averaging (no-ops for one process).

torch.distributed is initialised only when ``WORLD_SIZE > 1``; every process then averages its
gradients with one all-reduce per step, so the stages need no code change for DDP.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from ..device import resolve_device


@dataclass(frozen=True)
class Dist:
    """This process's rank, the number of processes and the device it trains on."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_pref: str) -> Dist:
    """torch.distributed is initialised only when launched by torchrun with ``WORLD_SIZE > 1``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=resolve_device(device_pref))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_pref)
    if device.type == "cuda":
        device = resolve_device(f"cuda:{local}")
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, device)


def average_gradients(params: list[nn.Parameter], dist: Dist) -> None:
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads]) / dist.world
    torch.distributed.all_reduce(flat)
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset:offset + g.numel()].view_as(g)
        offset += g.numel()


def all_finite(flag: bool, dist: Dist) -> bool:
    """True only when ``flag`` holds on every process."""
    return agreed_min(int(flag), dist) > 0


def agreed_min(value: int, dist: Dist) -> int:
    """The smallest ``value`` over all processes (every process must reach the same step count)."""
    if dist.world == 1:
        return value
    t = torch.tensor([float(value)], device=dist.device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MIN)
    return int(t.item())
