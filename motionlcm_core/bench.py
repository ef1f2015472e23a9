"""``motionlcm bench``: per-stage latency medians of the V2 full config (random weights) or a weights file,
comparing our own configurations on this machine: each dtype against fp32 (and which dtype ``auto`` picks
here, and why), packed against padded batches of mixed lengths.

Method: 2 warm-up calls, then ``runs`` timed calls per case; median wall time (perf_counter, with
device synchronisation). Ratios compare cases measured in the same run only; figures from another
machine are never shown (they would mislead)."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch

from .config import v2_config
from .control.passes import PinPassConfig
from .control.targets import Control
from .device import choose_dtype, hardware_name, resolve_device, synchronize
from .motion import recover_joints
from .pipeline import MotionLCMPipeline
from .sampling import lcm_sample

MIXED_LENGTHS = (40, 196)
"""Mixed-length cases draw each clip's length uniformly from this range (frames, inclusive), seed 0."""


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


def alternating_ms(fns: dict[Any, Callable[[], object]], device: torch.device, runs: int,
                   warmup: int = 2) -> dict[Any, float]:
    """Median ms of each function, timed in turn, so that load from other jobs hits all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[Any, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for key, fn in fns.items():
            times[key].append(median_ms(fn, device, 1, warmup=0))
    return {k: statistics.median(v) for k, v in times.items()}


def _row(name: str, batch: int, ms: float, dtype: str, layout: str = "-") -> dict:
    return {"name": name, "batch": batch, "dtype": dtype, "layout": layout, "median_ms": round(ms, 2)}


def _inputs(pipe: MotionLCMPipeline, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed text ``(B, 1, text_dim)`` and noise ``(B, L, D)`` on the pipeline's device and dtype."""
    g = torch.Generator().manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(batch, 1, pipe.cfg.denoiser.text_dim, generator=g), dim=-1)
    noise = torch.randn(batch, pipe.cfg.denoiser.latent_tokens, pipe.cfg.denoiser.latent_dim, generator=g)
    return text.to(pipe.device, pipe.dtype), noise.to(pipe.device, pipe.dtype)


def _cases(pipe: MotionLCMPipeline, batch: int, frames: int) -> dict[str, Callable[[], object]]:
    dev = pipe.device
    g = torch.Generator().manual_seed(0)
    text, noise = _inputs(pipe, batch)
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
        hint, hmask = _hint(pipe, batch, frames)

        def ctrl():
            traj = pipe.traj_encoder(hint, hmask)
            return sample(1, True, traj)()
        cases["ctrl1+decode"] = ctrl
    return cases


def _hint(pipe: MotionLCMPipeline, batch: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pelvis pinned every 4th frame: ``hint``, ``hint_mask (B, T, 22, 3)``."""
    hint = torch.zeros(batch, frames, 22, 3, device=pipe.device, dtype=pipe.dtype)
    hmask = torch.zeros(batch, frames, 22, 3, dtype=torch.bool, device=pipe.device)
    hmask[:, ::4, 0] = True
    return hint, hmask


def _teacher(pipe: MotionLCMPipeline) -> Callable[[], object]:
    from .sampling import ddim_cfg_sample
    text, z = _inputs(pipe, 1)
    return lambda: ddim_cfg_sample(pipe.teacher, pipe.ddim_scheduler, z, text, torch.zeros_like(text))


def run_bench(pipes: dict[str, MotionLCMPipeline], batches: list[int], frames: int, runs: int) -> list[dict]:
    """Every case on every dtype; the dtypes of one case are timed in turn (:func:`alternating_ms`)."""
    device = pipes["fp32"].device
    results = []
    with torch.inference_mode():
        for batch in batches:
            cases = {dt: _cases(pipe, batch, frames) for dt, pipe in pipes.items()}
            for name in cases["fp32"]:
                ms = alternating_ms({dt: c[name] for dt, c in cases.items()}, device,
                                    runs if batch == 1 else max(runs // 2, 3))
                results += [_row(name, batch, t, dt) for dt, t in ms.items()]
            teachers = {dt: _teacher(pipe) for dt, pipe in pipes.items() if pipe.has_teacher}
            if batch == 1 and teachers:
                ms = alternating_ms(teachers, device, max(runs // 3, 3), warmup=1)
                results += [_row("teacher_ddim50", 1, t, dt) for dt, t in ms.items()]
    return results


def packing_ms(pipes: dict[str, MotionLCMPipeline], batches: list[int], frames: int, runs: int) -> list[dict]:
    """Packed against padded (``packed=False``), each dtype: decoding clips of mixed lengths, and the
    trajectory encoder with sparse pins (a few controlled frames among ``frames``); all timed in turn."""
    results = []
    device = pipes["fp32"].device
    lo, hi = MIXED_LENGTHS[0], min(MIXED_LENGTHS[1], frames)
    layouts = {"padded": False, "packed": True}
    with torch.inference_mode():
        for batch in [b for b in batches if b > 1]:
            lengths = torch.from_numpy(np.random.default_rng(0).integers(lo, hi + 1, batch))
            mask = (torch.arange(hi)[None] < lengths[:, None]).to(device)
            fns = {}
            for dt, pipe in pipes.items():
                lat = _inputs(pipe, batch)[1]
                fns.update({(dt, lay): (lambda v=pipe.vae, z=lat, p=p: v.decode(z, mask, packed=p))
                            for lay, p in layouts.items()})
            ms = alternating_ms(fns, device, max(runs // 2, 3))
            results += [_row(f"decode(mixed {lo}-{hi}, padded to {hi})", batch, t, dt, lay)
                        for (dt, lay), t in ms.items()]
        fns = {}
        for dt, pipe in pipes.items():
            if pipe.has_controlnet:
                hint, hmask = _hint(pipe, 1, frames)
                hmask[:, :, 0] = False
                hmask[:, ::20, 0] = True
                fns.update({(dt, lay): (lambda e=pipe.traj_encoder, h=hint, m=hmask, p=p: e(h, m, packed=p))
                            for lay, p in layouts.items()})
        if fns:
            ms = alternating_ms(fns, device, runs)
            results += [_row("traj_encode(pins every 20th frame)", 1, t, dt, lay) for (dt, lay), t in ms.items()]
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
        out.append(_row(name, 1, ms, label))
    return out


def text_encoding_ms(pipe: MotionLCMPipeline, batches: list[int], runs: int) -> list[dict]:
    """Embedded all-MiniLM-L6-v2 (sentence-t5-large is not available offline here); new sentences on every
    call, so that no embedding cache answers."""
    from .text_encoder import TextEncoder
    enc = TextEncoder.embedded(pipe.device)
    calls = iter(range(10 ** 9))
    out = []
    for batch in batches:
        def encode() -> torch.Tensor:
            call = next(calls)
            return enc.encode([f"a person walks forward and waves {i} times, take {call}" for i in range(batch)])
        out.append(_row("text_encode(all-MiniLM-L6-v2)", batch, median_ms(encode, pipe.device, runs), "fp32"))
    return out


def dtype_error(pipe32: MotionLCMPipeline, pipe16: MotionLCMPipeline, frames: int) -> dict:
    """Joint error (m) of a 16-bit pipeline against fp32 for the same weights, noise and text."""
    g = torch.Generator().manual_seed(1)
    text = torch.nn.functional.normalize(torch.randn(4, pipe32.cfg.denoiser.text_dim, generator=g), dim=-1)
    a = pipe32.generate(text_embeddings=text, lengths=[frames] * 4, seed=3)
    b = pipe16.generate(text_embeddings=text, lengths=[frames] * 4, seed=3)
    err = np.linalg.norm(a.joints - b.joints, axis=-1)
    return {"joint_err_mean_m": float(err.mean()), "joint_err_max_m": float(err.max())}


def add_ratios(results: list[dict]) -> list[dict]:
    """``vs_fp32``: time over the fp32 row of the same case; ``vs_padded``: packed over padded."""
    ms = {(r["name"], r["batch"], r["dtype"], r["layout"]): r["median_ms"] for r in results}
    for r in results:
        key = (r["name"], r["batch"])
        fp32 = ms.get((*key, "fp32", r["layout"]))
        r["vs_fp32"] = round(r["median_ms"] / fp32, 3) if fp32 and r["dtype"] != "fp32" else None
        padded = ms.get((*key, r["dtype"], "padded"))
        r["vs_padded"] = round(r["median_ms"] / padded, 3) if padded and r["layout"] == "packed" else None
    return results


def _dtype_list(spec: str, auto_name: str) -> list[str]:
    """``--dtypes`` with ``auto`` resolved; fp32 (the reference of every ratio) and auto's choice always run."""
    out = ["fp32"]
    for d in [*spec.split(","), auto_name]:
        d = auto_name if d.strip() == "auto" else d.strip()
        if d and d not in out:
            out.append(d)
    return out


def main(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    batches = [int(b) for b in args.batches.split(",")]
    device = resolve_device(args.device)
    auto = choose_dtype(device, "auto")
    dtypes = _dtype_list(args.dtypes, auto.name)
    pipes = {}
    for dt in dtypes:
        if args.model:
            pipes[dt] = MotionLCMPipeline.from_pretrained(args.model, device=device, dtype=dt)
        else:
            pipes[dt] = MotionLCMPipeline.from_config(v2_config(control=True), device=device, dtype=dt, seed=0)
    results = text_encoding_ms(pipes["fp32"], batches, args.runs)
    results += run_bench(pipes, batches, args.frames, args.runs)
    results += packing_ms(pipes, batches, args.frames, args.runs)
    results += control_variants_ms(pipes["fp32"], args.frames, args.runs, "fp32")
    errors = {dt: dtype_error(pipes["fp32"], pipe, args.frames) for dt, pipe in pipes.items() if dt != "fp32"}
    report = {"config": args.model or "v2 full (random weights)", "frames": args.frames,
              "hardware": hardware_name(device), "device": device.type, "torch": torch.__version__,
              "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
              "auto_dtype": auto.name, "auto_reason": auto.reason, "results": add_ratios(results),
              "joint_error_vs_fp32": errors}
    if args.json:
        print(json.dumps(report))
        return 0
    print_report(report)
    return 0


def print_report(report: dict) -> None:
    print(f"# motionlcm bench — {report['config']}, {report['frames']} frames")
    print(f"hardware: {report['hardware']}; torch {report['torch']}, {report['torch_threads']} threads")
    print(f"dtype auto → {report['auto_reason']}")
    print(f"{'case':36s} {'batch':>5s} {'dtype':>5s} {'layout':>6s} {'median ms':>10s} {'x fp32':>7s} {'x padded':>8s}")
    for r in report["results"]:
        vs32 = f"{r['vs_fp32']:.2f}" if r["vs_fp32"] else "-"
        vspad = f"{r['vs_padded']:.2f}" if r["vs_padded"] else "-"
        print(f"{r['name']:36s} {r['batch']:5d} {r['dtype']:>5s} {r['layout']:>6s} {r['median_ms']:10.1f} "
              f"{vs32:>7s} {vspad:>8s}")
    for dt, e in report["joint_error_vs_fp32"].items():
        print(f"{dt} vs fp32 joint error (these weights): mean {e['joint_err_mean_m'] * 100:.2f} cm, "
              f"max {e['joint_err_max_m'] * 100:.2f} cm")

