"""The training data of a stage: its seeded dataset and the feature statistics it is normalised with."""
from __future__ import annotations

from ..data import DataConfig, MotionTextDataset, cmu_dataset, cmu_feature_stats, humanml3d_dataset
from ..data import humanml3d_folder_stats
from ..motion import FeatureStats
from .config import TrainConfig


def _data_dir(cfg: TrainConfig) -> str | None:
    return cfg.data_dir or None


def feature_stats(cfg: TrainConfig) -> FeatureStats:
    """Mean/Std of the training data (ours: train split incl. mirrored clips; HumanML3D: Mean/Std.npy)."""
    if cfg.data_format == "humanml3d":
        if not cfg.data_dir:
            raise ValueError("data_format='humanml3d' needs --data-dir pointing at the HumanML3D folder")
        return humanml3d_folder_stats(cfg.data_dir)
    return cmu_feature_stats(_data_dir(cfg))


def dataset(cfg: TrainConfig, stats: FeatureStats, split: str = "train",
            data_cfg: DataConfig | None = None) -> MotionTextDataset:
    """Seeded dataset of one split (with_joints off: stages recover joints from the features in torch)."""
    data_cfg = data_cfg or DataConfig(with_joints=False, floor_crops=cfg.floor_crops)
    if cfg.data_format == "humanml3d":
        return humanml3d_dataset(cfg.data_dir, split, cfg=data_cfg, stats=stats, seed=cfg.seed)
    return cmu_dataset(split, _data_dir(cfg), cfg=data_cfg, stats=stats, seed=cfg.seed,
                       drop_flagged=cfg.drop_flagged)
