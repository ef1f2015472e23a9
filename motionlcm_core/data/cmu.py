"""Loader for our CMU text–motion set (``../shared/data``: ``joints_{split}.npz`` + ``texts/<id>.txt``).

Every clip is converted once to HumanML3D features (and, for mirroring, the features of its mirrored
joints) and cached under ``runs/cache``. Bad clips (offsets out of range, under 40 frames, NaN/inf,
failed conversion, missing or unreadable text) are skipped and counted in one log line; a split whose
joints file is missing or unreadable is refused with a ValueError before any work.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from motionlcm_core.data.dataset import DataConfig, ClipRecord, LoadReport, MotionTextDataset
from motionlcm_core.data.feature_cache import cache_key, default_cache_dir, load_features, save_features
from motionlcm_core.data.text import read_caption_file
from motionlcm_core.motion import (
    ControlStats, FeatureStats, compute_control_stats, compute_feature_stats, features_from_joints, mirror_joints,
    recover_joints,
)
from motionlcm_core.motion.skeleton import MAX_FRAMES, MIN_FRAMES, NUM_JOINTS

__all__ = ["SPLITS", "default_data_dir", "load_cmu_clips", "cmu_dataset", "cmu_feature_stats", "cmu_control_stats"]

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
#: Feature frames a clip needs to be converted at all (1 s at 20 fps); loaders ask for more or the same.
CONVERT_MIN_FRAMES = 20
_REPO = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """``$MOTIONLCM_DATA_DIR`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("MOTIONLCM_DATA_DIR", _REPO.parent / "shared" / "data"))


def _joints_file(data_dir: Path, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(data_dir) / f"joints_{split}.npz"
    if not path.is_file():
        raise ValueError(f"{path} not found: point data_dir (or MOTIONLCM_DATA_DIR) at the folder holding "
                         f"joints_{{train,val,test}}.npz and texts/")
    return path


def _read_joints(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("joints", "ids", "lengths", "offsets")}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ValueError(f"{path} is unreadable or lacks joints/ids/lengths/offsets ({exc}); "
                         f"restore the file from the data release") from exc
    if arrays["joints"].ndim != 3 or arrays["joints"].shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"{path}: joints must be (sum_T, 22, 3), got {arrays['joints'].shape}")
    return arrays


def _convert_clip(joints: np.ndarray, mirror: bool) -> tuple[np.ndarray, np.ndarray | None] | str:
    """(feats, mirrored feats) of one clip, or the reason it is skipped."""
    if len(joints) < CONVERT_MIN_FRAMES + 1:  # T joints give T-1 feature frames
        return "too_short"
    if not np.isfinite(joints).all():
        return "nan_or_inf"
    try:
        feats = features_from_joints(joints)
        feats_m = features_from_joints(mirror_joints(joints)) if mirror else None
    except ValueError:
        return "conversion_failed"
    if not np.isfinite(feats).all() or (feats_m is not None and not np.isfinite(feats_m).all()):
        return "nan_in_features"
    return feats, feats_m


def _convert_split(path: Path, mirror: bool) -> dict[str, np.ndarray]:
    raw = _read_joints(path)
    ok_ids, lengths, feats, feats_m, bad_ids, reasons = [], [], [], [], [], []
    total = len(raw["joints"])
    for clip_id, start, n in zip(raw["ids"], raw["offsets"], raw["lengths"]):
        if start < 0 or n < 0 or start + n > total:
            result: tuple | str = "corrupt_offsets"
        else:
            result = _convert_clip(raw["joints"][start:start + n], mirror)
        if isinstance(result, str):
            bad_ids.append(str(clip_id))
            reasons.append(result)
            continue
        ok_ids.append(str(clip_id))
        lengths.append(len(result[0]))
        feats.append(result[0])
        if mirror:
            feats_m.append(result[1])
    empty = np.zeros((0, 263), np.float32)
    return {"ids": np.array(ok_ids, dtype=str), "lengths": np.array(lengths, dtype=np.int64),
            "feats": np.concatenate(feats) if feats else empty,
            "feats_mirror": np.concatenate(feats_m) if feats_m else empty,
            "bad_ids": np.array(bad_ids, dtype=str), "bad_reasons": np.array(reasons, dtype=str)}


def _converted(path: Path, cache_dir: Path | None, mirror: bool) -> dict[str, np.ndarray]:
    """Converted arrays of one joints file, from the cache when possible (a mirrored cache serves both)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with_mirror = cache / f"cmu_{path.stem}_{cache_key(path, 'cmu-v2', True)}.npz"
    target = with_mirror if mirror else cache / f"cmu_{path.stem}_{cache_key(path, 'cmu-v2', False)}.npz"
    arrays = load_features(with_mirror) if not mirror and with_mirror.is_file() else load_features(target)
    if arrays is None:
        log.info("converting %s to 263-d features (mirror=%s) -> %s", path.name, mirror, target)
        arrays = _convert_split(path, mirror)
        save_features(target, arrays)
    return arrays


def _flagged_ids(data_dir: Path) -> set[str]:
    try:
        manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("manifest.json missing or unreadable in %s: no clips dropped as flagged", data_dir)
        return set()
    return {m["id"] for m in manifest if isinstance(m, dict) and m.get("quality_flags")}


def load_cmu_clips(split: str, data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None,
                   mirror: bool = True, drop_flagged: bool = False,
                   min_frames: int = MIN_FRAMES) -> tuple[list[ClipRecord], LoadReport]:
    """Converted clips of one split of at least ``min_frames`` feature frames (at least
    :data:`CONVERT_MIN_FRAMES`) and the report of what was skipped (also logged as one line)."""
    if min_frames < CONVERT_MIN_FRAMES:
        raise ValueError(f"min_frames must be >= {CONVERT_MIN_FRAMES} (clips shorter are not converted), "
                         f"got {min_frames}")
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    arrays = _converted(_joints_file(data_dir, split), cache_dir, mirror)
    report = LoadReport(split=split)
    for clip_id, reason in zip(arrays["bad_ids"], arrays["bad_reasons"]):
        report.skip(str(reason), str(clip_id))
    flagged = _flagged_ids(data_dir) if drop_flagged else set()
    clips, offset = [], 0
    for clip_id, n in zip(arrays["ids"], arrays["lengths"]):
        clip_id, sl = str(clip_id), slice(offset, offset + int(n))
        offset += int(n)
        if int(n) < min_frames:
            report.skip("too_short", clip_id)
            continue
        captions = read_caption_file(data_dir / "texts" / f"{clip_id}.txt")
        if clip_id in flagged or isinstance(captions, str):
            report.skip("quality_flag" if clip_id in flagged else captions, clip_id)
            continue
        mirrored = arrays["feats_mirror"][sl] if mirror else None
        clips.append(ClipRecord(clip_id, arrays["feats"][sl], captions, mirrored))
    report.clips = len(clips)
    return clips, report


def cmu_feature_stats(data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None,
                      mirror: bool = True) -> FeatureStats:
    """Mean/Std (HumanML3D grouping) of the training split, mirrored clips included when ``mirror``."""
    clips, _ = load_cmu_clips("train", data_dir, cache_dir=cache_dir, mirror=mirror)
    feats = [c.feats for c in clips] + [c.feats_mirror for c in clips if c.feats_mirror is not None]
    if not feats:
        raise ValueError("no usable training clip to compute feature statistics from")
    return compute_feature_stats(feats)


def cmu_control_stats(data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None,
                      window: int = MAX_FRAMES) -> ControlStats:
    """Per-joint Mean/Std (22, 3) of control hints on the training split (mirrored clips included).

    Hints are ``recover_joints`` of a crop, so each clip is cut into ``window``-frame pieces, each
    recovered from its own start (pelvis x = z = 0, heading +Z), as training crops are.
    """
    clips, _ = load_cmu_clips("train", data_dir, cache_dir=cache_dir, mirror=True)
    pieces = [recover_joints(f[s:s + window]) for c in clips for f in (c.feats, c.feats_mirror)
              for s in range(0, len(f) - MIN_FRAMES + 1, window)]
    if not pieces:
        raise ValueError("no usable training clip to compute control statistics from")
    return compute_control_stats(pieces)


def cmu_dataset(split: str = "train", data_dir: str | Path | None = None, *, cfg: DataConfig = DataConfig(),
                stats: FeatureStats | None = None, cache_dir: str | Path | None = None, seed: int | None = None,
                drop_flagged: bool = False) -> MotionTextDataset:
    """The dataset of one split, normalised with ``stats`` (default: :func:`cmu_feature_stats`)."""
    if stats is None:
        stats = cmu_feature_stats(data_dir, cache_dir=cache_dir)
    clips, report = load_cmu_clips(split, data_dir, cache_dir=cache_dir, mirror=cfg.mirror_prob > 0,
                                   drop_flagged=drop_flagged)
    dataset = MotionTextDataset(clips, stats, cfg, report=report, seed=seed)
    log.info(dataset.report.line())
    return dataset
