"""Stage 4: Motion ControlNet + trajectory encoder (spec §7.4), spatial control of pelvis, feet, head, wrists.

Frozen VAE and LCM student; per sample one joint of ``control_joints`` is controlled at K ~ U{1..L−1}
random frames. Loss = MSE(x̂0, z0) + cond_ratio · SmoothL1 of the decoded joints at the controlled
frames (metres).

Beyond the spec (all off by default): ``joint_weights`` draws some joints more often than others;
``synthetic_ratio`` replaces that share of each batch by motions the frozen student samples itself
(1 step, from the sample's caption) — their latent is the target and their decoded joints give the hints,
so every such hint is exactly reachable through the decoder (unlimited, never-repeating pairs);
``warm_start`` starts from another file's ControlNet, trajectory encoder and control statistics with a
fresh optimiser and schedule. ``python -m motionlcm_core.training controlnet --init runs/lcd/model.safetensors``.
Writes the init file + ``controlnet.*``, ``traj_encoder.*`` and ``stats.control_mean/std``.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import torch

from ..config import ControlNetConfig, TrajEncoderConfig, control_timesteps_for
from ..data import MotionTextDataset
from ..models import LatentDenoiser, MotionControlNet, TrajectoryEncoder
from ..motion import CONTROL_JOINTS, ControlStats, compute_control_stats, recover_joints
from ..sampling import lcm_sample
from ..schedulers import LCMScheduler, NoiseSchedule
from .config import ArchConfig
from .distributed import init_distributed
from .loop import TrainResult, config_record, train
from .objectives import ControlLossConfig, controlnet_objective
from .stage_weights import StageWeights, cpu_state, frozen, save_stage, stats_part, warm_start, with_stage_record
from .text_stage import TextStageContext, open_text_stage

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
    lcm_grid: int = 10                             # t on this many LCM grid points (1: only t=999, the 1-step one)
    control_loss: str = "l1_smooth"                # "l1_smooth" | "l1" | "l2" (in metres)
    stats_epochs: int = 2                          # crops per item used for Mean_raw/Std_raw
    joint_weights: str = ""                        # draw weights per control joint, e.g. "5,1,1,1,1,1"; "": uniform
    synthetic_ratio: float = 0.0                   # share of each batch sampled by the frozen student itself
    warm_start: str = ""                           # file whose ControlNet + trajectory encoder training starts from
    w_range: tuple[float, float] = (5.0, 15.0)     # guidance w drawn per sample (the range the LCD run used)

    def joints(self) -> tuple[int, ...]:
        try:
            ids = tuple(int(j) for j in self.control_joints.split(","))
        except ValueError as exc:
            raise ValueError(f"control_joints must be comma-separated joint indices, got {self.control_joints!r}"
                             ) from exc
        if not ids or not all(0 <= j < 22 for j in ids):
            raise ValueError(f"control_joints must be SMPL-22 indices 0..21, got {ids}")
        return ids

    def weights(self) -> torch.Tensor:
        """Draw probabilities ``(len(joints),)`` of the control joints (uniform unless ``joint_weights``)."""
        n = len(self.joints())
        if not self.joint_weights:
            return torch.full((n,), 1.0 / n)
        try:
            w = torch.tensor([float(x) for x in self.joint_weights.split(",")])
        except ValueError as exc:
            raise ValueError(f"joint_weights must be comma-separated numbers, got {self.joint_weights!r}") from exc
        if len(w) != n or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"joint_weights needs {n} non-negative numbers (one per control joint, not all 0), "
                             f"got {self.joint_weights!r}")
        return w / w.sum()

    def __post_init__(self) -> None:
        super().__post_init__()
        self.weights()
        if not 0.0 <= self.synthetic_ratio <= 1.0:
            raise ValueError(f"synthetic_ratio must be in [0, 1], got {self.synthetic_ratio}")
        if self.lcm_grid < 1:
            raise ValueError(f"lcm_grid must be >= 1 (1: train only at t=999), got {self.lcm_grid}")
        if self.control_loss not in ("l1_smooth", "l1", "l2"):
            raise ValueError(f"control_loss must be 'l1_smooth', 'l1' or 'l2', got {self.control_loss!r}")
        if not 0 < self.w_range[0] <= self.w_range[1]:
            raise ValueError(f"w_range must be 0 < w_min <= w_max, got {self.w_range}")


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
                 generator: torch.Generator, joint_probs: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial training hints: per sample one joint from ``joint_ids`` (drawn with ``joint_probs``, default
    uniform) at K ~ U{1..L−1} random frames.

    ``joints (B, T, 22, 3)`` metres → ``hint`` normalised·mask and ``hint_mask`` bool, both ``(B, T, 22, 3)``."""
    hint_mask = torch.zeros(joints.shape, dtype=torch.bool)
    for b, length in enumerate(lengths):
        if joint_probs is None:
            pick = int(torch.randint(len(joint_ids), (), generator=generator))
        else:
            pick = int(torch.multinomial(joint_probs, 1, generator=generator))
        joint = joint_ids[pick]
        k = int(torch.randint(1, max(length, 2), (), generator=generator))
        frames = torch.randperm(length, generator=generator)[:k]
        hint_mask[b, frames, joint] = True
    hint_mask = hint_mask.to(joints.device)
    return stats.normalize(joints) * hint_mask, hint_mask


def self_generated(ctx: TextStageContext, denoiser: LatentDenoiser, scheduler: LCMScheduler, z: torch.Tensor,
                   joints: torch.Tensor, text: torch.Tensor, mask: torch.Tensor, ratio: float,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace a ``ratio`` share of the batch by the frozen student's own 1-step samples of its captions.

    ``z (B, L, D)`` latents and ``joints (B, T, 22, 3)`` metres of the real crops; ``text (B, 1, Dt)``;
    ``mask (B, T)``. Returns new ``(z, joints)``: chosen rows hold the sampled latent and its decoded joints
    (same length as the crop they replace), the rest are unchanged."""
    pick = torch.rand(z.shape[0], generator=generator) < ratio
    if not bool(pick.any()):
        return z, joints
    idx = pick.nonzero().squeeze(1).to(z.device)
    noise = torch.randn((len(idx), *z.shape[1:]), generator=generator).to(z)
    with torch.no_grad():
        latents = lcm_sample(denoiser, scheduler, noise, text[idx], num_steps=1)
        decoded = recover_joints(ctx.stats.denormalize(ctx.vae.decode(latents, mask[idx])))
    z, joints = z.clone(), joints.clone()
    z[idx], joints[idx] = latents, decoded
    return z, joints


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
    # 2. trainable ControlNet (copy of the student, or the warm-start file's) and trajectory encoder
    torch.manual_seed(cfg.seed)
    controlnet = MotionControlNet.from_denoiser(denoiser, ControlNetConfig(embed_dim=cfg.embed_dim))
    traj_cfg = TrajEncoderConfig(latent_tokens=model_cfg.vae.latent_tokens, latent_dim=model_cfg.vae.latent_dim,
                                 transformer=cfg.transformer())
    traj = TrajectoryEncoder(traj_cfg).to(dist.device)
    start = warm_start(cfg.warm_start, "controlnet", {"controlnet": controlnet, "traj_encoder": traj}, "stats")
    cstats = start.control_stats() if start is not None else control_stats(ctx.data, cfg.stats_epochs)
    controlnet.requires_grad_(True)
    schedule = NoiseSchedule(model_cfg.scheduler)
    scheduler = LCMScheduler(model_cfg.scheduler, schedule)
    loss_cfg = ControlLossConfig(loss_fn=cfg.control_loss, cond_ratio=cfg.cond_ratio, lcm_grid=cfg.lcm_grid,
                                 w_range=cfg.w_range)
    joint_ids, joint_probs = cfg.joints(), (cfg.weights() if cfg.joint_weights else None)

    def step(batch, gen):
        z = ctx.encode_latents(batch, gen)
        text = ctx.table.lookup(batch.captions, dist.device)
        joints = recover_joints(ctx.stats.denormalize(batch.feats))
        if cfg.synthetic_ratio > 0:
            z, joints = self_generated(ctx, denoiser, scheduler, z, joints, text, batch.mask, cfg.synthetic_ratio,
                                       gen)
        hint, hint_mask = random_hints(joints, batch.lengths, joint_ids, cstats, gen, joint_probs)
        return controlnet_objective(ctx.vae, denoiser, controlnet, traj, schedule, z, text, batch.mask, hint,
                                    hint_mask, ctx.stats, cstats, loss_cfg, generator=gen)

    # 3. train and write the stage file
    groups = [{"params": list(controlnet.parameters()), "lr": cfg.lr},
              {"params": list(traj.parameters()), "lr": cfg.lr_spatial}]
    result = train(cfg, ctx.data, {"controlnet": controlnet, "traj_encoder": traj}, groups, step, dist=dist,
                   name="controlnet")
    if dist.main:
        # pinned sampling starts at a timestep the ControlNet was trained at (lcm_grid=1: t = T−1)
        sched = dataclasses.replace(model_cfg.scheduler,
                                    control_timesteps=control_timesteps_for(model_cfg.scheduler, cfg.lcm_grid))
        full_cfg = dataclasses.replace(model_cfg, controlnet=ControlNetConfig(embed_dim=cfg.embed_dim),
                                       traj_encoder=traj_cfg, scheduler=sched)
        parts = {**ctx.weights.parts, "controlnet": cpu_state(controlnet), "traj_encoder": cpu_state(traj),
                 "stats": stats_part(ctx.stats, cstats)}
        record = with_stage_record(ctx.weights.training, "controlnet", config_record(cfg, result), start)
        save_stage(cfg.out_dir, StageWeights(full_cfg, parts, record))
    return result
