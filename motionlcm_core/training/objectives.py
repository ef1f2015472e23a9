"""Training objectives of the four stages, as pure functions of networks + batch + random draws.

Random draws (latent noise, diffusion noise, timesteps, w) can be passed in explicitly so that the
objectives are reproducible against recorded goldens; otherwise they come from ``generator``."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder, guidance_embedding
from ..motion import ControlStats, FeatureStats, recover_joints
from ..motion.body import bone_lengths
from ..schedulers import DDIMSolver, NoiseSchedule, boundary_scalings
from .losses import ControlLossFn, ControlReduction, control_loss, kl_standard_normal, masked_smooth_l1, pseudo_huber


@dataclass
class Draws:
    """Recorded random draws of one step (any may be None → drawn from the generator)."""

    noise: torch.Tensor | None = None       # (B, L, D) diffusion noise
    timesteps: torch.Tensor | None = None   # (B,) int
    w: torch.Tensor | None = None           # (B,) guidance w
    z: torch.Tensor | None = None           # (B, L, D) VAE latent sample


def _randn(shape, like: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float32).to(like)


def vae_objective(vae: MotionVAE, feats: torch.Tensor, mask: torch.Tensor, stats: FeatureStats, *,
                  kl_weight: float = 1e-4, bone_weight: float = 0.0, train_encoder: bool = True,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """SmoothL1 on normalised feats + SmoothL1 on recovered joints + kl_weight·KL (+ bone_weight · mean
    |bone length − the data's length| in metres: every training clip is on one skeleton, so a decoded
    bone that stretches is wrong). ``train_encoder=False`` fine-tunes the decoder alone: the encoder runs
    without gradients, the latent space (and every stage trained on it) stays as it is."""
    with torch.set_grad_enabled(train_encoder and torch.is_grad_enabled()):
        enc = vae.encode(feats, mask, generator=generator)
    rec = vae.decode(enc.latents, mask)
    loss_feats = masked_smooth_l1(rec, feats, mask)
    j_rec = recover_joints(stats.denormalize(rec))
    j_ref = recover_joints(stats.denormalize(feats))
    loss_joints = masked_smooth_l1(j_rec, j_ref, mask)
    kl = kl_standard_normal(enc.mu, enc.std)
    total = loss_feats + loss_joints + (kl_weight * kl if train_encoder else 0.0)
    out = {"feats": loss_feats, "joints": loss_joints, "kl": kl}
    if bone_weight > 0:
        err = (bone_lengths(j_rec) - bone_lengths(j_ref)).abs().mean(-1)          # (B, T)
        out["bones"] = (err * mask).sum() / mask.sum().clamp(min=1)
        total = total + bone_weight * out["bones"]
    return {"loss": total, **out}


def mld_objective(denoiser: LatentDenoiser, schedule: NoiseSchedule, z: torch.Tensor, text: torch.Tensor, *,
                  generator: torch.Generator | None = None, draws: Draws | None = None) -> dict[str, torch.Tensor]:
    """ε-prediction MSE at t ~ U{0..T−1}. Text dropout (CFG) is applied by the caller on ``text``."""
    draws = draws or Draws()
    B = z.shape[0]
    noise = draws.noise if draws.noise is not None else _randn(z.shape, z, generator)
    t = draws.timesteps if draws.timesteps is not None else torch.randint(
        0, schedule.cfg.num_train_timesteps, (B,), generator=generator)
    t = t.to(z.device)
    eps = denoiser(schedule.add_noise(z, noise, t), t, text)
    loss = F.mse_loss(eps, noise)
    return {"loss": loss, "diff": loss}


def _w_draw(B: int, w_range: tuple[float, float], gen: torch.Generator | None) -> torch.Tensor:
    lo, hi = w_range
    return torch.rand(B, generator=gen) * (hi - lo) + lo


def lcd_objective(student: LatentDenoiser, target: LatentDenoiser, teacher: LatentDenoiser, solver: DDIMSolver,
                  z: torch.Tensor, text: torch.Tensor, uncond: torch.Tensor, *, w_range=(5.0, 15.0),
                  huber_c: float = 0.5, timestep_scaling: float = 10.0,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Latent consistency distillation (online student vs EMA target, teacher DDIM step with CFG w)."""
    sched = solver.schedule
    B = z.shape[0]
    # 1. grid timesteps, noise, w
    t_hi, t_lo = solver.timesteps_at(solver.sample_indices(B, generator))
    t_hi, t_lo = t_hi.to(z.device), t_lo.to(z.device)
    noise = _randn(z.shape, z, generator)
    w = _w_draw(B, w_range, generator).to(z)
    w_emb = guidance_embedding(w, student.cfg.time_cond_proj_dim).to(z)
    z_hi = sched.add_noise(z, noise, t_hi)
    # 2. online prediction with boundary condition
    c_skip, c_out = [c.to(z).view(-1, 1, 1) for c in boundary_scalings(t_hi, timestep_scaling)]
    pred = c_skip * z_hi + c_out * sched.pred_x0(z_hi, student(z_hi, t_hi, text, w_emb), t_hi)
    with torch.no_grad():
        # 3. teacher DDIM step with classifier-free guidance x = c + w(c − u)
        eps_c = teacher(z_hi, t_hi, text)
        eps_u = teacher(z_hi, t_hi, uncond.expand(B, -1, -1).to(text))
        wv = w.view(-1, 1, 1)
        x0_c, x0_u = sched.pred_x0(z_hi, eps_c, t_hi), sched.pred_x0(z_hi, eps_u, t_hi)
        x0_w = x0_c + wv * (x0_c - x0_u)
        eps_w = eps_c + wv * (eps_c - eps_u)
        z_lo = solver.step(x0_w, eps_w, t_lo)
        # 4. EMA target at the previous grid point
        t_lo_c = t_lo.clamp(min=0)
        c_skip_lo, c_out_lo = [c.to(z).view(-1, 1, 1) for c in boundary_scalings(t_lo_c, timestep_scaling)]
        tgt = c_skip_lo * z_lo + c_out_lo * sched.pred_x0(z_lo, target(z_lo, t_lo_c, text, w_emb), t_lo_c)
    loss = pseudo_huber(pred, tgt, huber_c)
    return {"loss": loss, "lcd": loss}


@dataclass(frozen=True)
class ControlLossConfig:
    """Spatial (``use_3d``, metres, smooth-L1, 'mask') or temporal (normalised, L2, 'sum') control loss."""

    use_3d: bool = True
    reduction: ControlReduction = "mask"
    loss_fn: ControlLossFn = "l1_smooth"
    cond_ratio: float = 1.0
    lcm_grid: int | None = 10                     # V2: t on the 10 LCM grid points; None: U{0..999}
    w_range: tuple[float, float] | None = (5.0, 15.0)   # V2: w ~ U; None: fixed_w
    fixed_w: float = 6.5


def control_timesteps(batch: int, num_train_timesteps: int, lcm_grid: int | None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """ControlNet training timesteps ``(batch,)``: uniform over the ``lcm_grid`` points ``(n+1)·k − 1``,
    ``k = T / lcm_grid`` (V2: 10 points 99…999; 1: only T−1, the 1-step sampler's), or U{0..T−1} for None."""
    if not lcm_grid:
        return torch.randint(0, num_train_timesteps, (batch,), generator=generator)
    k = num_train_timesteps // lcm_grid
    return (torch.randint(0, lcm_grid, (batch,), generator=generator) + 1) * k - 1


def controlnet_objective(vae: MotionVAE, denoiser: LatentDenoiser, controlnet: MotionControlNet,
                         traj_encoder: TrajectoryEncoder, schedule: NoiseSchedule, z: torch.Tensor,
                         text: torch.Tensor, mask: torch.Tensor, hint: torch.Tensor, hint_mask: torch.Tensor,
                         stats: FeatureStats, control_stats: ControlStats, cfg: ControlLossConfig, *,
                         generator: torch.Generator | None = None, draws: Draws | None = None
                         ) -> dict[str, torch.Tensor]:
    """ControlNet objective: MSE(x̂0, z) + cond_ratio · control loss through the decoder.

    ``hint (B, T, 22, 3)`` normalised·mask, ``hint_mask`` same shape (bool), ``mask (B, T)``."""
    draws = draws or Draws()
    B = z.shape[0]
    # 1. random draws
    noise = draws.noise if draws.noise is not None else _randn(z.shape, z, generator)
    t = draws.timesteps if draws.timesteps is not None else control_timesteps(
        B, schedule.cfg.num_train_timesteps, cfg.lcm_grid, generator)
    t = t.to(z.device)
    if draws.w is not None:
        w = draws.w
    else:
        w = _w_draw(B, cfg.w_range, generator) if cfg.w_range else torch.full((B,), cfg.fixed_w)
    w_emb = guidance_embedding(w.to(z), denoiser.cfg.time_cond_proj_dim).to(z)
    # 2. controlled ε-prediction and plain x0
    noisy = schedule.add_noise(z, noise, t)
    cond = traj_encoder(hint, hint_mask)
    residuals = controlnet(noisy, t, text, w_emb, cond)
    x0 = schedule.pred_x0(noisy, denoiser(noisy, t, text, w_emb, residuals), t)
    diff = F.mse_loss(x0, z)
    # 3. control loss in motion space
    joints = recover_joints(stats.denormalize(vae.decode(x0, mask)))
    joint_mask = hint_mask.any(dim=-1, keepdim=True)
    if cfg.use_3d:
        src, tgt = joints, control_stats.denormalize(hint)
    else:
        src, tgt = control_stats.normalize(joints), hint
    cond_loss = control_loss(src, tgt, joint_mask, reduction=cfg.reduction, loss_fn=cfg.loss_fn)
    total = diff + cfg.cond_ratio * cond_loss
    return {"loss": total, "diff": diff, "cond": cond_loss, "x0": x0, "joints": src, "target": tgt}
