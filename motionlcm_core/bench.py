"""``motionlcm bench``: per-stage latency medians of the V2 full config (random weights) or a weights file.

Method: 2 warm-up calls, then ``runs`` timed calls per case; median wall time (perf_counter, with
device synchronisation). Reference (official implementation, this kind of 2-core CPU, fp32):
LCM 1-step + decode batch 1: 47.6 ms, batch 32: 1002 ms; 4-step + decode batch 1: 74 ms."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import numpy as np
import torch

from .config import v2_config
from .control.passes import PinPassConfig
from .control.targets import Control
from .device import synchronize
from .motion import recover_joints
from .pipeline import MotionLCMPipeline
from .sampling import lcm_sample

OFFICIAL_MS = {("lcm1+decode", 1): 47.6, ("lcm1+decode", 32): 1001.7, ("lcm4+decode", 1): 74.4,
               ("lcm4+decode", 32): 1445.4, ("lcm2+decode", 1): 57.5, ("decode", 1): 36.6, ("decode", 32): 906.7,
               ("lcm1", 1): 10.2, ("lcm4", 1): 37.6, ("ctrl1+decode", 1): 91.6, ("ctrl1+decode", 32): 1988.7,
               ("teacher_ddim50", 1): 529.7}


def median_ms(fn: Callable[[], object], device: torch.device, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _cases(pipe: MotionLCMPipeline, batch: int, frames: int) -> dict[str, Callable[[], object]]:
    dev, dt = pipe.device, pipe.dtype
    g = torch.Generator().manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(batch, 1, pipe.cfg.denoiser.text_dim, generator=g), dim=-1)
    text = text.to(dev, dt)
    noise = torch.randn(batch, pipe.cfg.denoiser.latent_tokens, pipe.cfg.denoiser.latent_dim, generator=g).to(dev, dt)
    mask = torch.ones(batch, frames, dtype=torch.bool, device=dev)
    lat = lcm_sample(pipe.denoiser, pipe.lcm_scheduler, noise, text, num_steps=1)
    feats = pipe.stats.denormalize(pipe.vae.decode(lat, mask).float())

    def sample(n: int, decode: bool, traj=None):
        def run():
            z = lcm_sample(pipe.denoiser, pipe.lcm_scheduler, noise, text, num_steps=n, generator=g,
                           controlnet=pipe.controlnet if traj is not None else None, traj_latent=traj)
            return pipe.vae.decode(z, mask) if decode else z
        return run

    cases = {"lcm1": sample(1, False), "lcm2": sample(2, False), "lcm4": sample(4, False),
             "decode": lambda: pipe.vae.decode(lat, mask), "joints": lambda: recover_joints(feats),
             "lcm1+decode": sample(1, True), "lcm2+decode": sample(2, True), "lcm4+decode": sample(4, True)}
    if pipe.has_controlnet:
        hint = torch.zeros(batch, frames, 22, 3, device=dev, dtype=dt)
        hmask = torch.zeros(batch, frames, 22, 3, dtype=torch.bool, device=dev)
        hmask[:, ::4, 0] = True

        def ctrl():
            traj = pipe.traj_encoder(hint, hmask)
            return sample(1, True, traj)()
        cases["ctrl1+decode"] = ctrl
    return cases


def run_bench(pipe: MotionLCMPipeline, batches: list[int], frames: int, runs: int, label: str) -> list[dict]:
    results = []
    with torch.inference_mode():
        for batch in batches:
            for name, fn in _cases(pipe, batch, frames).items():
                ms = median_ms(fn, pipe.device, runs if batch == 1 else max(runs // 2, 5))
                results.append({"name": name, "batch": batch, "median_ms": round(ms, 2), "dtype": label,
                                "device": pipe.device_label, "official_ms": OFFICIAL_MS.get((name, batch))})
            if batch == 1 and pipe.has_teacher:
                uncond = torch.zeros(1, 1, pipe.cfg.denoiser.text_dim, device=pipe.device, dtype=pipe.dtype)
                from .sampling import ddim_cfg_sample
                text = torch.randn(1, 1, pipe.cfg.denoiser.text_dim, device=pipe.device, dtype=pipe.dtype)
                z = torch.randn(1, pipe.cfg.denoiser.latent_tokens, pipe.cfg.denoiser.latent_dim,
                                device=pipe.device, dtype=pipe.dtype)
                ms = median_ms(lambda: ddim_cfg_sample(pipe.teacher, pipe.ddim_scheduler, z, text, uncond), pipe.device,
                               max(runs // 3, 3), warmup=1)
                results.append({"name": "teacher_ddim50", "batch": 1, "median_ms": round(ms, 2), "dtype": label,
                                "device": pipe.device_label, "official_ms": OFFICIAL_MS.get(("teacher_ddim50", 1))})
    return results


def control_variants_ms(pipe: MotionLCMPipeline, frames: int, runs: int, label: str) -> list[dict]:
    """Batch-1 latency of pinned generation: ControlNet only, + refinement, + exact pass (issue 6)."""
    if not pipe.has_controlnet:
        return []
    g = torch.Generator().manual_seed(2)
    text = torch.nn.functional.normalize(torch.randn(1, pipe.cfg.denoiser.text_dim, generator=g), dim=-1)
    pos = np.zeros((frames, 22, 3), np.float32)
    pos[:, 0] = [0.0, 0.9, 0.0]
    pos[:, 0, 2] = np.linspace(0, 3, frames)
    mask = np.zeros((frames, 22), bool)
    mask[::20, 0] = True
    mask[frames // 2, 21] = True
    pos[frames // 2, 21] = [-0.3, 1.5, 1.8]
    ctrl = Control(pos, mask)
    variants = {"control": dict(passes=PinPassConfig(refine=None, exact=None)),
                "control+refine": dict(passes=PinPassConfig(exact=None)), "control+refine+exact": {}}
    out = []
    for name, kw in variants.items():
        ms = median_ms(lambda: pipe.generate(text_embeddings=text, lengths=frames, control=ctrl, seed=0, **kw),
                       pipe.device, runs)
        out.append({"name": name, "batch": 1, "median_ms": round(ms, 2), "dtype": label,
                    "device": pipe.device_label, "official_ms": OFFICIAL_MS.get(("ctrl1+decode", 1))})
    return out


def text_encoding_ms(pipe: MotionLCMPipeline, batches: list[int], runs: int) -> list[dict]:
    """Embedded all-MiniLM-L6-v2 (sentence-t5-large is not available offline here)."""
    from .text_encoder import TextEncoder
    enc = TextEncoder.embedded(pipe.device)
    out = []
    for batch in batches:
        prompts = [f"a person walks forward and waves {i}" for i in range(batch)]
        ms = median_ms(lambda: enc.encode(prompts), pipe.device, runs)
        out.append({"name": "text_encode(all-MiniLM-L6-v2)", "batch": batch, "median_ms": round(ms, 2),
                    "dtype": "fp32", "device": pipe.device_label, "official_ms": None})
    return out


def bf16_error(pipe32: MotionLCMPipeline, pipe16: MotionLCMPipeline, frames: int) -> dict:
    """Joint error (m) of the bf16 path against fp32 for the same weights, noise and text."""
    g = torch.Generator().manual_seed(1)
    text = torch.nn.functional.normalize(torch.randn(4, pipe32.cfg.denoiser.text_dim, generator=g), dim=-1)
    a = pipe32.generate(text_embeddings=text, lengths=[frames] * 4, seed=3)
    b = pipe16.generate(text_embeddings=text, lengths=[frames] * 4, seed=3)
    err = np.linalg.norm(a.joints - b.joints, axis=-1)
    return {"bf16_joint_err_mean_m": float(err.mean()), "bf16_joint_err_max_m": float(err.max())}


def main(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = args.dtypes.split(",")
    pipes = {}
    for dt in dtypes:
        if args.model:
            pipes[dt] = MotionLCMPipeline.from_pretrained(args.model, device=args.device, dtype=dt)
        else:
            pipes[dt] = MotionLCMPipeline.from_config(v2_config(control=True), device=args.device, dtype=dt, seed=0)
    results = text_encoding_ms(pipes[dtypes[0]], batches, args.runs)
    for dt, pipe in pipes.items():
        results += run_bench(pipe, batches, args.frames, args.runs, dt)
        if dt == "fp32":
            results += control_variants_ms(pipe, args.frames, args.runs, dt)
    extra = bf16_error(pipes["fp32"], pipes["bf16"], args.frames) if {"fp32", "bf16"} <= set(pipes) else {}
    report = {"config": args.model or "v2 full (random weights)", "frames": args.frames,
              "torch_threads": torch.get_num_threads(), "results": results, **extra}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"# motionlcm bench — {report['config']}, {args.frames} frames, {torch.get_num_threads()} threads, "
          f"device {pipes[dtypes[0]].device_label}")
    print(f"{'case':32s} {'batch':>5s} {'dtype':>5s} {'median ms':>10s} {'official ms':>12s}")
    for r in results:
        off = f"{r['official_ms']:.1f}" if r["official_ms"] else "-"
        print(f"{r['name']:32s} {r['batch']:5d} {r['dtype']:>5s} {r['median_ms']:10.1f} {off:>12s}")
    for k, v in extra.items():
        print(f"{k}: {v:.2e}")
    return 0
