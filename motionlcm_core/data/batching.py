"""Collation: pad items to the batch's longest one, with a validity mask."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from motionlcm_core.data.dataset import MotionItem

__all__ = ["MotionBatch", "collate_motion", "lengths_to_mask"]


@dataclass
class MotionBatch:
    """A padded batch; padded frames are zeros."""

    feats: torch.Tensor    # (B, T, 263) float32, normalised
    mask: torch.Tensor     # (B, T) bool, True = valid frame
    lengths: list[int]
    captions: list[str]
    joints: torch.Tensor   # (B, T, 22, 3) float32, metres

    def to(self, device: torch.device) -> "MotionBatch":
        return MotionBatch(self.feats.to(device), self.mask.to(device), self.lengths, self.captions,
                           self.joints.to(device))


def lengths_to_mask(lengths: Sequence[int], max_len: int | None = None) -> torch.Tensor:
    """``mask (B, max_len) bool`` with ``mask[b, t] = t < lengths[b]``."""
    lens = torch.as_tensor(list(lengths), dtype=torch.long)
    max_len = int(lens.max()) if max_len is None else max_len
    return torch.arange(max_len)[None, :] < lens[:, None]


def collate_motion(items: Sequence[MotionItem]) -> MotionBatch:
    """Stack :class:`MotionItem` s, zero-padding to the longest one (spec §1.6)."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    lengths = [int(it.length) for it in items]
    max_len = max(lengths)
    feats = np.zeros((len(items), max_len, items[0].feats.shape[-1]), dtype=np.float32)
    joints = np.zeros((len(items), max_len) + items[0].joints.shape[1:], dtype=np.float32)
    for b, it in enumerate(items):
        feats[b, :it.length] = it.feats
        joints[b, :it.length] = it.joints
    return MotionBatch(torch.from_numpy(feats), lengths_to_mask(lengths, max_len), lengths,
                       [it.caption for it in items], torch.from_numpy(joints))
