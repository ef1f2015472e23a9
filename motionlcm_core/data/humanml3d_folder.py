"""Loader for the HumanML3D folder layout, for users who have the dataset.

Layout (as released): ``<root>/new_joint_vecs/<id>.npy`` (T, 263) float32 features,
``<root>/texts/<id>.txt`` with lines ``caption#tok/POS ...#START#END``, ``<root>/{train,val,test}.txt``
id lists, and optionally ``<root>/Mean.npy`` / ``Std.npy``. Mirrored clips are separate ``M<id>``
files there, so no mirroring is done here. Bad clips are skipped and counted, as in :mod:`cmu`.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from motionlcm_core.data.dataset import DataConfig, ClipRecord, LoadReport, MotionTextDataset
from motionlcm_core.data.text import read_caption_file
from motionlcm_core.motion import FeatureStats, compute_feature_stats

__all__ = ["load_humanml3d_clips", "humanml3d_folder_stats", "humanml3d_dataset"]

log = logging.getLogger(__name__)
_FEATURE_DIM = 263


def _split_ids(root: Path, split: str) -> list[str]:
    path = root / f"{split}.txt"
    if not (root / "new_joint_vecs").is_dir() or not path.is_file():
        raise ValueError(f"{root} is not a HumanML3D folder: it needs new_joint_vecs/, texts/ and {split}.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_feats(path: Path, min_frames: int) -> np.ndarray | str:
    try:
        feats = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return "missing_motion"
    except (OSError, ValueError, EOFError):
        return "unreadable_motion"
    if feats.ndim != 2 or feats.shape[1] != _FEATURE_DIM:
        return "wrong_shape"
    if len(feats) < min_frames:
        return "too_short"
    if not np.isfinite(feats).all():
        return "nan_or_inf"
    return feats.astype(np.float32)


def load_humanml3d_clips(root: str | Path, split: str, *, min_frames: int = 40
                         ) -> tuple[list[ClipRecord], LoadReport]:
    """Clips of ``<root>/<split>.txt`` (features as stored) and the report of what was skipped."""
    root = Path(root)
    report = LoadReport(split=split)
    clips = []
    for clip_id in _split_ids(root, split):
        feats = _read_feats(root / "new_joint_vecs" / f"{clip_id}.npy", min_frames)
        captions = read_caption_file(root / "texts" / f"{clip_id}.txt")
        if isinstance(feats, str) or isinstance(captions, str):
            report.skip(feats if isinstance(feats, str) else captions, clip_id)
            continue
        clips.append(ClipRecord(clip_id, feats, captions))
    report.clips = len(clips)
    return clips, report


def humanml3d_folder_stats(root: str | Path) -> FeatureStats:
    """``Mean.npy``/``Std.npy`` of the folder when present, else computed over its training split."""
    root = Path(root)
    if (root / "Mean.npy").is_file() and (root / "Std.npy").is_file():
        mean, std = np.load(root / "Mean.npy"), np.load(root / "Std.npy")
        if mean.shape != (_FEATURE_DIM,) or std.shape != (_FEATURE_DIM,) or not (std > 0).all():
            raise ValueError(f"{root}/Mean.npy and Std.npy must be ({_FEATURE_DIM},) with Std > 0")
        return FeatureStats(mean.astype(np.float32), std.astype(np.float32))
    clips, _ = load_humanml3d_clips(root, "train")
    if not clips:
        raise ValueError(f"{root}: no usable training clip to compute Mean/Std from")
    return compute_feature_stats([c.feats for c in clips])


def humanml3d_dataset(root: str | Path, split: str = "train", *, cfg: DataConfig = DataConfig(),
                      stats: FeatureStats | None = None, seed: int | None = None) -> MotionTextDataset:
    """Dataset over a HumanML3D folder; stats default to the folder's Mean/Std."""
    stats = humanml3d_folder_stats(root) if stats is None else stats
    clips, report = load_humanml3d_clips(root, split, min_frames=cfg.min_frames)
    dataset = MotionTextDataset(clips, stats, cfg, report=report, seed=seed)
    log.info(dataset.report.line())
    return dataset
