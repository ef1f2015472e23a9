"""Stage 2: the MLD teacher (spec §5): ε-prediction MSE on frozen-VAE latents, text dropout for CFG.

``python -m motionlcm_core.training teacher --init runs/vae/model.safetensors --out-dir runs/teacher``.
Writes ``<out_dir>/model.safetensors`` = the init file + ``teacher.*``; its config's ``denoiser`` is the
LCM student's (teacher = the same without the guidance embedding, see
:func:`~motionlcm_core.training.stage_weights.teacher_config`).
``--warm-start FILE`` continues the teacher held in ``FILE`` (e.g. on data prepared another way).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import torch

from ..config import DenoiserConfig
from ..models import LatentDenoiser
from ..schedulers import NoiseSchedule
from ..text_encoder import EMBEDDED_NAME
from .config import ArchConfig
from .distributed import init_distributed
from .loop import TrainResult, config_record, train
from .objectives import mld_objective
from .stage_weights import StageWeights, cpu_state, save_stage, teacher_config, warm_start, with_stage_record
from .text_stage import open_text_stage
from .text_table import encoder_label

log = logging.getLogger("motionlcm_core.training")


@dataclass(frozen=True)
class TrainDenoiserConfig(ArchConfig):
    """Train the MLD teacher denoiser on a frozen VAE (AdamW lr 1e-4, cosine + warm-up)."""

    out_dir: str = "runs/teacher"
    init: str = ""                          # VAE stage file (model.safetensors)
    text_encoder: str = EMBEDDED_NAME       # or a sentence-transformers folder (e.g. sentence-t5-large)
    text_dropout: float = 0.1               # caption → "" with this probability (classifier-free guidance)
    time_dim: int = 768
    w_cond_dim: int = 256                   # guidance-embedding size of the LCM student built later
    warm_start: str = ""                    # a file holding a teacher whose training continues (same sizes)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.text_dropout < 1.0:
            raise ValueError(f"text_dropout must be in [0, 1), got {self.text_dropout}")


def main(cfg: TrainDenoiserConfig, *, encoder=None) -> TrainResult:
    """Train (or resume) the teacher and write its stage file. ``encoder`` overrides the text encoder."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dist = init_distributed(cfg.device)
    # 1. frozen VAE, data and the caption embeddings
    ctx = open_text_stage(cfg, cfg.init, "teacher", dist.device, cfg.text_encoder, encoder)
    vae_cfg = ctx.weights.config.vae
    student_cfg = DenoiserConfig(latent_tokens=vae_cfg.latent_tokens, latent_dim=vae_cfg.latent_dim,
                                 text_dim=ctx.table.dim, time_dim=cfg.time_dim, time_cond_proj_dim=cfg.w_cond_dim,
                                 transformer=cfg.transformer())
    # 2. the teacher network
    torch.manual_seed(cfg.seed)
    teacher = LatentDenoiser(teacher_config(student_cfg)).to(dist.device)
    start = warm_start(cfg.warm_start, "teacher", {"teacher": teacher})
    schedule = NoiseSchedule(ctx.weights.config.scheduler)

    def step(batch, gen):
        z = ctx.encode_latents(batch, gen)
        text = ctx.table.lookup(batch.captions, dist.device, drop_prob=cfg.text_dropout, generator=gen)
        return mld_objective(teacher, schedule, z, text, generator=gen)

    # 3. train and write the stage file
    result = train(cfg, ctx.data, {"teacher": teacher}, [{"params": list(teacher.parameters())}], step,
                   dist=dist, name="teacher")
    if dist.main:
        model_cfg = dataclasses.replace(ctx.weights.config, denoiser=student_cfg, has_teacher=True,
                                        text_encoder=encoder_label(getattr(encoder, "name", cfg.text_encoder)))
        record = with_stage_record(ctx.weights.training, "teacher", config_record(cfg, result), start)
        save_stage(cfg.out_dir, StageWeights(model_cfg, {**ctx.weights.parts, "teacher": cpu_state(teacher)}, record))
    return result
