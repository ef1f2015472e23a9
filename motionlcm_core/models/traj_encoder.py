"""Trajectory encoder: normalised, masked joint hints → latent tokens for the ControlNet."""
from __future__ import annotations

import torch
from torch import nn

from ..config import TrajEncoderConfig
from .transformer import LearnedPositionalEmbedding, SkipTransformerEncoder


class TrajectoryEncoder(nn.Module):
    """``hint (B, T, J, 3)`` = (joints − Mean_raw)/Std_raw · mask, ``hint_mask (B, T, J, 3)`` → ``(B, L, D)``.

    Frames with no controlled coordinate are masked out of attention; the L global tokens never are."""

    def __init__(self, cfg: TrajEncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hidden = cfg.transformer.hidden_dim
        self.skel_embedding = nn.Linear(cfg.njoints * 3, hidden)
        self.global_motion_token = nn.Parameter(torch.randn(cfg.latent_tokens, hidden))
        self.query_pos_encoder = LearnedPositionalEmbedding(hidden, cfg.transformer.max_len)
        self.encoder = SkipTransformerEncoder(cfg.transformer)
        self.latent_proj = nn.Linear(hidden, cfg.latent_dim) if cfg.post_proj else nn.Identity()

    def forward(self, hint: torch.Tensor, hint_mask: torch.Tensor, *, packed: bool = True) -> torch.Tensor:
        """``packed`` (default): only the global tokens and the controlled frames are computed
        (``packing.py``); ``False`` runs every frame with a key-padding mask, as the official encoder."""
        if hint.dim() != 4 or hint.shape[2:] != (self.cfg.njoints, 3) or hint_mask.shape != hint.shape:
            raise ValueError(f"hint and hint_mask must be (B, T, {self.cfg.njoints}, 3), "
                             f"got {tuple(hint.shape)} and {tuple(hint_mask.shape)}")
        B, T = hint.shape[:2]
        frame_valid = hint_mask.reshape(B, T, -1).any(dim=-1)
        x = self.skel_embedding(hint.reshape(B, T, -1))
        tokens = self.global_motion_token[None].expand(B, -1, -1)
        seq = self.query_pos_encoder(torch.cat([tokens, x], dim=1))
        valid = torch.cat([frame_valid.new_ones(B, self.cfg.latent_tokens), frame_valid], dim=1)
        out = self.encoder.encode_valid(seq, valid, packed)
        return self.latent_proj(out[:, : self.cfg.latent_tokens])
