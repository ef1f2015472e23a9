"""Building a :class:`MotionLCMPipeline` from our safetensors files or from official checkpoints."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig, TransformerConfig
from ..models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder
from ..motion import ControlStats, FeatureStats, humanml3d_control_stats, humanml3d_stats
from ..retrieval import MotionBank
from .checkpoints import load_weights
from .official import default_official_config, detect_kind, load_state_dict, split_prefixes

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
EMBEDDED_FILE = WEIGHTS_DIR / "embedded.safetensors"


def _strict_load(module: nn.Module, sd: dict[str, torch.Tensor], what: str, hint: str = "") -> nn.Module:
    """``load_state_dict(strict=True)`` with an error that names mismatched keys and shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(sd)) if own[k].shape != sd[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}{' …' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:4]}{' …' if len(unexpected) > 4 else ''}")
        if shapes:
            parts.append(f"shape mismatch {shapes[:3]}")
        raise ValueError(f"{what} does not match the checkpoint: " + "; ".join(parts) + (f". {hint}" if hint else ""))
    module.load_state_dict(sd, strict=True)
    return module


def resolve_pretrained_path(path_or_name: str | Path) -> Path:
    if str(path_or_name) == "embedded":
        if not EMBEDDED_FILE.is_file():
            raise ValueError(f"the embedded model file is missing ({EMBEDDED_FILE}); reinstall or re-clone the project")
        return EMBEDDED_FILE
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix == ".ckpt":
        raise ValueError(f"{path.name} is an official checkpoint: use MotionLCMPipeline.from_official_checkpoint")
    return path


def load_pretrained(cls: type, path_or_name: str | Path, *, device: str, dtype: str) -> Any:
    """Our files: networks under prefixes, config + training record in the metadata."""
    path = resolve_pretrained_path(path_or_name)
    cfg, parts, info = load_weights(path)
    if "vae" not in parts or "denoiser" not in parts:
        raise ValueError(f"{path.name} lacks the VAE or the denoiser")
    vae = _strict_load(MotionVAE(cfg.vae), parts["vae"], "VAE")
    den = _strict_load(LatentDenoiser(cfg.denoiser), parts["denoiser"], "denoiser")
    teacher = None
    if "teacher" in parts:
        t_cfg = dataclasses.replace(cfg.denoiser, time_cond_proj_dim=None)
        teacher = _strict_load(LatentDenoiser(t_cfg), parts["teacher"], "teacher")
    controlnet = traj = None
    if "controlnet" in parts and cfg.controlnet is not None:
        controlnet = _strict_load(MotionControlNet(cfg.denoiser, cfg.controlnet), parts["controlnet"], "ControlNet")
        traj = _strict_load(TrajectoryEncoder(cfg.traj_encoder), parts["traj_encoder"], "trajectory encoder")
    st = parts.get("stats", {})
    stats = FeatureStats(mean=st["mean"].numpy(), std=st["std"].numpy()) if "mean" in st else humanml3d_stats()
    cstats = (ControlStats(mean=st["control_mean"].numpy(), std=st["control_std"].numpy())
              if "control_mean" in st else humanml3d_control_stats())
    trained = bool(info["training"]) and not info["training"].get("untrained", False)
    desc = "embedded (all-MiniLM-L6-v2)" if path == EMBEDDED_FILE else path.name
    bank = MotionBank.from_state_dict(parts["bank"]) if "bank" in parts else None
    return cls(cfg, vae=vae, denoiser=den, teacher=teacher, controlnet=controlnet, traj_encoder=traj, stats=stats,
               control_stats=cstats, device=device, dtype=dtype, description=desc, trained=trained, info=info,
               bank=bank)


_OFFICIAL_KEYS = {"latent_dim", "hidden_dim", "ff_size", "num_layers", "num_heads", "controlnet_embed_dim",
                  "time_cond_proj_dim", "text_dim", "dropout"}


def apply_arch_overrides(cfg: ModelConfig, overrides: dict[str, Any] | None) -> ModelConfig:
    """Official-style overrides (``latent_dim=[L, D]``, ``hidden_dim``, ``ff_size``, ``num_layers``,
    ``num_heads``, ``controlnet_embed_dim``, ``text_dim``) applied to every network config."""
    if not overrides:
        return cfg
    unknown = set(overrides) - _OFFICIAL_KEYS
    if unknown:
        raise ValueError(f"unknown arch_overrides {sorted(unknown)}; allowed: {sorted(_OFFICIAL_KEYS)}")
    tokens, latent = overrides.get("latent_dim", (cfg.vae.latent_tokens, cfg.vae.latent_dim))
    hidden = overrides.get("hidden_dim") or (cfg.vae.transformer.hidden_dim if cfg.vae.pre_post_proj else latent)
    tr = TransformerConfig(hidden_dim=hidden, ff_size=overrides.get("ff_size", cfg.vae.transformer.ff_size),
                           num_layers=overrides.get("num_layers", cfg.vae.transformer.num_layers),
                           num_heads=overrides.get("num_heads", cfg.vae.transformer.num_heads))
    proj = cfg.vae.pre_post_proj or hidden != latent
    lat = dict(latent_tokens=tokens, latent_dim=latent, transformer=tr)
    vae = dataclasses.replace(cfg.vae, **lat, pre_post_proj=proj)
    den = dataclasses.replace(cfg.denoiser, **lat, pre_post_proj=proj, text_dim=overrides.get("text_dim", cfg.denoiser.text_dim),
                              time_cond_proj_dim=overrides.get("time_cond_proj_dim", cfg.denoiser.time_cond_proj_dim))
    ctrl = cfg.controlnet and dataclasses.replace(cfg.controlnet, embed_dim=overrides.get(
        "controlnet_embed_dim", cfg.controlnet.embed_dim))
    traj = cfg.traj_encoder and dataclasses.replace(cfg.traj_encoder, **lat, post_proj=proj)
    return dataclasses.replace(cfg, vae=vae, denoiser=den, controlnet=ctrl, traj_encoder=traj)


def load_official(cls: type, path: str | Path, *, version: str, text_encoder: str | Path | None, device: str,
                  arch_overrides: dict[str, Any] | None, dtype: str) -> Any:
    """Released ``.ckpt``: kind from its keys, strict loading with the version's config."""
    sd = load_state_dict(path)
    kind = detect_kind(sd)
    if not kind["vae"] or not (kind["mld"] or kind["lcm"]):
        raise ValueError(f"{Path(path).name} holds no VAE + denoiser (a VAE-only checkpoint cannot generate); "
                         "use motionlcm_humanml*.ckpt, mld_humanml*.ckpt or a control checkpoint")
    cfg = apply_arch_overrides(default_official_config(version, control=kind["controlnet"]), arch_overrides)
    if kind["mld"]:
        cfg = dataclasses.replace(cfg, denoiser=dataclasses.replace(cfg.denoiser, time_cond_proj_dim=None))
    hint = ""
    if kind["latent_shape"] and kind["latent_shape"][0] != 2 * cfg.vae.latent_tokens:
        other = "v1" if version == "v2" else "v2"
        hint = f"The file looks like a {other.upper()} checkpoint: pass version='{other}'"
    parts = split_prefixes(sd)
    vae = _strict_load(MotionVAE(cfg.vae), parts["vae"], f"the {version.upper()} VAE", hint)
    den = _strict_load(LatentDenoiser(cfg.denoiser), parts["denoiser"], f"the {version.upper()} denoiser", hint)
    controlnet = traj = None
    if kind["controlnet"]:
        controlnet = _strict_load(MotionControlNet(cfg.denoiser, cfg.controlnet), parts["controlnet"], "ControlNet", hint)
        traj = _strict_load(TrajectoryEncoder(cfg.traj_encoder), parts["traj_encoder"], "trajectory encoder", hint)
    teacher = None
    if kind["mld"]:  # an MLD checkpoint: its denoiser is the teacher, sampled with DDIM + CFG
        teacher = den
    cfg = dataclasses.replace(cfg, has_teacher=teacher is not None)
    return cls(cfg, vae=vae, denoiser=den, teacher=teacher, controlnet=controlnet, traj_encoder=traj,
               stats=humanml3d_stats(), control_stats=humanml3d_control_stats(), text_encoder_path=text_encoder,
               device=device, dtype=dtype, description=f"official {version.upper()} ({Path(path).name})")
