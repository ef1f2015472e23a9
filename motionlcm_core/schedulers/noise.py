"""DDPM noise schedule shared by training and every sampler (scaled-linear betas, ε-prediction)."""
from __future__ import annotations

import torch

from ..config import SchedulerConfig


class NoiseSchedule:
    """``alphas_cumprod (num_train_timesteps,)`` float32, as the official float32 cumulative product.

    Immutable after construction; tensors follow the device of the data passed in (one copy of the table
    per device, made on first use, so a CUDA step never waits on a CPU lookup)."""

    def __init__(self, cfg: SchedulerConfig) -> None:
        self.cfg = cfg
        betas = torch.linspace(cfg.beta_start ** 0.5, cfg.beta_end ** 0.5, cfg.num_train_timesteps,
                               dtype=torch.float32) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self._tables: dict[torch.device, torch.Tensor] = {self.alphas_cumprod.device: self.alphas_cumprod}

    def _table(self, device: torch.device) -> torch.Tensor:
        table = self._tables.get(device)
        if table is None:
            table = self._tables[device] = self.alphas_cumprod.to(device)
        return table

    def alpha(self, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """ᾱ_t broadcast to ``like``'s leading dim: scalar t → 0-d, ``t (B,)`` → ``(B, 1, 1)``; t < 0 → ᾱ_0 (the
        "final" alpha of the official DDIM/LCM step with set_alpha_to_one=False)."""
        t = torch.as_tensor(t).to(like.device)
        table = self._table(like.device)
        a = torch.where(t >= 0, table[t.clamp(min=0)], table[0])
        return a.view(-1, *([1] * (like.dim() - 1))) if a.dim() == 1 else a

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Forward process: ``√ᾱ_t x0 + √(1−ᾱ_t) ε``."""
        a = self.alpha(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def pred_eps(self, sample: torch.Tensor, x0: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """The noise ``ε̂ = (x_t − √ᾱ_t x̂0) / √(1−ᾱ_t)`` that ``x̂0`` leaves in ``sample`` at ``t``."""
        a = self.alpha(t, sample)
        return (sample - a.sqrt() * x0) / (1 - a).sqrt()

    def pred_x0(self, sample: torch.Tensor, eps: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """``x̂0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t``."""
        a = self.alpha(t, sample)
        return (sample - (1 - a).sqrt() * eps) / a.sqrt()
