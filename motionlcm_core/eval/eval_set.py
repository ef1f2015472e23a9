"""A fixed evaluation set: every (item, caption) pair of a split with a seeded crop.

T2M draws one random caption per item; our test split is small (about 60 items), so every caption of
every item becomes a sample, each with its own deterministic crop (HumanML3D's 40–196-frame rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.data.dataset import MotionTextDataset
from motionlcm_core.motion import recover_joints

__all__ = ["EvalSet", "build_eval_set", "pad_feats"]


@dataclass
class EvalSet:
    """Parallel lists; ``feats`` are de-normalised ``(T_i, 263)``, ``joints`` ``(T_i, 22, 3)`` metres."""

    feats: list[np.ndarray]
    captions: list[str]
    lengths: list[int]
    clip_ids: list[str]
    joints: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.captions)

    def subset(self, index: np.ndarray | list[int]) -> "EvalSet":
        idx = [int(i) for i in index]
        return EvalSet([self.feats[i] for i in idx], [self.captions[i] for i in idx],
                       [self.lengths[i] for i in idx], [self.clip_ids[i] for i in idx],
                       [self.joints[i] for i in idx])


def build_eval_set(dataset: MotionTextDataset, *, seed: int = 0, max_samples: int | None = None,
                   subset_seed: int = 0) -> EvalSet:
    """One sample per (item, caption) with crops drawn from ``seed``; mirroring/variants are not used.

    With ``max_samples`` a random subset of that size (drawn from ``subset_seed``) is kept.
    """
    if len(dataset) == 0:
        raise ValueError("the dataset has no items to evaluate on")
    feats, captions, clip_ids = [], [], []
    for index in range(len(dataset)):
        for k in range(len(dataset.captions_of(index))):
            rng = np.random.default_rng([seed, index, k])
            raw, caption = _fixed_raw_item(dataset, index, rng, k)
            feats.append(np.asarray(raw, dtype=np.float32))
            captions.append(caption)
            clip_ids.append(dataset.clip_id(index))
    out = EvalSet(feats, captions, [len(f) for f in feats], clip_ids,
                  [recover_joints(f).astype(np.float32) for f in feats])
    if max_samples is not None and max_samples < len(out):
        keep = np.sort(np.random.default_rng(subset_seed).choice(len(out), size=max_samples, replace=False))
        out = out.subset(keep)
    return out


def _fixed_raw_item(dataset: MotionTextDataset, index: int, rng: np.random.Generator, caption_index: int
                    ) -> tuple[np.ndarray, str]:
    if dataset.cfg.mirror_prob or dataset.cfg.variant_prob:
        raise ValueError("build the evaluation dataset with EVAL_DATA_CONFIG (no mirroring, no caption variants)")
    return dataset.raw_item(index, rng, caption_index=caption_index)


def pad_feats(feats: list[np.ndarray]) -> np.ndarray:
    """Zero-pad ``(T_i, D...)`` arrays to ``(B, max T, D...)`` float32."""
    max_len = max(len(f) for f in feats)
    out = np.zeros((len(feats), max_len) + feats[0].shape[1:], dtype=np.float32)
    for b, f in enumerate(feats):
        out[b, : len(f)] = f
    return out
