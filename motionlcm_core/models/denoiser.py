"""Latent denoiser (MLD teacher, or LCM student when it has a guidance embedding): ε-prediction."""
from __future__ import annotations

import torch
from torch import nn

from ..config import DenoiserConfig
from .embeddings import TimestepEmbedding, timestep_sinusoid
from .transformer import LearnedPositionalEmbedding, SkipTransformerEncoder


def broadcast_timesteps(timestep: int | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """A scalar timestep (int or 0-d tensor) is broadcast to ``(B,)``."""
    t = torch.as_tensor(timestep, device=device)
    if t.dim() == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"timestep must be a scalar or shape ({batch},), got {tuple(t.shape)}")
    return t


class LatentDenoiser(nn.Module):
    """``sample (B, L, D)``, ``t``, ``text (B, 1, text_dim)`` [, ``timestep_cond (B, 256)``] → ``eps (B, L, D)``.

    Sequence: [L latent tokens; time token; text token] + learned PE, skip-transformer encoder."""

    has_final_norm = True

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hidden = cfg.transformer.hidden_dim
        if cfg.pre_post_proj:
            self.latent_pre = nn.Linear(cfg.latent_dim, hidden)
            self.latent_post = nn.Linear(hidden, cfg.latent_dim)
        else:
            self.latent_pre = nn.Identity()
            self.latent_post = nn.Identity()
        self.time_embedding = TimestepEmbedding(cfg.time_dim, hidden, cfg.time_cond_proj_dim)
        act = nn.ReLU() if cfg.text_act == "relu" else nn.Identity()
        self.emb_proj = nn.Sequential(act, nn.Linear(cfg.text_dim, hidden))
        self.query_pos = LearnedPositionalEmbedding(hidden, cfg.transformer.max_len)
        self.encoder = SkipTransformerEncoder(cfg.transformer, final_norm=self.has_final_norm)

    @property
    def is_lcm(self) -> bool:
        return self.cfg.time_cond_proj_dim is not None

    def embed_inputs(self, sample: torch.Tensor, timestep: int | torch.Tensor, text: torch.Tensor,
                     timestep_cond: torch.Tensor | None) -> torch.Tensor:
        """Token sequence ``(B, L+2, H)`` with positional embedding."""
        B = sample.shape[0]
        t = broadcast_timesteps(timestep, B, sample.device)
        t_emb = timestep_sinusoid(t, self.cfg.time_dim).to(sample.dtype)
        if timestep_cond is not None:
            timestep_cond = timestep_cond.to(sample.dtype)
        time_token = self.time_embedding(t_emb, timestep_cond)[:, None]
        text_token = self.emb_proj(text.to(sample.dtype))
        x = self.latent_pre(sample)
        return self.query_pos(torch.cat([x, time_token, text_token], dim=1))

    def forward(self, sample: torch.Tensor, timestep: int | torch.Tensor, text: torch.Tensor,
                timestep_cond: torch.Tensor | None = None,
                residuals: list[torch.Tensor] | None = None) -> torch.Tensor:
        seq = self.embed_inputs(sample, timestep, text, timestep_cond)
        out, _ = self.encoder(seq, residuals=residuals)
        return self.latent_post(out[:, : self.cfg.latent_tokens])
