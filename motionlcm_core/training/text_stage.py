"""The frozen context of the text-conditioned stages (teacher, LCD, ControlNet).

The previous stage's file with its frozen VAE and statistics, the seeded training set and the text table
of its captions, opened in one call.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data import MotionTextDataset
from ..motion import FeatureStats
from .config import TrainConfig
from .datasets import dataset
from .stage_weights import StageWeights, frozen, load_stage
from .text_table import TextTable


@dataclass
class TextStageContext:
    """Previous stage's file, its frozen VAE and statistics, the seeded training set and its text table."""

    weights: StageWeights
    vae: nn.Module
    stats: FeatureStats
    data: MotionTextDataset
    table: TextTable

    def encode_latents(self, batch, generator: torch.Generator) -> torch.Tensor:
        """Sampled VAE latents ``(B, L, D)`` of a batch (frozen encoder, spec §5)."""
        with torch.no_grad():
            return self.vae.encode(batch.feats, batch.mask, generator=generator).latents


def open_text_stage(cfg: TrainConfig, init: str, stage: str, device: torch.device,
                    text_encoder: str | None = None, encoder=None) -> TextStageContext:
    """Load ``init`` (must hold the VAE), build the data and the text table of its captions.

    ``text_encoder`` defaults to the one recorded in the init file's config."""
    from ..models import MotionVAE
    weights = load_stage(init, stage)
    weights.require("vae", "stats", stage=stage)
    vae = frozen(MotionVAE(weights.config.vae), weights.parts["vae"], device)
    stats = weights.feature_stats()
    data = dataset(cfg, stats)
    table = TextTable.build(text_encoder or weights.config.text_encoder, data.all_captions(), encoder=encoder)
    return TextStageContext(weights, vae, stats, data, table)
