"""Cyclic motion: find the period of a clip that repeats (a run, a jog, a walk) and lengthen it by repeating
its cycles, as motion graphs loop a gait.

Running in a motion-capture volume gives clips of one or two strides (1–1.5 s); a prompt asking for three
seconds of running would otherwise get the stride and then a held pose. :func:`loop_period` finds the lag at
which the body's pose (relative to the pelvis, in its own facing frame) comes back, and
:func:`extend_cycles` appends copies of the last cycle (and prepends copies of the first), each turned and
moved rigidly about the vertical so that it continues where the motion left off.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import body_forward, bone_lengths, rigid_bones
from .skeleton import NUM_JOINTS

__all__ = ["CycleConfig", "extend_cycles", "loop_period"]

@dataclass(frozen=True)
class CycleConfig:
    """When a clip counts as cyclic: at some lag of ``min_period``..``max_period`` frames (20 fps), seen over
    at least ``min_overlap`` frames and half the lag, the facing-frame pose comes back to within ``max_ratio``
    of the largest pose change at any shorter lag (a clear dip: a stride repeats; a jump from standing to
    standing does not come back that closely within 1.5 s). A clip whose pose spreads less than
    ``min_spread`` (m) is still, not cyclic. ``blend`` frames after each seam take up its pose difference."""

    min_period: int = 8
    max_period: int = 30
    min_overlap: int = 6
    max_ratio: float = 0.5
    min_spread: float = 0.03
    blend: int = 6


def _facing(joints: np.ndarray) -> np.ndarray:
    """``(F,)`` heading angle (rad) of the way the body faces (:func:`~motionlcm_core.motion.body.body_forward`),
    measured as ``atan2(z, x)``."""
    forward = body_forward(joints)
    return np.arctan2(forward[:, 2], forward[:, 0])


def _turn(points: np.ndarray, angle: float | np.ndarray) -> np.ndarray:
    """``points (..., 3)`` turned about the vertical by ``angle`` (rad, added to ``atan2(z, x)``)."""
    c, s = np.cos(angle), np.sin(angle)
    out = points.copy()
    out[..., 0] = c * points[..., 0] - s * points[..., 2]
    out[..., 2] = s * points[..., 0] + c * points[..., 2]
    return out


def _poses(joints: np.ndarray) -> np.ndarray:
    """``(F, 22, 3)`` poses relative to the pelvis's ground point, turned so every frame faces the same way."""
    local = joints.astype(np.float64).copy()
    local[..., [0, 2]] -= local[:, :1, [0, 2]]
    return _turn(local, -_facing(joints)[:, None])


def loop_period(joints: np.ndarray, cfg: CycleConfig = CycleConfig()) -> int | None:
    """The period (frames) of ``joints (F, 22, 3)`` (m) when the clip is cyclic (:class:`CycleConfig`), else
    None: the lag whose mean per-joint pose distance to the frame that far ahead, over the largest such
    distance at shorter lags, is smallest — when that ratio is under ``max_ratio``. Calibrated on the train
    split: its straight, veering and turning walks and runs of 1–5 s pass (ratios 0.07–0.5), its jumps,
    kicks, stops and cartwheels do not (0.56–1.0)."""
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (F, {NUM_JOINTS}, 3), got {joints.shape}")
    poses = _poses(joints)
    spread = float(np.linalg.norm(poses - poses.mean(0), axis=-1).mean())
    if spread < cfg.min_spread:
        return None
    gaps = {lag: float(np.linalg.norm(poses[lag:] - poses[:-lag], axis=-1).mean())
            for lag in range(2, min(cfg.max_period, len(poses) - cfg.min_overlap) + 1)
            if len(poses) - lag >= lag / 2}
    best, best_lag, widest = np.inf, None, 0.0
    for lag in sorted(gaps):
        if lag >= cfg.min_period and widest > 0 and gaps[lag] / widest < best:
            best, best_lag = gaps[lag] / widest, lag
        widest = max(widest, gaps[lag])
    return best_lag if best < cfg.max_ratio else None


def _append(joints: np.ndarray, period: int, extra: int, blend: int, straight: bool = False) -> np.ndarray:
    """``joints (F, 22, 3)`` followed by ``extra`` frames repeating its last ``period`` frames, each copy turned
    and moved so the frame one period back lands on the last frame (the seam's leftover pose difference fades
    out over ``blend`` frames); ``straight``: the copy's own turn taken out, each frame turned back about the
    seam by its share of it."""
    out = joints.astype(np.float64)
    lengths = np.concatenate([[0.0], bone_lengths(out).mean(0)])          # (22,) the clip's own, per joint
    while extra > 0:
        f = len(out)
        back, last = out[f - 1 - period], out[f - 1]
        angle = float(_facing(last[None])[0] - _facing(back[None])[0])
        cycle = _turn(out[f - period:], angle)
        shift = last[0] - _turn(back, angle)[0]
        shift[1] = 0.0
        cycle = cycle + shift
        if straight:                        # frame k of the copy turned back by k / period of its turn
            share = -angle * np.arange(1, period + 1)[:, None] / period
            pivot = np.array([last[0, 0], 0.0, last[0, 2]])
            cycle = _turn(cycle - pivot, share) + pivot
        seam = (_poses(last[None]) - _poses(back[None]))[0]     # facing-frame poses: a rigid move keeps them
        fade = np.clip(1.0 - np.arange(1, period + 1) / max(blend, 1), 0.0, None)[:, None, None]
        cycle = rigid_bones(cycle + _turn(seam[None] * fade, _facing(cycle)[:, None]), lengths)
        take = min(extra, period)
        out = np.concatenate([out, cycle[:take]])
        extra -= take
    return out


def extend_cycles(joints: np.ndarray, n: int, period: int, cfg: CycleConfig = CycleConfig(),
                  straight: bool = False) -> np.ndarray:
    """``(n, 22, 3)``: cyclic ``joints (F, 22, 3)`` of ``period`` (:func:`loop_period`) lengthened to ``n >= F``
    frames, centred: half the missing frames repeat its first cycle before it, half its last cycle after.
    ``straight``: the repeated cycles go straight on, without the turn the clip's cycle makes (a jog that
    veers 40° once does not veer 40° again in every added stride); else they keep turning (a run in a circle)."""
    f = len(joints)
    if n < f or not 0 < period < f:
        raise ValueError(f"extend_cycles needs n >= {f} frames and a period in (0, {f}), got {n}, {period}")
    before = (n - f) // 2
    out = _append(joints, period, n - f - before, cfg.blend, straight)
    out = _append(out[::-1].copy(), period, before, cfg.blend, straight)[::-1]
    return np.ascontiguousarray(out.astype(joints.dtype))
