"""Sampling loops (visible, k-diffusion style): LCM multistep (+ControlNet) and the DDIM-CFG teacher.

Every loop is a plain function of (networks, scheduler, latents, conditioning); noise comes from a
CPU generator, or from ``noises`` to re-inject recorded draws."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .models import LatentDenoiser, MotionControlNet, guidance_embedding
from .schedulers import DDIMScheduler, LCMScheduler


@dataclass
class SamplingTrace:
    """Per-step intermediates, for goldens and debugging: lists of ``(B, L, D)``."""

    timesteps: tuple[int, ...] = ()
    model_outputs: list[torch.Tensor] = field(default_factory=list)
    denoised: list[torch.Tensor] = field(default_factory=list)
    injected_noise: list[torch.Tensor] = field(default_factory=list)


def _draw(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=torch.float32).to(like)


def lcm_sample(denoiser: LatentDenoiser, scheduler: LCMScheduler, latents: torch.Tensor, text: torch.Tensor, *,
               num_steps: int = 1, guidance_scale: float | None = None,
               generator: torch.Generator | None = None, noises: list[torch.Tensor] | None = None,
               controlnet: MotionControlNet | None = None, traj_latent: torch.Tensor | None = None,
               trace: SamplingTrace | None = None, timesteps: tuple[int, ...] | None = None,
               predicted_noise: bool = False) -> torch.Tensor:
    """LCM multistep sampling. ``latents (B, L, D)`` initial noise, ``text (B, 1, Dt)`` → x0 latents.

    The guidance scale enters only through the w-embedding (w = scale − 1); no CFG batch. With a
    ``controlnet`` the steps run at the scheduler's controlled timesteps (``SchedulerConfig.control_timesteps``).
    Between steps the denoised latent is re-noised with a fresh draw (or ``noises[i]``); with
    ``predicted_noise``, with the noise the step read in its input, ``ε̂ = (x_t − √ᾱ_t x̂0) / √(1−ᾱ_t)``: the
    deterministic end (γ = 0) of consistency models' γ-sampling (Kim et al., CTM, 2024), where a later step
    refines the denoised latent instead of re-drawing what the noise hides."""
    # 1. timesteps (``timesteps`` overrides the step count's own, e.g. a retrieval start) and the guidance
    if timesteps is None:
        timesteps = scheduler.timesteps(num_steps, controlled=controlnet is not None)
    scale = scheduler.guidance_scale(num_steps) if guidance_scale is None else float(guidance_scale)
    B = latents.shape[0]
    w_emb = None
    if denoiser.is_lcm:
        w = torch.full((B,), scale - 1.0, dtype=torch.float32, device=latents.device)
        w_emb = guidance_embedding(w, denoiser.cfg.time_cond_proj_dim).to(latents.dtype)
    if trace is not None:
        trace.timesteps = timesteps
    # 2. the multistep loop
    for i, t in enumerate(timesteps):
        residuals = None
        if controlnet is not None:
            residuals = controlnet(latents, t, text, w_emb, traj_latent)
        eps = denoiser(latents, t, text, w_emb, residuals)
        last = i == len(timesteps) - 1
        if last:
            noise = None
        elif predicted_noise:
            denoised = scheduler.step(eps, t, latents, t_next=None, noise=None).denoised
            noise = scheduler.schedule.pred_eps(latents, denoised, t)
        else:
            noise = noises[i] if noises is not None else _draw(latents, generator)
        out = scheduler.step(eps, t, latents, t_next=None if last else timesteps[i + 1], noise=noise)
        if trace is not None:
            trace.model_outputs.append(eps)
            trace.denoised.append(out.denoised)
            if noise is not None:
                trace.injected_noise.append(noise)
        latents = out.prev_sample
    return latents


def ddim_cfg_sample(denoiser: LatentDenoiser, scheduler: DDIMScheduler, latents: torch.Tensor,
                    text: torch.Tensor, uncond: torch.Tensor, *, guidance_scale: float | None = None,
                    num_steps: int | None = None, trace: SamplingTrace | None = None) -> torch.Tensor:
    """MLD teacher: DDIM (eta 0) with classifier-free guidance; batch is [text; uncond]."""
    scale = scheduler.cfg.ddim_guidance if guidance_scale is None else float(guidance_scale)
    timesteps = scheduler.timesteps(num_steps)
    ratio = scheduler.cfg.num_train_timesteps // len(timesteps)
    B = latents.shape[0]
    cond = torch.cat([text, uncond.expand(B, -1, -1).to(text)], dim=0)
    for t in timesteps:
        eps_text, eps_uncond = denoiser(torch.cat([latents, latents], dim=0), t, cond).chunk(2)
        eps = eps_uncond + scale * (eps_text - eps_uncond)
        latents = scheduler.step(eps, t, latents, t - ratio)
        if trace is not None:
            trace.model_outputs.append(eps)
            trace.denoised.append(latents)
    return latents
