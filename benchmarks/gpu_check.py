"""The prepared GPU check (issue 18): run once on a lent GPU machine, writes ``docs/eval/gpu.md``.

    python benchmarks/gpu_check.py [--device auto] [--runs 10] [--out docs/eval/gpu.md]

Measures, for each dtype the device runs (fp32, bf16, fp16 on a GPU; fp32 and bf16 on a CPU):
- Generate → joints latency of the embedded model for 1/2/4 steps at batch 1 and for 8 variations, **text
  encoding included** (a new prompt every run, so the embedding cache never answers), median of ``--runs``;
- the joint error of each 16-bit dtype against fp32 (``motionlcm_core.dtype_check.joint_error_mm``) and the
  dtype ``auto`` picks, with its reason;
- peak GPU memory;
- the add-on's path click → keys on a rig (bpy module, tiny scene), when ``bpy`` imports here;
- the GPU → CPU fallback: the add-on's job is made to hit an out-of-memory error on the GPU and must finish on
  the CPU and say so.
Target (issue 18): click → keys on the rig ≤ 50 ms for 1 step on a current GPU. On a machine without a GPU the
same script runs on the CPU (a dry run of the script itself; the figures are then the CPU's).
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from motionlcm_core import MotionLCMPipeline  # noqa: E402
from motionlcm_core.device import choose_dtype, device_name, resolve_device, synchronize  # noqa: E402
from motionlcm_core.dtype_check import joint_error_mm  # noqa: E402

PROMPTS = ("a person walks forward", "someone waves with the right hand", "a person jumps in place",
           "a man turns around and walks back", "a person sits down on a chair", "someone kicks with the left leg")


def timed_generate(pipe: MotionLCMPipeline, steps: int, batch: int, runs: int) -> float:
    """Median ms of ``generate`` with a prompt never seen before (text encoding included)."""
    times = []
    for r in range(runs + 1):
        prompts = [f"{PROMPTS[(r + b) % len(PROMPTS)]} ({r}.{b})" for b in range(batch)]
        synchronize(pipe.device)
        t0 = time.perf_counter()
        pipe.generate(prompts, seconds=6.0, num_steps=steps, seed=r)
        synchronize(pipe.device)
        if r:                                   # the first run warms kernels up
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def core_rows(device: torch.device, runs: int) -> list[str]:
    rows = ["| dtype | joint error vs fp32 (mm) | 1 step, batch 1 (ms) | 2 steps | 4 steps | 1 step, 8 variations "
            "| peak GPU memory (MB) |", "|---|---|---|---|---|---|---|"]
    dtypes = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
    for name in dtypes:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        pipe = MotionLCMPipeline.from_pretrained("embedded", device=device, dtype=name)
        err = "—" if name == "fp32" else f"{joint_error_mm(device, pipe.dtype):.1f}"
        ms = [timed_generate(pipe, s, 1, runs) for s in (1, 2, 4)] + [timed_generate(pipe, 1, 8, runs)]
        mem = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else float("nan")
        rows.append(f"| {name} | {err} | " + " | ".join(f"{m:.1f}" for m in ms) + f" | {mem:.0f} |")
        print(rows[-1], flush=True)
    choice = choose_dtype(device, "auto")
    return rows + ["", f"`dtype=\"auto\"` picks **{choice.reason}**"]


def addon_rows(device: torch.device, runs: int) -> list[str]:
    """Click → keys through the add-on's own code (bpy module), and the out-of-memory fallback."""
    if importlib.util.find_spec("bpy") is None:
        return ["The bpy module does not import here: the add-on's path was not measured."]
    import bpy
    sys.path.insert(0, str(REPO / "tests" / "blender" / "scenarios"))
    import blender_addon
    from blender_addon import generation, jobs, model_cache
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    props = bpy.context.scene.motionlcm
    bpy.ops.motionlcm.add_smpl_rig()
    props.seconds = 6.0
    spec = model_cache.ModelSpec("embedded", device=device.type)
    model_cache.load_pipeline(spec)                        # loaded once, as the warm start does
    loader = lambda s: model_cache.load_pipeline(spec if s.device != "cpu" else s)    # noqa: E731
    times = []
    for r in range(runs + 1):
        props.prompt = f"{PROMPTS[r % len(PROMPTS)]} ({r})"
        t0 = time.perf_counter()
        active = generation.start(bpy.context, "new", loader=loader)
        active.job.wait(120)
        state = generation.pump(bpy.context)
        if r:
            times.append((time.perf_counter() - t0) * 1000)
        assert state == "done", active.job.error
    rows = [f"Add-on, click → keys on an SMPL rig (6 s clip, 1 step, new prompt each time): median "
            f"**{statistics.median(times):.1f} ms** over {runs} runs (target ≤ 50 ms on a current GPU)."]
    if device.type != "cpu":
        def oom_once(s, calls=[0]):                        # noqa: B006 - counts the calls
            pipe = loader(s)
            if s.device != "cpu" and not calls[0]:
                calls[0] += 1
                real = pipe.generate

                def fail(*a, **k):
                    pipe.generate = real
                    raise torch.OutOfMemoryError("CUDA out of memory (simulated by gpu_check)")
                pipe.generate = fail
            return pipe
        props.prompt = "a person walks forward (fallback)"
        active = generation.start(bpy.context, "new", loader=oom_once)
        active.job.wait(300)
        state = generation.pump(bpy.context)
        rows.append(f"GPU → CPU fallback after an out-of-memory error: state **{state}**, device "
                    f"{active.job.result.device if active.job.result else '-'}, message: {props.status!r}")
    blender_addon.unregister()
    del jobs
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", default=str(REPO / "docs" / "eval" / "gpu.md"))
    args = ap.parse_args()
    device = resolve_device(args.device)
    head = [f"# GPU check (issue 18): {device_name(device)}", "",
            f"`python benchmarks/gpu_check.py --device {args.device} --runs {args.runs}` on {platform.platform()}, "
            f"torch {torch.__version__}. Medians; text encoding included.", ""]
    lines = head + core_rows(device, args.runs) + [""] + addon_rows(device, args.runs) + [""]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
