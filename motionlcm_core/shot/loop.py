"""Loops: a clip whose last frame joins its first (pose and velocity), for walk / run / idle cycles.

:func:`make_loop` closes a clip ``(T, 22, 3)``: frame ``T − 1`` becomes frame 0 again (root-relative pose;
the pelvis either back where it started, ``in_place``, or one constant stride ahead, so the cycle tiles
forward), with the velocity at the seam matched too. The mismatch is spread over the clip by a cubic Hermite
correction that is zero at frame 0 (position and velocity) and takes the whole mismatch at the end, so the
motion is not touched where it starts and changes little anywhere. :func:`generate_loop` first generates a
longer clip and picks the window whose ends already match best (as in motion graphs), so the correction is
small; bones are then put back at their lengths.
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.motion.body import rigid_bones
from motionlcm_core.motion.contacts import XZ
from motionlcm_core.motion.skeleton import MAX_FRAMES, num_frames

__all__ = ["best_loop_window", "generate_loop", "make_loop"]

#: Extra frames generated to look for a window whose ends match (at most the model's longest clip).
SEARCH_FRAMES = 40


def _hermite_correction(first: np.ndarray, last: np.ndarray, v_first: np.ndarray, v_last: np.ndarray,
                        t: int) -> np.ndarray:
    """Correction ``(t, ...)``: 0 with zero slope at frame 0, ``first − last`` at frame ``t − 1`` with slope
    ``v_first − v_last`` (per frame), cubic in between."""
    n = t - 1
    x = (np.arange(t) / n).reshape((t,) + (1,) * first.ndim)
    h01, h11 = -2 * x ** 3 + 3 * x ** 2, x ** 3 - x ** 2
    return h01 * (first - last) + h11 * n * (v_first - v_last)


def make_loop(joints: np.ndarray, *, in_place: bool = False, rigid: bool = True) -> np.ndarray:
    """``joints (T, 22, 3)`` (metres, Y up, T >= 4) closed into a cycle: the returned frame ``T − 1`` equals
    frame 0 root-relative and the joint velocity at the seam matches; the pelvis path loops back
    (``in_place``: no travel at all) or advances by the clip's own stride. ``rigid``: bones at the data
    skeleton's lengths afterwards."""
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim != 3 or j.shape[1:] != (22, 3) or len(j) < 4 or not np.isfinite(j).all():
        raise ValueError(f"a loop needs finite joints (T >= 4, 22, 3), got {j.shape}")
    t = len(j)
    root = j[:, 0, XZ].copy()                                              # (T, 2) ground track
    local = j.copy()
    local[..., XZ] -= root[:, None]
    if in_place:
        root -= (root[-1] - root[0]) * (np.arange(t) / (t - 1))[:, None]   # no travel: ends where it starts
    root += _hermite_correction(root[-1], root[-1], root[1] - root[0], root[-1] - root[-2], t)
    local += _hermite_correction(local[0], local[-1], local[1] - local[0], local[-1] - local[-2], t)
    out = local
    out[..., XZ] += root[:, None]
    return rigid_bones(out) if rigid else out


def best_loop_window(joints: np.ndarray, length: int) -> int:
    """First frame of the ``length``-frame window of ``joints (T, 22, 3)`` whose end pose (root-relative) and
    velocity are nearest its start's (the least correction for :func:`make_loop`)."""
    j = np.asarray(joints, dtype=np.float64)
    local = j - np.concatenate([j[:, :1, :1], np.zeros_like(j[:, :1, :1]), j[:, :1, 2:3]], axis=-1)
    vel = np.diff(local, axis=0, prepend=local[:1])
    starts = np.arange(1, len(j) - length + 1) if len(j) - length >= 1 else np.array([0])
    cost = [np.linalg.norm(local[a + length - 1] - local[a], axis=-1).mean()
            + 4.0 * np.linalg.norm(vel[a + length - 1] - vel[a + 1], axis=-1).mean() for a in starts]
    return int(starts[int(np.argmin(cost))])


def generate_loop(pipe, prompt: str, *, seconds: float, in_place: bool = False, seed: int | None = None,
                  num_steps: int = 1, guidance_scale: float | None = None):
    """A ``seconds``-long cycle of ``prompt``: generate up to :data:`SEARCH_FRAMES` more, take the window whose
    ends match best (:func:`best_loop_window`), close it (:func:`make_loop`). Returns the ``MotionResult`` with
    the loop as clip 0 and ``report["loop"]`` (window start, pose and speed mismatch before closing)."""
    length = num_frames(seconds)
    total = min(MAX_FRAMES, length + SEARCH_FRAMES)
    res = pipe.generate([prompt], lengths=[max(total, length)], num_steps=num_steps, seed=seed,
                        guidance_scale=guidance_scale)
    clip = res.clip(0)
    start = best_loop_window(clip, length) if len(clip) > length else 0
    window = clip[start:start + length]
    closed = make_loop(window, in_place=in_place, rigid=False)
    mismatch = float(np.abs(closed - window).max())
    loop = rigid_bones(closed)
    loop[..., XZ] -= loop[0, 0, XZ]                                       # the cycle starts at the origin
    res.joints = loop[None].astype(np.float32)
    res.feats = res.feats[:, start:start + length]
    res.lengths = [length]
    res.report["loop"] = {"window_start": start, "in_place": in_place, "largest_correction_m": mismatch}
    return res
