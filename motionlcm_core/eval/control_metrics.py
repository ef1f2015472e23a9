"""Control metrics (spec §10.3): trajectory, location and average error at controlled keypoints."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["control_errors"]


def control_errors(joints: np.ndarray, targets: np.ndarray, mask: np.ndarray, lengths: Sequence[int]
                   ) -> dict[str, float]:
    """Errors of generated joints at the controlled (frame, joint) entries, metres.

    ``joints``, ``targets`` ``(B, T, 22, 3)``; ``mask (B, T, 22)`` bool (True = controlled), only frames
    ``< lengths[b]`` count. Per keypoint ``e = |joint - target|``:

    * ``traj_err_50`` / ``traj_err_20``: share of sequences where any keypoint has ``e > 0.5`` / ``0.2`` m;
    * ``loc_err_50`` / ``loc_err_20``: share of all controlled keypoints with ``e > 0.5`` / ``0.2`` m;
    * ``avg_err``: mean ``e`` per sequence, averaged over sequences.

    Sequences without any controlled keypoint are refused.
    """
    joints, targets = np.asarray(joints, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if joints.shape != targets.shape or joints.ndim != 4 or joints.shape[-1] != 3:
        raise ValueError(f"joints and targets must both be (B, T, J, 3), got {joints.shape}, {targets.shape}")
    if mask.shape != joints.shape[:3] or len(lengths) != len(joints):
        raise ValueError(f"mask must be (B, T, J) = {joints.shape[:3]} with B lengths, got {mask.shape}")
    valid = np.arange(joints.shape[1])[None, :] < np.asarray(lengths)[:, None]
    mask = mask & valid[..., None]
    if not mask.reshape(len(mask), -1).any(axis=1).all():
        raise ValueError("every sequence needs at least one controlled keypoint within its length")
    err = np.linalg.norm(joints - targets, axis=-1)                     # (B, T, J)
    per_seq = [err[b][mask[b]] for b in range(len(err))]
    every = np.concatenate(per_seq)
    return {
        "traj_err_50": float(np.mean([(e > 0.5).any() for e in per_seq])),
        "traj_err_20": float(np.mean([(e > 0.2).any() for e in per_seq])),
        "loc_err_50": float((every > 0.5).mean()),
        "loc_err_20": float((every > 0.2).mean()),
        "avg_err": float(np.mean([e.mean() for e in per_seq])),
    }
