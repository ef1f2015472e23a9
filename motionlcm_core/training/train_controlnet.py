"""Stage 4: Motion ControlNet + trajectory encoder (spec §7.4), spatial control of pelvis, feet, head, wrists.

Frozen VAE and LCM student; per sample one joint of ``control_joints`` is controlled at K ~ U{1..L−1}
random frames. Loss = MSE(x̂0, z0) + cond_ratio · SmoothL1 of the decoded joints at the controlled
frames (metres). ``python -m motionlcm_core.training controlnet --init runs/lcd/model.safetensors``.
Writes the init file + ``controlnet.*``, ``traj_encoder.*`` and ``stats.control_mean/std``.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import torch

from ..config import ControlNetConfig, TrajEncoderConfig
from ..data import MotionTextDataset
from ..models import LatentDenoiser, MotionControlNet, TrajectoryEncoder
from ..motion import CONTROL_JOINTS, ControlStats, compute_control_stats, recover_joints
from ..schedulers import NoiseSchedule
from .loop import TrainResult, config_record, init_distributed, train
from .objectives import ControlLossConfig, controlnet_objective
from .stage import ArchConfig, StageWeights, cpu_state, frozen, open_text_stage, save_stage, stats_part

log = logging.getLogger("motionlcm_core.training")


@dataclass(frozen=True)
class TrainControlNetConfig(ArchConfig):
    """Train the Motion ControlNet and trajectory encoder on a frozen LCM student (lr 1e-4 each)."""

    out_dir: str = "runs/controlnet"
    init: str = ""                                 # LCD stage file
    text_encoder: str = ""                         # empty: the one recorded in the init file
    control_joints: str = ",".join(map(str, CONTROL_JOINTS))
    lr_spatial: float = 1e-4                       # trajectory-encoder learning rate
    embed_dim: int = 256                           # ControlNet condition-MLP width
    cond_ratio: float = 1.0
    lcm_grid: int = 10                             # t on this many LCM grid points (1: only t=999, the 1-step sampler's)
    control_loss: str = "l1_smooth"                # "l1_smooth" | "l1" | "l2" (in metres)
    stats_epochs: int = 2                          # crops per item used for Mean_raw/Std_raw

    def joints(self) -> tuple[int, ...]:
        try:
            ids = tuple(int(j) for j in self.control_joints.split(","))
        except ValueError as exc:
            raise ValueError(f"control_joints must be comma-separated joint indices, got {self.control_joints!r}"
                             ) from exc
        if not ids or not all(0 <= j < 22 for j in ids):
            raise ValueError(f"control_joints must be SMPL-22 indices 0..21, got {ids}")
        return ids

    def __post_init__(self) -> None:
        super().__post_init__()
        self.joints()
        if self.lcm_grid < 1:
            raise ValueError(f"lcm_grid must be >= 1 (1: train only at t=999), got {self.lcm_grid}")
        if self.control_loss not in ("l1_smooth", "l1", "l2"):
            raise ValueError(f"control_loss must be 'l1_smooth', 'l1' or 'l2', got {self.control_loss!r}")


def control_stats(data: MotionTextDataset, epochs: int) -> ControlStats:
    """Mean_raw/Std_raw ``(22, 3)``: global joint positions over training crops (the hints' frame)."""
    joints = []
    for epoch in range(epochs):
        data.set_epoch(epoch)
        for i in range(len(data)):
            item = data[i]
            joints.append(recover_joints(data.stats.denormalize(item.feats)))
    data.set_epoch(0)
    return compute_control_stats(joints)


def random_hints(joints: torch.Tensor, lengths: list[int], joint_ids: tuple[int, ...], stats: ControlStats,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial training hints: per sample one joint from ``joint_ids`` at K ~ U{1..L−1} random frames.

    ``joints (B, T, 22, 3)`` metres → ``hint`` normalised·mask and ``hint_mask`` bool, both ``(B, T, 22, 3)``."""
    hint_mask = torch.zeros(joints.shape, dtype=torch.bool)
    for b, length in enumerate(lengths):
        joint = joint_ids[int(torch.randint(len(joint_ids), (), generator=generator))]
        k = int(torch.randint(1, max(length, 2), (), generator=generator))
        frames = torch.randperm(length, generator=generator)[:k]
        hint_mask[b, frames, joint] = True
    hint_mask = hint_mask.to(joints.device)
    return stats.normalize(joints) * hint_mask, hint_mask


def main(cfg: TrainControlNetConfig, *, encoder=None) -> TrainResult:
    """Train (or resume) the ControlNet and write the stage file."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dist = init_distributed(cfg.device)
    # 1. frozen VAE + LCM student, data, caption embeddings, control statistics
    ctx = open_text_stage(cfg, cfg.init, "controlnet", dist.device, cfg.text_encoder or None, encoder)
    ctx.weights.require("denoiser", stage="controlnet")
    model_cfg = ctx.weights.config
    denoiser = frozen(LatentDenoiser(model_cfg.denoiser), ctx.weights.parts["denoiser"], dist.device)
    cstats = control_stats(ctx.data, cfg.stats_epochs)
    # 2. trainable ControlNet (copy of the student) and trajectory encoder
    torch.manual_seed(cfg.seed)
    controlnet = MotionControlNet.from_denoiser(denoiser, ControlNetConfig(embed_dim=cfg.embed_dim))
    controlnet.requires_grad_(True)
    traj_cfg = TrajEncoderConfig(latent_tokens=model_cfg.vae.latent_tokens, latent_dim=model_cfg.vae.latent_dim,
                                 transformer=cfg.transformer())
    traj = TrajectoryEncoder(traj_cfg).to(dist.device)
    schedule = NoiseSchedule(model_cfg.scheduler)
    loss_cfg = ControlLossConfig(loss_fn=cfg.control_loss, cond_ratio=cfg.cond_ratio, lcm_grid=cfg.lcm_grid)
    joint_ids = cfg.joints()

    def step(batch, gen):
        z = ctx.encode_latents(batch, gen)
        text = ctx.table.lookup(batch.captions, dist.device)
        joints = recover_joints(ctx.stats.denormalize(batch.feats))
        hint, hint_mask = random_hints(joints, batch.lengths, joint_ids, cstats, gen)
        return controlnet_objective(ctx.vae, denoiser, controlnet, traj, schedule, z, text, batch.mask, hint,
                                    hint_mask, ctx.stats, cstats, loss_cfg, generator=gen)

    # 3. train and write the stage file
    groups = [{"params": list(controlnet.parameters()), "lr": cfg.lr},
              {"params": list(traj.parameters()), "lr": cfg.lr_spatial}]
    result = train(cfg, ctx.data, {"controlnet": controlnet, "traj_encoder": traj}, groups, step, dist=dist,
                   name="controlnet")
    if dist.main:
        full_cfg = dataclasses.replace(model_cfg, controlnet=ControlNetConfig(embed_dim=cfg.embed_dim),
                                       traj_encoder=traj_cfg)
        parts = {**ctx.weights.parts, "controlnet": cpu_state(controlnet), "traj_encoder": cpu_state(traj),
                 "stats": stats_part(ctx.stats, cstats)}
        record = {**ctx.weights.training, "controlnet": config_record(cfg, result)}
        save_stage(cfg.out_dir, StageWeights(full_cfg, parts, record))
    return result
