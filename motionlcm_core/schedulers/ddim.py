"""Deterministic DDIM (eta = 0), used by the MLD teacher sampler and by consistency distillation."""
from __future__ import annotations

import torch

from ..config import SchedulerConfig
from .noise import NoiseSchedule


class DDIMScheduler:
    """Leading timestep spacing with ``steps_offset = 1`` (50 steps → 981, 961, …, 1)."""

    def __init__(self, cfg: SchedulerConfig, schedule: NoiseSchedule | None = None) -> None:
        self.cfg = cfg
        self.schedule = schedule or NoiseSchedule(cfg)

    def timesteps(self, num_steps: int | None = None) -> tuple[int, ...]:
        n = num_steps or self.cfg.ddim_steps
        if not 1 <= n <= self.cfg.num_train_timesteps:
            raise ValueError(f"DDIM steps must be in [1, {self.cfg.num_train_timesteps}], got {n}")
        ratio = self.cfg.num_train_timesteps // n
        return tuple(int(i * ratio + 1) for i in reversed(range(n)))

    def step(self, eps: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor,
             t_prev: int | torch.Tensor) -> torch.Tensor:
        """``x_{t_prev} = √ᾱ_prev x̂0 + √(1−ᾱ_prev) ε̂`` (ᾱ_prev = ᾱ_0 when t_prev < 0)."""
        x0 = self.schedule.pred_x0(sample, eps, t)
        a_prev = self.schedule.alpha(t_prev, sample)
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


class DDIMSolver:
    """Skipping-step DDIM grid of latent consistency distillation: τ_n = (n+1)·k − 1, k = T/N."""

    def __init__(self, cfg: SchedulerConfig, num_ddim_timesteps: int,
                 schedule: NoiseSchedule | None = None) -> None:
        if cfg.num_train_timesteps % num_ddim_timesteps:
            raise ValueError("num_ddim_timesteps must divide num_train_timesteps")
        self.schedule = schedule or NoiseSchedule(cfg)
        self.k = cfg.num_train_timesteps // num_ddim_timesteps
        self.grid = torch.arange(1, num_ddim_timesteps + 1) * self.k - 1

    def sample_indices(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(0, len(self.grid), (batch,), generator=generator)

    def timesteps_at(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(t_{n+k}, t_n)`` for grid indices ``index (B,)``; t_n < 0 means ᾱ_0."""
        t = self.grid[index]
        return t, t - self.k

    def step(self, x0: torch.Tensor, eps: torch.Tensor, t_prev: torch.Tensor) -> torch.Tensor:
        a_prev = self.schedule.alpha(t_prev, x0)
        return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
