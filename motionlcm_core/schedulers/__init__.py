"""Noise schedule and samplers (small objects with no hidden state)."""
from .ddim import DDIMScheduler, DDIMSolver
from .lcm import LCMScheduler, LCMStepOutput, boundary_scalings
from .noise import NoiseSchedule

__all__ = ["NoiseSchedule", "LCMScheduler", "LCMStepOutput", "boundary_scalings", "DDIMScheduler", "DDIMSolver"]
