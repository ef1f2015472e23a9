"""The options every stage shares: :class:`TrainConfig` (loop, data, device) and :class:`ArchConfig` (sizes).

Each stage's ``Train*Config`` extends one of them; its fields become the stage's command-line flags
(:mod:`motionlcm_core.training.cli`) and the config is recorded beside every checkpoint and weights file.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import TransformerConfig


@dataclass(frozen=True)
class TrainConfig:
    """Options shared by every stage (each stage's ``Train*Config`` extends it)."""

    out_dir: str = "runs/train"
    data_dir: str = ""                 # empty: $MOTIONLCM_DATA_DIR or ../shared/data
    data_format: str = "cmu"           # "cmu" (our set) or "humanml3d" (new_joint_vecs/ + texts/ folder)
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 1234
    device: str = "auto"
    threads: int = 0                   # torch.set_num_threads when > 0 (CPU)
    num_workers: int = 0
    save_every: int = 200
    log_every: int = 20
    resume: bool = True
    drop_flagged: bool = False         # drop the clips with quality flags in the manifest
    floor_crops: bool = False          # put every training crop on its own floor (DataConfig.floor_crops)
    # > 0: train for about this many minutes (at most ``steps``): after a few timed steps the loop plans the
    # step count that fits and the cosine schedule ends there; the record holds the steps actually done
    time_limit_min: float = 0.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.data_format not in ("cmu", "humanml3d"):
            raise ValueError(f"data_format must be 'cmu' or 'humanml3d', got {self.data_format!r}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup_steps < 0:
            raise ValueError("lr and grad_clip must be > 0 and warmup_steps >= 0")
        if self.time_limit_min < 0:
            raise ValueError(f"time_limit_min must be >= 0 (0: no limit), got {self.time_limit_min}")


@dataclass(frozen=True)
class ArchConfig(TrainConfig):
    """Size of the skip-transformer a stage builds (defaults: official V2, hidden 256, 9 layers)."""

    hidden_dim: int = 256
    ff_size: int = 1024
    num_layers: int = 9
    num_heads: int = 4
    dropout: float = 0.1

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(hidden_dim=self.hidden_dim, ff_size=self.ff_size, num_layers=self.num_layers,
                                 num_heads=self.num_heads, dropout=self.dropout)
