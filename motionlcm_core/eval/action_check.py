"""Does a prompt for an action produce that action? A check through the evaluator's retrieval.

Test-split samples whose caption names exactly one action (walk, run, jump, kick, punch, wave, dance,
climb) are generated from their caption and length. Each generated motion retrieves the nearest caption
among all those action-labelled test prompts (evaluator embedding space); it passes when that caption
names the same action. The same retrieval for the real motions gives the accuracy the evaluator itself
reaches (the reference).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from motionlcm_core.data import EVAL_DATA_CONFIG, cmu_dataset
from motionlcm_core.eval.eval_set import EvalSet, build_eval_set, pad_feats
from motionlcm_core.eval.evaluator import TextMotionEvaluator, load_evaluator
from motionlcm_core.eval.metrics import distance_matrix

__all__ = ["ACTIONS", "action_samples", "classify_actions", "check_actions"]

#: action -> caption pattern
ACTIONS: dict[str, str] = {
    "walk": r"\bwalk", "run": r"\b(run|runs|running|sprint)", "jump": r"\bjump", "kick": r"\bkick",
    "punch": r"\b(punch|box)", "wave": r"\bwav", "dance": r"\b(danc|salsa)", "climb": r"\bclimb",
}


def action_samples(eval_set: EvalSet, actions: dict[str, str] = ACTIONS) -> dict[str, list[int]]:
    """Indices of samples whose caption names exactly one of ``actions`` (per action, possibly empty)."""
    out: dict[str, list[int]] = {name: [] for name in actions}
    for i, caption in enumerate(eval_set.captions):
        hits = [name for name, pattern in actions.items() if re.search(pattern, caption, re.IGNORECASE)]
        if len(hits) == 1:
            out[hits[0]].append(i)
    return out


def classify_actions(evaluator: TextMotionEvaluator, feats: list[np.ndarray], pool: list[str],
                     labels: list[str]) -> list[str]:
    """Label of the caption of ``pool`` nearest to each motion ``(T_i, 263)`` (de-normalised)."""
    text = evaluator.embed_text(pool)
    motion = evaluator.embed_motion(pad_feats(feats), [len(f) for f in feats])
    return [labels[k] for k in distance_matrix(motion, text).argmin(axis=1)]


def check_actions(pipeline=None, *, evaluator: TextMotionEvaluator | None = None, split: str = "test",
                  num_steps: int = 1, seed: int = 0, data_dir: str | Path | None = None,
                  cache_dir: str | Path | None = None) -> dict:
    """Per action: number of prompts, accuracy of the generated motions (when ``pipeline`` is given)
    and of the real motions; ``mean_*`` over actions with prompts, ``overall_*`` over all prompts."""
    evaluator = evaluator if evaluator is not None else load_evaluator()
    dataset = cmu_dataset(split, data_dir, cfg=EVAL_DATA_CONFIG, stats=evaluator.stats, cache_dir=cache_dir)
    eval_set = build_eval_set(dataset, seed=seed)
    samples = action_samples(eval_set)
    pool = [(eval_set.captions[i], name) for name, index in samples.items() for i in index]
    captions, labels = [p[0] for p in pool], [p[1] for p in pool]
    report: dict = {"actions": {}, "pool": len(pool)}
    for name, index in samples.items():
        if not index:
            report["actions"][name] = {"prompts": 0}
            continue
        sub = eval_set.subset(index)
        real = classify_actions(evaluator, sub.feats, captions, labels)
        row = {"prompts": len(index), "real_accuracy": float(np.mean([p == name for p in real]))}
        if pipeline is not None:
            result = pipeline.generate(sub.captions, lengths=sub.lengths, num_steps=num_steps, seed=seed)
            feats = [np.asarray(result.feats[b, :n]) for b, n in enumerate(result.lengths)]
            found = classify_actions(evaluator, feats, captions, labels)
            row["accuracy"] = float(np.mean([p == name for p in found]))
        report["actions"][name] = row
    rows = [r for r in report["actions"].values() if r["prompts"]]
    for key in ("accuracy", "real_accuracy"):
        if rows and key in rows[0]:
            report[f"mean_{key}"] = float(np.mean([r[key] for r in rows]))
            report[f"overall_{key}"] = float(sum(r[key] * r["prompts"] for r in rows) / len(pool))
    return report
