"""Text–motion data: our CMU set, the HumanML3D folder layout, captions, batching, resumable batch order."""
from motionlcm_core.data.batching import MotionBatch, collate_motion, lengths_to_mask
from motionlcm_core.data.cmu import (
    SPLITS, cmu_control_stats, cmu_dataset, cmu_feature_stats, default_data_dir, load_cmu_clips,
)
from motionlcm_core.data.dataset import (
    EVAL_DATA_CONFIG, ClipRecord, DataConfig, LoadReport, MotionItem, MotionTextDataset, crop_length,
)
from motionlcm_core.data.humanml3d_folder import humanml3d_dataset, humanml3d_folder_stats, load_humanml3d_clips
from motionlcm_core.data.sampling import EpochIndexed, StepBatchSampler
from motionlcm_core.data.text import CaptionLine, caption_variants, mirror_caption, parse_caption_line

__all__ = [
    "MotionBatch", "collate_motion", "lengths_to_mask", "SPLITS", "cmu_control_stats", "cmu_dataset", "cmu_feature_stats",
    "default_data_dir", "load_cmu_clips", "EVAL_DATA_CONFIG", "ClipRecord", "DataConfig", "LoadReport",
    "MotionItem", "MotionTextDataset", "crop_length", "humanml3d_dataset", "humanml3d_folder_stats",
    "load_humanml3d_clips", "EpochIndexed", "StepBatchSampler", "CaptionLine", "caption_variants", "mirror_caption",
    "parse_caption_line",
]
