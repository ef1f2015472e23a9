"""Pins: what the user fixes (targets), and the passes that meet them.

- :mod:`~motionlcm_core.control.targets`: :class:`Control` (positions + mask in the model frame) and checks;
- :mod:`~motionlcm_core.control.field`: the smooth displacement field every pin correction is spread with;
- :mod:`~motionlcm_core.control.refine`: latent refinement through the decoder (torch);
- :mod:`~motionlcm_core.control.exact`: the exact pass on joints (IK, bone lengths kept);
- :mod:`~motionlcm_core.control.continuation`: pins that continue a previous pose.

Importing this package (or its numpy modules) does not import torch.
"""
from motionlcm_core.control.continuation import PoseContinuation, blend_from, continue_from_pose
from motionlcm_core.control.exact import ExactConfig, ExactOutput, apply_exact
from motionlcm_core.control.field import displacement_field
from motionlcm_core.control.targets import Control, check_pins_within, pin_errors

__all__ = ["Control", "ExactConfig", "ExactOutput", "PoseContinuation", "apply_exact", "blend_from",
           "check_pins_within", "continue_from_pose", "displacement_field", "pin_errors"]
