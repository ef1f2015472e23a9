"""Motion representation: SMPL-22 skeleton, HumanML3D 263-d features, quaternions, normalisation."""
from __future__ import annotations

from motionlcm_core.motion.humanml3d import (
    FEATURE_DIM, FEATURE_GROUPS, FOOT_CONTACT, LOCAL_VEL, RIC, ROOT_LIN_VEL, ROOT_ROT_VEL, ROOT_Y, ROT6D,
    default_target_offsets, features_from_joints, floor_height, lower_heights, mirror_joints, put_on_floor,
    recover_joints,
)
from motionlcm_core.motion.normalization import (
    ControlStats, FeatureStats, compute_control_stats, compute_feature_stats, humanml3d_control_stats,
    humanml3d_stats,
)
from motionlcm_core.motion.skeleton import (
    CONTROL_JOINTS, FACE_JOINTS, FEET_LEFT, FEET_RIGHT, FPS, JOINT_NAMES, KINEMATIC_CHAINS, LEFT_CHAIN,
    MAX_FRAMES, MIN_FRAMES, MIRROR_PERMUTATION, NUM_JOINTS, PARENTS, RAW_OFFSETS, RIGHT_CHAIN,
)

__all__ = [
    "FEATURE_DIM", "FEATURE_GROUPS", "FOOT_CONTACT", "LOCAL_VEL", "RIC", "ROOT_LIN_VEL", "ROOT_ROT_VEL", "ROOT_Y",
    "ROT6D", "default_target_offsets", "features_from_joints", "floor_height", "lower_heights", "mirror_joints",
    "put_on_floor", "recover_joints",
    "ControlStats", "FeatureStats", "compute_control_stats", "compute_feature_stats", "humanml3d_control_stats",
    "humanml3d_stats",
    "CONTROL_JOINTS", "FACE_JOINTS", "FEET_LEFT", "FEET_RIGHT", "FPS", "JOINT_NAMES", "KINEMATIC_CHAINS",
    "LEFT_CHAIN", "MAX_FRAMES", "MIN_FRAMES", "MIRROR_PERMUTATION", "NUM_JOINTS", "PARENTS", "RAW_OFFSETS",
    "RIGHT_CHAIN",
]
