"""What ``MotionLCMPipeline.generate`` returns, and the per-stage timer it fills."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .device import synchronize
from .motion.skeleton import FPS

__all__ = ["MotionResult", "StageTimer"]


@dataclass
class MotionResult:
    """``joints (B, T, 22, 3)`` float32 metres, Y up, model frame; ``feats (B, T, 263)`` denormalised.

    Frames past ``lengths[b]`` are padding. ``timings`` are seconds per stage; ``report`` says what ran
    (settings used, pin errors, body and retrieval reports)."""

    joints: np.ndarray
    feats: np.ndarray
    lengths: list[int]
    fps: int = FPS
    timings: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def clip(self, i: int) -> np.ndarray:
        """Joints of sample ``i`` without padding, ``(lengths[i], 22, 3)``."""
        return self.joints[i, : self.lengths[i]]


class StageTimer:
    """Seconds per named stage (``with timer("decode"): ...``), the device synchronised around each."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.times = device, {}

    def __call__(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                synchronize(timer.device)
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                synchronize(timer.device)
                timer.times[name] = timer.times.get(name, 0.0) + time.perf_counter() - self.t0
        return _Ctx()
