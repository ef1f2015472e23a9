"""Exponential moving average copies of a module (the LCD stage's target network)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Exponential moving average copy of a module: ``θ⁻ ← μ θ⁻ + (1 − μ) θ`` (buffers copied)."""

    def __init__(self, source: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(source).requires_grad_(False)

    def train(self, mode: bool = True) -> "EMA":
        """The EMA copy is a fixed target: it always runs in eval mode (no dropout)."""
        super().train(mode)
        self.module.eval()
        return self

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        for ema_p, p in zip(self.module.parameters(), source.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - self.decay)
        for ema_b, b in zip(self.module.buffers(), source.buffers()):
            ema_b.copy_(b)
