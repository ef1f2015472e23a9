"""Latency of one generation as an animator asks for it: the embedded model, a 4 s clip, batch 1, 1 step.

    .venv/bin/python benchmarks/latency.py [--runs 60] [--threads 2]
    PYTHONPATH=<another checkout> .venv/bin/python benchmarks/latency.py     # the same for other code

Cycles eight prompts of different actions (after one warm-up pass of each: a clause crop is encoded once and
cached) and prints the median and 90th percentile in milliseconds of ``pipeline.generate`` (text encoding to
rig-ready joints: retrieval, sampling, decoding, body pass). Machines are noisy: compare two codes in
interleaved rounds on one machine, as ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = ("a person walks forward", "someone jumps up and down", "a person turns left", "a person sits down",
           "someone kicks with the right foot", "a person runs", "a person dances", "someone waves")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from motionlcm_core import MotionLCMPipeline

    torch.set_num_threads(args.threads)
    pipe = MotionLCMPipeline.from_pretrained("embedded", device="cpu")
    for prompt in PROMPTS:
        pipe.generate([prompt], seconds=4.0, num_steps=1, seed=0)
    times = []
    for k in range(args.runs):
        t0 = time.perf_counter()
        pipe.generate([PROMPTS[k % len(PROMPTS)]], seconds=4.0, num_steps=1, seed=k)
        times.append(1000.0 * (time.perf_counter() - t0))
    out = {"median_ms": round(float(np.median(times)), 1), "p90_ms": round(float(np.percentile(times, 90)), 1),
           "runs": args.runs, "threads": args.threads}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
