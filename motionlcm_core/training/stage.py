"""What the stages share besides the loop: data, statistics, frozen text embeddings and stage files.

Every stage reads the previous stage's weights file (``--init``) and writes its own
``<out_dir>/model.safetensors`` in our format (:mod:`motionlcm_core.io.checkpoints`), so each stage's
output is a usable, growing model file: VAE → +teacher → +LCM student → +ControlNet/trajectory encoder.
Teacher convention: the teacher's config is ``replace(cfg.denoiser, time_cond_proj_dim=None)``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import DenoiserConfig, ModelConfig, TransformerConfig
from ..data import DataConfig, MotionTextDataset, cmu_dataset, cmu_feature_stats, humanml3d_dataset
from ..data import humanml3d_folder_stats
from ..data.feature_cache import default_cache_dir
from ..io.checkpoints import load_weights, save_weights
from ..motion import ControlStats, FeatureStats
from .loop import TrainConfig

log = logging.getLogger("motionlcm_core.training")
WEIGHTS = "model.safetensors"


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


# --------------------------------------------------------------------------- data and statistics
def _data_dir(cfg: TrainConfig) -> str | None:
    return cfg.data_dir or None


def feature_stats(cfg: TrainConfig) -> FeatureStats:
    """Mean/Std of the training data (ours: train split incl. mirrored clips; HumanML3D: Mean/Std.npy)."""
    if cfg.data_format == "humanml3d":
        if not cfg.data_dir:
            raise ValueError("data_format='humanml3d' needs --data-dir pointing at the HumanML3D folder")
        return humanml3d_folder_stats(cfg.data_dir)
    return cmu_feature_stats(_data_dir(cfg))


def dataset(cfg: TrainConfig, stats: FeatureStats, split: str = "train",
            data_cfg: DataConfig | None = None) -> MotionTextDataset:
    """Seeded dataset of one split (with_joints off: stages recover joints from the features in torch)."""
    data_cfg = data_cfg or DataConfig(with_joints=False, floor_crops=cfg.floor_crops)
    if cfg.data_format == "humanml3d":
        return humanml3d_dataset(cfg.data_dir, split, cfg=data_cfg, stats=stats, seed=cfg.seed)
    return cmu_dataset(split, _data_dir(cfg), cfg=data_cfg, stats=stats, seed=cfg.seed,
                       drop_flagged=cfg.drop_flagged)


# --------------------------------------------------------------------------- stage files
@dataclass
class StageWeights:
    """A (partial) model file: config, ``{prefix: state_dict}`` and the record of the stages so far."""

    config: ModelConfig
    parts: dict[str, dict[str, torch.Tensor]]
    training: dict[str, Any]

    def feature_stats(self) -> FeatureStats:
        s = self.parts["stats"]
        return FeatureStats(s["mean"].numpy(), s["std"].numpy())

    def control_stats(self) -> ControlStats:
        s = self.parts["stats"]
        if "control_mean" not in s:
            raise ValueError("this weights file has no control statistics (train the ControlNet stage first)")
        return ControlStats(s["control_mean"].numpy(), s["control_std"].numpy())

    def require(self, *prefixes: str, stage: str) -> None:
        missing = [p for p in prefixes if p not in self.parts]
        if missing:
            raise ValueError(f"{stage} needs an --init weights file holding {missing}; "
                             f"it has {sorted(self.parts)} (run the previous stage first)")


def stats_part(stats: FeatureStats, control: ControlStats | None = None) -> dict[str, torch.Tensor]:
    part = {"mean": torch.from_numpy(stats.mean.copy()), "std": torch.from_numpy(stats.std.copy())}
    if control is not None:
        part.update(control_mean=torch.from_numpy(control.mean.copy()),
                    control_std=torch.from_numpy(control.std.copy()))
    return part


def load_stage(path: str | Path, stage: str) -> StageWeights:
    if not str(path):
        raise ValueError(f"{stage} needs --init: the weights file written by the previous stage")
    cfg, parts, info = load_weights(path)
    return StageWeights(cfg, parts, info["training"])


def warm_start(path: str, stage: str, modules: dict[str, nn.Module], *also: str) -> StageWeights | None:
    """Continue a run from another file: load its part ``prefix`` into each of ``modules`` (``{prefix: module}``)
    and return the file (``also``: other parts it must hold); ``None`` when ``path`` is empty."""
    if not path:
        return None
    label = f"{stage} warm start"
    start = load_stage(path, label)
    start.require(*modules, *also, stage=label)
    for prefix, module in modules.items():
        try:
            module.load_state_dict(start.parts[prefix])
        except RuntimeError as err:
            raise ValueError(f"the {prefix} in {path} has other sizes than this run's (check the size flags, "
                             f"e.g. --hidden-dim/--ff-size/--num-layers/--time-dim): {err}") from None
    return start


def with_stage_record(training: dict[str, Any], stage: str, record: dict[str, Any],
                      warm_start: StageWeights | None = None) -> dict[str, Any]:
    """``training`` plus ``record`` under ``stage``. A warm-started stage keeps the record of the run it
    continued (the warm-start file's own entry for ``stage``) under ``record["continues"]``."""
    if warm_start is not None and stage in warm_start.training:
        record = {**record, "continues": warm_start.training[stage]}
    return {**training, stage: record}


def save_stage(out_dir: str | Path, weights: StageWeights) -> Path:
    path = save_weights(Path(out_dir) / WEIGHTS, weights.parts, weights.config, training=weights.training)
    log.info("wrote %s (%s)", path, ", ".join(sorted(weights.parts)))
    return path


def frozen(module: nn.Module, state_dict: dict[str, torch.Tensor], device: torch.device) -> nn.Module:
    """Load weights into ``module``, move it, put it in eval mode and freeze it."""
    module.load_state_dict(state_dict)
    return module.to(device).eval().requires_grad_(False)


def teacher_config(cfg: DenoiserConfig) -> DenoiserConfig:
    """The MLD teacher is the student's architecture without the guidance embedding."""
    return dataclasses.replace(cfg, time_cond_proj_dim=None)


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- frozen text embeddings
class TextTable:
    """Sentence embeddings of every caption a dataset can return (+ ``""`` = unconditional), computed
    once with the frozen encoder and cached on disk; lookups are table reads."""

    def __init__(self, captions: list[str], embeddings: torch.Tensor) -> None:
        if embeddings.shape[0] != len(captions) or "" not in captions:
            raise ValueError("TextTable needs one embedding row per caption, including the empty caption")
        self.index = {c: i for i, c in enumerate(captions)}
        self.embeddings = embeddings.float()       # (N, D)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @classmethod
    def build(cls, encoder_name: str, captions: list[str], *, encoder=None, chunk: int = 256) -> "TextTable":
        """Embed ``captions`` with ``encoder`` (default: the named sentence encoder), using the disk cache
        (keyed by the encoder's ``name`` and the captions)."""
        captions = sorted(set(captions) | {""})
        encoder_name = getattr(encoder, "name", encoder_name)
        key = hashlib.sha1("\n".join([encoder_name, *captions]).encode()).hexdigest()[:20]
        path = default_cache_dir() / f"text_{key}.pt"
        if path.is_file():
            return cls(captions, torch.load(path, map_location="cpu"))
        encoder = encoder or open_text_encoder(encoder_name)
        log.info("embedding %d captions with %s", len(captions), encoder_name)
        rows = [encoder.encode(captions[i:i + chunk])[:, 0].cpu() for i in range(0, len(captions), chunk)]
        table = cls(captions, torch.cat(rows))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        torch.save(table.embeddings, tmp)
        os.replace(tmp, path)   # atomic: parallel processes (torchrun) may build the same table
        return table

    def lookup(self, captions: list[str], device: torch.device, *, drop_prob: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``(B, 1, D)``; each caption is replaced by ``""`` with probability ``drop_prob`` (CFG training)."""
        missing = [c for c in captions if c not in self.index]
        if missing:
            raise ValueError(f"caption not in the text table (rebuild it): {missing[0]!r}")
        rows = torch.tensor([self.index[c] for c in captions])
        if drop_prob > 0:
            drop = torch.rand(len(captions), generator=generator) < drop_prob
            rows = torch.where(drop, torch.tensor(self.index[""]), rows)
        return self.embeddings[rows][:, None].to(device)

    def uncond(self, device: torch.device) -> torch.Tensor:
        """Embedding of the empty caption ``(1, 1, D)``."""
        return self.embeddings[self.index[""]][None, None].to(device)


def open_text_encoder(name: str):
    """The embedded all-MiniLM-L6-v2, or a sentence-transformers folder given by path."""
    from ..text_encoder import EMBEDDED_NAME, TextEncoder
    if name == EMBEDDED_NAME:
        return TextEncoder.embedded("cpu")
    return TextEncoder(name, "cpu")


# --------------------------------------------------------------------------- the frozen context of stages 2-4
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


def encoder_label(name: str) -> str:
    """Name recorded in ModelConfig.text_encoder: the folder name when a path is given."""
    return Path(name).name if ("/" in name or "\\" in name) else name
