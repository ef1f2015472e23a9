"""The one training loop shared by every stage (VAE, MLD teacher, LCD student, ControlNet).

AdamW + cosine schedule with linear warm-up (over ``steps``, or over the step count planned from the
measured speed to fit ``time_limit_min``), grad-norm clipping, optional EMA copies, resumable
checkpoints (modules + optimizer + scheduler + step + RNG states) every ``save_every`` steps and at exit
(also on Ctrl-C / SIGTERM), a tqdm bar, ``train.log`` and ``history.jsonl``. The same code runs on CPU
and CUDA; under ``torchrun`` (``WORLD_SIZE > 1``) gradients are averaged across processes.

Determinism: the data order is a pure function of ``(seed, step)`` (:class:`StepBatchSampler`), the
noise of the objectives comes from one CPU generator and dropout from torch's global RNG; both states
are saved, so a resumed run continues exactly as if it had never stopped.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import pickle
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from tqdm import tqdm

from ..config import to_dict
from ..data import MotionBatch, collate_motion
from ..device import make_generator
from .distributed import Dist, agreed_min, all_finite, average_gradients, init_distributed

log = logging.getLogger("motionlcm_core.training")
CHECKPOINT = "checkpoint.pt"
StepFn = Callable[[MotionBatch, torch.Generator], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class TrainConfig:
    """Options shared by every stage (each stage's ``Train*Config`` extends it)."""

    out_dir: str = "runs/train"
    data_dir: str = ""                 # empty: $MOTIONLCM_DATA_DIR or ../shared/data
    data_format: str = "cmu"           # "cmu" (our set) or "humanml3d" (new_joint_vecs/ + texts/ folder)
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 1234
    device: str = "auto"
    threads: int = 0                   # torch.set_num_threads when > 0 (CPU)
    num_workers: int = 0
    save_every: int = 200
    log_every: int = 20
    resume: bool = True
    drop_flagged: bool = False         # drop the clips with quality flags in the manifest
    floor_crops: bool = False          # put every training crop on its own floor (DataConfig.floor_crops)
    # > 0: train for about this many minutes (at most ``steps``): after a few timed steps the loop plans the
    # step count that fits and the cosine schedule ends there; the record holds the steps actually done
    time_limit_min: float = 0.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.data_format not in ("cmu", "humanml3d"):
            raise ValueError(f"data_format must be 'cmu' or 'humanml3d', got {self.data_format!r}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup_steps < 0:
            raise ValueError("lr and grad_clip must be > 0 and warmup_steps >= 0")
        if self.time_limit_min < 0:
            raise ValueError(f"time_limit_min must be >= 0 (0: no limit), got {self.time_limit_min}")


# --------------------------------------------------------------------------- pieces
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


class EMA(nn.Module):
    """Exponential moving average copy of a module: ``θ⁻ ← μ θ⁻ + (1 − μ) θ`` (buffers copied)."""

    def __init__(self, source: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(source).requires_grad_(False)

    def train(self, mode: bool = True) -> "EMA":
        """The EMA copy is a fixed target: it always runs in eval mode (no dropout)."""
        super().train(mode)
        self.module.eval()
        return self

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        for ema_p, p in zip(self.module.parameters(), source.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - self.decay)
        for ema_b, b in zip(self.module.buffers(), source.buffers()):
            ema_b.copy_(b)


class StepBatchSampler(torch.utils.data.Sampler):
    """Yields ``[(epoch, index), …]`` batches from ``start_step`` on; epoch order = randperm(seed, epoch).

    Each process (rank) takes every ``world``-th item of the epoch order. Infinite."""

    def __init__(self, n_items: int, batch_size: int, seed: int, start_step: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        per_rank = n_items // world
        if per_rank < batch_size:
            raise ValueError(f"{n_items} items over {world} process(es) cannot fill a batch of {batch_size}; "
                             f"lower --batch-size")
        self.n, self.batch, self.seed = n_items, batch_size, seed
        self.start, self.rank, self.world = start_step, rank, world
        self.per_epoch = per_rank // batch_size

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        epoch, k = divmod(step, self.per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.n, generator=gen)[self.rank::self.world]
        return [(epoch, int(i)) for i in order[k * self.batch:(k + 1) * self.batch]]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start
        while True:
            yield self.batch_at(step)
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is infinite
        return 2**62


class EpochIndexed(torch.utils.data.Dataset):
    """Reads ``(epoch, index)`` keys from a seeded :class:`MotionTextDataset` (same item for the same key)."""

    def __init__(self, dataset) -> None:
        if getattr(dataset, "seed", None) is None:
            raise ValueError("the training dataset must be built with a seed for resumable data order")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]


@dataclass
class TrainResult:
    """What a stage reports: steps done, mean losses of the last log window, wall time (all runs), skips."""

    step: int
    losses: dict[str, float]
    wall_s: float
    skipped: dict[str, int] = field(default_factory=dict)
    out_dir: str = ""


# --------------------------------------------------------------------------- checkpoints
@dataclass
class TrainState:
    """Everything a checkpoint holds. ``modules`` are saved by name (trainable nets and EMA copies)."""

    modules: dict[str, nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    device: torch.device = torch.device("cpu")
    step: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)   # means of the last log window
    wall_s: float = 0.0                                       # training time over all runs
    planned_steps: int | None = None                          # step count planned for a time limit

    def device_rng(self) -> torch.Tensor | None:
        """RNG state of the accelerator (dropout on GPU draws from it); None on the CPU."""
        if self.device.type == "cpu":
            return None
        return torch.get_device_module(self.device).get_rng_state(self.device)


def save_checkpoint(path: Path, state: TrainState, cfg: TrainConfig) -> None:
    """Atomic write (temp file + rename) so an interruption never leaves a broken checkpoint."""
    payload = {
        "modules": {k: m.state_dict() for k, m in state.modules.items()},
        "optimizer": state.optimizer.state_dict(), "scheduler": state.scheduler.state_dict(),
        "step": state.step, "skipped": dict(state.skipped), "generator": state.generator.get_state(),
        "losses": dict(state.losses), "wall_s": state.wall_s,
        "torch_rng": torch.get_rng_state(), "config": to_dict(cfg),
        "device_rng": state.device_rng(), "planned_steps": state.planned_steps,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    (path.parent / "config.json").write_text(json.dumps(to_dict(cfg), indent=1, sort_keys=True))


def load_checkpoint(path: Path, state: TrainState) -> None:
    """Restore ``state`` in place from :func:`save_checkpoint`'s file."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:   # tensors and plain data only
        raise ValueError(f"checkpoint {path} is unreadable ({exc}); delete it or pass --no-resume") from exc
    missing = set(state.modules) - set(payload["modules"])
    if missing:
        raise ValueError(f"checkpoint {path} lacks modules {sorted(missing)}; it belongs to another stage")
    for name, module in state.modules.items():
        module.load_state_dict(payload["modules"][name])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    state.step, state.skipped = int(payload["step"]), dict(payload["skipped"])
    state.losses, state.wall_s = dict(payload.get("losses", {})), float(payload.get("wall_s", 0.0))
    state.planned_steps = payload.get("planned_steps")
    state.generator.set_state(payload["generator"])
    torch.set_rng_state(payload["torch_rng"])
    if payload.get("device_rng") is not None and state.device.type != "cpu":
        torch.get_device_module(state.device).set_rng_state(payload["device_rng"], state.device)


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
