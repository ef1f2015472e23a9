"""Pinned keys: ControlNet alone vs + latent refinement vs + exact pass (issue 6).

For test-split clips of the CMU set (every (clip, caption) pair with its seeded crop, or ``--samples``
random ones) it pins ground-truth joints — ``pelvis``: the pelvis on 25 % of the frames at random;
``hand_hips``: right wrist and pelvis on 5 random frames each — and prints per variant the control
metrics (spec §10.3: average error, 50/20 cm trajectory and location failure rates), the foot-skating
ratio, the fraction of frames with a foot on the floor and, when the evaluator weights exist, FID and R-precision (on features re-extracted from the
output joints for every variant, so the three are compared alike). Then the latency of each variant at
batch 1, 196 frames, on the pipeline's device (median of ``--runs`` after warm-up)::

    .venv/bin/python benchmarks/bench_control.py --model embedded --samples 1024
    .venv/bin/python benchmarks/bench_control.py --model random --samples 32   # plumbing check only
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch


from motionlcm_core import Control, MotionLCMPipeline, PinPassConfig
from motionlcm_core.control import ExactConfig
from motionlcm_core.control.passes import RefineConfig
from motionlcm_core.config import v2_config
from motionlcm_core.data import EVAL_DATA_CONFIG, cmu_dataset
from motionlcm_core.eval.control_metrics import control_errors
from motionlcm_core.eval.eval_set import build_eval_set, pad_feats
from motionlcm_core.eval.metrics import foot_skating_ratio, frechet_distance, r_precision
from motionlcm_core.motion import features_from_joints
from motionlcm_core.retarget import cleanup_feet

VARIANTS = {"controlnet": dict(refine=False, exact=False), "+refine": dict(refine=True, exact=False),
            "+exact": dict(refine=True, exact=True)}


def passes(refine: bool, exact: bool, refine_steps: int | None) -> PinPassConfig:
    """The pin passes of one variant, refinement with ``refine_steps`` steps (``None``: the default)."""
    steps = RefineConfig.steps if refine_steps is None else refine_steps
    return PinPassConfig(refine=RefineConfig(steps=steps) if refine else None,
                         exact=ExactConfig() if exact else None)


def load_pipeline(model: str, device: str) -> MotionLCMPipeline:
    if model == "random":  # full V2 size with the embedded text encoder, random weights: timings/plumbing only
        cfg = v2_config(control=True)
        cfg = dataclasses.replace(cfg, text_encoder="all-MiniLM-L6-v2",
                                  denoiser=dataclasses.replace(cfg.denoiser, text_dim=384))
        return MotionLCMPipeline.from_config(cfg, device=device, with_teacher=False)
    return MotionLCMPipeline.from_pretrained(model, device=device)


def make_pins(joints: list[np.ndarray], kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(N, T, 22, 3)`` (ground truth) and mask ``(N, T, 22)``."""
    targets = pad_feats(joints)
    mask = np.zeros(targets.shape[:3], dtype=bool)
    rng = np.random.default_rng(seed)
    for b, clip in enumerate(joints):
        n = len(clip)
        if kind == "pelvis":
            mask[b, rng.choice(n, max(1, n // 4), replace=False), 0] = True
        else:
            mask[b, rng.choice(n, 5, replace=False), 21] = True
            mask[b, rng.choice(n, 5, replace=False), 0] = True
    return targets, mask


def run_variant(pipe, eval_set, targets, mask, kwargs: dict, batch: int, seed: int, steps: int | None) -> list[np.ndarray]:
    out = []
    for start in range(0, len(eval_set), batch):
        sl = slice(start, min(start + batch, len(eval_set)))
        n = max(eval_set.lengths[sl])
        r = pipe.generate(eval_set.captions[sl], lengths=eval_set.lengths[sl], seed=seed + start,
                          control=Control(targets[sl, :n].copy(), mask[sl, :n].copy()),
                          passes=passes(**kwargs, refine_steps=steps))
        out.extend(r.joints[b, :k] for b, k in enumerate(r.lengths))
    return out


def foot_contact(joints: list[np.ndarray], height: float = 0.05) -> float:
    """Fraction of frames with a foot (joints 10, 11) below ``height`` m: shows feet lifted off the floor
    (fewer contact frames would also lower the skating ratio)."""
    return float(np.mean(np.concatenate([j[:, [10, 11], 1].min(-1) < height for j in joints])))


def quality(evaluator, joints: list[np.ndarray], text_emb: np.ndarray, gt_emb: np.ndarray, seed: int) -> dict:
    if evaluator is None:
        return {}
    feats = [features_from_joints(j) for j in joints]
    emb = evaluator.embed_motion(pad_feats(feats), [len(f) for f in feats])
    top, _ = r_precision(text_emb, emb, rng=np.random.default_rng(seed))
    return {"fid": frechet_distance(gt_emb, emb), "r_precision": [float(x) for x in top]}


def latency(pipe, kwargs: dict, runs: int, steps: int | None) -> dict:
    pos = np.zeros((196, 22, 3), np.float32)
    pos[:, 0] = np.stack([np.zeros(196), np.full(196, 0.9), np.linspace(0, 4, 196)], -1)
    mask = np.zeros((196, 22), bool)
    mask[::8, 0] = True
    mask[[40, 120], 21] = True
    pos[[40, 120], 21] = pos[[40, 120], 0] + [-0.3, 0.4, 0.2]
    call = lambda: pipe.generate("a person walks forward and waves", lengths=196, seed=0,  # noqa: E731
                                 control=Control(pos, mask), passes=passes(**kwargs, refine_steps=steps))
    call()
    totals, stages = [], {}
    for _ in range(runs):
        t0 = time.perf_counter()
        r = call()
        totals.append(time.perf_counter() - t0)
        for k, v in r.timings.items():
            stages.setdefault(k, []).append(v)
    return {"median_ms": 1000 * float(np.median(totals)),
            "stages_ms": {k: round(1000 * float(np.median(v)), 1) for k, v in stages.items() if k != "total"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded", help="'embedded', a .safetensors path, or 'random'")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--refine-steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the team machine has 2 cores)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = load_pipeline(args.model, args.device)
    try:
        from motionlcm_core.eval.evaluator import load_evaluator
        evaluator = load_evaluator()
    except (ValueError, ImportError) as exc:
        print(f"# no evaluator ({exc}); FID / R-precision left out")
        evaluator = None
    stats = evaluator.stats if evaluator is not None else None
    dataset = cmu_dataset("test", cfg=EVAL_DATA_CONFIG, stats=stats)
    eval_set = build_eval_set(dataset, seed=args.seed, max_samples=args.samples, subset_seed=args.seed)
    text_emb = gt_emb = None
    if evaluator is not None:
        text_emb = evaluator.embed_text(eval_set.captions)
        gt_emb = evaluator.embed_motion(pad_feats(eval_set.feats), eval_set.lengths)
    report = {"model": pipe.description, "trained": pipe.trained, "samples": len(eval_set), "rows": [],
              "latency": {}}
    for kind in ("pelvis", "hand_hips"):
        targets, mask = make_pins(eval_set.joints, kind, args.seed + 3)
        for name, kwargs in VARIANTS.items():
            joints = run_variant(pipe, eval_set, targets, mask, kwargs, args.batch, args.seed, args.refine_steps)
            row = {"pins": kind, "variant": name, **control_errors(pad_feats(joints), targets, mask, eval_set.lengths),
                   "skate_ratio": foot_skating_ratio(pad_feats(joints), eval_set.lengths),
                   "foot_contact": foot_contact(joints),
                   **quality(evaluator, joints, text_emb, gt_emb, args.seed)}
            report["rows"].append(row)
            if not args.json:
                print(json.dumps(row))
            if name == "+exact":  # what the add-on writes: the retarget's foot clean-up follows the exact pass
                feet = [cleanup_feet(j) for j in joints]
                row = {"pins": kind, "variant": "+exact+foot_cleanup",
                       **control_errors(pad_feats(feet), targets, mask, eval_set.lengths),
                       "skate_ratio": foot_skating_ratio(pad_feats(feet), eval_set.lengths),
                       "foot_contact": foot_contact(feet),
                       **quality(evaluator, feet, text_emb, gt_emb, args.seed)}
                report["rows"].append(row)
                if not args.json:
                    print(json.dumps(row))
    for name, kwargs in VARIANTS.items():
        report["latency"][name] = latency(pipe, kwargs, args.runs, args.refine_steps)
        if not args.json:
            print(name, json.dumps(report["latency"][name]))
    base = report["latency"]["controlnet"]["median_ms"]
    report["latency_ratio"] = {k: v["median_ms"] / base for k, v in report["latency"].items()}
    print(json.dumps(report if args.json else report["latency_ratio"], indent=None if not args.json else 1))


if __name__ == "__main__":
    main()
