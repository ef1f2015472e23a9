"""Train the text–motion retrieval evaluator on the training split (CPU, a few minutes).

    python -m motionlcm_core.eval.train_evaluator --out motionlcm_core/weights/evaluator.safetensors

Symmetric InfoNCE between motion and text embeddings over batches of random crops (mirroring and caption
variants on). Negatives from the same clip, or whose captions are near-duplicates (MiniLM cosine above
``text_sim_threshold``), are masked out as in TMR. The checkpoint with the best validation R-precision
is kept; retrieval numbers on the test split are printed and stored in the file's metadata.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from motionlcm_core.data import EVAL_DATA_CONFIG, DataConfig, cmu_dataset, cmu_feature_stats
from motionlcm_core.eval.eval_set import EvalSet, build_eval_set, pad_feats
from motionlcm_core.eval.evaluator import EvaluatorConfig, TextMotionEvaluator
from motionlcm_core.eval.metrics import frechet_distance, r_precision
from motionlcm_core.eval.sentence_embeddings import SentenceEmbedder, default_embedding_cache

__all__ = ["TrainEvaluatorConfig", "info_nce", "retrieval_report", "main"]

log = logging.getLogger("motionlcm_core.eval.train_evaluator")


@dataclass(frozen=True)
class TrainEvaluatorConfig:
    """Options of the evaluator training run (each is a ``--flag``)."""

    out: str = "motionlcm_core/weights/evaluator.safetensors"
    data_dir: str = ""          # empty: $MOTIONLCM_DATA_DIR or ../shared/data
    cache_dir: str = ""         # empty: $MOTIONLCM_CACHE_DIR or runs/cache
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    text_sim_threshold: float = 0.9
    eval_every: int = 250
    max_minutes: float = 9.0    # wall budget of the whole run: training stops early (best checkpoint kept)
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.eval_every < 1:
            raise ValueError("steps and eval_every must be >= 1 and batch_size >= 2")
        if not 0 < self.temperature:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


def info_nce(text: torch.Tensor, motion: torch.Tensor, negative_ok: torch.Tensor, temperature: float
             ) -> torch.Tensor:
    """Symmetric InfoNCE of unit embeddings ``(B, E)``; ``negative_ok (B, B)`` bool masks false negatives."""
    logits = text @ motion.T / temperature
    eye = torch.eye(len(text), dtype=torch.bool, device=text.device)
    logits = logits.masked_fill(~(negative_ok | eye), float("-inf"))
    target = torch.arange(len(text), device=text.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _train_batch(dataset, indices: list[int], embedder: SentenceEmbedder, threshold: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(normalised feats (B, T, 263), lengths (B,), sentence embeddings (B, 384), negative_ok (B, B))."""
    items = [dataset[i] for i in indices]
    feats = torch.from_numpy(pad_feats([it.feats for it in items]))
    lengths = torch.tensor([it.length for it in items])
    sent = torch.from_numpy(embedder.embed([it.caption for it in items]))
    clips = np.array([dataset.clip_id(i) for i in indices])
    negative_ok = torch.from_numpy(clips[:, None] != clips[None, :]) & (sent @ sent.T < threshold)
    return feats, lengths, sent, negative_ok


def retrieval_report(model: TextMotionEvaluator, eval_set: EvalSet, *, shuffles: int = 20,
                     reference: EvalSet | None = None) -> dict[str, float]:
    """R-precision top-1/2/3 and MM-Dist (groups of 32, mean over ``shuffles`` groupings) of real motions,
    the same with captions shuffled (chance), and FID against ``reference`` crops when given."""
    motion = model.embed_motion(pad_feats(eval_set.feats), eval_set.lengths)
    text = model.embed_text(eval_set.captions)
    runs = [r_precision(text, motion, rng=np.random.default_rng(s)) for s in range(shuffles)]
    perm = np.random.default_rng(123).permutation(len(text))
    chance = [r_precision(text[perm], motion, rng=np.random.default_rng(s)) for s in range(shuffles)]
    out = {f"top{k + 1}": float(np.mean([r[0][k] for r in runs])) for k in range(3)}
    out.update({f"shuffled_top{k + 1}": float(np.mean([r[0][k] for r in chance])) for k in range(3)})
    out["mm_dist"] = float(np.mean([r[1] for r in runs]))
    out["samples"] = len(eval_set)
    if reference is not None:
        ref = model.embed_motion(pad_feats(reference.feats), reference.lengths)
        out["fid_real_vs_real"] = frechet_distance(motion, ref)
    return out


def _lr(step: int, cfg: TrainEvaluatorConfig) -> float:
    warm = min(1.0, (step + 1) / 100)
    return cfg.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(step / cfg.steps, 1.0)))


def _fit(model, train, val_set, embedder, cfg, deadline: float) -> tuple[dict, dict]:
    """Training loop until ``cfg.steps`` or the ``time.monotonic()`` deadline; (best state, best val report)."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best_state, best, start, order = None, {"score": -1.0}, time.monotonic(), torch.randperm(len(train))
    cursor, losses = 0, []
    for step in range(cfg.steps):
        if cursor + cfg.batch_size > len(order):
            order, cursor = torch.randperm(len(train)), 0
        batch = order[cursor:cursor + cfg.batch_size].tolist()
        cursor += cfg.batch_size
        feats, lengths, sent, neg_ok = _train_batch(train, batch, embedder, cfg.text_sim_threshold)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = info_nce(model.embed_text_features(sent), model.embed_normalized(feats, lengths), neg_ok,
                        cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        out_of_time = time.monotonic() > deadline
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps or out_of_time:
            report = retrieval_report(model, val_set, shuffles=5)
            report["score"] = (report["top1"] + report["top2"] + report["top3"]) / 3
            log.info("step %d loss %.3f val top1/2/3 %.3f/%.3f/%.3f (%.0f s)", step + 1, np.mean(losses[-50:]),
                     report["top1"], report["top2"], report["top3"], time.monotonic() - start)
            model.train()
            if report["score"] > best["score"]:
                best, best_state = dict(report, step=step + 1), {k: v.clone() for k, v in model.state_dict().items()}
        if out_of_time:
            log.info("stopping at step %d: the run's %.1f-minute budget is nearly spent", step + 1, cfg.max_minutes)
            break
    return best_state, best


def main(cfg: TrainEvaluatorConfig) -> dict:
    """Train, keep the best validation checkpoint, report on test, write ``cfg.out``."""
    torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    t0 = time.monotonic()
    data_dir, cache_dir = cfg.data_dir or None, cfg.cache_dir or None
    stats = cmu_feature_stats(data_dir, cache_dir=cache_dir)
    train = cmu_dataset("train", data_dir, cfg=DataConfig(with_joints=False), stats=stats, cache_dir=cache_dir)
    val = cmu_dataset("val", data_dir, cfg=EVAL_DATA_CONFIG, stats=stats, cache_dir=cache_dir, seed=0)
    test = cmu_dataset("test", data_dir, cfg=EVAL_DATA_CONFIG, stats=stats, cache_dir=cache_dir, seed=0)
    t_data = time.monotonic() - t0
    val_set, test_set = build_eval_set(val, seed=0), build_eval_set(test, seed=0)
    embedder = SentenceEmbedder(Path(cache_dir) / "minilm_sentences.npz" if cache_dir else default_embedding_cache())
    embedder.embed(train.all_captions() + val_set.captions + test_set.captions)
    embedder.save()
    t_text = time.monotonic() - t0 - t_data
    log.info("data %.1f s, sentence embeddings %.1f s", t_data, t_text)

    model = TextMotionEvaluator(EvaluatorConfig(), stats)
    model.use_sentence_embedder(embedder)
    deadline = t0 + cfg.max_minutes * 60 - 30  # leave time for the test report and saving
    best_state, best_val = _fit(model, train, val_set, embedder, cfg, deadline)
    model.load_state_dict(best_state)
    test_report = retrieval_report(model, test_set, reference=build_eval_set(test, seed=1))
    summary = {"val": best_val, "test": test_report, "seconds": {"data": round(t_data, 1),
               "sentences": round(t_text, 1), "total": round(time.monotonic() - t0, 1)},
               "train": dataclasses.asdict(cfg)}
    model.save(cfg.out, extra={"report": summary})
    log.info("test: %s", json.dumps(test_report))
    return summary


def parse_args(argv: list[str] | None = None) -> TrainEvaluatorConfig:
    """``--field value`` for every field of :class:`TrainEvaluatorConfig`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(TrainEvaluatorConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return TrainEvaluatorConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(json.dumps(main(parse_args()), indent=2))
