"""MotionLCM core: bpy-free text-to-motion (latent consistency model + Motion ControlNet).

Public API::

    from motionlcm_core import MotionLCMPipeline, Control
    pipe = MotionLCMPipeline.from_pretrained("embedded")
    result = pipe.generate(["a person walks forward and waves"], seconds=6, num_steps=1, seed=0)
    result.joints  # (B, T, 22, 3) metres, Y up, 20 fps

The pipeline (and torch) is imported on first use of ``MotionLCMPipeline`` / ``MotionResult`` (PEP 562), so
the numpy parts (``motionlcm_core.retarget``, ``motionlcm_core.control``, ``motionlcm_core.recipe``) import
without torch, as the Blender add-on needs before its dependencies are installed.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Control", "MotionLCMPipeline", "MotionResult", "PinPassConfig"]
__version__ = "0.1.0"

_LAZY = {"MotionLCMPipeline": "motionlcm_core.pipeline", "MotionResult": "motionlcm_core.result",
         "Control": "motionlcm_core.control.targets", "PinPassConfig": "motionlcm_core.control.passes"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'motionlcm_core' has no attribute {name!r}")
