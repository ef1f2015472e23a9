# SPDX-License-Identifier: GPL-3.0-or-later
"""SMPL-22 rest pose (T-pose, neutral mean shape) used by "Add SMPL rig". Data only, bpy-free.

Joint positions are in the model frame (metres, Y up, facing +Z, left = +X), floor at y = 0;
``motionlcm_core.retarget.inverse.model_to_armature`` maps them to Blender's frame (Z up, facing -Y, left = +X).
"""
from __future__ import annotations

import numpy as np

#: Neutral SMPL joint locations (approximate regressor output on the mean template), [22, 3].
REST_JOINTS = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0695, -0.3139, 0.0264], [-0.0677, -0.3145, 0.0232],
    [-0.0025, -0.1090, 0.0012], [0.1040, -0.6759, 0.0170], [-0.1055, -0.6753, 0.0087],
    [0.0054, 0.0297, 0.0299], [0.0886, -1.0767, -0.0190], [-0.0916, -1.0747, -0.0247],
    [0.0019, 0.0853, 0.0268], [0.1212, -1.1295, 0.0997], [-0.1205, -1.1325, 0.1030],
    [-0.0006, 0.2900, -0.0134], [0.0722, 0.1916, -0.0039], [-0.0828, 0.1906, -0.0054],
    [0.0102, 0.3657, 0.0513], [0.1719, 0.2400, -0.0181], [-0.1660, 0.2398, -0.0120],
    [0.4288, 0.2217, -0.0443], [-0.4226, 0.2219, -0.0413], [0.6834, 0.2309, -0.0466],
    [-0.6843, 0.2275, -0.0457],
], dtype=np.float64)
#: Floor height below the ankles (the sole), metres.
SOLE = 0.06


def rest_joints(scale: float = 1.0) -> np.ndarray:
    """Rest joints [22, 3] in the model frame with the sole on y = 0, scaled about the floor."""
    j = REST_JOINTS - np.array([0.0, REST_JOINTS[:, 1].min() - SOLE, 0.0])
    return j * float(scale)
