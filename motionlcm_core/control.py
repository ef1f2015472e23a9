"""Spatial control targets: global joint positions at chosen frames, in the model frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .motion.skeleton import JOINT_NAMES, NUM_JOINTS


@dataclass
class Control:
    """``positions (B, T, 22, 3)`` or ``(T, 22, 3)`` metres, model frame (Y up, clip starts at the origin
    facing +Z); ``mask (B, T, 22)`` or ``(T, 22)`` bool, True = this joint is pinned at this frame."""

    positions: np.ndarray | torch.Tensor
    mask: np.ndarray | torch.Tensor

    def validated(self, batch: int, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Check and pad to ``(batch, num_frames, 22, 3)`` float32 / ``(batch, num_frames, 22)`` bool."""
        pos = torch.as_tensor(np.asarray(self.positions, dtype=np.float32) if not torch.is_tensor(self.positions)
                              else self.positions).float().cpu()
        mask = torch.as_tensor(np.asarray(self.mask) if not torch.is_tensor(self.mask) else self.mask).cpu()
        if pos.dim() == 3:
            pos = pos[None].expand(batch, -1, -1, -1)
        if mask.dim() == 2:
            mask = mask[None].expand(batch, -1, -1)
        if pos.dim() != 4 or pos.shape[0] != batch or pos.shape[2:] != (NUM_JOINTS, 3):
            raise ValueError(f"control positions must be (B={batch}, T, 22, 3) or (T, 22, 3), got {tuple(pos.shape)}")
        if mask.shape != pos.shape[:3]:
            raise ValueError(f"control mask must be (B, T, 22) matching positions {tuple(pos.shape[:3])}, "
                             f"got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"control mask must be bool, got {mask.dtype}")
        if pos.shape[1] > num_frames:
            raise ValueError(f"control has {pos.shape[1]} frames but the motion only {num_frames}; "
                             "pins must lie inside the generated length")
        bad = ~torch.isfinite(pos).all(dim=-1) & mask
        if bad.any():
            b, t, j = (int(x) for x in bad.nonzero()[0])
            raise ValueError(f"control position of {JOINT_NAMES[j]} at frame {t} (sample {b}) is NaN or infinite")
        pad = num_frames - pos.shape[1]
        if pad:
            pos = torch.cat([pos, pos.new_zeros(batch, pad, NUM_JOINTS, 3)], dim=1)
            mask = torch.cat([mask, mask.new_zeros(batch, pad, NUM_JOINTS)], dim=1)
        return torch.where(mask[..., None], pos, torch.zeros_like(pos)), mask.clone()
