"""MotionLCM core: bpy-free text-to-motion (latent consistency model + Motion ControlNet).

Public API::

    from motionlcm_core import MotionLCMPipeline, Control
    pipe = MotionLCMPipeline.from_pretrained("embedded")
    result = pipe.generate(["a person walks forward and waves"], seconds=6, num_steps=1, seed=0)
    result.joints  # (B, T, 22, 3) metres, Y up, 20 fps
"""
from .control import Control
from .pipeline import MotionLCMPipeline, MotionResult

__all__ = ["MotionLCMPipeline", "MotionResult", "Control"]
__version__ = "0.1.0"
