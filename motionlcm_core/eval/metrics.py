"""Text-to-motion metrics of the T2M protocol (spec §10.2) and the foot-skating ratio (§10.3).

All functions take evaluator embeddings as numpy arrays ``(N, E)`` and use Euclidean distances.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from motionlcm_core.motion.skeleton import FPS

__all__ = ["distance_matrix", "r_precision", "frechet_distance", "diversity", "multimodality", "body_motion",
           "foot_skating_ratio"]


def _check_emb(name: str, emb: np.ndarray, min_rows: int = 1) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or len(emb) < min_rows:
        raise ValueError(f"{name} must be (N >= {min_rows}, E), got {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError(f"{name} contains NaN or inf")
    return emb


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(N, M)`` between rows of ``a (N, E)`` and ``b (M, E)``."""
    sq = (a**2).sum(1)[:, None] - 2.0 * a @ b.T + (b**2).sum(1)[None, :]
    return np.sqrt(np.maximum(sq, 0.0))


def r_precision(text_emb: np.ndarray, motion_emb: np.ndarray, *, group_size: int = 32, top_k: int = 3,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, float]:
    """R-precision top-1..top_k and MM-Dist over shuffled groups of ``group_size`` (incomplete group dropped).

    In each group, text ``i`` scores a hit at k if motion ``i`` is among its k nearest motions.
    Returns ``(hits (top_k,), mm_dist)``, with MM-Dist the mean text–own-motion distance.
    """
    text_emb = _check_emb("text_emb", text_emb, group_size)
    motion_emb = _check_emb("motion_emb", motion_emb, group_size)
    if text_emb.shape != motion_emb.shape:
        raise ValueError(f"text and motion embeddings differ in shape: {text_emb.shape} vs {motion_emb.shape}")
    rng = rng if rng is not None else np.random.default_rng(0)
    order = rng.permutation(len(text_emb))
    hits, mm_dist, groups = np.zeros(top_k), 0.0, len(order) // group_size
    for g in range(groups):
        idx = order[g * group_size:(g + 1) * group_size]
        dist = distance_matrix(text_emb[idx], motion_emb[idx])
        own = np.diag(dist)
        rank = (dist < own[:, None]).sum(1)                # motions strictly closer than the right one
        hits += np.array([(rank < k).mean() for k in range(1, top_k + 1)])
        mm_dist += own.mean()
    return hits / groups, mm_dist / groups


def frechet_distance(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """FID between Gaussian fits of two embedding sets ``(N, E)``, ``(M, E)``.

    ``tr sqrtm(Ca Cb)`` is computed as the sum of square roots of the eigenvalues of the symmetric
    ``Ca^½ Cb Ca^½`` (same value as scipy's ``sqrtm``, faster and free of complex round-off).
    """
    emb_a, emb_b = _check_emb("emb_a", emb_a, 2), _check_emb("emb_b", emb_b, 2)
    mu_a, mu_b = emb_a.mean(0), emb_b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(emb_a, rowvar=False)), np.atleast_2d(np.cov(emb_b, rowvar=False))
    w_a, v_a = np.linalg.eigh(cov_a)
    sqrt_a = (v_a * np.sqrt(np.clip(w_a, 0.0, None))) @ v_a.T
    middle = sqrt_a @ cov_b @ sqrt_a
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (middle + middle.T)), 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_covmean)


def diversity(emb: np.ndarray, times: int = 300, rng: np.random.Generator | None = None) -> float:
    """Mean distance between two random index sets of ``min(times, N)`` embeddings (without replacement)."""
    emb = _check_emb("emb", emb, 2)
    rng = rng if rng is not None else np.random.default_rng(0)
    times = min(times, len(emb))
    first = rng.choice(len(emb), times, replace=False)
    second = rng.choice(len(emb), times, replace=False)
    return float(np.linalg.norm(emb[first] - emb[second], axis=1).mean())


def multimodality(emb: np.ndarray, times: int = 10, rng: np.random.Generator | None = None) -> float:
    """Mean distance between ``times`` random pairs of generations per text; ``emb (N_texts, R, E)``."""
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 3 or emb.shape[1] < 2:
        raise ValueError(f"emb must be (N_texts, repeats >= 2, E), got {emb.shape}")
    rng = rng if rng is not None else np.random.default_rng(0)
    times = min(times, emb.shape[1])
    first = np.stack([rng.choice(emb.shape[1], times, replace=False) for _ in range(len(emb))])
    second = np.stack([rng.choice(emb.shape[1], times, replace=False) for _ in range(len(emb))])
    rows = np.arange(len(emb))[:, None]
    return float(np.linalg.norm(emb[rows, first] - emb[rows, second], axis=-1).mean())


def _clips(joints: np.ndarray, lengths: Sequence[int]) -> list[np.ndarray]:
    """``joints (B, T, 22, 3)`` padded, ``lengths`` (B values in [2, T]) → the B clips ``(n, 22, 3)`` as float64."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[2:] != (22, 3) or len(lengths) != len(joints):
        raise ValueError(f"joints must be (B, T, 22, 3) with B lengths, got {joints.shape}, {len(lengths)}")
    clips = []
    for seq, n in zip(joints, lengths):
        if not 2 <= n <= len(seq):
            raise ValueError(f"lengths must be in [2, T={len(seq)}], got {n}")
        clips.append(seq[:n])
    return clips


def foot_skating_ratio(joints: np.ndarray, lengths: Sequence[int], *, height: float = 0.05,
                       speed: float = 0.5, feet: tuple[int, int] = (10, 11)) -> float:
    """Share of frame pairs where a foot skates, averaged over sequences (spec §10.3).

    A foot (joints 10, 11) is in contact when its height is below ``height`` m in both frames; the pair
    skates when, for a foot in contact, its horizontal speed and the 5-frame moving average of that
    speed both exceed ``speed`` m/s. ``joints (B, T, 22, 3)`` metres, Y up, 20 fps.
    """
    ratios = []
    for clip in _clips(joints, lengths):
        foot = clip[:, list(feet)]                                       # (n, 2, 3)
        contact = (foot[:-1, :, 1] < height) & (foot[1:, :, 1] < height)
        vel = np.linalg.norm(foot[1:, :, [0, 2]] - foot[:-1, :, [0, 2]], axis=-1) * FPS
        vel_avg = uniform_filter1d(vel, size=5, axis=0, mode="constant")
        skating = (contact & (vel > speed) & (vel_avg > speed)).any(axis=1)
        ratios.append(skating.sum() / (len(clip) - 1))
    return float(np.mean(ratios))


def body_motion(joints: np.ndarray, lengths: Sequence[int]) -> float:
    """How much the body moves relative to its pelvis (metres): the std over time of each root-relative
    joint coordinate, averaged over joints 1–21, axes and sequences. A held pose carried along scores 0;
    real mocap of everyday actions scores several centimetres. ``joints (B, T, 22, 3)`` metres."""
    return float(np.mean([(clip[:, 1:] - clip[:, :1]).std(axis=0).mean() for clip in _clips(joints, lengths)]))
