"""Quick physical checks of a trained weights file (recorded with the embedded model).

- text: "a person walks forward" sampled by the 1-step student and by the DDIM-50/CFG-7.5 teacher →
  pelvis forward travel (+Z, m) and speed, sideways drift, mean height of the lower foot (m);
- control: pelvis hints from real validation walks at 25 % of the frames → pelvis error at the
  controlled frames with and without the ControlNet (1 step, same noise).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..data import EVAL_DATA_CONFIG, cmu_dataset, collate_motion
from ..device import make_generator
from ..io.checkpoints import load_weights
from ..models import LatentDenoiser, MotionControlNet, MotionVAE, TrajectoryEncoder
from ..motion import ControlStats, FeatureStats, recover_joints
from ..sampling import ddim_cfg_sample, lcm_sample
from ..schedulers import DDIMScheduler, LCMScheduler
from .stage_weights import frozen, teacher_config
from .text_table import open_text_encoder

FOOT_JOINTS = (7, 8, 10, 11)


def _networks(path: Path) -> dict:
    cfg, parts, _ = load_weights(path)
    cpu = torch.device("cpu")
    nets = {"cfg": cfg, "vae": frozen(MotionVAE(cfg.vae), parts["vae"], cpu),
            "student": frozen(LatentDenoiser(cfg.denoiser), parts["denoiser"], cpu),
            "stats": FeatureStats(parts["stats"]["mean"].numpy(), parts["stats"]["std"].numpy())}
    if "teacher" in parts:
        nets["teacher"] = frozen(LatentDenoiser(teacher_config(cfg.denoiser)), parts["teacher"], cpu)
    if "controlnet" in parts:
        nets["controlnet"] = frozen(MotionControlNet(cfg.denoiser, cfg.controlnet), parts["controlnet"], cpu)
        nets["traj"] = frozen(TrajectoryEncoder(cfg.traj_encoder), parts["traj_encoder"], cpu)
        nets["cstats"] = ControlStats(parts["stats"]["control_mean"].numpy(), parts["stats"]["control_std"].numpy())
    return nets


def walk_numbers(joints: torch.Tensor, fps: int = 20) -> dict[str, float]:
    """``joints (B, T, 22, 3)`` → mean pelvis travel along +Z and X (m), speed (m/s), lower-foot height (m)."""
    pelvis = joints[:, :, 0]
    forward = pelvis[:, -1, 2] - pelvis[:, 0, 2]
    sideways = pelvis[:, -1, 0] - pelvis[:, 0, 0]
    foot = joints[:, :, FOOT_JOINTS, 1].amin(dim=-1)
    seconds = (joints.shape[1] - 1) / fps
    return {"pelvis_forward_m": round(float(forward.mean()), 3), "forward_min_m": round(float(forward.min()), 3),
            "speed_m_s": round(float(forward.mean()) / seconds, 3),
            "pelvis_sideways_m": round(float(sideways.abs().mean()), 3),
            "lower_foot_height_m": round(float(foot.mean()), 3),
            "pelvis_height_m": round(float(pelvis[..., 1].mean()), 3)}


@torch.no_grad()
def text_sanity(nets: dict, prompt: str, *, samples: int = 8, frames: int = 120, seed: int = 0) -> dict:
    cfg, vae, stats = nets["cfg"], nets["vae"], nets["stats"]
    encoder = open_text_encoder(cfg.text_encoder)
    text = encoder.encode([prompt] * samples)
    mask = torch.ones(samples, frames, dtype=torch.bool)
    shape = (samples, cfg.vae.latent_tokens, cfg.vae.latent_dim)
    noise = torch.randn(shape, generator=make_generator(seed))
    out = {}
    z = lcm_sample(nets["student"], LCMScheduler(cfg.scheduler), noise.clone(), text, num_steps=1)
    out["lcm1"] = walk_numbers(recover_joints(stats.denormalize(vae.decode(z, mask))))
    if "teacher" in nets:
        z = ddim_cfg_sample(nets["teacher"], DDIMScheduler(cfg.scheduler), noise.clone(), text, encoder.encode([""]))
        out["teacher_ddim50"] = walk_numbers(recover_joints(stats.denormalize(vae.decode(z, mask))))
    return {"prompt": prompt, "samples": samples, "frames": frames, **out}


@torch.no_grad()
def control_sanity(nets: dict, *, items: int = 16, density: float = 0.25, seed: int = 0) -> dict:
    """Pelvis error (m) at controlled frames: ControlNet vs plain 1-step student, on real val crops."""
    cfg, vae, stats, cstats = nets["cfg"], nets["vae"], nets["stats"], nets["cstats"]
    val = cmu_dataset("val", cfg=EVAL_DATA_CONFIG, stats=stats, seed=seed)
    batch = collate_motion([val[i] for i in range(min(items, len(val)))])
    joints = recover_joints(stats.denormalize(batch.feats))
    gen = make_generator(seed)
    hint_mask = torch.zeros(joints.shape, dtype=torch.bool)
    for b, length in enumerate(batch.lengths):
        frames = torch.randperm(length, generator=gen)[:max(1, int(length * density))]
        hint_mask[b, frames, 0] = True
    hint = cstats.normalize(joints) * hint_mask
    text = open_text_encoder(cfg.text_encoder).encode(batch.captions)
    noise = torch.randn((len(batch.lengths), cfg.vae.latent_tokens, cfg.vae.latent_dim), generator=gen)
    sched = LCMScheduler(cfg.scheduler)
    errors = {}
    for name, kwargs in (("no_control", {}), ("controlnet", {"controlnet": nets["controlnet"],
                                                            "traj_latent": nets["traj"](hint, hint_mask)})):
        z = lcm_sample(nets["student"], sched, noise.clone(), text, num_steps=1, **kwargs)
        pred = recover_joints(stats.denormalize(vae.decode(z, batch.mask)))
        m = hint_mask[..., 0, 0]
        errors[name] = round(float((pred[:, :, 0] - joints[:, :, 0]).norm(dim=-1)[m].mean()), 4)
    return {"pelvis_err_m": errors, "items": len(batch.lengths), "density": density}


def sanity_report(path: str | Path, *, prompt: str = "a person walks forward", seed: int = 0) -> dict:
    """All checks of a weights file (control only when it holds a ControlNet)."""
    nets = _networks(Path(path))
    report = {"text": text_sanity(nets, prompt, seed=seed)}
    if "controlnet" in nets:
        report["control"] = control_sanity(nets, seed=seed)
    return report
