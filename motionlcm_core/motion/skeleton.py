"""SMPL-22 / HumanML3D skeleton: joint names, parents, chains and raw offsets (data only).

Coordinates of the model frame: metres, Y up, the character faces +Z at frame 0, its left is +X.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
NUM_JOINTS = 22
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
KINEMATIC_CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20),
)
#: Unit directions of each bone in the rest pose (HumanML3D ``t2m_raw_offsets``), shape (22, 3).
RAW_OFFSETS = np.array(
    [[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
     [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
     [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0]],
    dtype=np.float64,
)
LEFT_CHAIN: tuple[int, ...] = (1, 4, 7, 10, 13, 16, 18, 20)
RIGHT_CHAIN: tuple[int, ...] = (2, 5, 8, 11, 14, 17, 19, 21)
#: Joint index permutation that swaps left and right (for mirroring).
MIRROR_PERMUTATION: tuple[int, ...] = tuple(
    {**{l: r for l, r in zip(LEFT_CHAIN, RIGHT_CHAIN)}, **{r: l for l, r in zip(LEFT_CHAIN, RIGHT_CHAIN)}}.get(i, i)
    for i in range(NUM_JOINTS)
)
#: Joints the ControlNet is trained on (OmniControl set): pelvis, feet, head, wrists.
CONTROL_JOINTS: tuple[int, ...] = (0, 10, 11, 15, 20, 21)
FEET_LEFT: tuple[int, ...] = (7, 10)
FEET_RIGHT: tuple[int, ...] = (8, 11)
#: (r_hip, l_hip, r_shoulder, l_shoulder) used to find the facing direction.
FACE_JOINTS: tuple[int, int, int, int] = (2, 1, 17, 16)
#: The model's frame rate (frames per second): the one FPS constant of the project.
FPS = 20
MAX_FRAMES = 196
MIN_FRAMES = 40


def num_frames(seconds: float, fps: float = FPS) -> int:
    """Frames that ``seconds`` of motion take at ``fps`` (rounded to the nearest frame)."""
    return int(round(float(seconds) * fps))
