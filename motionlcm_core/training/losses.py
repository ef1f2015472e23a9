"""Loss functions of the four training stages (VAE, MLD teacher, consistency distillation, ControlNet)."""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

ControlReduction = Literal["sum", "sum_mask", "mask"]
ControlLossFn = Literal["l1", "l1_smooth", "l2"]

_ELEMENTWISE = {
    "l1": lambda a, b: F.l1_loss(a, b, reduction="none"),
    "l1_smooth": lambda a, b: F.smooth_l1_loss(a, b, reduction="none"),
    "l2": lambda a, b: F.mse_loss(a, b, reduction="none"),
}


def control_loss(src: torch.Tensor, tgt: torch.Tensor, mask: torch.Tensor, *,
                 reduction: ControlReduction = "mask", loss_fn: ControlLossFn = "l1_smooth") -> torch.Tensor:
    """Loss at controlled joints. ``src, tgt (B, T, J, 3)``, ``mask (B, T, J, 1)`` bool.

    - ``sum``: Σ(loss·mask) / Σmask (loss summed over xyz, averaged over controlled joints)
    - ``sum_mask``: per sample Σ(loss·mask)/Σmask, then the batch mean
    - ``mask``: per sample Σ(loss·mask)/(3·Σmask), then the batch mean (metres, spatial control)"""
    if loss_fn not in _ELEMENTWISE:
        raise ValueError(f"loss_fn must be one of {sorted(_ELEMENTWISE)}, got {loss_fn!r}")
    m = mask.to(src.dtype)
    loss = _ELEMENTWISE[loss_fn](src, tgt) * m
    dims = tuple(range(1, src.dim()))
    if reduction == "sum":
        return loss.sum() / m.sum().clamp(min=1)
    if reduction == "sum_mask":
        return (loss.sum(dims) / m.sum(dims).clamp(min=1)).mean()
    if reduction == "mask":
        return (loss.sum(dims) / (3 * m.sum(dims)).clamp(min=1)).mean()
    raise ValueError(f"reduction must be 'sum', 'sum_mask' or 'mask', got {reduction!r}")


def noise_regularizer(noise: torch.Tensor, *, stop_at: int = 2, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
    """DNO decorrelation term over the token axis of ``noise (B, L, D)`` → ``(B,)``.

    The axis is padded to a power of two with fresh Gaussian noise, then while it is longer than
    ``stop_at``: add mean(z · roll(z, 1))² and average-pool neighbouring pairs."""
    size = noise.shape[1]
    target = 1 << max(size - 1, 1).bit_length()
    if target != size:
        pad = torch.randn(noise.shape[0], target - size, noise.shape[2], generator=generator).to(noise)
        noise = torch.cat([noise, pad], dim=1)
    loss = noise.new_zeros(noise.shape[0])
    while noise.shape[1] > stop_at:
        loss = loss + (noise * torch.roll(noise, 1, dims=1)).mean(dim=(1, 2)).pow(2)
        noise = noise.unflatten(1, (noise.shape[1] // 2, 2)).mean(dim=2)
    return loss


def pseudo_huber(pred: torch.Tensor, target: torch.Tensor, c: float) -> torch.Tensor:
    """Consistency-distillation loss: mean(√((pred − target)² + c²) − c)."""
    return (torch.sqrt((pred.float() - target.float()) ** 2 + c ** 2) - c).mean()


def masked_smooth_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """SmoothL1 averaged over features, then over valid frames per sample, then over the batch.

    ``pred, target (B, T, ...)``, ``mask (B, T)`` bool."""
    per_frame = F.smooth_l1_loss(pred, target, reduction="none").flatten(2).mean(-1)
    m = mask.to(per_frame.dtype)
    return ((per_frame * m).sum(1) / m.sum(1).clamp(min=1)).mean()


def kl_standard_normal(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, std) ‖ N(0, 1)), mean over all latent elements."""
    var = std ** 2
    return 0.5 * (var + mu ** 2 - 1 - torch.log(var.clamp(min=1e-12))).mean()
