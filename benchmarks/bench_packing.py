"""Packed against padded batches of mixed lengths (issue 16), V2 full config, random weights.

Batch ``--batch`` (32) with lengths drawn uniformly from 40–196 frames (``--seed`` 0), every clip padded to
196 frames. Padded = the official computation (key-padding mask, ``packed=False``); packed = only real
frames (``motionlcm_core/models/packing.py``). Runs alternate padded/packed so that load from other jobs
hits both alike; medians of ``--runs`` each. Also reports the largest difference on real frames.

    .venv/bin/python benchmarks/bench_packing.py --threads 1 --runs 5
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable

import numpy as np
import torch

from motionlcm_core.config import v2_config
from motionlcm_core.device import hardware_name
from motionlcm_core.models import MotionVAE, TrajectoryEncoder

FRAMES = 196


def alternate_ms(fns: dict[str, Callable[[], torch.Tensor]], runs: int) -> dict[str, float]:
    """Median ms of each function, timed in turn (one warm-up call each)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def case(name: str, padded: Callable[[], torch.Tensor], packed: Callable[[], torch.Tensor], runs: int,
         real: torch.Tensor | None = None) -> dict:
    a, b = padded(), packed()
    diff = (a - b)[real] if real is not None else a - b
    ms = alternate_ms({"padded": padded, "packed": packed}, runs)
    return {"case": name, "padded_ms": round(ms["padded"], 1), "packed_ms": round(ms["packed"], 1),
            "ratio": round(ms["packed"] / ms["padded"], 3), "max_abs_diff": float(diff.abs().max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-encode", action="store_true", help="skip the VAE encoder case (training)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = v2_config(control=True)
    vae, traj = MotionVAE(cfg.vae).eval(), TrajectoryEncoder(cfg.traj_encoder).eval()
    lengths = np.random.default_rng(args.seed).integers(40, FRAMES + 1, args.batch)
    mask = torch.arange(FRAMES)[None] < torch.from_numpy(lengths)[:, None]
    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.batch, cfg.vae.latent_tokens, cfg.vae.latent_dim, generator=g)
    feats = torch.randn(args.batch, FRAMES, cfg.vae.nfeats, generator=g) * mask[..., None]
    hmask = torch.zeros(1, FRAMES, 22, 3, dtype=torch.bool)
    hmask[:, ::20, 0] = True
    hint = torch.randn(1, FRAMES, 22, 3, generator=g) * hmask
    results = []
    with torch.inference_mode():
        results.append(case(f"VAE decode, batch {args.batch}", lambda: vae.decode(z, mask, packed=False),
                            lambda: vae.decode(z, mask), args.runs, mask))
        if not args.no_encode:
            eps = torch.zeros_like(z)
            results.append(case(f"VAE encode (mu), batch {args.batch}",
                                lambda: vae.encode(feats, mask, noise=eps, packed=False).mu,
                                lambda: vae.encode(feats, mask, noise=eps).mu, args.runs))
        results.append(case("trajectory encoder, batch 1, pelvis every 20th frame",
                            lambda: traj(hint, hmask, packed=False), lambda: traj(hint, hmask), args.runs))
    report = {"hardware": hardware_name(torch.device("cpu")), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "batch": args.batch, "frames": FRAMES,
              "real_frame_fraction": round(float(lengths.sum()) / (args.batch * FRAMES), 3),
              "lengths": lengths.tolist(), "runs": args.runs, "results": results}
    print(f"# packed vs padded — {report['hardware']}, torch {report['torch']}, {report['threads']} threads")
    print(f"batch {args.batch}, lengths 40–{FRAMES} (seed {args.seed}), real frames "
          f"{report['real_frame_fraction']:.1%} of the padded batch; medians of {args.runs} runs")
    print(f"{'case':52s} {'padded ms':>10s} {'packed ms':>10s} {'ratio':>6s} {'max |diff|':>11s}")
    for r in results:
        print(f"{r['case']:52s} {r['padded_ms']:10.1f} {r['packed_ms']:10.1f} {r['ratio']:6.2f} "
              f"{r['max_abs_diff']:11.2e}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main()
