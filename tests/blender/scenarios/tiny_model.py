# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a tiny random-weights MotionLCM checkpoint (with a ControlNet) in our safetensors format.

Used while no trained embedded model exists: it loads through the real ``from_pretrained(path)`` path.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path


def write_tiny_model(path: Path) -> Path:
    """Small V2-layout model (hidden 32, 1 layer) with the all-MiniLM-L6-v2 text encoder (384-d)."""
    from motionlcm_core.config import (ControlNetConfig, DenoiserConfig, ModelConfig, TrajEncoderConfig,
                                       TransformerConfig, VAEConfig)
    from motionlcm_core.io.checkpoints import save_weights
    from motionlcm_core.pipeline import MotionLCMPipeline
    tr = TransformerConfig(hidden_dim=32, ff_size=64, num_layers=1, num_heads=2, dropout=0.0)
    cfg = ModelConfig(version="v2", vae=VAEConfig(latent_tokens=2, latent_dim=8, transformer=tr),
                      denoiser=DenoiserConfig(latent_tokens=2, latent_dim=8, text_dim=384, time_dim=64,
                                              time_cond_proj_dim=32, transformer=tr),
                      controlnet=ControlNetConfig(embed_dim=32),
                      traj_encoder=TrajEncoderConfig(latent_tokens=2, latent_dim=8, transformer=tr),
                      text_encoder="all-MiniLM-L6-v2")
    pipe = MotionLCMPipeline.from_config(cfg, device="cpu", with_teacher=False)
    parts = {"vae": pipe.vae.state_dict(), "denoiser": pipe.denoiser.state_dict(),
             "controlnet": pipe.controlnet.state_dict(), "traj_encoder": pipe.traj_encoder.state_dict()}
    return save_weights(path, parts, cfg, training={"untrained": True})


if __name__ == "__main__":
    import sys
    print(write_tiny_model(Path(sys.argv[1])))
