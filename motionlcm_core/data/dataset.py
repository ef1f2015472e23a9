"""Text–motion dataset over converted clips: phase items, random crops, mirroring, caption variants.

Items follow HumanML3D (spec §1.6): every clip with whole-clip captions is one item, and every
``caption#START#END`` phase is its own item ``feats[int(START*20):int(END*20)]``. Clips longer than
``max_frames`` are cropped at random each time an item is read (40–196 frames, multiples of 4), as are
shorter ones by HumanML3D's rule; ``DataConfig.floor_crops`` then puts each crop on its own floor. Features
are cropped *after* conversion, exactly as HumanML3D crops its ``new_joint_vecs``; the joints returned with an
item are ``recover_joints`` of the crop, i.e. in the canonical frame every generated motion starts in (pelvis
x = z = 0, heading +Z), as control hints need.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from motionlcm_core.data.text import CaptionLine, caption_variants, mirror_caption
from motionlcm_core.motion import FeatureStats, put_on_floor, recover_joints
from motionlcm_core.motion.skeleton import FPS, MAX_FRAMES, MIN_FRAMES, NUM_JOINTS

__all__ = ["DataConfig", "ClipRecord", "LoadReport", "MotionItem", "MotionTextDataset", "crop_length"]


@dataclass(frozen=True)
class DataConfig:
    """How items are drawn. Use ``mirror_prob = variant_prob = 0`` for evaluation."""

    min_frames: int = MIN_FRAMES
    max_frames: int = MAX_FRAMES
    unit_len: int = 4
    mirror_prob: float = 0.5
    variant_prob: float = 0.5
    with_joints: bool = True
    # put each crop's lowest joint at y = 0 (HumanML3D floors the source clip only, so a crop taken on a
    # platform or a ladder floats above its own floor; a model trained on such crops floats whole clips)
    floor_crops: bool = False

    def __post_init__(self) -> None:
        if self.unit_len < 1 or self.min_frames % self.unit_len or self.max_frames % self.unit_len:
            raise ValueError(f"min_frames {self.min_frames} and max_frames {self.max_frames} must be multiples "
                             f"of unit_len {self.unit_len}")
        if not 0 < self.min_frames <= self.max_frames:
            raise ValueError(f"need 0 < min_frames <= max_frames, got {self.min_frames}, {self.max_frames}")
        for name in ("mirror_prob", "variant_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")


EVAL_DATA_CONFIG = DataConfig(mirror_prob=0.0, variant_prob=0.0)


@dataclass(frozen=True)
class ClipRecord:
    """One converted clip: raw (denormalised) features, optional mirrored features, captions."""

    clip_id: str
    feats: np.ndarray                      # (T, 263) float32
    captions: tuple[CaptionLine, ...]
    feats_mirror: np.ndarray | None = None  # (T, 263) float32, features of mirror_joints(joints)


@dataclass
class LoadReport:
    """What a loader kept and skipped; ``skipped`` maps a reason to the clip ids (or ``id#phase``)."""

    split: str
    clips: int = 0
    items: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, name: str) -> None:
        self.skipped.setdefault(reason, []).append(name)

    def line(self) -> str:
        """One log line: counts per skip reason."""
        reasons = ", ".join(f"{k}: {len(v)}" for k, v in sorted(self.skipped.items())) or "none"
        return f"split {self.split}: {self.clips} clips, {self.items} items kept; skipped {reasons}"


class MotionItem(NamedTuple):
    """One training/eval sample."""

    feats: np.ndarray   # (T, 263) float32, normalised
    caption: str
    length: int         # T, frames at 20 fps
    joints: np.ndarray  # (T, 22, 3) float32 metres, recover_joints of the crop (zeros if with_joints=False)


@dataclass(frozen=True)
class _Item:
    clip: int
    start: int
    end: int
    captions: tuple[str, ...]


def crop_length(available: int, rng: np.random.Generator, cfg: DataConfig) -> int:
    """Frames to crop from a span of ``available`` >= ``cfg.min_frames`` frames.

    Spans longer than ``max_frames``: uniform over the multiples of ``unit_len`` in [min, max].
    Shorter ones: HumanML3D's rule, ``⌊L/4⌋·4`` with probability 2/3, else ``(⌊L/4⌋ − 1)·4``.
    """
    unit = cfg.unit_len
    if available < cfg.min_frames:
        raise ValueError(f"span of {available} frames is shorter than min_frames {cfg.min_frames}")
    if available > cfg.max_frames:
        return int(rng.integers(cfg.min_frames // unit, cfg.max_frames // unit + 1)) * unit
    length = (available // unit) * unit
    if rng.random() < 1.0 / 3.0 and length - unit >= cfg.min_frames:
        length -= unit
    return length


def _build_items(clips: list[ClipRecord], cfg: DataConfig, report: LoadReport) -> list[_Item]:
    items = []
    for k, clip in enumerate(clips):
        n = len(clip.feats)
        whole = tuple(c.text for c in clip.captions if not c.is_phase)
        if whole:
            items.append(_Item(k, 0, n, whole))
        for cap in clip.captions:
            if not cap.is_phase:
                continue
            start, end = int(cap.start_s * FPS), min(int(cap.end_s * FPS), n)
            if end - start < cfg.min_frames:
                report.skip("phase_too_short", f"{clip.clip_id}#{cap.start_s}#{cap.end_s}")
                continue
            items.append(_Item(k, start, end, (cap.text,)))
    return items


class MotionTextDataset(torch.utils.data.Dataset):
    """Map-style dataset of :class:`MotionItem`; feats normalised with ``stats``.

    Randomness: with ``seed=None`` each read draws from torch's RNG (seeded by ``torch.manual_seed`` and
    per DataLoader worker); with a ``seed`` item ``i`` is the same on every read (for evaluation),
    changing with :meth:`set_epoch`.
    """

    def __init__(self, clips: list[ClipRecord], stats: FeatureStats, cfg: DataConfig = DataConfig(),
                 *, report: LoadReport | None = None, seed: int | None = None) -> None:
        self.clips = clips
        self.stats = stats
        self.cfg = cfg
        self.seed = seed
        self.epoch = 0
        self.report = report if report is not None else LoadReport(split="?", clips=len(clips))
        self.items = _build_items(clips, cfg, self.report)
        self.report.items = len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def clip_id(self, index: int) -> str:
        """Id of the clip item ``index`` comes from (to avoid same-clip negatives in contrastive losses)."""
        return self.clips[self.items[index].clip].clip_id

    def _rng(self, index: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch, index])
        return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))

    def captions_of(self, index: int) -> tuple[str, ...]:
        """The original captions of item ``index`` (no mirroring, no variants)."""
        return self.items[index].captions

    def raw_item(self, index: int, rng: np.random.Generator, caption_index: int | None = None
                 ) -> tuple[np.ndarray, str]:
        """Denormalised crop ``(T, 263)`` and its caption, drawn with ``rng`` (caption fixed if given)."""
        item = self.items[index]
        clip = self.clips[item.clip]
        if caption_index is None:
            caption_index = int(rng.integers(len(item.captions)))
        caption = item.captions[caption_index]
        mirrored = clip.feats_mirror is not None and rng.random() < self.cfg.mirror_prob
        source = clip.feats_mirror if mirrored else clip.feats
        length = crop_length(item.end - item.start, rng, self.cfg)
        offset = item.start + int(rng.integers(0, item.end - item.start - length + 1))
        if mirrored:
            caption = mirror_caption(caption)
        if rng.random() < self.cfg.variant_prob:
            variants = caption_variants(caption)
            caption = variants[int(rng.integers(len(variants)))]
        crop = source[offset:offset + length]
        return (put_on_floor(crop) if self.cfg.floor_crops else crop), caption

    def __getitem__(self, index: int) -> MotionItem:
        if not 0 <= index < len(self.items):
            raise IndexError(f"item {index} out of range for {len(self.items)} items")
        raw, caption = self.raw_item(index, self._rng(index))
        length = len(raw)
        if self.cfg.with_joints:
            joints = recover_joints(raw).astype(np.float32)
        else:
            joints = np.zeros((length, NUM_JOINTS, 3), dtype=np.float32)
        feats = np.asarray(self.stats.normalize(raw), dtype=np.float32)
        return MotionItem(feats, caption, length, joints)

    def all_captions(self) -> list[str]:
        """Every caption an item can return: originals, mirrored, and their variants (sorted, unique)."""
        out: set[str] = set()
        for item in self.items:
            mirror = self.clips[item.clip].feats_mirror is not None
            for cap in item.captions:
                for base in ((cap, mirror_caption(cap)) if mirror else (cap,)):
                    out.update(caption_variants(base))
        return sorted(out)
