"""Stage files: the weights file every stage reads (``--init``) and writes (``<out_dir>/model.safetensors``).

Each stage's output is a usable, growing model file in our format (:mod:`motionlcm_core.io.checkpoints`):
VAE → +teacher → +LCM student → +ControlNet/trajectory encoder, with the record of every stage so far.
Teacher convention: the teacher's config is ``replace(cfg.denoiser, time_cond_proj_dim=None)``.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import DenoiserConfig, ModelConfig
from ..io.checkpoints import load_weights, save_weights
from ..motion import ControlStats, FeatureStats

log = logging.getLogger("motionlcm_core.training")
WEIGHTS = "model.safetensors"


@dataclass
class StageWeights:
    """A (partial) model file: config, ``{prefix: state_dict}`` and the record of the stages so far."""

    config: ModelConfig
    parts: dict[str, dict[str, torch.Tensor]]
    training: dict[str, Any]

    def feature_stats(self) -> FeatureStats:
        s = self.parts["stats"]
        return FeatureStats(s["mean"].numpy(), s["std"].numpy())

    def control_stats(self) -> ControlStats:
        s = self.parts["stats"]
        if "control_mean" not in s:
            raise ValueError("this weights file has no control statistics (train the ControlNet stage first)")
        return ControlStats(s["control_mean"].numpy(), s["control_std"].numpy())

    def require(self, *prefixes: str, stage: str) -> None:
        missing = [p for p in prefixes if p not in self.parts]
        if missing:
            raise ValueError(f"{stage} needs an --init weights file holding {missing}; "
                             f"it has {sorted(self.parts)} (run the previous stage first)")


def stats_part(stats: FeatureStats, control: ControlStats | None = None) -> dict[str, torch.Tensor]:
    part = {"mean": torch.from_numpy(stats.mean.copy()), "std": torch.from_numpy(stats.std.copy())}
    if control is not None:
        part.update(control_mean=torch.from_numpy(control.mean.copy()),
                    control_std=torch.from_numpy(control.std.copy()))
    return part


def load_stage(path: str | Path, stage: str) -> StageWeights:
    if not str(path):
        raise ValueError(f"{stage} needs --init: the weights file written by the previous stage")
    cfg, parts, info = load_weights(path)
    return StageWeights(cfg, parts, info["training"])


def warm_start(path: str, stage: str, modules: dict[str, nn.Module], *also: str) -> StageWeights | None:
    """Continue a run from another file: load its part ``prefix`` into each of ``modules`` (``{prefix: module}``)
    and return the file (``also``: other parts it must hold); ``None`` when ``path`` is empty."""
    if not path:
        return None
    label = f"{stage} warm start"
    start = load_stage(path, label)
    start.require(*modules, *also, stage=label)
    for prefix, module in modules.items():
        try:
            module.load_state_dict(start.parts[prefix])
        except RuntimeError as err:
            raise ValueError(f"the {prefix} in {path} has other sizes than this run's (check the size flags, "
                             f"e.g. --hidden-dim/--ff-size/--num-layers/--time-dim): {err}") from None
    return start


def with_stage_record(training: dict[str, Any], stage: str, record: dict[str, Any],
                      warm_start: StageWeights | None = None) -> dict[str, Any]:
    """``training`` plus ``record`` under ``stage``. A warm-started stage keeps the record of the run it
    continued (the warm-start file's own entry for ``stage``) under ``record["continues"]``."""
    if warm_start is not None and stage in warm_start.training:
        record = {**record, "continues": warm_start.training[stage]}
    return {**training, stage: record}


def save_stage(out_dir: str | Path, weights: StageWeights) -> Path:
    path = save_weights(Path(out_dir) / WEIGHTS, weights.parts, weights.config, training=weights.training)
    log.info("wrote %s (%s)", path, ", ".join(sorted(weights.parts)))
    return path


def frozen(module: nn.Module, state_dict: dict[str, torch.Tensor], device: torch.device) -> nn.Module:
    """Load weights into ``module``, move it, put it in eval mode and freeze it."""
    module.load_state_dict(state_dict)
    return module.to(device).eval().requires_grad_(False)


def teacher_config(cfg: DenoiserConfig) -> DenoiserConfig:
    """The MLD teacher is the student's architecture without the guidance embedding."""
    return dataclasses.replace(cfg, time_cond_proj_dim=None)


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}
