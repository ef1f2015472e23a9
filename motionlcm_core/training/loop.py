"""The one training loop shared by every stage (VAE, MLD teacher, LCD student, ControlNet).

AdamW + cosine schedule with linear warm-up (over ``steps``, or over the step count planned from the
measured speed to fit ``time_limit_min``; :mod:`~motionlcm_core.training.schedule`), grad-norm clipping,
resumable checkpoints (modules + optimizer + scheduler + step + RNG states;
:mod:`~motionlcm_core.training.checkpoint`) every ``save_every`` steps and at exit (also on Ctrl-C / SIGTERM),
a tqdm bar, ``train.log`` and ``history.jsonl``. The same code runs on CPU and CUDA; under ``torchrun``
(``WORLD_SIZE > 1``) gradients are averaged across processes.

Determinism: the data order is a pure function of ``(seed, step)``
(:class:`~motionlcm_core.data.sampling.StepBatchSampler`), the noise of the objectives comes from one CPU
generator and dropout from torch's global RNG; both states are saved, so a resumed run continues exactly as
if it had never stopped.
"""
from __future__ import annotations

import json
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from ..config import to_dict
from ..data import EpochIndexed, MotionBatch, StepBatchSampler, collate_motion
from ..device import make_generator
from .checkpoint import CHECKPOINT, TrainState, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import Dist, all_finite, average_gradients
from .schedule import TimePlanner, cosine_with_warmup, total_steps

log = logging.getLogger("motionlcm_core.training")
StepFn = Callable[[MotionBatch, torch.Generator], dict[str, torch.Tensor]]


@dataclass
class TrainResult:
    """What a stage reports: steps done, mean losses of the last log window, wall time (all runs), skips."""

    step: int
    losses: dict[str, float]
    wall_s: float
    skipped: dict[str, int] = field(default_factory=dict)
    out_dir: str = ""


# --------------------------------------------------------------------------- logging
def _setup_logging(out_dir: Path, main: bool) -> logging.Handler | None:
    if not main:
        return None
    handler = logging.FileHandler(out_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


class _Window:
    """Running means of the loss terms between two log lines."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, out: dict[str, torch.Tensor]) -> None:
        for k, v in out.items():
            if isinstance(v, torch.Tensor) and v.dim() == 0:
                self.sums[k] = self.sums.get(k, 0.0) + float(v.detach())
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------- the loop
def _make_state(cfg: TrainConfig, modules: dict[str, nn.Module], param_groups: list[dict], dist: Dist) -> TrainState:
    torch.manual_seed(cfg.seed + dist.rank)
    optimizer = torch.optim.AdamW(param_groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=cfg.weight_decay)
    state = TrainState(modules, optimizer, None, make_generator(cfg.seed + dist.rank), dist.device)
    state.scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, cosine_with_warmup(cfg.warmup_steps, lambda: total_steps(cfg, state)))
    return state


def _update(state: TrainState, out: dict[str, torch.Tensor], params: list[nn.Parameter],
            cfg: TrainConfig, dist: Dist) -> bool:
    """Backward + (all-reduce) + clip + AdamW step; False (and no update) for a non-finite loss/grad."""
    state.optimizer.zero_grad(set_to_none=True)
    if not all_finite(bool(torch.isfinite(out["loss"])), dist):
        state.skipped["nonfinite_loss"] = state.skipped.get("nonfinite_loss", 0) + 1
        return False
    out["loss"].backward()
    if dist.world > 1:
        average_gradients(params, dist)
    norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    if not torch.isfinite(norm):
        state.skipped["nonfinite_grad"] = state.skipped.get("nonfinite_grad", 0) + 1
        state.optimizer.zero_grad(set_to_none=True)
        return False
    state.optimizer.step()
    return True


def train(cfg: TrainConfig, dataset, modules: dict[str, nn.Module], param_groups: list[dict], step_fn: StepFn,
          *, dist: Dist, after_step: Callable[[], None] | None = None, name: str = "train") -> TrainResult:
    """Run ``step_fn(batch, generator) -> {"loss": …, other scalars}`` until ``cfg.steps``.

    ``modules`` (already on ``dist.device``) are checkpointed by name; ``param_groups`` are AdamW's
    (a group may set its own ``lr``); ``after_step`` runs after each update (EMA)."""
    # 1. output folder, logging, state (resumed when a checkpoint exists)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _setup_logging(out_dir, dist.main)
    state = _make_state(cfg, modules, param_groups, dist)
    ckpt = out_dir / CHECKPOINT
    if cfg.resume and ckpt.is_file():
        load_checkpoint(ckpt, state)
        log.info("%s: resumed from %s at step %d", name, ckpt, state.step)
        if not state.losses:
            _fill_from_history(state, out_dir)
    report = getattr(dataset, "report", None)
    if report is not None:
        log.info("%s: data %s", name, report.line())
    params = [p for g in param_groups for p in g["params"]]
    start, t0, window, wall0 = state.step, time.time(), _Window(), state.wall_s
    result = TrainResult(state.step, state.losses, state.wall_s, state.skipped, str(out_dir))
    if state.step >= total_steps(cfg, state):
        log.info("%s: already at step %d of %d", name, state.step, total_steps(cfg, state))
        return result
    # 2. deterministic batch stream from the current step
    sampler = StepBatchSampler(len(dataset), cfg.batch_size, cfg.seed, state.step, dist.rank, dist.world)
    loader = torch.utils.data.DataLoader(EpochIndexed(dataset), batch_sampler=sampler, collate_fn=collate_motion,
                                         num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0,
                                         generator=torch.Generator().manual_seed(cfg.seed))  # not the global RNG
    log.info("%s: steps %d→%d, batch %d×%d, %d items, device %s", name, state.step, cfg.steps, cfg.batch_size,
             dist.world, len(dataset), dist.device)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if dist.main else None
    bar = tqdm(total=total_steps(cfg, state), initial=state.step, desc=name, disable=not dist.main,
               dynamic_ncols=True)
    planner = TimePlanner(cfg, state)
    history = (out_dir / "history.jsonl").open("a") if dist.main else None
    try:
        # 3. the loop
        for batch in loader:
            for m in modules.values():
                m.train()
            out = step_fn(batch.to(dist.device), state.generator)
            if _update(state, out, params, cfg, dist):
                window.add(out)
                if after_step is not None:
                    after_step()
            state.scheduler.step()
            state.step += 1
            bar.update(1)
            state.wall_s = wall0 + time.time() - t0
            if planner.after_step(state, cfg, dist):
                bar.total = total_steps(cfg, state)
                log.info("%s: %.1f min time limit: planned %d steps (%.2f it/s)", name, cfg.time_limit_min,
                         bar.total, planner.rate)
            end = total_steps(cfg, state)
            if state.step % cfg.log_every == 0 or state.step == end:
                state.losses = window.means()
                _log_window(state, state.losses, bar, history, t0, start)
                window = _Window()
            if dist.main and state.step % cfg.save_every == 0:
                save_checkpoint(ckpt, state, cfg)
            if state.step >= end:
                break
    finally:
        # 4. checkpoint at exit, even on Ctrl-C / SIGTERM
        bar.close()
        if dist.main and state.step > start:
            save_checkpoint(ckpt, state, cfg)
            log.info("%s: checkpoint at step %d (%s); skipped %s", name, state.step, ckpt, state.skipped or "none")
        if history is not None:
            history.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
    result.step, result.wall_s, result.skipped, result.losses = (state.step, state.wall_s, dict(state.skipped),
                                                                 dict(state.losses))
    return result


def _fill_from_history(state: TrainState, out_dir: Path) -> None:
    """Checkpoints of older versions lack losses/wall time: take them from the last history line."""
    path = out_dir / "history.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    if lines:
        last = json.loads(lines[-1])
        state.wall_s = float(last.pop("time_s", 0.0))
        state.losses = {k: float(v) for k, v in last.items() if k not in ("step", "lr")}


def _log_window(state: TrainState, losses: dict[str, float], bar: tqdm, history, t0: float, start: int) -> None:
    lr = state.scheduler.get_last_lr()[0]
    rate = (state.step - start) / max(time.time() - t0, 1e-9)
    text = " ".join(f"{k}={v:.4g}" for k, v in losses.items())
    bar.set_postfix_str(text[:80])
    log.info("step %d lr %.3g %.2f it/s %s skipped %s", state.step, lr, rate, text, state.skipped or "none")
    if history is not None:
        history.write(json.dumps({"step": state.step, "lr": lr, "time_s": round(state.wall_s, 2),
                                  **{k: round(v, 6) for k, v in losses.items()}}) + "\n")
        history.flush()


def config_record(cfg: TrainConfig, result: TrainResult) -> dict:
    """JSON-able record of one stage for the weights' training metadata."""
    return {"config": to_dict(cfg), "steps": result.step, "wall_s": round(result.wall_s, 1),
            "final_losses": {k: round(v, 5) for k, v in result.losses.items()}, "skipped": result.skipped}
