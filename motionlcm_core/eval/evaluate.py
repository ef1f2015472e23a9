"""``evaluate(pipeline)``: the T2M and control evaluation of a MotionLCM pipeline on our test split.

Rows (issue 5's JSON layout): methods ``real`` (ground-truth crops), ``teacher`` (DDIM, CFG, as the
pipeline's ``teacher=True`` samples), ``lcm1``/``lcm2``/``lcm4`` (student, 1/2/4 steps), each with
``fid``, ``r_precision [top1, top2, top3]``, ``mm_dist``, ``diversity``, ``multimodality``,
``skate_ratio`` and ``ms`` (wall-clock milliseconds per sentence of ``pipeline.generate`` at
``batch_size``, text encoding to joints); control rows ``no_control`` / ``controlnet`` (student, pelvis
targets at random frames) with ``avg_err``, ``traj_err_50``, ``loc_err_50`` (+20 cm variants), metres.
The ``controlnet`` row measures the ControlNet alone (the pipeline's latent refinement and exact pass
are switched off unless ``EvalConfig.control_refine``). ``ms_stages`` splits ``ms`` by the pipeline's
own stage timings.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from motionlcm_core.data import EVAL_DATA_CONFIG, cmu_dataset
from motionlcm_core.eval.control_metrics import control_errors
from motionlcm_core.eval.eval_set import EvalSet, build_eval_set, pad_feats
from motionlcm_core.eval.evaluator import TextMotionEvaluator, load_evaluator
from motionlcm_core.eval.metrics import (body_motion, diversity, foot_skating_ratio, frechet_distance, multimodality,
                                        r_precision)
from motionlcm_core.eval.report import aggregate_rows, format_markdown
from motionlcm_core.eval.plot import save_plot

__all__ = ["EvalConfig", "METHODS", "evaluate", "format_markdown", "save_plot"]

#: Generation keyword arguments of each method (``real`` generates nothing).
METHODS: dict[str, dict[str, Any]] = {
    "real": {}, "teacher": {"teacher": True}, "lcm1": {"num_steps": 1}, "lcm2": {"num_steps": 2},
    "lcm4": {"num_steps": 4},
}


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how many samples (spec §10.2 defaults; lower them for quick CPU runs)."""

    methods: tuple[str, ...] = ("real", "teacher", "lcm1", "lcm2", "lcm4")
    control: bool = True
    control_steps: int = 1
    control_density: float = 0.25     # share of each clip's frames with a pelvis target
    control_refine: bool = False      # False: the ControlNet alone; True: + latent refinement + exact pass
    batch_size: int = 32
    seed: int = 0
    replications: int = 1
    max_samples: int | None = None    # None: every (item, caption) pair of the split
    group_shuffles: int = 20          # R-precision / MM-Dist averaged over this many random groupings
    diversity_times: int = 300
    multimodality: bool = True
    mm_num_samples: int = 100
    mm_num_repeats: int = 30
    mm_num_times: int = 10

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; choose from {sorted(METHODS)}")
        if self.control_steps not in (1, 2, 4):
            raise ValueError(f"control_steps must be 1, 2 or 4, got {self.control_steps}")
        if not 0.0 < self.control_density <= 1.0:
            raise ValueError(f"control_density must be in (0, 1], got {self.control_density}")
        if min(self.batch_size, self.replications, self.group_shuffles) < 1 or self.mm_num_repeats < 2:
            raise ValueError("batch_size, replications and group_shuffles must be >= 1, mm_num_repeats >= 2")


@dataclass
class _Generated:
    feats: list[np.ndarray]     # (T_i, 263) de-normalised
    joints: list[np.ndarray]    # (T_i, 22, 3) metres
    seconds: float              # wall clock of all generate calls
    stages: dict[str, float]    # the pipeline's own per-stage timings, summed (s)

    def ms_fields(self) -> dict[str, Any]:
        """``ms`` (wall clock per sentence) and ``ms_stages`` (per stage, per sentence)."""
        n = len(self.feats)
        return {"ms": 1000.0 * self.seconds / n, "ms_stages": {k: 1000.0 * v / n for k, v in self.stages.items()}}


def _numpy(x: Any) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float32)


def _generate(pipeline, captions: list[str], lengths: list[int], *, seed: int, batch_size: int,
              control_fn: Callable[[slice], Any] | None = None, **kwargs) -> _Generated:
    """Run ``pipeline.generate`` in batches; ``control_fn(batch_slice)`` builds each batch's Control."""
    feats, joints, seconds, stages = [], [], 0.0, {}
    for start in range(0, len(captions), batch_size):
        sl = slice(start, min(start + batch_size, len(captions)))
        if control_fn is not None:
            kwargs["control"] = control_fn(sl)
        t0 = time.perf_counter()
        result = pipeline.generate(captions[sl], lengths=lengths[sl], seed=seed + start, **kwargs)
        seconds += time.perf_counter() - t0
        for stage, value in getattr(result, "timings", {}).items():
            stages[stage] = stages.get(stage, 0.0) + float(value)
        out_feats, out_joints = _numpy(result.feats), _numpy(result.joints)
        for b, n in enumerate(result.lengths):
            feats.append(out_feats[b, : int(n)])
            joints.append(out_joints[b, : int(n)])
    return _Generated(feats, joints, seconds, stages)


def _t2m_row(method: str, text_emb: np.ndarray, motion_emb: np.ndarray,
             gt_emb: np.ndarray, joints: list[np.ndarray], cfg: EvalConfig, rep: int) -> dict[str, Any]:
    rng = np.random.default_rng([cfg.seed, rep])
    runs = [r_precision(text_emb, motion_emb, rng=rng) for _ in range(cfg.group_shuffles)]
    top, mm_dist = np.mean([r[0] for r in runs], axis=0), float(np.mean([r[1] for r in runs]))
    lengths = [len(j) for j in joints]
    return {"method": method, "fid": frechet_distance(gt_emb, motion_emb), "r_precision": top.tolist(),
            "mm_dist": mm_dist, "diversity": diversity(motion_emb, cfg.diversity_times, rng),
            "skate_ratio": foot_skating_ratio(pad_feats(joints), lengths),
            "body_motion": body_motion(pad_feats(joints), lengths)}


def _embed(evaluator: TextMotionEvaluator, feats: list[np.ndarray]) -> np.ndarray:
    return evaluator.embed_motion(pad_feats(feats), [len(f) for f in feats])


def _multimodality(pipeline, evaluator, eval_set: EvalSet, kwargs: dict, cfg: EvalConfig) -> float:
    rng = np.random.default_rng(cfg.seed + 7)
    pick = rng.choice(len(eval_set), min(cfg.mm_num_samples, len(eval_set)), replace=False)
    captions = [eval_set.captions[i] for i in pick for _ in range(cfg.mm_num_repeats)]
    lengths = [eval_set.lengths[i] for i in pick for _ in range(cfg.mm_num_repeats)]
    gen = _generate(pipeline, captions, lengths, seed=cfg.seed + 10_000, batch_size=cfg.batch_size, **kwargs)
    emb = _embed(evaluator, gen.feats).reshape(len(pick), cfg.mm_num_repeats, -1)
    return multimodality(emb, cfg.mm_num_times, rng)


def _pelvis_control(eval_set: EvalSet, cfg: EvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(N, T, 22, 3)`` (ground-truth joints) and mask ``(N, T, 22)``: pelvis at random frames."""
    targets = pad_feats(eval_set.joints)
    mask = np.zeros(targets.shape[:3], dtype=bool)
    rng = np.random.default_rng(cfg.seed + 3)
    for b, n in enumerate(eval_set.lengths):
        frames = rng.choice(n, max(1, int(n * cfg.control_density)), replace=False)
        mask[b, frames, 0] = True
    return targets, mask


def _control_rows(pipeline, evaluator, eval_set, text_emb, gt_emb, cfg: EvalConfig, rep: int) -> list[dict]:
    from motionlcm_core.control import Control
    from motionlcm_core.control.passes import PinPassConfig

    targets, mask = _pelvis_control(eval_set, cfg)
    rows = []
    for method in ("no_control", "controlnet"):
        def control_fn(sl: slice) -> Any:
            n = max(eval_set.lengths[sl])
            return None if method == "no_control" else Control(targets[sl, :n].copy(), mask[sl, :n].copy())

        passes = PinPassConfig() if cfg.control_refine else PinPassConfig(refine=None, exact=None)
        extra = {} if method == "no_control" else {"passes": passes}
        try:
            gen = _generate(pipeline, eval_set.captions, eval_set.lengths, seed=cfg.seed + 1000 * rep,
                            batch_size=cfg.batch_size, control_fn=control_fn, num_steps=cfg.control_steps, **extra)
        except ValueError as exc:  # e.g. a model without a ControlNet
            rows.append({"method": method, "skipped": str(exc)})
            continue
        row = _t2m_row(method, text_emb, _embed(evaluator, gen.feats), gt_emb, gen.joints, cfg, rep)
        row.update(control_errors(pad_feats(gen.joints), targets, mask, eval_set.lengths))
        row.update(gen.ms_fields())
        rows.append(row)
    return rows


def _method_row(method, pipeline, evaluator, eval_set, reference, text_emb, gt_emb, cfg, rep) -> dict:
    if method == "real":
        ref_emb = _embed(evaluator, reference.feats)
        row = _t2m_row("real", text_emb, gt_emb, ref_emb, eval_set.joints, cfg, rep)
        return dict(row, ms=None)
    try:
        gen = _generate(pipeline, eval_set.captions, eval_set.lengths, seed=cfg.seed + 1000 * rep,
                        batch_size=cfg.batch_size, **METHODS[method])
    except ValueError as exc:  # e.g. no teacher in this model
        return {"method": method, "skipped": str(exc)}
    row = _t2m_row(method, text_emb, _embed(evaluator, gen.feats), gt_emb, gen.joints, cfg, rep)
    row.update(gen.ms_fields())
    return row


def evaluate(pipeline, split: str = "test", *, cfg: EvalConfig = EvalConfig(),
             evaluator: TextMotionEvaluator | None = None, data_dir: str | Path | None = None,
             cache_dir: str | Path | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Evaluate ``pipeline`` (a ``MotionLCMPipeline``) on ``split``; returns ``{"rows": [...], ...}``.

    ``pipeline`` may be None when only the ``real`` row is asked for (``methods=("real",)``, no control).
    """
    if pipeline is None and (cfg.control or any(m != "real" for m in cfg.methods)):
        raise ValueError("a pipeline is needed for generated rows; pass one, or methods=('real',) and control=False")
    say = progress or (lambda _msg: None)
    evaluator = evaluator if evaluator is not None else load_evaluator()
    dataset = cmu_dataset(split, data_dir, cfg=EVAL_DATA_CONFIG, stats=evaluator.stats, cache_dir=cache_dir)
    eval_set = build_eval_set(dataset, seed=cfg.seed, max_samples=cfg.max_samples, subset_seed=cfg.seed)
    reference = build_eval_set(dataset, seed=cfg.seed + 1, max_samples=cfg.max_samples, subset_seed=cfg.seed)
    text_emb, gt_emb = evaluator.embed_text(eval_set.captions), _embed(evaluator, eval_set.feats)
    reps: list[list[dict]] = []
    for rep in range(cfg.replications):
        rows = []
        for method in cfg.methods:
            say(f"replication {rep + 1}/{cfg.replications}: {method}")
            rows.append(_method_row(method, pipeline, evaluator, eval_set, reference, text_emb, gt_emb, cfg, rep))
        if cfg.control:
            say(f"replication {rep + 1}/{cfg.replications}: control")
            rows.extend(_control_rows(pipeline, evaluator, eval_set, text_emb, gt_emb, cfg, rep))
        reps.append(rows)
    rows = aggregate_rows(reps)
    if cfg.multimodality:
        for row in rows:
            if row["method"] in METHODS and row["method"] != "real" and "skipped" not in row:
                say(f"multimodality: {row['method']}")
                row["multimodality"] = _multimodality(pipeline, evaluator, eval_set, METHODS[row["method"]], cfg)
    return {"split": split, "samples": len(eval_set), "config": asdict(cfg), "rows": rows,
            "notes": _notes(len(eval_set), cfg)}


def _notes(samples: int, cfg: EvalConfig) -> list[str]:
    notes = [f"{samples} samples: every (item, caption) pair of the split; R-precision and MM-Dist in groups "
             f"of 32 ({samples // 32} groups per shuffle, {samples % 32} samples left out of each), averaged "
             f"over {cfg.group_shuffles} random groupings",
             "our own text-motion evaluator (unit-norm embeddings), so the scale differs from HumanML3D numbers",
             "ms: wall-clock per sentence of pipeline.generate (text encoding to joints) "
             f"at batch {cfg.batch_size}",
             "body motion: std over time of the root-relative joints (m); near 0 = a held pose carried along"]
    if samples < cfg.diversity_times:
        notes.append(f"diversity over {samples} pairs (the split has fewer than {cfg.diversity_times} samples)")
    return notes
