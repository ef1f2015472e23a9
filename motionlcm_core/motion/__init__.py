"""Motion representation: SMPL-22 skeleton, HumanML3D 263-d features, quaternions, normalisation.

The skeleton tables are numpy; the feature and normalisation names (torch) load on first use (PEP 562),
so ``motionlcm_core.motion.skeleton`` and the numpy modules import without torch.
"""
from __future__ import annotations

from typing import Any

from motionlcm_core.motion.skeleton import (
    CONTROL_JOINTS, FACE_JOINTS, FEET_LEFT, FEET_RIGHT, FPS, JOINT_NAMES, KINEMATIC_CHAINS, LEFT_CHAIN,
    MAX_FRAMES, MIN_FRAMES, MIRROR_PERMUTATION, NUM_JOINTS, PARENTS, RAW_OFFSETS, RIGHT_CHAIN, num_frames,
)

_HUMANML3D = ("FEATURE_DIM", "FEATURE_GROUPS", "FOOT_CONTACT", "LOCAL_VEL", "RIC", "ROOT_LIN_VEL", "ROOT_ROT_VEL",
              "ROOT_Y", "ROT6D", "default_target_offsets", "features_from_joints", "floor_height", "lower_heights",
              "mirror_joints", "put_on_floor", "recover_joints")
_NORMALIZATION = ("ControlStats", "FeatureStats", "compute_control_stats", "compute_feature_stats",
                  "humanml3d_control_stats", "humanml3d_stats")

__all__ = [*_HUMANML3D, *_NORMALIZATION,
           "CONTROL_JOINTS", "FACE_JOINTS", "FEET_LEFT", "FEET_RIGHT", "FPS", "JOINT_NAMES", "KINEMATIC_CHAINS",
           "LEFT_CHAIN", "MAX_FRAMES", "MIN_FRAMES", "MIRROR_PERMUTATION", "NUM_JOINTS", "PARENTS", "RAW_OFFSETS",
           "RIGHT_CHAIN", "num_frames"]


def __getattr__(name: str) -> Any:
    import importlib
    if name in _HUMANML3D:
        module = importlib.import_module("motionlcm_core.motion.humanml3d")
    elif name in _NORMALIZATION:
        module = importlib.import_module("motionlcm_core.motion.normalization")
    else:
        raise AttributeError(f"module 'motionlcm_core.motion' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
