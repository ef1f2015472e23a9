"""Frozen configuration dataclasses for every component, with JSON round-trip.

A model is fully described by a :class:`ModelConfig`; it is stored as JSON in the metadata of our
safetensors files so that loading rebuilds exactly the same networks.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

V2_TIMESTEPS: dict[int, tuple[int, ...]] = {1: (799,), 2: (699, 299), 4: (699, 399, 299, 299)}
V2_CFG: dict[int, float] = {1: 8.0, 2: 12.5, 4: 13.5}
V1_TIMESTEPS: dict[int, tuple[int, ...]] = {1: (999,), 2: (999, 499), 4: (999, 759, 499, 259)}
V1_CFG: dict[int, float] = {1: 7.5, 2: 7.5, 4: 7.5}


@dataclass(frozen=True)
class TransformerConfig:
    """Skip-connection transformer stack shared by VAE, denoiser and trajectory encoder.

    ``num_layers`` is odd: (n-1)/2 input blocks, one middle block, (n-1)/2 output blocks.
    """

    hidden_dim: int = 256
    ff_size: int = 1024
    num_layers: int = 9
    num_heads: int = 4
    dropout: float = 0.1
    norm_eps: float = 1e-5
    max_len: int = 500

    def __post_init__(self) -> None:
        if self.num_layers % 2 != 1 or self.num_layers < 1:
            raise ValueError(f"num_layers must be odd (input + middle + output blocks), got {self.num_layers}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} must be divisible by num_heads {self.num_heads}")


@dataclass(frozen=True)
class VAEConfig:
    """Motion VAE: ``feats (B, T, nfeats)`` ⇄ ``latents (B, latent_tokens, latent_dim)``.

    ``pre_post_proj`` adds the Linear hidden↔latent projections (V2); V1 has none and then
    ``latent_dim`` must equal ``transformer.hidden_dim``.
    """

    nfeats: int = 263
    latent_tokens: int = 16
    latent_dim: int = 32
    pre_post_proj: bool = True
    transformer: TransformerConfig = field(default_factory=TransformerConfig)

    def __post_init__(self) -> None:
        if not self.pre_post_proj and self.latent_dim != self.transformer.hidden_dim:
            raise ValueError("without pre/post projections latent_dim must equal hidden_dim (V1 layout)")


@dataclass(frozen=True)
class DenoiserConfig:
    """Latent denoiser (MLD teacher when ``time_cond_proj_dim`` is None, LCM student otherwise)."""

    latent_tokens: int = 16
    latent_dim: int = 32
    pre_post_proj: bool = True
    text_dim: int = 768
    time_dim: int = 768
    text_act: Literal["none", "relu"] = "none"
    time_cond_proj_dim: int | None = 256
    transformer: TransformerConfig = field(default_factory=TransformerConfig)

    def __post_init__(self) -> None:
        if self.text_act not in ("none", "relu"):
            raise ValueError(f"text_act must be 'none' (V2) or 'relu' (V1), got {self.text_act!r}")
        if not self.pre_post_proj and self.latent_dim != self.transformer.hidden_dim:
            raise ValueError("without pre/post projections latent_dim must equal hidden_dim (V1 layout)")
        if self.time_dim % 2:
            raise ValueError("time_dim must be even")


@dataclass(frozen=True)
class ControlNetConfig:
    """Motion ControlNet condition MLP: V2 uses SiLU between its Linears, V1 none."""

    embed_dim: int = 256
    act: Literal["silu", "none"] = "silu"
    control_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.act not in ("silu", "none"):
            raise ValueError(f"act must be 'silu' (V2) or 'none' (V1), got {self.act!r}")


@dataclass(frozen=True)
class TrajEncoderConfig:
    """Trajectory encoder: hint ``(B, T, njoints, 3)`` → ``(B, latent_tokens, latent_dim)``."""

    njoints: int = 22
    latent_tokens: int = 16
    latent_dim: int = 32
    post_proj: bool = True
    transformer: TransformerConfig = field(default_factory=TransformerConfig)


@dataclass(frozen=True)
class SchedulerConfig:
    """DDPM schedule + LCM/DDIM sampling tables."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    lcm_timesteps: dict[int, tuple[int, ...]] = field(default_factory=lambda: dict(V2_TIMESTEPS))
    # Timesteps of pinned sampling (with a ControlNet), per step count; a count not listed uses lcm_timesteps.
    # Empty for the official models (their ControlNet is trained on the LCM grid). A ControlNet trained only
    # at t = T−1 (``lcm_grid=1``) records here the timesteps it was trained for, see control_timesteps_for.
    control_timesteps: dict[int, tuple[int, ...]] = field(default_factory=dict)
    cfg_step_map: dict[int, float] = field(default_factory=lambda: dict(V2_CFG))
    ddim_steps: int = 50
    ddim_guidance: float = 7.5
    timestep_scaling: float = 10.0
    sigma_data: float = 0.5


def control_timesteps_for(sched: SchedulerConfig, lcm_grid: int) -> dict[int, tuple[int, ...]]:
    """Pinned-sampling timesteps for a ControlNet trained at the ``lcm_grid`` points ``(n+1)·k − 1``
    (``k = T / lcm_grid``): a step count whose first timestep is not among them starts at the highest
    (T − 1) instead; its later steps are kept. The spec's 10-point grid holds every V2 timestep (→ ``{}``);
    ``lcm_grid=1`` (trained only at T − 1) gives ``{1: (999,), 2: (999, 299), 4: (999, 399, 299, 299)}``."""
    if not isinstance(lcm_grid, int) or lcm_grid < 1 or sched.num_train_timesteps % lcm_grid:
        raise ValueError(f"lcm_grid must be a positive divisor of {sched.num_train_timesteps}, got {lcm_grid!r}")
    k = sched.num_train_timesteps // lcm_grid
    grid = {(n + 1) * k - 1 for n in range(lcm_grid)}
    return {n: (max(grid),) + tuple(ts[1:]) for n, ts in sorted(sched.lcm_timesteps.items()) if ts[0] not in grid}


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a full MotionLCM model."""

    version: Literal["v1", "v2"] = "v2"
    vae: VAEConfig = field(default_factory=VAEConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    controlnet: ControlNetConfig | None = None
    traj_encoder: TrajEncoderConfig | None = None
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    text_encoder: str = "sentence-t5-large"
    max_frames: int = 196
    min_frames: int = 16
    has_teacher: bool = False

    def __post_init__(self) -> None:
        if self.version not in ("v1", "v2"):
            raise ValueError(f"version must be 'v1' or 'v2', got {self.version!r}")


def v2_config(*, control: bool = False) -> ModelConfig:
    """Full official V2 configuration (latent 16×32, hidden 256)."""
    return ModelConfig(
        version="v2",
        controlnet=ControlNetConfig() if control else None,
        traj_encoder=TrajEncoderConfig() if control else None,
    )


def v1_config(*, control: bool = False) -> ModelConfig:
    """Full official V1 configuration (latent 1×256, no projections, ReLU text projection)."""
    return ModelConfig(
        version="v1",
        vae=VAEConfig(latent_tokens=1, latent_dim=256, pre_post_proj=False),
        denoiser=DenoiserConfig(latent_tokens=1, latent_dim=256, pre_post_proj=False, text_act="relu"),
        controlnet=ControlNetConfig(act="none") if control else None,
        traj_encoder=TrajEncoderConfig(latent_tokens=1, latent_dim=256, post_proj=False) if control else None,
        scheduler=SchedulerConfig(lcm_timesteps=dict(V1_TIMESTEPS), cfg_step_map=dict(V1_CFG)),
    )


# --------------------------------------------------------------------------- JSON round trip
def to_dict(cfg: Any) -> Any:
    """Dataclass (nested) → JSON-able dict. Int dict keys become strings."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, tuple):
        return [to_dict(v) for v in cfg]
    return cfg


def _build(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
    hints = {"transformer": TransformerConfig, "vae": VAEConfig, "denoiser": DenoiserConfig,
             "controlnet": ControlNetConfig, "traj_encoder": TrajEncoderConfig, "scheduler": SchedulerConfig}
    for key, value in data.items():
        if key in hints and isinstance(value, dict):
            value = _build(hints[key], value)
        elif key in ("lcm_timesteps", "control_timesteps"):
            value = {int(k): tuple(int(t) for t in v) for k, v in value.items()}
        elif key == "cfg_step_map":
            value = {int(k): float(v) for k, v in value.items()}
        kwargs[key] = value
    return cls(**kwargs)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Inverse of :func:`to_dict` for any config class of this module."""
    return _build(cls, data)


def to_json(cfg: Any) -> str:
    return json.dumps(to_dict(cfg), sort_keys=True)


def model_config_from_json(text: str) -> ModelConfig:
    return from_dict(ModelConfig, json.loads(text))
