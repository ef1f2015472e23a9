"""Learning-rate schedule and where a run ends.

Cosine with linear warm-up over ``cfg.steps``, or over the step count :class:`TimePlanner` plans from the
measured speed so that training fits ``cfg.time_limit_min`` (:func:`total_steps` reads it at every step).
"""
from __future__ import annotations

import math
from typing import Callable

from .checkpoint import TrainState
from .config import TrainConfig
from .distributed import Dist, agreed_min


def cosine_with_warmup(warmup: int, total: int | Callable[[], int]) -> Callable[[int], float]:
    """LR factor: linear 0→1 over ``warmup`` steps, then cosine 1→0 at ``total`` (a number, or a callable
    read at every step when the total is planned during the run)."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        end = total() if callable(total) else total
        progress = min(1.0, (step - warmup) / max(1, end - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return factor


def total_steps(cfg: TrainConfig, state: TrainState) -> int:
    """Where the run ends: ``cfg.steps``, or the count planned for ``cfg.time_limit_min`` (never more)."""
    if cfg.time_limit_min > 0 and state.planned_steps is not None:
        return min(cfg.steps, state.planned_steps)
    return cfg.steps


class TimePlanner:
    """Plans the step count that fits ``cfg.time_limit_min`` (training wall time over all runs) from the
    speed measured over ``measure`` steps after ``settle`` untimed ones (first steps pay for warm-up), then
    plans once more a quarter of the way in, from the speed since then (checkpoint saves, slower phases)."""

    def __init__(self, cfg: TrainConfig, state: TrainState, settle: int = 10, measure: int = 40) -> None:
        self.limit_s = cfg.time_limit_min * 60.0
        self.active = self.limit_s > 0 and state.planned_steps is None
        self.mark = state.step + settle
        self.until = self.mark + measure
        self.t_mark = 0.0
        self.rate = 0.0
        self.plans = 0

    def after_step(self, state: TrainState, cfg: TrainConfig, dist: Dist) -> bool:
        """Call after each step (every process); True when a plan was made at this step (the same on
        every process: the smallest one wins)."""
        if not self.active:
            return False
        if state.step == self.mark:
            self.t_mark = state.wall_s
        if state.step < self.until:
            return False
        self.rate = (state.step - self.mark) / max(state.wall_s - self.t_mark, 1e-9)   # steps per second
        left = max(self.limit_s - state.wall_s, 0.0)
        planned = max(state.step + 1, min(cfg.steps, state.step + int(self.rate * left)))
        state.planned_steps = agreed_min(planned, dist)
        self.plans += 1
        self.until = state.step + max((state.planned_steps - state.step) // 4, 1)
        self.active = self.plans < 2 and self.until < state.planned_steps
        return True
