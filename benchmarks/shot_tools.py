"""Shot tools on the embedded model (issue 17): path, timeline and loop figures, printed and written as markdown.

    .venv/bin/python benchmarks/shot_tools.py [--clips 12] [--seeds 4] [--out docs/eval/shot.md]

- Path: the val+test walking clips' real pelvis ground tracks (up to 6 s windows with > 0.5 m travel) as
  paths for "a person walks"; per clip the largest ground-plane pelvis error, the spec foot-skating ratio
  with and without the path (same prompt, seed and length), and the median heading error while moving
  (> 0.4 m/s; body facing from hips and shoulders vs the track's direction over ±0.25 s), beside the real
  clip's own heading error on its track.
- Timeline: "walks forward" (3 s) → "stops and sits down" (3 s) → "waves" (2.5 s) per seed: the largest
  joint speed within a frame of each seam against the real data's 99th percentile (3.88 m/s), and each
  segment's probe from ../shared/probes (walk_forward, sit_down, wave) on its frames.
- Loop: "a person walks" 3 s, in place and with stride, per seed: root-relative first↔last pose gap, seam
  joint-speed difference, root drift (in place), and the spec foot-skating ratio.
- Latency: median of 15 interleaved rounds, batch 1, one thread: plain 1-step generate vs path vs loop.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from motionlcm_core import MotionLCMPipeline
from motionlcm_core.eval.metrics import foot_skating_ratio
from motionlcm_core.eval.probes import load_probe_suite
from motionlcm_core.shot import GroundPath, Segment, follow_path, generate_loop, generate_timeline

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MOTIONLCM_DATA_DIR", REPO.parent / "shared" / "data"))
REAL_SPEED_P99 = 3.88


def heading(j: np.ndarray) -> np.ndarray:
    across = (j[:, 2] - j[:, 1]) + (j[:, 17] - j[:, 16])
    fwd = np.cross([0.0, 1.0, 0.0], across)
    return np.arctan2(fwd[:, 0], fwd[:, 2])


def heading_error_deg(j: np.ndarray, track: np.ndarray, k: int = 5) -> float:
    tang = np.zeros_like(track)
    tang[k:-k] = track[2 * k:] - track[:-2 * k]
    moving = np.linalg.norm(tang, axis=-1) / (2 * k / 20) > 0.4
    err = np.degrees(np.abs((heading(j) - np.arctan2(tang[:, 0], tang[:, 1]) + np.pi) % (2 * np.pi) - np.pi))
    return float(np.median(err[moving])) if moving.any() else float("nan")


def walking_windows(limit: int) -> list[tuple[str, np.ndarray]]:
    out = []
    for split in ("val", "test"):
        d = np.load(DATA / f"joints_{split}.npz")
        for cid, off, n in zip(d["ids"], d["offsets"], d["lengths"]):
            text = (DATA / "texts" / f"{cid}.txt").read_text(encoding="utf-8")
            if not re.search(r"\bwalk", text, re.I) or n < 60:
                continue
            clip = d["joints"][off:off + min(n, 120)].astype(np.float64)
            if np.linalg.norm(np.diff(clip[:, 0, [0, 2]], axis=0), axis=-1).sum() > 0.5:
                out.append((str(cid), clip))
    return out[:limit]


def interleaved_medians_ms(fns: dict, rounds: int = 15) -> dict[str, float]:
    """Median milliseconds of each function over ``rounds`` interleaved rounds (load from other jobs hits all
    alike, so the ratios hold on a shared machine)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1000)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pipe = MotionLCMPipeline.from_pretrained("embedded", device="cpu")
    lines = ["# Shot tools on the embedded model (issue 17)", "",
             "Reproduce: `.venv/bin/python benchmarks/shot_tools.py --out docs/eval/shot.md` (CPU, one thread).", "",
             "## Path: real walking tracks followed by \"a person walks\"", "",
             "| clip | frames | largest ground error (cm) | heading error, median (°) | real clip's own (°) | "
             "foot skating, path | without path |", "|---|---|---|---|---|---|---|"]
    errs, heads, sk_path, sk_free = [], [], [], []
    for cid, clip in walking_windows(args.clips):
        pts = clip[:, 0, [0, 2]] - clip[0, 0, [0, 2]]
        path = GroundPath(pts)
        res = follow_path(pipe, "a person walks", path, seconds=len(clip) / 20, seed=0)
        j = res.clip(0)
        free = pipe.generate(["a person walks"], lengths=[len(clip)], seed=0)
        err = float(np.linalg.norm(j[:, 0, [0, 2]] - path.track(len(clip)), axis=-1).max())
        h, h_real = heading_error_deg(j, path.track(len(clip))), heading_error_deg(clip, pts)
        s_path, s_free = foot_skating_ratio(j[None], [len(j)]), foot_skating_ratio(free.joints, free.lengths)
        errs.append(err), heads.append(h), sk_path.append(s_path), sk_free.append(s_free)
        lines.append(f"| {cid} | {len(clip)} | {err * 100:.2f} | {h:.1f} | {h_real:.1f} | {s_path:.3f} | {s_free:.3f} |")
        print(lines[-1], flush=True)
    lines += ["", f"All {len(errs)} clips: largest ground error {max(errs) * 100:.2f} cm (limit 5); median heading "
              f"error {np.nanmedian(heads):.1f}° (limit 20); foot skating {np.mean(sk_path):.3f} with the path, "
              f"{np.mean(sk_free):.3f} without (mean).", ""]
    suite = load_probe_suite()
    probes = {p.name: p for p in suite.PROBES}
    lines += ["## Timeline: walks forward (3 s) → stops and sits down (3 s) → waves (2.5 s)", "",
              "| seed | seam speed 1 (m/s) | seam speed 2 (m/s) | walk_forward | sit_down | wave |", "|---|---|---|---|---|---|"]
    segs = [Segment("a person walks forward", 3.0), Segment("a person stops and sits down", 3.0),
            Segment("a person waves", 2.5)]
    seam_max, probe_pass = [], {"walk_forward": 0, "sit_down": 0, "wave": 0}
    for seed in range(args.seeds):
        tl = generate_timeline(pipe, segs, seed=seed)
        speed = np.linalg.norm(np.diff(tl.joints, axis=0), axis=-1) * 20
        seams = [float(speed[s - 2:s + 1].max()) for s in tl.segment_starts[1:]]
        bounds = tl.segment_starts + [len(tl.joints)]
        verdicts = []
        for (name, a, b) in zip(probe_pass, bounds[:-1], bounds[1:]):
            ok = bool(probes[name].test(tl.joints[a:b].astype(np.float64))[0])
            probe_pass[name] += ok
            verdicts.append("pass" if ok else "fail")
        seam_max.append(max(seams))
        lines.append(f"| {seed} | {seams[0]:.2f} | {seams[1]:.2f} | " + " | ".join(verdicts) + " |")
        print(lines[-1], flush=True)
    lines += ["", f"Largest seam joint speed {max(seam_max):.2f} m/s (real 99th percentile {REAL_SPEED_P99}); "
              "segment semantic tests passed: " + ", ".join(f"{k} {v}/{args.seeds}" for k, v in probe_pass.items()), ""]
    lines += ["## Loop: \"a person walks\", 3 s", "", "| seed | in place | pose gap first↔last (cm) | seam speed "
              "difference (m/s) | root drift (cm) | foot skating |", "|---|---|---|---|---|---|"]
    for seed in range(args.seeds):
        for in_place in (True, False):
            j = generate_loop(pipe, "a person walks", seconds=3.0, in_place=in_place, seed=seed).clip(0)
            rel = j - j[:, :1] * np.array([1.0, 0.0, 1.0])
            gap = float(np.abs(rel[-1] - rel[0]).max())
            dv = float(np.linalg.norm((j[-1] - j[-2]) - (j[1] - j[0]), axis=-1).max() * 20)
            drift = float(np.linalg.norm(j[-1, 0, [0, 2]] - j[0, 0, [0, 2]])) if in_place else float("nan")
            lines.append(f"| {seed} | {in_place} | {gap * 100:.2f} | {dv:.2f} | {drift * 100:.2f} | "
                         f"{foot_skating_ratio(j[None], [len(j)]):.3f} |")
            print(lines[-1], flush=True)
    path = GroundPath(np.array([[0.0, 0.0], [0.0, 2.0], [1.0, 3.0]]))
    ms = interleaved_medians_ms({
        "plain": lambda: pipe.generate(["a person walks"], seconds=3.0, seed=0),
        "path": lambda: follow_path(pipe, "a person walks", path, seconds=3.0, seed=0),
        "loop": lambda: generate_loop(pipe, "a person walks", seconds=3.0, seed=0)})
    plain, with_path, loop = ms["plain"], ms["path"], ms["loop"]
    lines += ["", "## Latency (batch 1, 3 s, one thread, median of 15 interleaved rounds; ratios only)", "",
              "| plain | path | loop |", "|---|---|---|",
              f"| {plain:.0f} ms (1.00) | {with_path:.0f} ms ({with_path / plain:.2f}) | {loop:.0f} ms ({loop / plain:.2f}) |", ""]
    print("\n".join(lines[-4:]))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
