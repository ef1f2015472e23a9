"""Latent refinement: a few Adam steps on the sampled latent so the decoded motion meets its pins.

After sampling, ``z`` is decoded (VAE decoder → de-normalise → differentiable ``recover_joints``) and
moved to lower ``pin_loss + prior_weight · mean((z − z₀)²)``, where ``pin_loss`` is the mean squared
distance (m²) between the decoded joints and the targets at pinned (frame, joint) entries and ``z₀`` is
the sample (the prior keeps the motion close to what the model produced). Like CLT/DNO (spec §7.6) but on
the *output* latent, with a handful of steps, so it stays interactive. Each sample of the batch is
optimised independently (the loss is summed over samples, Adam is element-wise). Runs under
``torch.enable_grad()`` and outside inference mode, so it can be called from ``generate``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from motionlcm_core.control.passes import RefineConfig
from motionlcm_core.control.targets import per_axis
from motionlcm_core.models import MotionVAE
from motionlcm_core.motion import FeatureStats, recover_joints

__all__ = ["RefineConfig", "RefineOutput", "refine_latents"]


@dataclass
class RefineOutput:
    """Refined ``latents (B, L, D)``, their ``feats (B, T, 263)`` (de-normalised, padding 0) and
    ``joints (B, T, 22, 3)``; ``errors``: mean pin error (m) before each step and after the last;
    ``steps_run``: Adam steps taken."""

    latents: torch.Tensor
    feats: torch.Tensor
    joints: torch.Tensor
    errors: list[float] = field(default_factory=list)
    steps_run: int = 0


def _decode(vae: MotionVAE, stats: FeatureStats, z: torch.Tensor, frame_mask: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    feats = stats.denormalize(vae.decode(z, frame_mask).float()) * frame_mask[..., None]
    return feats, recover_joints(feats)


def _pin_loss(joints: torch.Tensor, targets: torch.Tensor, pins: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample mean squared pin distance ``(B,)`` m² over the pinned axes of ``pins (B, T, 22, 3)`` and
    per-pin distances ``(B, T, 22)`` m."""
    sq = (((joints - targets) ** 2) * pins).sum(-1)                   # (B, T, 22)
    count = pins.amax(-1).sum(dim=(1, 2)).clamp(min=1)
    return sq.sum(dim=(1, 2)) / count, sq.detach().sqrt()


def _fresh(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A normal (non-inference) copy of ``x``, usable in autograd."""
    return x.detach().clone().to(dtype or x.dtype)


def refine_latents(vae: MotionVAE, stats: FeatureStats, latents: torch.Tensor, frame_mask: torch.Tensor,
                   targets: torch.Tensor, pins: torch.Tensor, cfg: RefineConfig = RefineConfig()) -> RefineOutput:
    """Refine ``latents (B, L, D)`` so the joints decoded with ``frame_mask (B, T)`` bool meet
    ``targets (B, T, 22, 3)`` metres at ``pins (B, T, 22)`` bool, or per axis ``(B, T, 22, 3)``. The networks
    stay frozen."""
    with torch.inference_mode(False), torch.enable_grad():
        z0 = _fresh(latents)
        mask, tgt = _fresh(frame_mask), _fresh(targets, torch.float32).to(z0.device)
        pin = _fresh(per_axis(pins), torch.float32).to(z0.device)
        count = pin.amax(-1).sum().clamp(min=1)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=cfg.lr)
        errors, steps_run = [], 0
        for _ in range(cfg.steps):
            feats, joints = _decode(vae, stats, z, mask)
            loss, dist = _pin_loss(joints, tgt, pin)
            errors.append(float(dist.sum() / count))
            if float(dist.max()) < cfg.tolerance:
                break
            prior = ((z - z0.detach()) ** 2).float().mean(dim=(1, 2))
            opt.zero_grad(set_to_none=True)
            (loss + cfg.prior_weight * prior).sum().backward()
            opt.step()
            steps_run += 1
        with torch.no_grad():
            if steps_run or not errors:
                feats, joints = _decode(vae, stats, z, mask)
                errors.append(float(_pin_loss(joints, tgt, pin)[1].sum() / count))
        return RefineOutput(latents=z.detach(), feats=feats.detach(), joints=joints.detach(), errors=errors,
                            steps_run=steps_run)
