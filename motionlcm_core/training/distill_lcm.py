"""Stage 3: latent consistency distillation (spec §6) → the 1–4-step MotionLCM student.

Online student and EMA target (μ = 0.95) start from the teacher (zero guidance projection); each step
the teacher takes one CFG-guided DDIM step on the skipping grid (V2: 10 points, k = 100), w ~ U[5, 15],
pseudo-Huber loss (c = 0.5). ``python -m motionlcm_core.training lcd --init runs/teacher/model.safetensors``.
Writes the init file + ``denoiser.*`` (the online student, as the official release does).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..models import LatentDenoiser
from ..schedulers import DDIMSolver
from .config import TrainConfig
from .distributed import init_distributed
from .ema import EMA
from .loop import TrainResult, config_record, train
from .objectives import lcd_objective
from .stage_weights import StageWeights, cpu_state, frozen, save_stage, teacher_config, warm_start, with_stage_record
from .text_stage import open_text_stage

log = logging.getLogger("motionlcm_core.training")


@dataclass(frozen=True)
class DistillLCMConfig(TrainConfig):
    """Distil the MLD teacher into an LCM student (AdamW lr 2e-4, EMA target 0.95, Huber c 0.5)."""

    out_dir: str = "runs/lcd"
    init: str = ""                          # teacher stage file
    text_encoder: str = ""                  # empty: the one recorded in the init file
    lr: float = 2e-4
    ema_decay: float = 0.95
    num_ddim_timesteps: int = 10
    w_range: tuple[float, float] = (5.0, 15.0)
    huber_c: float = 0.5
    warm_start: str = ""                    # an LCD stage file whose student ("denoiser") training continues

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.w_range[0] <= self.w_range[1]:
            raise ValueError(f"w_range must be 0 < w_min <= w_max, got {self.w_range}")
        if self.huber_c <= 0:
            raise ValueError(f"huber_c must be > 0, got {self.huber_c}")


def student_from_teacher(teacher: LatentDenoiser, cfg) -> LatentDenoiser:
    """LCM student of config ``cfg`` with the teacher's weights; only ``cond_proj`` (zero) is new."""
    student = LatentDenoiser(cfg).to(next(teacher.parameters()).device)
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    if unexpected or any("cond_proj" not in k for k in missing):
        raise ValueError(f"teacher and student configs differ: missing {missing}, unexpected {unexpected}")
    return student


def main(cfg: DistillLCMConfig, *, encoder=None) -> TrainResult:
    """Distil (or resume) and write the stage file."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dist = init_distributed(cfg.device)
    # 1. frozen VAE + teacher, data, caption embeddings
    ctx = open_text_stage(cfg, cfg.init, "lcd", dist.device, cfg.text_encoder or None, encoder)
    ctx.weights.require("teacher", stage="lcd")
    model_cfg = ctx.weights.config
    teacher = frozen(LatentDenoiser(teacher_config(model_cfg.denoiser)), ctx.weights.parts["teacher"], dist.device)
    if not model_cfg.denoiser.time_cond_proj_dim:
        raise ValueError("the init file's denoiser config has no guidance embedding (time_cond_proj_dim)")
    # 2. online student and its EMA target
    student = student_from_teacher(teacher, model_cfg.denoiser)
    start = warm_start(cfg.warm_start, "lcd", {"denoiser": student})
    target = EMA(student, cfg.ema_decay)
    solver = DDIMSolver(model_cfg.scheduler, cfg.num_ddim_timesteps)
    uncond = ctx.table.uncond(dist.device)

    def step(batch, gen):
        z = ctx.encode_latents(batch, gen)
        text = ctx.table.lookup(batch.captions, dist.device)
        return lcd_objective(student, target.module, teacher, solver, z, text, uncond, w_range=cfg.w_range,
                             huber_c=cfg.huber_c, timestep_scaling=model_cfg.scheduler.timestep_scaling,
                             generator=gen)

    # 3. train and write the stage file
    result = train(cfg, ctx.data, {"denoiser": student, "target": target}, [{"params": list(student.parameters())}],
                   step, dist=dist, after_step=lambda: target.update(student), name="lcd")
    if dist.main:
        record = with_stage_record(ctx.weights.training, "lcd", config_record(cfg, result), start)
        save_stage(cfg.out_dir, StageWeights(model_cfg, {**ctx.weights.parts, "denoiser": cpu_state(student)}, record))
    return result
