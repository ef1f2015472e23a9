"""Z-normalisation of HumanML3D features (263) and of control hints (22 joints x 3), spec §1.5.

The real statistics ship as package data (``motion/data/*.npy``, copied from the HumanML3D and MotionLCM
repositories), so nothing here reads ``../shared`` at run time.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Sequence, TypeVar

import numpy as np
import torch

from motionlcm_core.motion.humanml3d import FEATURE_DIM, FEATURE_GROUPS
from motionlcm_core.motion.skeleton import NUM_JOINTS

__all__ = [
    "FeatureStats", "ControlStats", "humanml3d_stats", "humanml3d_control_stats",
    "compute_feature_stats", "compute_control_stats",
]

_DATA_DIR = Path(__file__).parent / "data"
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _frozen_array(name: str, value: np.ndarray, shape: tuple[int, ...], positive: bool) -> np.ndarray:
    arr = np.array(value, dtype=np.float32)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    if positive and not (arr > 0).all():
        raise ValueError(f"{name} must be > 0 everywhere (a zero std would divide by zero)")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class _Stats:
    """mean/std float32 arrays of shape ``_SHAPE``; x is normalised along its trailing axes."""

    mean: np.ndarray
    std: np.ndarray
    _SHAPE: ClassVar[tuple[int, ...]] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _frozen_array("mean", self.mean, self._SHAPE, positive=False))
        object.__setattr__(self, "std", _frozen_array("std", self.std, self._SHAPE, positive=True))

    def _operands(self, x: ArrayT) -> tuple[ArrayT, ArrayT]:
        if tuple(x.shape[x.ndim - len(self._SHAPE):]) != self._SHAPE or x.ndim < len(self._SHAPE):
            raise ValueError(f"expected trailing shape {self._SHAPE}, got {tuple(x.shape)}")
        if isinstance(x, torch.Tensor):
            return (torch.tensor(self.mean, dtype=x.dtype, device=x.device),
                    torch.tensor(self.std, dtype=x.dtype, device=x.device))
        if isinstance(x, np.ndarray):
            dtype = np.result_type(x.dtype, np.float32)
            return self.mean.astype(dtype), self.std.astype(dtype)
        raise ValueError(f"expected a numpy array or torch tensor, got {type(x).__name__}")

    def normalize(self, x: ArrayT) -> ArrayT:
        """``(x - mean) / std``, broadcast over leading axes; torch follows x's device and dtype."""
        mean, std = self._operands(x)
        return (x - mean) / std

    def denormalize(self, x: ArrayT) -> ArrayT:
        """``x * std + mean`` (inverse of :meth:`normalize`)."""
        mean, std = self._operands(x)
        return x * std + mean


@dataclass(frozen=True, eq=False)
class FeatureStats(_Stats):
    """Per-dimension mean and std (263,) float32 of HumanML3D features; x is (..., 263)."""

    _SHAPE: ClassVar[tuple[int, ...]] = (FEATURE_DIM,)


@dataclass(frozen=True, eq=False)
class ControlStats(_Stats):
    """Per-joint mean and std (22, 3) float32 of global joint positions (m); x is (..., 22, 3)."""

    _SHAPE: ClassVar[tuple[int, ...]] = (NUM_JOINTS, 3)


@lru_cache(maxsize=1)
def humanml3d_stats() -> FeatureStats:
    """The real HumanML3D ``Mean.npy`` / ``Std.npy`` (what every released MotionLCM model expects)."""
    return FeatureStats(np.load(_DATA_DIR / "humanml3d_mean.npy"), np.load(_DATA_DIR / "humanml3d_std.npy"))


@lru_cache(maxsize=1)
def humanml3d_control_stats() -> ControlStats:
    """MotionLCM's ``Mean_raw.npy`` / ``Std_raw.npy``: statistics of HumanML3D global joint positions."""
    return ControlStats(np.load(_DATA_DIR / "humanml3d_mean_raw.npy"), np.load(_DATA_DIR / "humanml3d_std_raw.npy"))


def _stack_frames(arrays: Sequence[np.ndarray], trailing: tuple[int, ...], what: str) -> np.ndarray:
    if len(arrays) == 0:
        raise ValueError(f"need at least one {what} array")
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.ndim != 1 + len(trailing) or a.shape[1:] != trailing or a.shape[0] == 0:
            raise ValueError(f"{what}[{i}] must have shape (T>0, {', '.join(map(str, trailing))}), got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{what}[{i}] contains NaN or inf; drop that clip (HumanML3D skips such files)")
    return np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays], axis=0)


def compute_feature_stats(feats_list: Sequence[np.ndarray]) -> FeatureStats:
    """HumanML3D statistics of clips ``feats (T_i, 263)``: per-dim mean; std averaged within each group.

    Groups (spec §1.5): [0], [1:3], [3], [4:67], [67:193], [193:259], [259:263]; no extra scaling.
    """
    data = _stack_frames(feats_list, (FEATURE_DIM,), "feats")
    mean, std = data.mean(axis=0), data.std(axis=0)
    for group in FEATURE_GROUPS:
        std[group] = std[group].mean()
    if not (std > 0).all():
        raise ValueError("a feature group has zero variance over the given clips; add more varied motion")
    return FeatureStats(mean.astype(np.float32), std.astype(np.float32))


def compute_control_stats(joints_list: Sequence[np.ndarray]) -> ControlStats:
    """Per-joint, per-axis mean/std (22, 3) of global joint positions ``joints (T_i, 22, 3)`` over all frames."""
    data = _stack_frames(joints_list, (NUM_JOINTS, 3), "joints")
    mean, std = data.mean(axis=0), data.std(axis=0)
    if not (std > 0).all():
        raise ValueError("some joint coordinate is constant over the given clips; add more varied motion")
    return ControlStats(mean.astype(np.float32), std.astype(np.float32))
