"""Motion ControlNet: a denoiser copy without final norm that emits one zero-Linear residual per block."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ControlNetConfig, DenoiserConfig
from .denoiser import LatentDenoiser


def zero_module(module: nn.Module) -> nn.Module:
    """Zero every parameter (ControlNet outputs start as a no-op)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class MotionControlNet(LatentDenoiser):
    """``(sample, t, text, timestep_cond, traj_latent (B, L, D))`` → list of residuals ``(B, L+2, H)``."""

    has_final_norm = False

    def __init__(self, cfg: DenoiserConfig, control: ControlNetConfig) -> None:
        super().__init__(cfg)
        self.control_cfg = control
        D, E, H = cfg.latent_dim, control.embed_dim, cfg.transformer.hidden_dim
        if control.act == "silu":
            layers = [nn.Linear(D, E), nn.SiLU(), nn.Linear(E, E), nn.SiLU(), nn.Linear(E, D)]
        else:
            layers = [nn.Linear(D, E), nn.Linear(E, E), nn.Linear(E, D)]
        zero_module(layers[-1])
        self.controlnet_cond_embedding = nn.Sequential(*layers)
        n_blocks = cfg.transformer.num_layers
        self.controlnet_down_mid_blocks = nn.ModuleList(zero_module(nn.Linear(H, H)) for _ in range(n_blocks))

    @classmethod
    def from_denoiser(cls, denoiser: LatentDenoiser, control: ControlNetConfig | None = None) -> "MotionControlNet":
        """New ControlNet whose shared weights are copied from ``denoiser`` (zero layers stay zero)."""
        net = cls(denoiser.cfg, control or ControlNetConfig())
        missing, unexpected = net.load_state_dict(denoiser.state_dict(), strict=False)
        unexpected = [k for k in unexpected if not k.startswith("encoder.norm.")]
        if unexpected:
            raise ValueError(f"denoiser keys not in the ControlNet: {unexpected}")
        return net.to(next(denoiser.parameters()))

    def forward(self, sample: torch.Tensor, timestep: int | torch.Tensor, text: torch.Tensor,
                timestep_cond: torch.Tensor | None = None, traj_latent: torch.Tensor | None = None
                ) -> list[torch.Tensor]:
        if traj_latent is None:
            raise ValueError("the ControlNet needs traj_latent (output of the trajectory encoder)")
        sample = sample + self.controlnet_cond_embedding(traj_latent)
        seq = self.embed_inputs(sample, timestep, text, timestep_cond)
        _, outs = self.encoder(seq, collect=True)
        scale = self.control_cfg.control_scale
        return [layer(h) * scale for layer, h in zip(self.controlnet_down_mid_blocks, outs)]
