"""How well does the retrieval start serve held-out captions? Judged on the val (and test) caption windows.

    .venv/bin/python benchmarks/retrieval_val.py generated [--retrieval JSON] [--steps 1] [--seeds 2]
    .venv/bin/python benchmarks/retrieval_val.py retrieved [--retrieval JSON] [--seeds 8]

``generated``: every val caption window (40–196 frames, centre crop) is generated from its caption with the
given ``RetrievalConfig`` fields (``{"off": true}``: from noise); our text–motion evaluator scores the features of
the *final* joints (after the body pass) against the captions (R@1..3 in groups of 32, FID against the real
windows) — this chose the start timestep. ``retrieved``: no sampling; the real crop the bank would start from
(val + test captions) is scored the same way — this chose the lookup (draw, word weights). Not the prompt probes:
they measure the shipped model, and nothing here is tuned to their wording.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def caption_windows(splits: tuple[str, ...]) -> tuple[list[str], list[int], list[np.ndarray]]:
    """Every caption line of ``splits`` with its window: prompts, lengths (frames) and real features."""
    from motionlcm_core.data import load_cmu_clips
    from motionlcm_core.motion.skeleton import FPS
    prompts, lengths, real = [], [], []
    for split in splits:
        for clip in load_cmu_clips(split, mirror=False)[0]:
            for line in clip.captions:
                a = 0 if line.start_s is None else int(line.start_s * FPS)
                b = len(clip.feats) if line.end_s is None else min(len(clip.feats), int(line.end_s * FPS))
                n = min(b - a, 196)
                if n >= 40:
                    start = a + (b - a - n) // 2
                    prompts.append(line.text), lengths.append(n), real.append(clip.feats[start:start + n])
    return prompts, lengths, real


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("generated", "retrieved"))
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--retrieval", default="{}", help="RetrievalConfig fields as JSON; generated: {\"off\": true}")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=None, help="default: 2 (generated), 8 (retrieved)")
    args = ap.parse_args(argv)
    import torch

    from motionlcm_core import MotionLCMPipeline
    from motionlcm_core.eval.evaluator import load_evaluator
    from motionlcm_core.eval.metrics import frechet_distance, r_precision
    from motionlcm_core.exemplars import mirror_channels
    from motionlcm_core.motion.humanml3d import features_from_joints, recover_joints
    from motionlcm_core.retrieval import RetrievalConfig
    torch.set_num_threads(2)
    pipe = MotionLCMPipeline.from_pretrained(args.model, device="cpu")
    fields = json.loads(args.retrieval)
    retrieval = False if fields.pop("off", False) else RetrievalConfig(**fields)
    evaluator = load_evaluator()
    splits = ("val",) if args.mode == "generated" else ("val", "test")
    prompts, lengths, real = caption_windows(splits)
    seeds = args.seeds or (2 if args.mode == "generated" else 8)

    def embed(feats: list[np.ndarray]) -> np.ndarray:
        arr = np.zeros((len(feats), max(len(f) for f in feats), 263), np.float32)
        for i, f in enumerate(feats):
            arr[i, :len(f)] = f
        return evaluator.embed_motion(arr, [len(f) for f in feats])

    def r3(text_emb: np.ndarray, motion_emb: np.ndarray) -> np.ndarray:
        return np.mean([r_precision(text_emb, motion_emb, rng=np.random.default_rng(k))[0] for k in range(5)], 0)

    text_emb, real_emb = evaluator.embed_text(prompts), embed(real)
    text = pipe.text_encoder().encode(prompts)
    rows = []
    for seed in range(seeds):
        feats = []
        if args.mode == "generated":
            for i in range(0, len(prompts), 16):
                res = pipe.generate(prompts[i:i + 16], lengths=lengths[i:i + 16], seed=seed * 1000 + i,
                                    num_steps=args.steps, retrieval=retrieval)
                feats += [features_from_joints(res.joints[b, :n]) for b, n in enumerate(res.lengths)]
        else:
            for i, (prompt, n) in enumerate(zip(prompts, lengths)):
                pick = pipe.bank.choose(text[i:i + 1], [n], seed, retrieval or RetrievalConfig(), [prompt])[0]
                ex = pipe.bank.exemplar(pick, prompt, pipe._encode_exemplar)
                channels = mirror_channels(ex.real) if ex.mirrored else ex.real
                full = np.zeros((len(channels), 263), np.float32)
                full[:, :67] = channels
                start = (len(full) - min(n, len(full))) // 2
                feats.append(features_from_joints(recover_joints(full[start:start + n]), retarget=False))
        emb = embed(feats)
        rows.append({"r_precision": r3(text_emb, emb).tolist(), "fid": frechet_distance(real_emb, emb)})
    out = {"mode": args.mode, "retrieval": args.retrieval, "steps": args.steps, "windows": len(prompts),
           "seeds": seeds, "r_precision": np.mean([r["r_precision"] for r in rows], 0).round(3).tolist(),
           "fid": round(float(np.mean([r["fid"] for r in rows])), 3),
           "real_r_precision": r3(text_emb, real_emb).round(3).tolist()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
