"""Spatial control targets (pins): global joint positions at chosen frames, in the model frame, and their checks.

numpy at import; torch only inside :meth:`Control.validated` (the add-on imports this without torch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS

if TYPE_CHECKING:
    import torch

__all__ = ["Control", "as_numpy", "check_pins_within", "joint_mask", "per_axis", "pin_errors"]


@dataclass
class Control:
    """``positions (B, T, 22, 3)`` or ``(T, 22, 3)`` metres, model frame (Y up, clip starts at the origin
    facing +Z); ``mask (B, T, 22)`` or ``(T, 22)`` bool, True = this joint is pinned at this frame, or per axis
    ``(B, T, 22, 3)`` / ``(T, 22, 3)`` (e.g. a ground-plane pin: x and z pinned, the height y free)."""

    positions: Any
    mask: Any

    def validated(self, batch: int, num_frames: int) -> tuple["torch.Tensor", "torch.Tensor"]:
        """Check and pad to ``(batch, num_frames, 22, 3)`` float32 positions and a per-axis bool mask of the
        same shape (a per-joint mask is spread over the three axes)."""
        import torch
        pos = torch.as_tensor(np.asarray(self.positions, dtype=np.float32) if not torch.is_tensor(self.positions)
                              else self.positions).float().cpu()
        mask = torch.as_tensor(np.asarray(self.mask) if not torch.is_tensor(self.mask) else self.mask).cpu()
        if pos.dim() == 3:
            pos = pos[None].expand(batch, -1, -1, -1)
        if pos.dim() != 4 or pos.shape[0] != batch or pos.shape[2:] != (NUM_JOINTS, 3):
            raise ValueError(f"control positions must be (B={batch}, T, 22, 3) or (T, 22, 3), got {tuple(pos.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"control mask must be bool, got {mask.dtype}")
        mask = per_axis(mask)
        if mask.dim() == 3:
            mask = mask[None]
        if mask.shape[0] == 1:
            mask = mask.expand(batch, -1, -1, -1)
        if mask.shape != pos.shape:
            raise ValueError(f"control mask must be (B, T, 22) or per axis (B, T, 22, 3) matching positions "
                             f"{tuple(pos.shape)}, got {tuple(mask.shape)}")
        if pos.shape[1] > num_frames:
            raise ValueError(f"control has {pos.shape[1]} frames but the motion only {num_frames}; "
                             "pins must lie inside the generated length")
        bad = ~torch.isfinite(pos).all(dim=-1) & mask.any(dim=-1)
        if bad.any():
            b, t, j = (int(x) for x in bad.nonzero()[0])
            raise ValueError(f"control position of {JOINT_NAMES[j]} at frame {t} (sample {b}) is NaN or infinite")
        pad = num_frames - pos.shape[1]
        if pad:
            pos = torch.cat([pos, pos.new_zeros(batch, pad, NUM_JOINTS, 3)], dim=1)
            mask = torch.cat([mask, mask.new_zeros(batch, pad, NUM_JOINTS, 3)], dim=1)
        return torch.where(mask, pos, torch.zeros_like(pos)), mask.clone()


def per_axis(mask: Any) -> Any:
    """A pin mask per axis ``(..., 22, 3)`` from a per-joint ``(..., 22)`` one (returned as is when it already is
    per axis); numpy or torch, as given."""
    if mask.shape[-2:] == (NUM_JOINTS, 3):
        return mask
    if mask.shape[-1] != NUM_JOINTS:
        raise ValueError(f"a pin mask ends in 22 joints (or 22 x 3 axes), got shape {tuple(mask.shape)}")
    expand = getattr(mask, "expand", None)
    return mask[..., None].expand(*mask.shape, 3) if expand else np.repeat(np.asarray(mask)[..., None], 3, axis=-1)


def joint_mask(mask: Any) -> Any:
    """Which joints are pinned ``(..., 22)`` (any axis) of a per-joint or per-axis mask; numpy or torch."""
    if mask.shape[-2:] == (NUM_JOINTS, 3):
        return mask.any(-1) if hasattr(mask, "expand") else np.asarray(mask).any(-1)
    return mask


def as_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` (numpy or torch) as a numpy array; a non-mask must be floating point."""
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if name != "mask" and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name} must be a float array, got {arr.dtype}")
    return arr


def pin_errors(joints, positions, mask) -> np.ndarray:
    """``|joint − target|`` metres over the pinned axes at pins ``(B, T', 22)`` (0 elsewhere); ``mask`` per joint
    ``(B, T', 22)`` or per axis ``(B, T', 22, 3)``; ``joints`` may be longer than ``T'``."""
    J, P, M = as_numpy(joints, "joints"), as_numpy(positions, "positions"), as_numpy(mask, "mask")
    T, axes = P.shape[1], per_axis(M)
    return np.where(axes.any(-1), np.linalg.norm((J[:, :T].astype(np.float64) - P) * axes, axis=-1), 0.0)


def check_pins_within(mask, lengths) -> None:
    """Refuse pins ``mask (B, T, 22)`` (or per axis) on frames at or past each sample's length (before any work)."""
    M = joint_mask(as_numpy(mask, "mask"))
    for b, n in enumerate(lengths):
        late = np.nonzero(M[b, int(n):].any(axis=-1))[0]
        if len(late):
            raise ValueError(f"sample {b} has a pin on frame {int(n) + late[0]} but is only {n} frames long; "
                             "move the pin inside the clip or lengthen the clip")

