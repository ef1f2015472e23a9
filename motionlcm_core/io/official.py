"""Official MotionLCM checkpoints: config translation, safe loading, kind detection.

The released ``.ckpt`` files are ``torch.save({"state_dict": {...}})`` with prefixes ``vae.``,
``denoiser.``, ``controlnet.``, ``traj_encoder.`` and evaluator copies ``t2m_*`` (ignored here).
They are read with ``torch.load(weights_only=True)``: anything but tensors is refused.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..config import (ControlNetConfig, DenoiserConfig, ModelConfig, SchedulerConfig, TrajEncoderConfig,
                      TransformerConfig, VAEConfig, v1_config, v2_config)

PREFIXES = ("vae", "denoiser", "controlnet", "traj_encoder")
IGNORED_PREFIXES = ("t2m_moveencoder", "t2m_motionencoder", "t2m_textencoder", "text_encoder")


def _transformer(params: dict[str, Any], hidden: int) -> TransformerConfig:
    return TransformerConfig(hidden_dim=hidden, ff_size=params["ff_size"], num_layers=params["num_layers"],
                             num_heads=params["num_heads"], dropout=params.get("dropout", 0.1),
                             norm_eps=params.get("norm_eps", 1e-5))


def config_from_official(model_cfg: dict[str, Any]) -> ModelConfig:
    """Translate the official resolved ``model`` config (as in a golden ``config.json``) to ours."""
    vp = model_cfg["motion_vae"]["params"]
    dp = model_cfg["denoiser"]["params"]
    tokens, latent = vp["latent_dim"]
    proj = bool(vp.get("force_pre_post_proj")) or vp.get("hidden_dim") not in (None, latent)
    hidden = vp.get("hidden_dim") or latent
    vae = VAEConfig(nfeats=vp["nfeats"], latent_tokens=tokens, latent_dim=latent, pre_post_proj=proj,
                    transformer=_transformer(vp, hidden))
    den = DenoiserConfig(latent_tokens=tokens, latent_dim=latent, pre_post_proj=proj, text_dim=dp["text_dim"],
                         time_dim=dp["time_dim"], text_act="relu" if dp.get("text_act_fn") == "relu" else "none",
                         time_cond_proj_dim=dp.get("time_cond_proj_dim"), transformer=_transformer(dp, hidden))
    control = traj = None
    if model_cfg.get("is_controlnet"):
        control = ControlNetConfig(embed_dim=dp["controlnet_embed_dim"],
                                   act="silu" if dp.get("controlnet_act_fn") == "silu" else "none")
        tp = model_cfg["traj_encoder"]["params"]
        traj = TrajEncoderConfig(njoints=tp["nfeats"], latent_tokens=tokens, latent_dim=latent,
                                 post_proj=bool(tp.get("force_post_proj")) or proj,
                                 transformer=_transformer(tp, hidden))
    sp = model_cfg["scheduler"]
    base = v2_config() if "timesteps_step_map" in sp.get("params", {}) else v1_config()
    sched: SchedulerConfig = base.scheduler
    if "cfg_step_map" in sp:
        sched = dataclasses.replace(sched, cfg_step_map={int(k): float(v) for k, v in sp["cfg_step_map"].items()})
    elif isinstance(model_cfg.get("guidance_scale"), (int, float)):
        g = float(model_cfg["guidance_scale"])
        sched = dataclasses.replace(sched, cfg_step_map={k: g for k in sched.lcm_timesteps})
    return ModelConfig(version=base.version, vae=vae, denoiser=den, controlnet=control, traj_encoder=traj,
                       scheduler=sched)


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an official ``.ckpt`` safely: ``weights_only=True``; refuse pickled code or non-tensors."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler refuses code objects, custom classes…
        raise ValueError(f"{path.name} is not a plain tensor checkpoint and was refused "
                         f"(only tensors are loaded, never pickled code): {exc}") from exc
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or not sd:
        raise ValueError(f"{path.name}: expected a dict with a 'state_dict' of tensors")
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path.name}: entries that are not tensors were refused: {bad[:5]}")
    return sd


def split_prefixes(sd: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``{"vae": {...}, "denoiser": {...}, ...}``; evaluator and text-encoder keys are dropped."""
    parts: dict[str, dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        head, _, rest = key.partition(".")
        if head in PREFIXES:
            parts.setdefault(head, {})[rest] = value
        elif head not in IGNORED_PREFIXES:
            unknown.append(key)
    if unknown:
        raise ValueError(f"unexpected checkpoint keys (not a MotionLCM checkpoint?): {unknown[:5]}")
    return parts


def detect_kind(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The official detection rules: which networks a file holds and its guidance-embedding size."""
    cond = sd.get("denoiser.time_embedding.cond_proj.weight")
    return {
        "vae": "vae.skel_embedding.weight" in sd,
        "mld": "denoiser.time_embedding.linear_1.weight" in sd and cond is None,
        "lcm": cond is not None,
        "time_cond_proj_dim": int(cond.shape[1]) if cond is not None else None,
        "controlnet": "controlnet.controlnet_cond_embedding.0.weight" in sd,
        "latent_shape": tuple(sd["vae.global_motion_token"].shape) if "vae.global_motion_token" in sd else None,
    }


def default_official_config(version: str, *, control: bool) -> ModelConfig:
    """Full official configuration for ``version`` ('v1' or 'v2')."""
    if version not in ("v1", "v2"):
        raise ValueError(f"version must be 'v1' or 'v2', got {version!r}")
    return v2_config(control=control) if version == "v2" else v1_config(control=control)
