"""Our weight files: one ``.safetensors`` holding every network under a prefix, config in metadata.

Layout: tensors ``vae.*``, ``denoiser.*`` (LCM student), optional ``teacher.*`` (MLD teacher),
``controlnet.*``, ``traj_encoder.*``, and ``stats.mean``/``stats.std`` (263,), ``stats.control_mean``/
``stats.control_std`` (22, 3). Metadata: ``config`` (ModelConfig JSON), ``format`` = "motionlcm-blender/1",
``training`` (free JSON: commands, data, steps, metrics) and ``text_encoder``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..config import ModelConfig, model_config_from_json, to_json

FORMAT = "motionlcm-blender/1"


def save_weights(path: str | Path, tensors: dict[str, dict[str, torch.Tensor]], cfg: ModelConfig, *,
                 training: dict[str, Any] | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``{prefix: state_dict}`` with the config (and training record) in the metadata."""
    flat: dict[str, torch.Tensor] = {}
    for prefix, sd in tensors.items():
        for key, value in sd.items():
            v = value.detach().to("cpu")
            if v.is_floating_point() and prefix not in ("stats", "bank"):    # the bank keeps its own fp16
                v = v.to(dtype)
            flat[f"{prefix}.{key}"] = v.contiguous()
    meta = {"format": FORMAT, "config": to_json(cfg), "text_encoder": cfg.text_encoder,
            "training": json.dumps(training or {}, sort_keys=True)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(flat, str(path), metadata=meta)
    return path


def load_weights(path: str | Path) -> tuple[ModelConfig, dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read a file written by :func:`save_weights` → (config, {prefix: fp32 state dict}, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    parts: dict[str, dict[str, torch.Tensor]] = {}
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT or "config" not in meta:
            raise ValueError(f"{path.name} is not a MotionLCM-for-Blender weights file (no config in its metadata); "
                             "official .ckpt files load with MotionLCMPipeline.from_official_checkpoint")
        for key in f.keys():
            prefix, _, rest = key.partition(".")
            parts.setdefault(prefix, {})[rest] = f.get_tensor(key).float()
    cfg = model_config_from_json(meta["config"])
    info = {"training": json.loads(meta.get("training", "{}")), "text_encoder": meta.get("text_encoder")}
    return cfg, parts, info
