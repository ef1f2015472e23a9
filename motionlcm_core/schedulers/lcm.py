"""Latent-consistency multistep sampler (diffusers LCMScheduler semantics, explicit timestep tables).

Reference: Luo et al., "Latent Consistency Models" (2023); MotionLCM (Dai et al., ECCV 2024)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import SchedulerConfig
from .noise import NoiseSchedule


@dataclass
class LCMStepOutput:
    """``prev_sample`` feeds the next step; ``denoised`` is the consistency estimate of x0."""

    prev_sample: torch.Tensor
    denoised: torch.Tensor


def boundary_scalings(t: int | torch.Tensor, timestep_scaling: float = 10.0,
                      sigma_data: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Consistency boundary condition: ``c_skip = σ²/((s·t)²+σ²)``, ``c_out = s·t/√((s·t)²+σ²)``."""
    scaled = torch.as_tensor(t, dtype=torch.float64) * timestep_scaling
    c_skip = sigma_data ** 2 / (scaled ** 2 + sigma_data ** 2)
    c_out = scaled / (scaled ** 2 + sigma_data ** 2) ** 0.5
    return c_skip.float(), c_out.float()


class LCMScheduler:
    """No hidden state: the caller passes ``t_next`` and the noise to inject."""

    def __init__(self, cfg: SchedulerConfig, schedule: NoiseSchedule | None = None) -> None:
        self.cfg = cfg
        self.schedule = schedule or NoiseSchedule(cfg)

    def timesteps(self, num_steps: int, *, controlled: bool = False) -> tuple[int, ...]:
        """The timesteps of ``num_steps``-step sampling; ``controlled``: with a ControlNet (pins), where the
        config's ``control_timesteps`` override ``lcm_timesteps`` for the step counts they list."""
        if num_steps not in self.cfg.lcm_timesteps:
            raise ValueError(f"num_steps must be one of {sorted(self.cfg.lcm_timesteps)}, got {num_steps}")
        if controlled and num_steps in self.cfg.control_timesteps:
            return tuple(self.cfg.control_timesteps[num_steps])
        return tuple(self.cfg.lcm_timesteps[num_steps])

    def guidance_scale(self, num_steps: int) -> float:
        """Distilled CFG scale for this step count (the w-embedding receives scale − 1)."""
        self.timesteps(num_steps)
        return float(self.cfg.cfg_step_map[num_steps])

    def scalings(self, t: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return boundary_scalings(t, self.cfg.timestep_scaling, self.cfg.sigma_data)

    def step(self, model_output: torch.Tensor, t: int, sample: torch.Tensor, *, t_next: int | None,
             noise: torch.Tensor | None) -> LCMStepOutput:
        """One LCM step at ``t``. ``t_next=None`` marks the last step (returns ``denoised``)."""
        # 1. x0 from the ε-prediction
        x0 = self.schedule.pred_x0(sample, model_output, t)
        # 2. boundary-condition combination
        c_skip, c_out = self.scalings(t)
        denoised = c_out.to(sample) * x0 + c_skip.to(sample) * sample
        # 3. re-noise to the next timestep, unless this is the last step
        if t_next is None:
            return LCMStepOutput(prev_sample=denoised, denoised=denoised)
        if noise is None:
            raise ValueError("an intermediate LCM step needs the noise to inject")
        a_next = self.schedule.alpha(t_next, sample)
        prev = a_next.sqrt() * denoised + (1 - a_next).sqrt() * noise
        return LCMStepOutput(prev_sample=prev, denoised=denoised)
