"""Timestep and guidance-scale embeddings (diffusers conventions, re-derived from the spec)."""
from __future__ import annotations

import math

import torch
from torch import nn


def timestep_sinusoid(timesteps: torch.Tensor, dim: int, *, flip_sin_to_cos: bool = True,
                      freq_shift: float = 0.0, max_period: float = 10000.0) -> torch.Tensor:
    """``timesteps (B,)`` → ``(B, dim)``: frequencies exp(−ln(max_period)·i/(dim/2 − shift)).

    With ``flip_sin_to_cos`` the cosine half comes first (MotionLCM's setting)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device)
    freqs = torch.exp(exponent / (half - freq_shift))
    args = timesteps[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


def guidance_embedding(w: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """LCM guidance-scale embedding ``w (B,)`` → ``(B, dim)``: [sin, cos] of 1000·w·exp(−ln(1e4)·i/(dim/2−1))."""
    w = w.float() * 1000.0
    half = dim // 2
    step = math.log(10000.0) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=w.device) * -step)
    args = w[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class TimestepEmbedding(nn.Module):
    """``linear_2(SiLU(linear_1(e + cond_proj(w_emb))))``; ``cond_proj`` exists only for the LCM student."""

    def __init__(self, in_dim: int, hidden_dim: int, cond_proj_dim: int | None = None) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, hidden_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(hidden_dim, hidden_dim)
        self.cond_proj = nn.Linear(cond_proj_dim, in_dim, bias=False) if cond_proj_dim else None
        if self.cond_proj is not None:
            nn.init.zeros_(self.cond_proj.weight)

    def forward(self, emb: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            if self.cond_proj is None:
                raise ValueError("this denoiser has no guidance embedding (MLD teacher); pass timestep_cond=None")
            emb = emb + self.cond_proj(condition)
        return self.linear_2(self.act(self.linear_1(emb)))
