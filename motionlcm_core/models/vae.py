"""Motion VAE (MLD VAE): normalised HumanML3D features ⇄ latent tokens."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import VAEConfig
from .packing import Packing
from .transformer import LearnedPositionalEmbedding, SkipTransformerDecoder, SkipTransformerEncoder


@dataclass
class VAEEncoding:
    """``latents`` = mu + std·eps, each ``(B, L, D)``."""

    latents: torch.Tensor
    mu: torch.Tensor
    std: torch.Tensor


def _check_mask(feats: torch.Tensor, mask: torch.Tensor) -> None:
    if mask.dtype != torch.bool or mask.shape != feats.shape[:2]:
        raise ValueError(f"mask must be bool (B, T) = {tuple(feats.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")


class MotionVAE(nn.Module):
    """Encoder ``feats (B, T, nfeats)`` → ``latents (B, L, D)``; decoder back, padded frames zeroed."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hidden = cfg.transformer.hidden_dim
        L = cfg.latent_tokens
        self.skel_embedding = nn.Linear(cfg.nfeats, hidden)
        self.global_motion_token = nn.Parameter(torch.randn(2 * L, hidden))
        self.query_pos_encoder = LearnedPositionalEmbedding(hidden, cfg.transformer.max_len)
        self.encoder = SkipTransformerEncoder(cfg.transformer)
        self.query_pos_decoder = LearnedPositionalEmbedding(hidden, cfg.transformer.max_len)
        self.decoder = SkipTransformerDecoder(cfg.transformer)
        self.final_layer = nn.Linear(hidden, cfg.nfeats)
        if cfg.pre_post_proj:
            self.latent_pre = nn.Linear(hidden, cfg.latent_dim)
            self.latent_post = nn.Linear(cfg.latent_dim, hidden)
        else:
            self.latent_pre = nn.Identity()
            self.latent_post = nn.Identity()

    def encode(self, feats: torch.Tensor, mask: torch.Tensor, *, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None, packed: bool = True) -> VAEEncoding:
        """``feats (B, T, nfeats)`` normalised, ``mask (B, T)`` True = valid → sampled latent.

        ``noise (B, L, D)`` replaces the reparameterisation draw (else drawn from ``generator``).
        ``packed``: with padding, only real frames are computed (``packing.py``); ``False`` runs the masked
        padded batch as the official code does. Both give the same latents up to float rounding."""
        _check_mask(feats, mask)
        B = feats.shape[0]
        L = self.cfg.latent_tokens
        x = self.skel_embedding(feats)
        tokens = self.global_motion_token[None].expand(B, -1, -1)
        seq = self.query_pos_encoder(torch.cat([tokens, x], dim=1))
        valid = torch.cat([mask.new_ones(B, 2 * L), mask], dim=1)
        out = self.encoder.encode_valid(seq, valid, packed)
        dist = self.latent_pre(out[:, : 2 * L])
        mu, logvar = dist[:, :L], dist[:, L:]
        std = logvar.exp().pow(0.5)
        if noise is None:
            noise = torch.randn(mu.shape, generator=generator, dtype=torch.float32).to(mu)
        return VAEEncoding(latents=mu + std * noise, mu=mu, std=std)

    def decode(self, latents: torch.Tensor, mask: torch.Tensor, *, packed: bool = True) -> torch.Tensor:
        """``latents (B, L, D)``, ``mask (B, T)`` → normalised ``feats (B, T, nfeats)`` (padding = 0).

        ``packed`` (default): clips of different lengths cost only their real frames; frame-wise layers
        run once on all real frames and self-attention per clip, unmasked (``packing.py``). ``False`` runs
        the padded batch with a key-padding mask, as the official decoder. Real frames agree up to float
        rounding: the mask already makes them independent of the padding."""
        if latents.dim() != 3 or latents.shape[1:] != (self.cfg.latent_tokens, self.cfg.latent_dim):
            raise ValueError(f"latents must be (B, {self.cfg.latent_tokens}, {self.cfg.latent_dim}), "
                             f"got {tuple(latents.shape)}")
        if mask.dtype != torch.bool or mask.dim() != 2 or mask.shape[0] != latents.shape[0]:
            raise ValueError(f"mask must be bool (B, T) with B = {latents.shape[0]}, got {mask.dtype} "
                             f"{tuple(mask.shape)}")
        B, T = mask.shape
        memory = self.latent_post(latents)
        queries = self.query_pos_decoder(memory.new_zeros(B, T, memory.shape[-1]))
        if bool(mask.all()):  # no mask: the fused attention path
            return self.final_layer(self.decoder(queries, memory))
        if packed:
            packing = Packing.from_mask(mask)
            out = self.decoder.forward_packed(packing.pack(queries), memory, packing)
            return packing.unpack(self.final_layer(out))
        feats = self.final_layer(self.decoder(queries, memory, tgt_key_padding_mask=~mask))
        return feats * mask[..., None].to(feats.dtype)
